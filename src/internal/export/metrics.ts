import * as Metric from "effect/Metric"

const user = <T extends Metric.Metric<any, any, any>>(metric: T): T => Metric.tagged(metric, "pipeline", "user") as T

/** @internal */
export const spansTotal = user(Metric.counter("tracing_spans_total", { description: "Finished user spans" }))
/** @internal */
export const spansDropped = user(
  Metric.counter("tracing_spans_dropped", { description: "User spans dropped: queue full" })
)
/** @internal */
export const spansExported = user(Metric.counter("tracing_spans_exported", { description: "User spans exported" }))
/** @internal */
export const spansFailed = user(
  Metric.counter("tracing_spans_failed", { description: "User spans whose export failed for good or was rejected" })
)
/** @internal */
export const queueSize = user(Metric.gauge("tracing_queue_size", { description: "User spans waiting for export" }))
