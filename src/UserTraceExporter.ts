/**
 * The exporter: where finished user spans go. The live one batches them onto the wire as OTLP/HTTP
 * protobuf; the test one (`UserTracingTest`) keeps them in memory.
 *
 * @since 0.1.0
 */
import type { Effect, Layer } from "effect"
import * as internal from "./internal/export/tag.js"
import * as layers from "./internal/export/layer.js"
import type { FinishedUserSpan } from "./UserSpan.js"
import type { UserTracingSettings } from "./UserTracingSettings.js"

/** An exporter takes finished spans without blocking or throwing, and can flush. */
export interface Exporter {
  /** Accepts a finished span; must return at once and never throw. */
  readonly export: (span: FinishedUserSpan) => void
  /** Completes when every span accepted before the call is exported or has failed. */
  readonly forceFlush: Effect.Effect<void>
}

/** The exporter the harness writes to (a `Context.Tag`). */
export const UserTraceExporter: typeof internal.UserTraceExporter = internal.UserTraceExporter

/** The exporter service's tag type. */
export type UserTraceExporter = internal.UserTraceExporter

/**
 * The OTLP exporter for the provided settings: batches, retries, and drains on close. With
 * `enabled: false` it exports nothing.
 */
export const layer: Layer.Layer<UserTraceExporter, never, UserTracingSettings> = layers.layer
