import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import {
  type CheckedSettings,
  checkSettings,
  dotted,
  type SettingsProblem
} from "../../../../src/internal/settings/check.js"
import * as environment from "../../../../src/internal/settings/environment.js"
import * as notices from "../../../../src/internal/settings/notices.js"
import type { Settings, SettingsInput } from "../../UserTracingSettings.js"

/** @internal bad settings (`UserTracingSettings.UserTracingSettingsError`) */
export class UserTracingSettingsError extends Data.TaggedError("UserTracingSettingsError")<{
  readonly path: string
  readonly message: string
}> {
  constructor(props: { readonly path: string; readonly message: string }) {
    super(props)
    // The stack would only point into the decoding: a program that dies with it prints one line.
    Object.defineProperty(this, "stack", {
      value: `${this.name}: ${this.message}`,
      configurable: true,
      writable: true,
      enumerable: false
    })
  }

  override toString(): string {
    return `${this.name}: ${this.message}`
  }
}

/** @internal the one line of a problem with settings given in code: the field path, then the predicate */
export const problemLine = ({ path, predicate }: SettingsProblem): string =>
  path.length === 0 ? predicate : `${dotted(path)} ${predicate}`

const common = <A extends { readonly requestTimeoutMillis: number }>({ requestTimeoutMillis, ...rest }: A) => ({
  ...rest,
  requestTimeout: Duration.millis(requestTimeoutMillis)
})

/** @internal checked settings with their durations as `Duration`s */
export const toSettings = (checked: CheckedSettings): Settings => {
  const { output, shutdownTimeoutMillis, ...rest } = checked
  return {
    ...rest,
    shutdownTimeout: Duration.millis(shutdownTimeoutMillis),
    output: output === undefined
      ? undefined
      : "otlpUds" in output
      ? { otlpUds: common(output.otlpUds) }
      : { otlpHttp: common(output.otlpHttp) }
  }
}

const inputCommon = <A extends { readonly requestTimeout: Duration.Duration }>({ requestTimeout, ...rest }: A) => ({
  ...rest,
  requestTimeout: Duration.toMillis(requestTimeout)
})

/** @internal settings as input again, durations in milliseconds */
export const toInput = (settings: Settings): SettingsInput => ({
  ...settings,
  shutdownTimeout: Duration.toMillis(settings.shutdownTimeout),
  output: settings.output === undefined
    ? undefined
    : "otlpUds" in settings.output
    ? { otlpUds: inputCommon(settings.output.otlpUds) }
    : { otlpHttp: inputCommon(settings.output.otlpHttp) }
})

/** @internal whether `u` has the shape of decoded settings */
export const isSettings = (u: unknown): u is Settings =>
  typeof u === "object" && u !== null && typeof (u as Settings).enabled === "boolean" &&
  Duration.isDuration((u as Settings).shutdownTimeout) && typeof (u as Settings).limits === "object"

/** @internal */
export const decode = (input: SettingsInput): Effect.Effect<Settings, UserTracingSettingsError> =>
  Effect.suspend(() => {
    const checked = checkSettings(input)
    return "problem" in checked
      ? Effect.fail(
        new UserTracingSettingsError({ path: dotted(checked.problem.path), message: problemLine(checked.problem) })
      )
      : Effect.succeed(toSettings(checked.ok))
  })

/** @internal the known variables set, as text, read through `Config` (the current `ConfigProvider`) */
const variablesConfig: Config.Config<environment.Variables> = Config.map(
  Config.all(environment.variables.map((variable) => Config.option(Config.String(variable.name)))),
  (values) => {
    const set = new Map<string, string>()
    values.forEach((value, index) => {
      if (Option.isSome(value)) set.set(environment.variables[index].name, value.value)
    })
    return set
  }
)

/** @internal settings input read from the variables; a bad one fails naming the variable */
export const config: Config.Config<SettingsInput> = Config.mapEffect(variablesConfig, (vars) => {
  const read = environment.interpret(vars, environment.plainChecker)
  return "problem" in read
    ? Effect.fail(new Config.ConfigError(new ConfigProvider.SourceError({ message: read.problem.message })))
    : Effect.succeed(read.input as SettingsInput)
})

/** Enough for any environment a person wrote; a provider holding more is not read past it. */
const maxNamesVisited = 10_000

/**
 * The `USER_TRACING_*` names the current `ConfigProvider` holds, found by walking its tree of
 * names (the environment provider splits names at `_`). Bounded in depth and in names visited.
 */
const providedNames: Effect.Effect<ReadonlyArray<string>> = Effect.gen(function*() {
  const provider = yield* ConfigProvider.ConfigProvider
  const found: Array<string> = []
  let visited = 0
  const walk = (path: ReadonlyArray<string>): Effect.Effect<void> =>
    Effect.gen(function*() {
      const node = yield* Effect.orElseSucceed(provider.load(path), () => undefined)
      if (node === undefined) return
      const name = path.join("_")
      if (name.startsWith(environment.variablePrefix) && node.value !== undefined) found.push(name)
      if (node._tag !== "Record" || path.length >= 32) return
      for (const segment of node.keys) {
        if (++visited > maxNamesVisited) return
        const next = [...path, segment]
        const joined = next.join("_")
        if (joined.startsWith(environment.variablePrefix) || environment.variablePrefix.startsWith(`${joined}_`)) {
          yield* walk(next)
        }
      }
    })
  yield* walk([])
  return found
})

const logWarnings = (lines: ReadonlyArray<string>): Effect.Effect<void> =>
  Effect.forEach(lines, (line) => Effect.logWarning(line), { discard: true })

/** @internal logs the start-up line */
const announceStart = (settings: Settings, disabledBecause: string): Effect.Effect<void> =>
  Effect.logInfo(notices.startupLine(settings, disabledBecause))

/**
 * @internal
 * The settings from the `USER_TRACING_*` variables, with their warnings (unknown names first, they
 * may explain an error that follows; then variables set while tracing is disabled) and the
 * start-up line; a bad variable fails naming it.
 */
const fromEnvironment: Effect.Effect<Settings, UserTracingSettingsError | Config.ConfigError> = Effect.gen(
  function*() {
    const vars = yield* variablesConfig
    yield* logWarnings(notices.unknownVariableWarnings(yield* providedNames, vars))
    const read = environment.interpret(vars, environment.plainChecker)
    if ("problem" in read) return yield* new UserTracingSettingsError(read.problem)
    const settings = toSettings(read.settings)
    if (!settings.enabled) {
      const warning = notices.setWhileDisabledWarning(vars)
      if (warning !== undefined) yield* Effect.logWarning(warning)
    }
    yield* announceStart(settings, notices.disabledByVariables(vars))
    return settings
  }
)

/** @internal settings given in code, decoded, then the start-up line */
export const decodeAnnounced = (input: SettingsInput): Effect.Effect<Settings, UserTracingSettingsError> =>
  Effect.tap(decode(input), (settings) => announceStart(settings, notices.disabledByInput(input)))

/** @internal the settings read from `config`, or from the variables by default */
export const fromConfig = (
  custom?: Config.Config<SettingsInput>
): Effect.Effect<Settings, UserTracingSettingsError | Config.ConfigError> =>
  custom === undefined || custom === config ? fromEnvironment : Effect.flatMap(custom, decodeAnnounced)
