import type * as Config from "effect/Config"
import * as Layer from "effect/Layer"
import * as OtlpUserTraceExporter from "../OtlpUserTraceExporter.js"
import * as UserHarness from "../UserHarness.js"
import * as UserTracingSettings from "../UserTracingSettings.js"

/** @internal settings >> exporter >> harness */
export const layer = (settings: UserTracingSettings.SettingsInput) =>
  UserHarness.layer.pipe(
    Layer.provide(OtlpUserTraceExporter.layer),
    Layer.provide(UserTracingSettings.layer(settings))
  )

/** @internal */
export const layerConfig = (config?: Config.Config<UserTracingSettings.SettingsInput>) =>
  UserHarness.layer.pipe(
    Layer.provide(OtlpUserTraceExporter.layer),
    Layer.provide(UserTracingSettings.layerConfig(config))
  )
