/**
 * The exporter contract: where the harness hands finished user spans. The live one
 * (`OtlpUserTraceExporter`) batches them onto the wire as OTLP/HTTP protobuf; the test one
 * (`UserTracingTest`) keeps them in memory; provide the service to swap in your own.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { FinishedUserSpan } from "./UserSpan.js"

/**
 * An exporter takes finished spans without blocking or throwing, and can flush.
 *
 * @since 0.1.0
 * @category models
 */
export interface Exporter {
  /** Accepts a finished span; must return at once and never throw. */
  readonly export: (span: FinishedUserSpan) => void
  /** Completes when every span accepted before the call is exported or has failed. */
  readonly forceFlush: Effect.Effect<void>
}

/**
 * The exporter the harness writes to.
 *
 * @since 0.1.0
 * @category services
 */
export class UserTraceExporter extends Context.Service<UserTraceExporter, Exporter>()(
  "effect-user-tracing/UserTraceExporter"
) {}
