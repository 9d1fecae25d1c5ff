import { Layer } from "effect"
import type { Config } from "effect"
import * as UserHarness from "../UserHarness.js"
import * as UserTraceExporter from "../UserTraceExporter.js"
import * as UserTracingSettings from "../UserTracingSettings.js"


/** @internal */
export const layer = (settings: UserTracingSettings.SettingsInput) =>
  UserHarness.layer.pipe(
    Layer.provide(UserTraceExporter.layer),
    Layer.provide(UserTracingSettings.layer(settings))
  )

/** @internal */
export const layerConfig = (config?: Config.Config<UserTracingSettings.SettingsInput>) =>
  UserHarness.layer.pipe(
    Layer.provide(UserTraceExporter.layer),
    Layer.provide(UserTracingSettings.layerConfig(config))
  )
