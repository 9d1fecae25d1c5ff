/**
 * @internal
 * Settings as a whole in plain code, no effect module, shared by the Effect 3 and the Effect 4
 * lines: what `UserTracingSettings.decode` accepts, with defaults filled in, or the first problem
 * as a field path and a predicate (`must be ...`), by the rules of `rules.ts`. The Effect 4 line's
 * Schema and environment reader are built on it.
 */
import {
  defaultMaxBatchBytes,
  defaultMaxQueueBytes,
  defaultMaxQueueSize,
  defaultMaxRoutingValueBytes,
  durationProblem,
  durationStringMillis,
  headerNameProblem,
  httpUrlProblem,
  maxMaxBatchSize,
  maxNumTasks,
  notHttpUrl,
  repeatedRoutingHeader,
  requiredWhenEnabled,
  socketPathProblem,
  staticHeadersProblem,
  wholeMillis
} from "./rules.js"
import { type CheckedLimits, defaultLimits } from "./rules.js"

export * from "./rules.js"

/** @internal the first problem of a decoding: where (field path) and what (a predicate such as "must be ...") */
export interface SettingsProblem {
  readonly path: ReadonlyArray<string>
  readonly predicate: string
}

/** @internal settings as checked: durations in whole milliseconds */
export interface CheckedSettings {
  readonly enabled: boolean
  readonly serviceName: string | undefined
  readonly maxQueueSize: number | null
  readonly maxQueueBytes: number | null
  readonly maxRoutingValueBytes: number
  readonly output: CheckedOutput | undefined
  readonly shutdownTimeoutMillis: number
  readonly limits: CheckedLimits
}

/** @internal */
export interface CheckedOutputCommon {
  readonly routingHeaderName: string
  readonly numTasks: number
  readonly maxBatchSize: number
  readonly maxBatchBytes: number
  readonly requestTimeoutMillis: number
  readonly maxAttempts: number
  readonly compression: "none" | "gzip"
}

/** @internal */
export type CheckedOutput =
  | { readonly otlpUds: CheckedOutputCommon & { readonly socketPath: string } }
  | {
    readonly otlpHttp: CheckedOutputCommon & {
      readonly url: string
      readonly headers?: { readonly [name: string]: string }
    }
  }

class Problem {
  constructor(readonly path: ReadonlyArray<string>, readonly predicate: string) {}
}

const fail = (path: ReadonlyArray<string>, predicate: string): never => {
  throw new Problem(path, predicate)
}

const isRecord = (input: unknown): input is Record<string, unknown> =>
  typeof input === "object" && input !== null && !Array.isArray(input)

const record = (input: unknown, path: ReadonlyArray<string>, known: ReadonlyArray<string>) => {
  if (!isRecord(input)) return fail(path, "must be an object")
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      fail([...path, key], `is unexpected, expected: ${known.map((name) => JSON.stringify(name)).join(" | ")}`)
    }
  }
  return input
}

/** `undefined` when absent (or, for optional fields, given as `undefined`). */
const field = <A>(
  input: Record<string, unknown>,
  key: string,
  path: ReadonlyArray<string>,
  check: (value: unknown, path: ReadonlyArray<string>) => A,
  orElse: () => A
): A => {
  const value = input[key]
  return value === undefined ? orElse() : check(value, [...path, key])
}

const required = (path: ReadonlyArray<string>) => (): never => fail(path, "is missing")

const int = (predicate: string, ok: (n: number) => boolean) => (value: unknown, path: ReadonlyArray<string>): number =>
  typeof value === "number" && Number.isSafeInteger(value) && ok(value) ? value : fail(path, predicate)

const positiveInt = int("must be a positive integer", (n) => n > 0)
const nonNegativeInt = int("must be a non-negative integer", (n) => n >= 0)
const boundedInt = (max: number) =>
  int(`must be an integer from 1 to ${max.toLocaleString("en")}`, (n) => n >= 1 && n <= max)

