import * as Metric from "effect/Metric"

const attributes = { pipeline: "user" }

/** @internal */
export const spansTotal: Metric.Counter<number> = Metric.counter("tracing_spans_total", {
  description: "Finished user spans",
  attributes,
  incremental: true
})
/** @internal */
export const spansDropped: Metric.Counter<number> = Metric.counter("tracing_spans_dropped", {
  description: "User spans dropped: queue full",
  attributes,
  incremental: true
})
/** @internal */
export const spansExported: Metric.Counter<number> = Metric.counter("tracing_spans_exported", {
  description: "User spans exported",
  attributes,
  incremental: true
})
/** @internal */
export const spansFailed: Metric.Counter<number> = Metric.counter("tracing_spans_failed", {
  description: "User spans whose export failed for good or was rejected",
  attributes,
  incremental: true
})
/** @internal */
export const queueSize: Metric.Gauge<number> = Metric.gauge("tracing_queue_size", {
  description: "User spans waiting for export",
  attributes
})
