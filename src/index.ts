/**
 * effect-user-tracing: a second, customer-facing tracing pipeline for Effect 3 services.
 *
 * User spans are opened per request (`UserTracing.withUserTrace`), nest through fibers, carry
 * routing metadata fixed at the root, continue and emit W3C `traceparent`/`tracestate`, and are
 * exported as OTLP/HTTP protobuf by `UserTracingLive`. Every module is also a subpath of its own
 * (`effect-user-tracing/UserTracing`); `effect-user-tracing/UserTracingHttp`, the
 * `@effect/platform` integration, is only a subpath.
 *
 * @since 0.1.0
 */

import * as UserTracing from "./UserTracing.js"
import * as UserTracingTest from "./UserTracingTest.js"

/**
 * The user tracing API: roots, child and dual spans, annotations, W3C propagation.
 *
 * @since 0.1.0
 * @category modules
 */
export * as UserTracing from "./UserTracing.js"

/**
 * W3C `traceparent`: parse and format.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Traceparent from "./Traceparent.js"

/**
 * W3C `tracestate` (Level 2): parse, format, look up.
 *
 * @since 0.1.0
 * @category modules
 */
export * as Tracestate from "./Tracestate.js"

/**
 * Per-trace routing metadata, sent as the export request's routing header.
 *
 * @since 0.1.0
 * @category modules
 */
export * as RoutingMetadata from "./RoutingMetadata.js"

/**
 * The harness service (a `Context.Reference`, no-op by default).
 *
 * @since 0.1.0
 * @category modules
 */
export * as UserHarness from "./UserHarness.js"

/**
 * The exporter service the harness writes finished spans to.
 *
 * @since 0.1.0
 * @category modules
 */
export * as UserTraceExporter from "./UserTraceExporter.js"

/**
 * The live exporter: OTLP/HTTP protobuf over a Unix socket or TCP, batched per routing group.
 *
 * @since 0.1.0
 * @category modules
 */
export * as OtlpUserTraceExporter from "./OtlpUserTraceExporter.js"

/**
 * The in-memory test harness and views of what it recorded.
 *
 * @since 0.1.0
 * @category modules
 */
export * as UserTracingTest from "./UserTracingTest.js"

/**
 * The settings: an `effect/Schema`, its decoded `Context.Tag`, and layers.
 *
 * @since 0.1.0
 * @category modules
 */
export * as UserTracingSettings from "./UserTracingSettings.js"

/**
 * The export pipeline's metrics (`pipeline=user`).
 *
 * @since 0.1.0
 * @category modules
 */
export * as UserTracingMetrics from "./UserTracingMetrics.js"

/**
 * The embedded OTLP/HTTP receiver (the `user-tracing-sink` CLI's engine), for tests and local viewing.
 *
 * @since 0.1.0
 * @category modules
 */
export * as UserTraceSink from "./UserTraceSink.js"

/**
 * User span types.
 *
 * @since 0.1.0
 * @category modules
 */
export * as UserSpan from "./UserSpan.js"

/**
 * An active harness with an in-memory sink, isolated per provided layer (`UserTracingTest.layer`).
 *
 * @since 0.1.0
 * @category layers
 */
export const TestUserTracing = UserTracingTest.layer

/**
 * The live pipeline configured from the `USER_TRACING_*` environment variables
 * (`UserTracing.layerConfig()`); with none set it builds disabled.
 *
 * @since 0.1.0
 * @category layers
 */
// Pure: a bundler drops it (and the settings and export modules) from an app that does not use it.
export const UserTracingLive = /*#__PURE__*/ UserTracing.layerConfig()
