/**
 * @internal
 * The settings' rules in plain code, no effect module, shared by the Effect 3 and the Effect 4
 * lines: the defaults and bounds, the rules of each kind of value (durations, header names and
 * values, socket paths, URLs) with their words, and `checkSettings`: what
 * `UserTracingSettings.decode` accepts, with defaults filled in, or the first problem as a field
 * path and a predicate (`must be ...`). The Effect 3 line's Schema (`schema.ts`) applies the rules
 * in its filters; the Effect 4 line's Schema and both lines' environment readers are built on
 * `checkSettings`.
 */
import { isHeaderName } from "../shared/httpSyntax.js"

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

/** @internal */
export interface CheckedLimits {
  readonly maxAttributes: number
  readonly maxEvents: number
  readonly maxEventAttributes: number
  readonly maxLinks: number
  readonly maxLinkAttributes: number
  readonly maxAttributeValueLength: number
}

/**
 * @internal
 * A queued span is kept only encoded (its bytes and a few of bookkeeping: `npm run bench`'s
 * stalled-receiver scenario measures it), so a full default queue of small spans costs tens of
 * MB; larger spans meet `maxQueueBytes` first.
 */
export const defaultMaxQueueSize = 65_536

/** @internal bytes allocated for spans waiting for export, unless `maxQueueBytes` says otherwise */
export const defaultMaxQueueBytes = 64 * 1024 * 1024

/**
 * @internal
 * The longest routing value sent, unless `maxRoutingValueBytes` says otherwise: well within what
 * receivers and proxies take in one header line (nginx's `large_client_header_buffers`: 8 KiB).
 */
export const defaultMaxRoutingValueBytes = 4 * 1024

/** @internal the most bytes of one request body, unless `maxBatchBytes` says otherwise */
export const defaultMaxBatchBytes = 4 * 1024 * 1024

/**
 * @internal
 * Each worker is a fiber and a kept-alive connection (a file descriptor); more than this gains no
 * throughput on one receiver and risks the process's descriptor limit (1,024 by default).
 */
export const maxNumTasks = 256

/** @internal a batch larger than the default queue could never fill */
export const maxMaxBatchSize = 65_536

/**
 * @internal
 * The longest request timeout or shutdown deadline: a wait longer than this is a stalled process,
 * not a slow receiver.
 */
export const maxDurationMillis = 10 * 60 * 1000

/** @internal the bytes of `sockaddr_un.sun_path` on Linux, less its terminating NUL; the kernel cuts longer paths */
export const maxSocketPathBytes = 107

/** @internal */
export const defaultLimits: CheckedLimits = {
  maxAttributes: 128,
  maxEvents: 128,
  maxEventAttributes: 128,
  maxLinks: 128,
  maxLinkAttributes: 128,
  maxAttributeValueLength: 4096
}

/** @internal the problem of a field required when enabled, worded for code; the environment reader words it for itself */
export const requiredWhenEnabled = "is required when enabled is true"

/** @internal the problem with credentials in a URL, worded for code; the environment reader words it for itself */
export const credentialsInUrl = "must not contain credentials (user:password@): send them in headers (authorization)"

/** @internal */
export const durationProblem =
  `must be a whole number of milliseconds from 1 to ${maxDurationMillis} (10 minutes) or a duration such as "10 seconds"`

/** Headers the exporter or HTTP itself sets: neither the routing header nor a static one may be one of them. */
const exporterHeaders = new Set([
  "host",
  "content-type",
  "content-length",
  "content-encoding",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "expect",
  "traceparent",
  "tracestate"
])

/** @internal why `name` cannot be the routing header or a static header, or `undefined` */
export const headerNameProblem = (name: string): string | undefined =>
  !isHeaderName(name)
    ? "is not a valid HTTP header name"
    : exporterHeaders.has(name.toLowerCase())
    ? "is a header the exporter sets itself"
    : undefined

