import { Effect, Layer } from "effect"
import { UserTraceExporter } from "./exporter.js"
import { UserTracingSettings } from "../UserTracingSettings.js"
import * as BatchingExporter from "./batchingExporter.js"
import * as Transport from "./otlpTransport.js"
import { outputCommon } from "./settings.js"

const disabled = UserTraceExporter.of({ export: () => {}, forceFlush: Effect.void })

/** @internal */
export const layer = Layer.scoped(
  UserTraceExporter,
  Effect.gen(function*() {
    const settings = yield* UserTracingSettings
    const output = settings.output
    if (!settings.enabled || output === undefined || settings.serviceName === undefined) return disabled
    // Acquired first so that it is released last, after the exporter's drain.
    const transport = yield* Effect.acquireRelease(
      Effect.sync(() => Transport.make(output)),
      (transport) => Effect.sync(transport.close)
    )
    return yield* BatchingExporter.make(settings, settings.serviceName, outputCommon(output), transport)
  })
)
