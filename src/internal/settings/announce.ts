/**
 * @internal
 * The Effect 3 line's start-up words about settings: the shared warnings and start-up line
 * (`notices.ts`), logged with this line's effects.
 */
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import { type FromEnvironment, fromVariables, providedNames, type Variables, variablesConfig } from "./config.js"
import * as Notices from "./notices.js"
import type { Settings, UserTracingSettingsError } from "./schema.js"

export { disabledByInput, disabledByVariables } from "./notices.js"

const logWarnings = (lines: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.forEach(lines, (line) => Effect.logWarning(line), { discard: true })

/** @internal warns of each `USER_TRACING_*` name the `ConfigProvider` holds that no setting reads */
export const warnUnknownVariables = (vars: Variables): Effect.Effect<void> =>
  Effect.flatMap(providedNames, (names) => logWarnings(Notices.unknownVariableWarnings(names, vars)))

/** @internal warns when variables are set but `USER_TRACING_ENABLED` is not */
export const warnSetWhileDisabled = (vars: Variables): Effect.Effect<void> => {
  const warning = Notices.setWhileDisabledWarning(vars)
  return warning === undefined ? Effect.void : Effect.logWarning(warning)
}

/**
 * @internal
 * The settings from the `USER_TRACING_*` variables, with their warnings: unknown names first (they
 * may explain an error that follows), then variables set while tracing is disabled.
 */
export const fromEnvironment: Effect.Effect<FromEnvironment, UserTracingSettingsError | ConfigError.ConfigError> =
  Effect.gen(function*() {
    const vars = yield* variablesConfig
    yield* warnUnknownVariables(vars)
    const fromEnvironment = yield* fromVariables(vars)
    if (!fromEnvironment.settings.enabled) yield* warnSetWhileDisabled(fromEnvironment.variables)
    return fromEnvironment
  })

/** @internal logs the start-up line */
export const announceStart = (settings: Settings, disabledBecause: string): Effect.Effect<void> =>
  Effect.logInfo(Notices.startupLine(settings, disabledBecause))