const nonEmptyString = (value: unknown, path: ReadonlyArray<string>): string =>
  typeof value === "string" && value.length > 0 ? value : fail(path, "must be a non-empty string")

const duration = (value: unknown, path: ReadonlyArray<string>): number =>
  wholeMillis(
    typeof value === "number" ? value : typeof value === "string" ? durationStringMillis(value) : undefined
  ) ?? fail(path, durationProblem)

const headerName = (value: unknown, path: ReadonlyArray<string>): string => {
  if (typeof value !== "string") return fail(path, "must be a string")
  const problem = headerNameProblem(value)
  return problem === undefined ? value : fail(path, problem)
}

const socketPath = (value: unknown, path: ReadonlyArray<string>): string => {
  const text = nonEmptyString(value, path)
  const problem = socketPathProblem(text)
  return problem === undefined ? text : fail(path, problem)
}

const httpUrl = (value: unknown, path: ReadonlyArray<string>): string => {
  if (typeof value !== "string") return fail(path, notHttpUrl)
  const problem = httpUrlProblem(value)
  return problem === undefined ? value : fail(path, problem)
}

const staticHeaders = (value: unknown, path: ReadonlyArray<string>): Record<string, string> => {
  if (!isRecord(value) || Object.values(value).some((v) => typeof v !== "string")) {
    return fail(path, "must be an object of header names and values")
  }
  const problem = staticHeadersProblem(value as Record<string, string>)
  if (problem !== undefined) fail([...path, problem.name], problem.problem)
  return value as Record<string, string>
}

const outputKeys = [
  "routingHeaderName",
  "numTasks",
  "maxBatchSize",
  "maxBatchBytes",
  "requestTimeout",
  "maxAttempts",
  "compression"
]

const commonFields = (
  input: Record<string, unknown>,
  path: ReadonlyArray<string>,
  routingHeaderName: () => string
): CheckedOutputCommon => ({
  routingHeaderName: field(input, "routingHeaderName", path, headerName, routingHeaderName),
  numTasks: field(input, "numTasks", path, boundedInt(maxNumTasks), () => 1),
  maxBatchSize: field(input, "maxBatchSize", path, boundedInt(maxMaxBatchSize), () => 512),
  maxBatchBytes: field(input, "maxBatchBytes", path, positiveInt, () => defaultMaxBatchBytes),
  requestTimeoutMillis: field(input, "requestTimeout", path, duration, () => 10_000),
  maxAttempts: field(input, "maxAttempts", path, positiveInt, () => 5),
  compression: field(
    input,
    "compression",
    path,
    (value, at) => value === "none" || value === "gzip" ? value : fail(at, "must be \"none\" or \"gzip\""),
    () => "none" as const
  )
})

const otlpUds = (value: unknown, path: ReadonlyArray<string>) => {
  const input = record(value, path, ["socketPath", ...outputKeys])
  const socket = field(input, "socketPath", path, socketPath, required([...path, "socketPath"]))
  return { socketPath: socket, ...commonFields(input, path, required([...path, "routingHeaderName"])) }
}

const otlpHttp = (value: unknown, path: ReadonlyArray<string>) => {
  const input = record(value, path, ["url", "headers", ...outputKeys])
  const url = field(input, "url", path, httpUrl, required([...path, "url"]))
  const headers = field(input, "headers", path, staticHeaders, () => undefined)
  const common = commonFields(input, path, required([...path, "routingHeaderName"]))
  const repeated = repeatedRoutingHeader(headers, common.routingHeaderName)
  if (repeated !== undefined) fail([...path, "headers", repeated], "repeats the routing header name")
  return { url, ...(headers === undefined ? {} : { headers }), ...common }
}

