/**
 * @internal
 * The `USER_TRACING_*` variables in plain code, no effect module, shared by the Effect 3 and the
 * Effect 4 lines: the table of variables, how each one's text is read, the settings they give
 * (checked as settings in code are, by the line's own checker) with every problem worded with the
 * variable's name. Each line reads the variables through its own `Config`; what it says at start
 * (warnings, the start-up line) is `notices.ts`.
 */
import { safeJson, truncate } from "../shared/text.js"
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
