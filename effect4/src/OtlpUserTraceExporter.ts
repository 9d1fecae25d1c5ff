/**
 * The live exporter: finished user spans encoded as OTLP/HTTP protobuf, batched per routing group
 * by worker fibers in the layer's scope, sent over a Unix socket or TCP with timeouts and retries,
 * and flushed when the layer closes.
 *
 * @since 0.1.0
 */
import type * as Layer from "effect/Layer"
import * as internal from "./internal/export/layer.js"
import type { UserTraceExporter } from "./UserTraceExporter.js"
import type { UserTracingSettings } from "./UserTracingSettings.js"

/**
 * The OTLP exporter for the provided settings. With `enabled: false` it exports nothing (and
 * loads no transport).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<UserTraceExporter, never, UserTracingSettings> = internal.layer
