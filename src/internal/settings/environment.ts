/**
 * @internal
 * The `USER_TRACING_*` variables in plain code, no effect module, shared by the Effect 3 and the
 * Effect 4 lines: the table of variables, how each one's text is read, the settings they give
 * (checked as settings in code are, by the line's own checker) with every problem worded with the
 * variable's name, the warnings about names, and the start-up line. Each line reads the variables
 * through its own `Config` and logs with its own effects.
 */
import { forLog, safeJson, truncate } from "../shared/text.js"
import {
  type CheckedSettings,
  checkOutputFields,
  checkSettings,
  credentialsInUrl,
  dotted,
  requiredWhenEnabled,
  type SettingsProblem
} from "./check.js"

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

const fieldOf = (variable: Variable, outputKind: string | undefined): string =>
  variable.field.replace("*", outputKind ?? "*")

const trueWords = new Set(["true", "yes", "on", "1"])
const falseWords = new Set(["false", "no", "off", "0"])

type Parsed = { readonly value: unknown } | { readonly problem: string }

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
      return {
        problem: `must be a comma-separated list of name=value (values percent-encoded); entry ${index + 1} has no ${
          equals < 0 ? "\"=\"" : "name"
        }`
      }
    }
    let value: string
    try {
      value = decodeURIComponent(entry.slice(equals + 1).trim())
    } catch {
      return { problem: `: the value of ${quoted(name)} is not percent-encoded UTF-8` }
    }
    const earlier = seen.get(name.toLowerCase())
    if (earlier !== undefined) {
      return {
        problem: earlier === name
          ? `: ${quoted(name)} is given twice`
          : `: ${quoted(name)} repeats ${quoted(earlier)} (header names are case-insensitive)`
      }
    }
    seen.set(name.toLowerCase(), name)
    headers[name] = value
  }
  return { value: headers }
}

const parse = (kind: Kind, text: string): Parsed => {
  switch (kind) {
    case "boolean": {
      const word = text.trim().toLowerCase()
      return trueWords.has(word)
        ? { value: true }
        : falseWords.has(word)
        ? { value: false }
        : { problem: "must be one of true, false, yes, no, on, off, 1, 0" }
    }
    case "text":
    case "secret":
      return { value: text }
    case "integer": {
      const value = decimal(text)
      return value === undefined ? { problem: "must be a decimal integer" } : { value }
    }
    case "integerOrUnbounded": {
      const value = text.trim() === "unbounded" ? null : decimal(text)
      return value === undefined ? { problem: "must be a decimal integer or \"unbounded\"" } : { value }
    }
    case "duration":
      // Digits are milliseconds; other text is a duration string, which the check reads.
      return { value: decimal(text) ?? text.trim() }
    case "headers":
      return headerList(text)
  }
}

/** A predicate after the variable's name; one that starts with `:` speaks of a part of its value. */
const line = (variable: Variable, predicate: string, text: string): string =>
  predicate.startsWith(":")
    ? `${variable.name}${predicate}`
    : `${variable.name} ${predicate}${variable.kind === "headers" ? "" : got(variable, text)}`

/** A checker's problem (a field path and a predicate) as the line that names the variable behind it. */
const fromCheckProblem = (vars: Variables, { path, predicate }: SettingsProblem): EnvironmentProblem => {
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
  const generic = path[0] === "output" && path.length >= 3 ? `output.*.${path[2]}` : field
  const specific = path[0] === "output" && path.length >= 3 ? `output.${path[1]}.${path[2]}` : field
  const variable = variables.find((variable) => variable.field === specific || variable.field === generic)
  if (variable === undefined) return { path: field, message: `${field} ${predicate}` }
  if (variable.kind === "headers" && path.length > 3) {
    return { path: field, message: `${variable.name}: ${quoted(path[3])} ${predicate}` }
  }
  return { path: field, message: line(variable, predicate, vars.get(variable.name) ?? "") }
}

/** The output kind the variables choose, if exactly one. */
const outputKindOf = (vars: Variables): "otlpUds" | "otlpHttp" | undefined =>
  vars.has("USER_TRACING_SOCKET_PATH") ? "otlpUds" : vars.has("USER_TRACING_URL") ? "otlpHttp" : undefined

