import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as HashSet from "effect/HashSet"
import * as Option from "effect/Option"
import { safeJson, truncate } from "../shared/text.js"
import {
  checkOutputFields,
  credentialsInUrl,
  decodeEither,
  dotted,
  requiredWhenEnabled,
  type Settings,
  type SettingsInput,
  type SettingsProblem,
  UserTracingSettingsError
} from "./schema.js"

/** @internal every variable the reader knows starts with it */
export const variablePrefix = "USER_TRACING_"

/**
 * How a variable's text is read: `integer` is decimal digits only (`0x10`, `1e3`, `1.5` are
 * refused), `duration` is decimal milliseconds or a duration string, `secret` is text never echoed
 * in an error (a URL may hold credentials), `headers` a `k=v,k2=v2` list with percent-encoded values.
 */
type Kind = "boolean" | "text" | "secret" | "integer" | "integerOrUnbounded" | "duration" | "headers"

interface Variable {
  readonly name: string
  /** The field it sets, dotted; `*` stands for the output kind (`otlpUds` or `otlpHttp`). */
  readonly field: string
  readonly kind: Kind
}

/**
 * @internal
 * The `USER_TRACING_*` variables and the fields they set. A setting read from the environment is
 * one row here: the reader, its errors, the unknown-name warning and the list of variables set
 * while disabled all follow this table.
 */
export const variables: ReadonlyArray<Variable> = [
  { name: "USER_TRACING_ENABLED", field: "enabled", kind: "boolean" },
  { name: "USER_TRACING_SERVICE_NAME", field: "serviceName", kind: "text" },
  { name: "USER_TRACING_MAX_QUEUE_SIZE", field: "maxQueueSize", kind: "integerOrUnbounded" },
  { name: "USER_TRACING_MAX_QUEUE_BYTES", field: "maxQueueBytes", kind: "integerOrUnbounded" },
  { name: "USER_TRACING_MAX_ROUTING_VALUE_BYTES", field: "maxRoutingValueBytes", kind: "integer" },
  { name: "USER_TRACING_SHUTDOWN_TIMEOUT", field: "shutdownTimeout", kind: "duration" },
  { name: "USER_TRACING_SOCKET_PATH", field: "output.otlpUds.socketPath", kind: "text" },
  { name: "USER_TRACING_URL", field: "output.otlpHttp.url", kind: "secret" },
  { name: "USER_TRACING_HEADERS", field: "output.otlpHttp.headers", kind: "headers" },
  { name: "USER_TRACING_ROUTING_HEADER_NAME", field: "output.*.routingHeaderName", kind: "text" },
  { name: "USER_TRACING_COMPRESSION", field: "output.*.compression", kind: "text" },
  { name: "USER_TRACING_NUM_TASKS", field: "output.*.numTasks", kind: "integer" },
  { name: "USER_TRACING_MAX_BATCH_SIZE", field: "output.*.maxBatchSize", kind: "integer" },
  { name: "USER_TRACING_MAX_BATCH_BYTES", field: "output.*.maxBatchBytes", kind: "integer" },
  { name: "USER_TRACING_REQUEST_TIMEOUT", field: "output.*.requestTimeout", kind: "duration" },
  { name: "USER_TRACING_MAX_ATTEMPTS", field: "output.*.maxAttempts", kind: "integer" }
]

/** @internal the variables set, by name, as text */
export type Variables = ReadonlyMap<string, string>

/** @internal what a bad environment gives: the field path and the one line that names the variable */
export interface EnvironmentProblem {
  readonly path: string
  readonly message: string
}

/** A value as an error line shows it: quoted, escaped, cut. */
const quoted = (text: string): string => safeJson(truncate(text, 100))

const got = (variable: Variable, text: string): string =>
  variable.kind === "secret" || variable.kind === "headers" ? "" : ` (got ${quoted(text)})`

