/**
 * The export pipeline's metrics, Effect `Metric`s with the attribute `pipeline=user`. After a
 * flush, `spansTotal = spansExported + spansDropped + spansFailed`.
 *
 * @since 0.1.0
 */
import type * as Metric from "effect/Metric"
import * as internal from "./internal/export/metrics.js"

/**
 * `tracing_spans_total`: every finished active user span.
 *
 * @since 0.1.0
 * @category metrics
 */
export const spansTotal: Metric.Counter<number> = internal.spansTotal

/**
 * `tracing_spans_dropped`: spans dropped because a queue bound was reached.
 *
 * @since 0.1.0
 * @category metrics
 */
export const spansDropped: Metric.Counter<number> = internal.spansDropped

/**
 * `tracing_spans_exported`: spans the receiver accepted.
 *
 * @since 0.1.0
 * @category metrics
 */
export const spansExported: Metric.Counter<number> = internal.spansExported

/**
 * `tracing_spans_failed`: spans whose export failed for good, that the receiver rejected, or whose
 * routing was rejected.
 *
 * @since 0.1.0
 * @category metrics
 */
export const spansFailed: Metric.Counter<number> = internal.spansFailed

/**
 * `tracing_queue_size`: spans waiting for export.
 *
 * @since 0.1.0
 * @category metrics
 */
export const queueSize: Metric.Gauge<number> = internal.queueSize
