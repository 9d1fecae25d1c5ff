/**
 * The harness contract: the service that decides whether `withUserTrace` opens an active root and
 * hands finished user spans to the exporter. Its default, when no layer provides one, is the no-op
 * harness: every root inactive, nothing recorded.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Exporter } from "./UserTraceExporter.js"
import { UserTraceExporter } from "./UserTraceExporter.js"
import type { SpanLimits } from "./UserTracingSettings.js"
import { defaultSpanLimits, UserTracingSettings } from "./UserTracingSettings.js"

/**
 * The harness: whether roots are active, the limits every span is held to, and where finished
 * spans go.
 *
 * @since 0.1.0
 * @category models
 */
export interface Harness {
  readonly enabled: boolean
  readonly limits: SpanLimits
  readonly export: Exporter["export"]
  readonly forceFlush: Effect.Effect<void>
}

/**
 * A harness writing to `exporter`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly enabled: boolean
  readonly limits: SpanLimits
  readonly exporter: Exporter
}): Harness => ({
  enabled: options.enabled,
  limits: options.limits,
  export: options.exporter.export,
  forceFlush: options.exporter.forceFlush
})

/**
 * What a program that provides no harness gets: roots inactive, nothing recorded.
 *
 * @since 0.1.0
 * @category constructors
 */
export const noop: Harness = make({
  enabled: false,
  limits: defaultSpanLimits,
  exporter: { export: () => {}, forceFlush: Effect.void }
})

/**
 * The current harness (a `Context.Reference`); defaults to the no-op harness.
 *
 * @since 0.1.0
 * @category references
 */
export const UserHarness: Context.Reference<Harness> = Context.Reference<Harness>("effect-user-tracing/UserHarness", {
  defaultValue: () => noop
})

/**
 * The harness for the provided settings (`enabled`, `limits`), writing to the provided exporter.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<never, never, UserTraceExporter | UserTracingSettings> = Layer.effect(
  UserHarness,
  Effect.map(
    Effect.all([UserTracingSettings, UserTraceExporter]),
    ([settings, exporter]) => make({ enabled: settings.enabled, limits: settings.limits, exporter })
  )
)