const output = (value: unknown, path: ReadonlyArray<string>): CheckedOutput => {
  const keys = isRecord(value) ? Object.keys(value) : []
  switch (keys.length === 1 ? keys[0] : undefined) {
    case "otlpUds":
      return { otlpUds: otlpUds((value as Record<string, unknown>).otlpUds, [...path, "otlpUds"]) }
    case "otlpHttp":
      return { otlpHttp: otlpHttp((value as Record<string, unknown>).otlpHttp, [...path, "otlpHttp"]) }
    default:
      return fail(path, "must have exactly one of otlpUds, otlpHttp")
  }
}

const limits = (value: unknown, path: ReadonlyArray<string>): CheckedLimits => {
  const input = record(value, path, Object.keys(defaultLimits))
  return {
    maxAttributes: field(input, "maxAttributes", path, nonNegativeInt, () => 128),
    maxEvents: field(input, "maxEvents", path, nonNegativeInt, () => 128),
    maxEventAttributes: field(input, "maxEventAttributes", path, nonNegativeInt, () => 128),
    maxLinks: field(input, "maxLinks", path, nonNegativeInt, () => 128),
    maxLinkAttributes: field(input, "maxLinkAttributes", path, nonNegativeInt, () => 128),
    maxAttributeValueLength: field(input, "maxAttributeValueLength", path, positiveInt, () => 4096)
  }
}

const positiveIntOrNull = (value: unknown, path: ReadonlyArray<string>): number | null =>
  value === null
    ? null
    : typeof value === "number" && Number.isSafeInteger(value) && value > 0
    ? value
    : fail(path, "must be a positive integer or null")

const settingsKeys = [
  "enabled",
  "serviceName",
  "maxQueueSize",
  "maxQueueBytes",
  "maxRoutingValueBytes",
  "output",
  "shutdownTimeout",
  "limits"
]

const settings = (value: unknown): CheckedSettings => {
  const input = record(value, [], settingsKeys)
  const checked: CheckedSettings = {
    enabled: field(
      input,
      "enabled",
      [],
      (v, at) => typeof v === "boolean" ? v : fail(at, "must be true or false"),
      () => false
    ),
    serviceName: field(input, "serviceName", [], nonEmptyString, () => undefined),
    maxQueueSize: field(input, "maxQueueSize", [], positiveIntOrNull, () => defaultMaxQueueSize),
    maxQueueBytes: field(input, "maxQueueBytes", [], positiveIntOrNull, () => defaultMaxQueueBytes),
    maxRoutingValueBytes: field(input, "maxRoutingValueBytes", [], positiveInt, () => defaultMaxRoutingValueBytes),
    output: field(input, "output", [], output, () => undefined),
    shutdownTimeoutMillis: field(input, "shutdownTimeout", [], duration, () => 10_000),
    limits: field(input, "limits", [], limits, () => defaultLimits)
  }
  if (checked.enabled && checked.serviceName === undefined) fail(["serviceName"], requiredWhenEnabled)
  if (checked.enabled && checked.output === undefined) fail(["output"], requiredWhenEnabled)
  return checked
}

const attempt = <A>(f: () => A): { readonly ok: A } | { readonly problem: SettingsProblem } => {
  try {
    return { ok: f() }
  } catch (error) {
    if (error instanceof Problem) return { problem: { path: error.path, predicate: error.predicate } }
    throw error
  }
}

/** @internal settings given in code, checked; the first problem, if any, names the field path */
export const checkSettings = (input: unknown) => attempt(() => settings(input))

/**
 * @internal
 * The fields every output has, checked while no output is chosen (read from the environment), so a
 * bad value is refused whether or not an output uses it; a problem's path names the output kind `*`.
 */
export const checkOutputFields = (input: Record<string, unknown>) =>
  attempt(() => commonFields(record(input, ["output", "*"], outputKeys), ["output", "*"], () => ""))

/** @internal a field path as `UserTracingSettingsError.path` gives it: dotted */
export const dotted = (path: ReadonlyArray<string>): string => path.join(".")
