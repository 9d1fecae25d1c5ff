import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { UserTraceExporter } from "../../UserTraceExporter.js"
import type { Output, OutputCommon } from "../../UserTracingSettings.js"
import { UserTracingSettings } from "../../UserTracingSettings.js"

/** @internal the fields every output has, whichever it is */
export const outputCommon = (output: Output): OutputCommon => "otlpUds" in output ? output.otlpUds : output.otlpHttp

const disabled = UserTraceExporter.of({ export: () => {}, forceFlush: Effect.void })

/**
 * @internal
 * The export implementation (queue, encoder, workers, the undici transport) is loaded when an
 * enabled layer is built: importing the package loads none of it.
 */
export const layer = Layer.effect(
  UserTraceExporter,
  Effect.gen(function*() {
    const settings = yield* UserTracingSettings
    const output = settings.output
    if (!settings.enabled || output === undefined || settings.serviceName === undefined) return disabled
    const [Exporter, Transport] = yield* Effect.promise(() =>
      Promise.all([import("./exporter.js"), import("./transport.js")])
    )
    // Acquired first so that it is released last, after the exporter's drain.
    const transport = yield* Effect.acquireRelease(
      Effect.sync(() => Transport.make(output)),
      (transport) => Effect.sync(transport.close)
    )
    return yield* Exporter.make(settings, settings.serviceName, outputCommon(output), transport)
  })
)
