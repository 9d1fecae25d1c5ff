import type * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as OtlpUserTraceExporter from "../OtlpUserTraceExporter.js"
import * as UserHarness from "../UserHarness.js"
import * as UserTracingSettings from "../UserTracingSettings.js"
import * as announce from "./settings/announce.js"
import * as internalConfig from "./settings/config.js"

/** Settings >> exporter >> harness. */
const pipeline = <E, R>(settings: Layer.Layer<UserTracingSettings.UserTracingSettings, E, R>) =>
  UserHarness.layer.pipe(Layer.provide(OtlpUserTraceExporter.layer), Layer.provide(settings))

/** Settings from code, decoded, then the start-up line. */
const decodeAnnounced = (input: UserTracingSettings.SettingsInput) =>
  Effect.tap(
    UserTracingSettings.decode(input),
    (settings) => announce.announceStart(settings, announce.disabledByInput(input))
  )

/** @internal the live pipeline from settings in code; logs the start-up line */
export const layer = (settings: UserTracingSettings.SettingsInput) =>
  pipeline(Layer.effect(UserTracingSettings.UserTracingSettings, decodeAnnounced(settings)))

/**
 * @internal
 * The live pipeline from `Config`; logs the start-up line. From the `USER_TRACING_*` variables
 * (the default), also the warnings about them, and errors name the variable.
 */
export const layerConfig = (config?: Config.Config<UserTracingSettings.SettingsInput>) =>
  pipeline(Layer.effect(
    UserTracingSettings.UserTracingSettings,
    config === undefined || config === internalConfig.config
      ? Effect.tap(
        announce.fromEnvironment,
        ({ settings, variables }) => announce.announceStart(settings, announce.disabledByVariables(variables))
      ).pipe(Effect.map(({ settings }) => settings))
      : Effect.flatMap(config, decodeAnnounced)
  ))
