/**
 * @internal
 * The Effect 3 line's reader of the `USER_TRACING_*` variables: the shared table, reading and
 * wording (`environment.ts`) over `Config`, the settings checked by this line's Schema.
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HashSet from "effect/HashSet"
import * as Option from "effect/Option"
import {
  type Checked,
  type EnvironmentProblem,
  type SettingsChecker,
  variablePrefix,
  type Variables,
  variables
} from "./environment.js"
import * as Environment from "./environment.js"
import {
  checkOutputFields,
  decodeEither,
  type Settings,
  type SettingsInput,
  type SettingsProblem,
  UserTracingSettingsError
} from "./schema.js"

export { variablePrefix, type Variables, variables } from "./environment.js"
export type { EnvironmentProblem } from "./environment.js"

const checked = <A>(result: Either.Either<A, SettingsProblem>): Checked<A> =>
  Either.match(result, {
    onLeft: ({ path, predicate }) => ({ problem: { path: path.map(String), predicate } }),
    onRight: (ok) => ({ ok })
  })

/** The Schema decides: the settings are what `UserTracingSettings.decode` gives for the same input. */
const schemaChecker: SettingsChecker<Settings> = {
  settings: (input) => checked(decodeEither(input)),
  outputFields: (input) => checked(checkOutputFields(input))
}

/**
 * @internal
 * Settings input from the variables set, checked as settings in code are, every problem worded
 * with the variable's name. Every variable set is checked, whether or not a chosen output uses it.
 */
export const interpret = (
  vars: Variables
): Either.Either<{ readonly input: SettingsInput; readonly settings: Settings }, EnvironmentProblem> => {
  const read = Environment.interpret(vars, schemaChecker)
  return "problem" in read
    ? Either.left(read.problem)
    : Either.right({ input: read.input as SettingsInput, settings: read.settings })
}

/** @internal the known variables set, as text, read through `Config` (the current `ConfigProvider`) */
export const variablesConfig: Config.Config<Variables> = Config.map(
  Config.all(variables.map((variable) => Config.option(Config.string(variable.name)))),
  (values) => {
    const set = new Map<string, string>()
    values.forEach((value, index) => {
      if (Option.isSome(value)) set.set(variables[index].name, value.value)
    })
    return set
  }
)

/** @internal settings read from the variables; a bad one fails naming the variable */
export const config: Config.Config<SettingsInput> = Config.mapOrFail(
  variablesConfig,
  (vars) =>
    Either.match(interpret(vars), {
      onLeft: ({ message, path }) => Either.left(ConfigError.InvalidData(path.split("."), message)),
      onRight: ({ input }) => Either.right(input)
    })
)

/** @internal what was read from the environment: the variables set and the settings they give */
export interface FromEnvironment {
  readonly variables: Variables
  readonly input: SettingsInput
  readonly settings: Settings
}

/** @internal the settings from the variables read; a bad one fails with a `UserTracingSettingsError` naming its variable */
export const fromVariables = (vars: Variables): Effect.Effect<FromEnvironment, UserTracingSettingsError> =>
  Either.match(interpret(vars), {
    onLeft: (problem) => Effect.fail(new UserTracingSettingsError(problem)),
    onRight: ({ input, settings }) => Effect.succeed({ variables: vars, input, settings })
  })

/** Enough for any environment a person wrote; a provider holding more is not read past it. */
const maxNamesVisited = 10_000

/**
 * @internal
 * The `USER_TRACING_*` names the current `ConfigProvider` holds, found by walking its tree of
 * names (the environment provider splits names at `_`, a map provider keeps them whole). A
 * provider that renames or nests (`ConfigProvider.nested`, `constantCase`) is not walked: its
 * names are not the variables'. Bounded in depth and in names visited.
 */
export const providedNames: Effect.Effect<ReadonlyArray<string>> = Effect.configProviderWith((provider) => {
  const flat = provider.flattened
  if (flat.patch._tag !== "Empty") return Effect.succeed([])
  const found: Array<string> = []
  let visited = 0
  const children = (path: ReadonlyArray<string>) =>
    Effect.orElseSucceed(flat.enumerateChildren(path), () => HashSet.empty<string>())
  // A name with children may also be a name itself (USER_TRACING_X beside USER_TRACING_X_Y).
  const isName = (path: ReadonlyArray<string>) =>
    Effect.isSuccess(
      provider.load(
        path.reduceRight<Config.Config<string>>((config, segment) => Config.nested(config, segment), Config.string())
      )
    )
  const walk = (path: ReadonlyArray<string>): Effect.Effect<void> =>
    Effect.gen(function*() {
      const below = yield* children(path)
      const name = path.join("_")
      if (name.startsWith(variablePrefix) && (HashSet.size(below) === 0 || (yield* isName(path)))) found.push(name)
      if (path.length >= 32) return
      for (const segment of below) {
        if (++visited > maxNamesVisited) return
        const next = [...path, segment]
        const joined = next.join("_")
        if (joined.startsWith(variablePrefix) || variablePrefix.startsWith(`${joined}_`)) yield* walk(next)
      }
    })
  return Effect.as(walk([]), found)
})
