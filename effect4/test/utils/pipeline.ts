// The live pipeline in tests: settings for a receiver, the layer built around an effect and
// closed after it (which flushes), and the metric deltas it caused.
import { expect } from "@effect/vitest"
import { Effect, Layer, Logger, Metric } from "effect"
import { UserTracing, UserTracingMetrics, type UserTracingSettings } from "../../src/index.js"

/** Enabled settings writing to the Unix socket at `socketPath`, with output and top-level overrides. */
export const settingsFor = (
  socketPath: string,
  output?: Record<string, unknown>,
  rest?: Record<string, unknown>
): UserTracingSettings.SettingsInput =>
  ({
    enabled: true,
    serviceName: "checkout",
    output: { otlpUds: { socketPath, routingHeaderName: "x-user-routing", ...output } },
    ...rest
  }) as UserTracingSettings.SettingsInput

/** Runs `self` with the live pipeline, then closes the layer (drain included). */
export const withPipeline = <A, E>(settings: UserTracingSettings.SettingsInput, self: Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(Layer.build(UserTracing.layer(settings)), (context) => Effect.provide(self, context)))

const metricCounts = Effect.all({
  total: Metric.value(UserTracingMetrics.spansTotal),
  dropped: Metric.value(UserTracingMetrics.spansDropped),
  exported: Metric.value(UserTracingMetrics.spansExported),
  failed: Metric.value(UserTracingMetrics.spansFailed)
}).pipe(Effect.map((m) => ({
  total: m.total.count,
  dropped: m.dropped.count,
  exported: m.exported.count,
  failed: m.failed.count
})))

/** The metric deltas while `self` ran; asserts total = exported + dropped + failed. */
export const counted = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const before = yield* metricCounts
    const value = yield* self
    const after = yield* metricCounts
    const delta = {
      total: after.total - before.total,
      dropped: after.dropped - before.dropped,
      exported: after.exported - before.exported,
      failed: after.failed - before.failed
    }
    expect(delta.total).toBe(delta.exported + delta.dropped + delta.failed)
    return [value, delta] as const
  })

/**
 * Runs `self` with a logger that keeps the messages; returns the metric deltas and the log lines.
 * Asserts total = exported + dropped + failed.
 */
export const observed = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const logger = Logger.make<unknown, void>(({ message }) => {
      logs.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const [, delta] = yield* counted(Effect.provideService(self, Logger.CurrentLoggers, new Set([logger])))
    return { delta, logs }
  })
