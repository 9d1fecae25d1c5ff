/**
 * effect-user-tracing/effect4: a second, customer-facing tracing pipeline for Effect 4 services,
 * with the same names and behaviour as the Effect 3 line (`effect-user-tracing`).
 *
 * @since 0.1.0
 */

import * as UserTracing from "./UserTracing.js"
import * as UserTracingTest from "./UserTracingTest.js"

/** The user tracing API: roots, child and dual spans, annotations, W3C propagation. */
export * as UserTracing from "./UserTracing.js"

/** W3C `traceparent`: parse and format. */
export * as Traceparent from "./Traceparent.js"

/** W3C `tracestate` (Level 2): parse, format, look up. */
export * as Tracestate from "./Tracestate.js"

/** Per-trace routing metadata, sent as the export request's routing header. */
export * as RoutingMetadata from "./RoutingMetadata.js"

/** The harness service (a `Context.Reference`, no-op by default). */
export * as UserHarness from "./UserHarness.js"

/** The exporter service the harness writes finished spans to. */
export * as UserTraceExporter from "./UserTraceExporter.js"

/** The live exporter: OTLP/HTTP protobuf over a Unix socket or TCP, batched per routing group. */
export * as OtlpUserTraceExporter from "./OtlpUserTraceExporter.js"

/** The export pipeline's metrics (`pipeline=user`). */
export * as UserTracingMetrics from "./UserTracingMetrics.js"

/** The in-memory test harness and views of what it recorded. */
export * as UserTracingTest from "./UserTracingTest.js"

/** The settings: an `effect/Schema`, the decoded service, and layers. */
export * as UserTracingSettings from "./UserTracingSettings.js"

/** The embedded OTLP/HTTP receiver (the `user-tracing-sink` CLI's engine), for tests and local viewing. */
export * as UserTraceSink from "./UserTraceSink.js"

/** User span types. */
export * as UserSpan from "./UserSpan.js"

/** An active harness with an in-memory sink, isolated per provided layer. */
export const TestUserTracing = UserTracingTest.layer

/** The live pipeline configured from the `USER_TRACING_*` environment variables (`UserTracing.layerConfig()`). */
export const UserTracingLive = UserTracing.layerConfig()