/** The field a variable sets, with the output kind filled in when one is chosen. */
const fieldOf = (variable: Variable, outputKind: string | undefined): string =>
  variable.field.replace("*", outputKind ?? "*")

const trueWords = new Set(["true", "yes", "on", "1"])
const falseWords = new Set(["false", "no", "off", "0"])

type Parsed = Either.Either<unknown, string>

/** Decimal digits, within the integers a number holds exactly. */
const decimal = (text: string): number | undefined => {
  const trimmed = text.trim()
  const value = /^[0-9]+$/.test(trimmed) ? Number(trimmed) : Number.NaN
  return Number.isSafeInteger(value) ? value : undefined
}

/**
 * `k=v,k2=v2` like `OTEL_EXPORTER_OTLP_HEADERS`: names and values trimmed, values percent-decoded
 * as UTF-8; empty entries skipped; each name once, case-insensitively. No value is echoed.
 */
const headerList = (text: string): Parsed => {
  const headers: Record<string, string> = {}
  const seen = new Map<string, string>()
  const entries = text.split(",")
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]
    if (entry.trim() === "") continue
    const equals = entry.indexOf("=")
    const name = equals < 0 ? "" : entry.slice(0, equals).trim()
    if (equals < 0 || name === "") {
      return Either.left(
        `must be a comma-separated list of name=value (values percent-encoded); entry ${index + 1} has no ${
          equals < 0 ? "\"=\"" : "name"
        }`
      )
    }
    let value: string
    try {
      value = decodeURIComponent(entry.slice(equals + 1).trim())
    } catch {
      return Either.left(`: the value of ${quoted(name)} is not percent-encoded UTF-8`)
    }
    const earlier = seen.get(name.toLowerCase())
    if (earlier !== undefined) {
      return Either.left(
        earlier === name
          ? `: ${quoted(name)} is given twice`
          : `: ${quoted(name)} repeats ${quoted(earlier)} (header names are case-insensitive)`
      )
    }
    seen.set(name.toLowerCase(), name)
    headers[name] = value
  }
  return Either.right(headers)
}

const parse = (kind: Kind, text: string): Parsed => {
  switch (kind) {
    case "boolean": {
      const word = text.trim().toLowerCase()
      return trueWords.has(word)
        ? Either.right(true)
        : falseWords.has(word)
        ? Either.right(false)
        : Either.left("must be one of true, false, yes, no, on, off, 1, 0")
    }
    case "text":
    case "secret":
      return Either.right(text)
    case "integer": {
      const value = decimal(text)
      return value === undefined ? Either.left("must be a decimal integer") : Either.right(value)
    }
    case "integerOrUnbounded": {
      const value = text.trim() === "unbounded" ? null : decimal(text)
      return value === undefined ? Either.left("must be a decimal integer or \"unbounded\"") : Either.right(value)
    }
    case "duration": {
      // Digits are milliseconds; other text is a duration string, which the schema reads.
      return Either.right(decimal(text) ?? text.trim())
    }
    case "headers":
      return headerList(text)
  }
}

/** A predicate after the variable's name; one that starts with `:` speaks of a part of its value. */
const line = (variable: Variable, predicate: string, text: string): string =>
  predicate.startsWith(":")
    ? `${variable.name}${predicate}`
    : `${variable.name} ${predicate}${variable.kind === "headers" ? "" : got(variable, text)}`

