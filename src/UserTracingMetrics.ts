/**
 * The export pipeline's metrics, Effect `Metric`s tagged `pipeline=user`. After a flush,
 * `spansTotal = spansExported + spansDropped + spansFailed`.
 *
 * @since 0.1.0
 */
import type * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricState from "effect/MetricState"
import * as internal from "./internal/export/metrics.js"

type Counter = Metric.Metric<
  MetricKeyType.MetricKeyType.Counter<number>,
  number,
  MetricState.MetricState.Counter<number>
>
type Gauge = Metric.Metric<MetricKeyType.MetricKeyType.Gauge<number>, number, MetricState.MetricState.Gauge<number>>

/**
 * `tracing_spans_total`: every finished active user span handed to the exporter.
 *
 * @since 0.1.0
 * @category metrics
 */
export const spansTotal: Counter = internal.spansTotal

/**
 * `tracing_spans_dropped`: spans dropped because the queue was full (or already closed).
 *
 * @since 0.1.0
 * @category metrics
 */
export const spansDropped: Counter = internal.spansDropped

/**
 * `tracing_spans_exported`: spans the receiver accepted.
 *
 * @since 0.1.0
 * @category metrics
 */
export const spansExported: Counter = internal.spansExported

/**
 * `tracing_spans_failed`: spans whose export failed for good, or whose routing was rejected.
 *
 * @since 0.1.0
 * @category metrics
 */
export const spansFailed: Counter = internal.spansFailed

/**
 * `tracing_queue_size`: spans waiting in the export queue.
 *
 * @since 0.1.0
 * @category metrics
 */
export const queueSize: Gauge = internal.queueSize