/** @internal a check's result: the value, or the first problem */
export type Checked<A> = { readonly ok: A } | { readonly problem: SettingsProblem }

/**
 * @internal
 * How a line checks settings input: all of it (`settings`), and the fields every output has while
 * no output is chosen (`outputFields`, a problem's path naming the output kind `*`).
 */
export interface SettingsChecker<S> {
  readonly settings: (input: Record<string, unknown>) => Checked<S>
  readonly outputFields: (input: Record<string, unknown>) => Checked<unknown>
}

/** @internal the plain rules of `check.ts` */
export const plainChecker: SettingsChecker<CheckedSettings> = {
  settings: checkSettings,
  outputFields: checkOutputFields
}

/**
 * @internal
 * Settings input from the variables set, checked as settings in code are (by `checker`, the plain
 * rules unless told), every problem worded with the variable's name. Every variable set is
 * checked, whether or not a chosen output uses it.
 */
export const interpret = <S>(
  vars: Variables,
  checker: SettingsChecker<S>
): { readonly input: Record<string, unknown>; readonly settings: S } | { readonly problem: EnvironmentProblem } => {
  const outputKind = outputKindOf(vars)
  // Output fields apart (`output.<kind>.<name>`); the others by their name.
  const top: Record<string, unknown> = {}
  const output: Record<string, unknown> = {}
  for (const variable of variables) {
    const text = vars.get(variable.name)
    if (text === undefined) continue
    const parsed = parse(variable.kind, text)
    if ("problem" in parsed) {
      return { problem: { path: fieldOf(variable, outputKind), message: line(variable, parsed.problem, text) } }
    }
    const path = variable.field.split(".")
    if (path[0] === "output") output[path[2]] = parsed.value
    else top[path[0]] = parsed.value
  }
  const { headers, socketPath, url, ...common } = output
  if (socketPath !== undefined && url !== undefined) {
    return {
      problem: {
        path: "output",
        message: "USER_TRACING_SOCKET_PATH and USER_TRACING_URL cannot both be set: choose the Unix socket or the URL"
      }
    }
  }
  if (headers !== undefined && url === undefined) {
    return {
      problem: { path: "output.otlpHttp.headers", message: "USER_TRACING_HEADERS applies to USER_TRACING_URL only" }
    }
  }
  if (outputKind !== undefined && common.routingHeaderName === undefined) {
    return {
      problem: {
        path: `output.${outputKind}.routingHeaderName`,
        message: `USER_TRACING_ROUTING_HEADER_NAME is required when ${
          outputKind === "otlpUds" ? "USER_TRACING_SOCKET_PATH" : "USER_TRACING_URL"
        } is set`
      }
    }
  }
  if (outputKind === undefined) {
    const checked = checker.outputFields(common)
    if ("problem" in checked) return { problem: fromCheckProblem(vars, checked.problem) }
  }
  const input: Record<string, unknown> = {
    ...top,
    ...(outputKind === "otlpUds"
      ? { output: { otlpUds: { socketPath, ...common } } }
      : outputKind === "otlpHttp"
      ? { output: { otlpHttp: { url, ...(headers === undefined ? {} : { headers }), ...common } } }
      : {})
  }
  const checked = checker.settings(input)
  return "problem" in checked ? { problem: fromCheckProblem(vars, checked.problem) } : { input, settings: checked.ok }
}

const knownNames = variables.map((variable) => variable.name)

/** @internal whether `name` is a variable the reader knows */
export const isKnownName = (name: string): boolean => knownNames.includes(name)