/**
 * @internal
 * Why `value` cannot be a static header's value, or `undefined`. A header value is sent as its
 * UTF-8 bytes, so any text is legal except control characters (tab aside) and lone surrogates (no
 * UTF-8 for them); spaces or tabs at either end would be dropped by the receiver, so they are
 * refused rather than lost.
 */
export const headerValueProblem = (value: string): string | undefined =>
  /[\p{Cc}\p{Cs}]/u.test(value.replaceAll("\t", ""))
    ? "has a value that is not a legal header value (a control character)"
    : /^[ \t]|[ \t]$/.test(value)
    ? "has a value that starts or ends with a space or tab (the receiver would drop it)"
    : undefined

const unitMillis: Record<string, number> = {
  nano: 1e-6,
  micro: 1e-3,
  milli: 1,
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000
}

/** A duration string as Effect's `Duration` reads one (`"10 seconds"`, `"1.5 minutes"`), in milliseconds. */
const durationStringMillis = (text: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)\s+(nano|micro|milli|second|minute|hour|day|week)s?$/.exec(text.trim())
  return match === null ? undefined : Number(match[1]) * unitMillis[match[2]]
}

/**
 * @internal
 * Whole milliseconds within [1, `maxDurationMillis`], allowing for a decimal string's rounding:
 * timers and the HTTP client count whole milliseconds, and 0 would time out every request.
 */
export const wholeMillis = (millis: number | undefined): number | undefined => {
  if (millis === undefined || !Number.isFinite(millis)) return undefined
  const whole = Math.round(millis)
  return Math.abs(millis - whole) < 1e-6 && whole >= 1 && whole <= maxDurationMillis ? whole : undefined
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

/** @internal why a non-empty `path` cannot be a Unix socket path, or `undefined` */
export const socketPathProblem = (path: string): string | undefined => {
  const bytes = Buffer.byteLength(path)
  return bytes <= maxSocketPathBytes
    ? undefined
    : `must be at most ${maxSocketPathBytes} bytes (the kernel cuts a longer Unix socket path); this one has ${bytes}`
}

const socketPath = (value: unknown, path: ReadonlyArray<string>): string => {
  const text = nonEmptyString(value, path)
  const problem = socketPathProblem(text)
  return problem === undefined ? text : fail(path, problem)
}

const notHttpUrl = "must be an http: or https: URL such as http://127.0.0.1:4318/v1/traces"

/** @internal why `url` cannot be an output's URL, or `undefined` */
export const httpUrlProblem = (url: string): string | undefined => {
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  return parsed === undefined || !["http:", "https:"].includes(parsed.protocol)
    ? notHttpUrl
    : parsed.username !== "" || parsed.password !== ""
    ? credentialsInUrl
    : undefined
}

const httpUrl = (value: unknown, path: ReadonlyArray<string>): string => {
  if (typeof value !== "string") return fail(path, notHttpUrl)
  const problem = httpUrlProblem(value)
  return problem === undefined ? value : fail(path, problem)
}

/**
 * @internal
 * The first problem of static headers, naming the header: a name or value the rules refuse, or a
 * name given twice (names are case-insensitive).
 */
export const staticHeadersProblem = (
  headers: { readonly [name: string]: string }
): { readonly name: string; readonly problem: string } | undefined => {
  const seen = new Map<string, string>()
  for (const [name, value] of Object.entries(headers)) {
    const problem = headerNameProblem(name) ?? headerValueProblem(value)
    if (problem !== undefined) return { name, problem }
    const earlier = seen.get(name.toLowerCase())
    if (earlier !== undefined) {
      return { name, problem: `repeats the header ${earlier} (header names are case-insensitive)` }
    }
    seen.set(name.toLowerCase(), name)
  }
  return undefined
}

/** @internal the static header that repeats the routing header's name, if one does */
export const repeatedRoutingHeader = (
  headers: { readonly [name: string]: string } | undefined,
  routingHeaderName: string
): string | undefined =>
  Object.keys(headers ?? {}).find((name) => name.toLowerCase() === routingHeaderName.toLowerCase())

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