/** A schema problem (a field path and a predicate) as the line that names the variable behind it. */
const fromSchemaProblem = (vars: Variables, { path, predicate }: SettingsProblem): EnvironmentProblem => {
  const field = dotted(path)
  if (predicate === requiredWhenEnabled) {
    return {
      path: field,
      message: `${
        field === "output" ? "USER_TRACING_SOCKET_PATH or USER_TRACING_URL" : "USER_TRACING_SERVICE_NAME"
      } is required when USER_TRACING_ENABLED=true`
    }
  }
  if (predicate === credentialsInUrl) {
    return {
      path: field,
      message:
        "USER_TRACING_URL must not contain credentials (user:password@): send them with USER_TRACING_HEADERS (authorization=...)"
    }
  }
  // output.<kind>.<field>[.<header name>]
  const generic = path[0] === "output" && path.length >= 3 ? `output.*.${String(path[2])}` : field
  const specific = path[0] === "output" && path.length >= 3 ? `output.${String(path[1])}.${String(path[2])}` : field
  const variable = variables.find((variable) => variable.field === specific || variable.field === generic)
  if (variable === undefined) return { path: field, message: `${field} ${predicate}` }
  if (variable.kind === "headers" && path.length > 3) {
    return { path: field, message: `${variable.name}: ${quoted(String(path[3]))} ${predicate}` }
  }
  return { path: field, message: line(variable, predicate, vars.get(variable.name) ?? "") }
}

/** The output kind the variables choose, if exactly one. */
const outputKindOf = (vars: Variables): "otlpUds" | "otlpHttp" | undefined =>
  vars.has("USER_TRACING_SOCKET_PATH") ? "otlpUds" : vars.has("USER_TRACING_URL") ? "otlpHttp" : undefined

/**
 * @internal
 * Settings input from the variables set, checked as settings in code are, every problem worded
 * with the variable's name. Every variable set is checked, whether or not a chosen output uses it.
 */
export const interpret = (
  vars: Variables
): Either.Either<{ readonly input: SettingsInput; readonly settings: Settings }, EnvironmentProblem> => {
  const outputKind = outputKindOf(vars)
  // Output fields apart (`output.<kind>.<name>`); the others by their dotted path.
  const top: Record<string, unknown> = {}
  const output: Record<string, unknown> = {}
  for (const variable of variables) {
    const text = vars.get(variable.name)
    if (text === undefined) continue
    const parsed = parse(variable.kind, text)
    if (Either.isLeft(parsed)) {
      return Either.left({ path: fieldOf(variable, outputKind), message: line(variable, parsed.left, text) })
    }
    const path = variable.field.split(".")
    if (path[0] === "output") {
      output[path[2]] = parsed.right
    } else {
      let target = top
      for (const segment of path.slice(0, -1)) target = (target[segment] ??= {}) as Record<string, unknown>
      target[path.at(-1)!] = parsed.right
    }
  }
  const { headers, socketPath, url, ...common } = output
  if (socketPath !== undefined && url !== undefined) {
    return Either.left({
      path: "output",
      message: "USER_TRACING_SOCKET_PATH and USER_TRACING_URL cannot both be set: choose the Unix socket or the URL"
    })
  }
  if (headers !== undefined && url === undefined) {
    return Either.left({
      path: "output.otlpHttp.headers",
      message: "USER_TRACING_HEADERS applies to USER_TRACING_URL only"
    })
  }
  if (outputKind !== undefined && common.routingHeaderName === undefined) {
    return Either.left({
      path: `output.${outputKind}.routingHeaderName`,
      message: `USER_TRACING_ROUTING_HEADER_NAME is required when ${
        outputKind === "otlpUds" ? "USER_TRACING_SOCKET_PATH" : "USER_TRACING_URL"
      } is set`
    })
  }
  if (outputKind === undefined) {
    const checked = checkOutputFields(common)
    if (Either.isLeft(checked)) return Either.left(fromSchemaProblem(vars, checked.left))
  }
  const input = {
    ...top,
    ...(outputKind === "otlpUds"
      ? { output: { otlpUds: { socketPath, ...common } } }
      : outputKind === "otlpHttp"
      ? { output: { otlpHttp: { url, ...(headers === undefined ? {} : { headers }), ...common } } }
      : {})
  } as SettingsInput
  return Either.mapBoth(decodeEither(input), {
    onLeft: (problem) => fromSchemaProblem(vars, problem),
    onRight: (settings) => ({ input, settings })
  })
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