/** Edit distance (insertions, deletions, substitutions) between two names, each cut to 64 characters. */
const distance = (a: string, b: string): number => {
  const x = a.slice(0, 64)
  const y = b.slice(0, 64)
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j)
  for (let i = 1; i <= x.length; i++) {
    const current = [i]
    for (let j = 1; j <= y.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[y.length]
}

/** @internal the known variable nearest to `name` (the first of the nearest, in the table's order) */
export const closestName = (name: string): string => {
  let best = knownNames[0]
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of knownNames) {
    const d = distance(name, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

/** @internal past this many, unknown names are counted in one line rather than named one by one */
export const maxUnknownNamesWarned = 20

/**
 * @internal
 * One warning for each `USER_TRACING_*` name the `ConfigProvider` holds that no setting reads, with
 * the closest known name: a typo would otherwise leave tracing off, or a setting at its default,
 * without a word. A known name the provider lists but `vars` (what was read) lacks is in another
 * case (the environment provider lists names in upper case; they are read as written).
 */
export const unknownVariableWarnings = (names: ReadonlyArray<string>, vars: Variables): Array<string> => {
  const unknown = names.filter((name) => !isKnownName(name)).sort()
  const otherCase = names.filter((name) => isKnownName(name) && !vars.has(name)).sort()
  const lines = otherCase.map((name) =>
    `${name} is set in another case and is ignored: variable names are case-sensitive`
  )
  for (const name of unknown.slice(0, maxUnknownNamesWarned)) {
    lines.push(`${forLog(name)} is not a user tracing setting and is ignored; did you mean ${closestName(name)}?`)
  }
  if (unknown.length > maxUnknownNamesWarned) {
    lines.push(
      `${
        unknown.length - maxUnknownNamesWarned
      } more ${variablePrefix}* variables are not user tracing settings and are ignored`
    )
  }
  return lines
}

/**
 * @internal
 * A warning when variables are set but `USER_TRACING_ENABLED` is not: someone meant to trace.
 * `USER_TRACING_ENABLED=false` is a decision, and says so in the start-up line only.
 */
export const setWhileDisabledWarning = (vars: Variables): string | undefined => {
  if (vars.has("USER_TRACING_ENABLED")) return undefined
  const set = knownNames.filter((name) => vars.has(name))
  return set.length === 0 ?
    undefined :
    `${set.join(", ")} ${
      set.length === 1 ? "is" : "are"
    } set but USER_TRACING_ENABLED is not, so user tracing is disabled: set USER_TRACING_ENABLED=true to export`
}

/** @internal why settings read from the variables are disabled */
export const disabledByVariables = (vars: Variables): string => {
  const enabled = vars.get("USER_TRACING_ENABLED")
  return enabled === undefined ? "USER_TRACING_ENABLED is not set" : `USER_TRACING_ENABLED=${forLog(enabled.trim())}`
}

/** @internal why settings given in code are disabled */
export const disabledByInput = (input: { readonly enabled?: boolean | undefined }): string =>
  input.enabled === undefined ? "enabled is not set" : "enabled is false"

/** A URL without what may be a secret: the query string is only marked. Credentials are refused before. */
const shownUrl = (url: string): string => {
  const parsed = new URL(url)
  return forLog(`${parsed.protocol}//${parsed.host}${parsed.pathname}${parsed.search === "" ? "" : "?…"}`)
}

interface OutputView {
  readonly routingHeaderName: string
  readonly compression: "none" | "gzip"
}

/** @internal what the start-up line shows of the settings */
export interface StartupView {
  readonly enabled: boolean
  readonly serviceName: string | undefined
  readonly output:
    | { readonly otlpUds: OutputView & { readonly socketPath: string } }
    | { readonly otlpHttp: OutputView & { readonly url: string; readonly headers?: object | undefined } }
    | undefined
}

/**
 * @internal
 * The start-up line: enabled or disabled (and why), the service, the output (socket path or URL,
 * static header names but never their values), the routing header.
 */
export const startupLine = (settings: StartupView, disabledBecause: string): string => {
  const { output, serviceName } = settings
  if (!settings.enabled || output === undefined || serviceName === undefined) {
    return `user tracing is disabled (${disabledBecause}): no user span is recorded or exported`
  }
  const service = safeJson(truncate(serviceName, 100))
  if ("otlpUds" in output) {
    const { compression, routingHeaderName, socketPath } = output.otlpUds
    return `user tracing is enabled: service ${service}, OTLP/HTTP over the Unix socket ${
      forLog(socketPath)
    }, routing header ${routingHeaderName}${compression === "gzip" ? ", gzip" : ""}`
  }
  const { compression, headers, routingHeaderName, url } = output.otlpHttp
  const names = Object.keys(headers ?? {})
  return `user tracing is enabled: service ${service}, OTLP/HTTP to ${shownUrl(url)}${
    names.length === 0 ? "" : ` (static headers: ${names.join(", ")})`
  }, routing header ${routingHeaderName}${compression === "gzip" ? ", gzip" : ""}`
}
