import type * as Config from "effect/Config"
import * as Layer from "effect/Layer"
import * as OtlpUserTraceExporter from "../OtlpUserTraceExporter.js"
import * as UserHarness from "../UserHarness.js"
import * as UserTracingSettings from "../UserTracingSettings.js"
import * as settings from "./settings/settings.js"

/** Settings >> exporter >> harness. */
const pipeline = <E, R>(settings: Layer.Layer<UserTracingSettings.UserTracingSettings, E, R>) =>
  UserHarness.layer.pipe(Layer.provide(OtlpUserTraceExporter.layer), Layer.provide(settings))

/** @internal the live pipeline from settings in code; logs the start-up line */
export const layer = (input: UserTracingSettings.SettingsInput) =>
  pipeline(Layer.effect(UserTracingSettings.UserTracingSettings, settings.decodeAnnounced(input)))

/**
 * @internal
 * The live pipeline from `Config`; logs the start-up line. From the `USER_TRACING_*` variables
 * (the default), also the warnings about them, and errors name the variable.
 */
export const layerConfig = (config?: Config.Config<UserTracingSettings.SettingsInput>) =>
  pipeline(Layer.effect(UserTracingSettings.UserTracingSettings, settings.fromConfig(config)))
