/**
 * The harness: the service that decides whether `withUserTrace` opens an active root and hands
 * finished user spans to the exporter. Its default, when no layer provides one, is a no-op.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import * as internal from "./internal/span/harness.js"
import type { SpanLimits } from "./internal/span/record.js"
import { UserTraceExporter } from "./UserTraceExporter.js"
import { UserTracingSettings } from "./UserTracingSettings.js"

/** Limits that bound the memory of one span; what is cut is counted in OTLP `dropped_*_count`. */
export type UserSpanLimits = SpanLimits

/** The harness service's shape. */
export type Harness = internal.Harness

/** The current harness; defaults to the no-op harness (roots inactive, nothing recorded). */
export class UserHarness extends Context.Reference<UserHarness>()("effect-user-tracing/UserHarness", {
  defaultValue: (): Harness => internal.noopHarness
}) {}

/** The harness for the provided settings (`enabled`, `limits`), writing to the provided exporter. */
export const layer: Layer.Layer<UserHarness, never, UserTraceExporter | UserTracingSettings> = Layer.effect(
  UserHarness,
  Effect.gen(function*() {
    const settings = yield* UserTracingSettings
    const exporter = yield* UserTraceExporter
    const harness: Harness = {
      enabled: settings.enabled,
      limits: settings.limits,
      export: exporter.export,
      forceFlush: exporter.forceFlush
    }
    return harness
  })
)
