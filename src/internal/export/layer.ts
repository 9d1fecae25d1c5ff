import { Effect, Layer } from "effect"
import { UserTraceExporter } from "./tag.js"
import { UserTracingSettings } from "../../UserTracingSettings.js"
import * as BatchingExporter from "./exporter.js"
import * as Transport from "./transport.js"
import { outputCommon } from "../settings/schema.js"

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
