/**
 * The harness: the service that decides whether `withUserTrace` opens an active root and hands
 * finished user spans to the exporter. Its default, when no layer provides one, is a no-op.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import * as internal from "./internal/harness.js"
import type { SpanLimits } from "./internal/spanRecord.js"
import { UserTraceExporter } from "./UserTraceExporter.js"

/** Limits that bound the memory of one span; what is cut is counted in OTLP `dropped_*_count`. */
export type UserSpanLimits = SpanLimits

/** The harness service's shape. */
export type Harness = internal.Harness

/** The current harness; defaults to the no-op harness (roots inactive, nothing recorded). */
export class UserHarness extends Context.Reference<UserHarness>()("effect-user-tracing/UserHarness", {
  defaultValue: (): Harness => internal.noopHarness
}) {}

/** The limits used when none are given: 128 attributes, 128 events, 4096-character values. */
export const defaultLimits: UserSpanLimits = internal.defaultLimits

/** An active (or, with `enabled: false`, inactive) harness over the provided `UserTraceExporter`. */
export const layer = (options: {
  readonly enabled: boolean
  readonly limits?: UserSpanLimits
}): Layer.Layer<UserHarness, never, UserTraceExporter> =>
  Layer.effect(
    UserHarness,
    Effect.map(UserTraceExporter, (exporter) =>
      internal.make({
        enabled: options.enabled,
        limits: options.limits ?? internal.defaultLimits,
        export: exporter.export,
        forceFlush: exporter.forceFlush
      }))
  )
