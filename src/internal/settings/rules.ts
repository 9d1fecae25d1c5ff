/**
 * @internal
 * The settings' rules in plain code, no effect module, shared by the Effect 3 and the Effect 4
 * lines: the defaults and bounds, and what each kind of value must be (durations, header names
 * and values, socket paths, URLs), in the words every error line uses. The Effect 3 line's Schema
 * (`schema.ts`) applies them in its filters; `check.ts` applies them to settings as a whole.
 */
import { isHeaderName } from "../shared/httpSyntax.js"

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
/** @internal */
export const durationStringMillis = (text: string): number | undefined => {
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

/** @internal why a non-empty `path` cannot be a Unix socket path, or `undefined` */
export const socketPathProblem = (path: string): string | undefined => {
  const bytes = Buffer.byteLength(path)
  return bytes <= maxSocketPathBytes
    ? undefined
    : `must be at most ${maxSocketPathBytes} bytes (the kernel cuts a longer Unix socket path); this one has ${bytes}`
}

/** @internal */
export const notHttpUrl = "must be an http: or https: URL such as http://127.0.0.1:4318/v1/traces"

/** @internal why `url` cannot be an output's URL, or `undefined` */
export const httpUrlProblem = (url: string): string | undefined => {
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  return parsed === undefined || !["http:", "https:"].includes(parsed.protocol)
    ? notHttpUrl
    : parsed.username !== "" || parsed.password !== ""
    ? credentialsInUrl
    : undefined
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

/** @internal the span limits, checked */
export interface CheckedLimits {
  readonly maxAttributes: number
  readonly maxEvents: number
  readonly maxEventAttributes: number
  readonly maxLinks: number
  readonly maxLinkAttributes: number
  readonly maxAttributeValueLength: number
}

/** @internal the span limits' defaults, for both lines' settings */
export const defaultLimits: CheckedLimits = {
  maxAttributes: 128,
  maxEvents: 128,
  maxEventAttributes: 128,
  maxLinks: 128,
  maxLinkAttributes: 128,
  maxAttributeValueLength: 4096
}
