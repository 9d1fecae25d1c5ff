import * as Option from "effect/Option"
import type * as Traceparent from "../../Traceparent.js"

const DASH = 0x2d
const COMMA = 0x2c

// Layout of the first 55 characters, shared by every version (W3C Trace Context §3.2):
// vv-<32 hex trace id>-<16 hex parent id>-<2 hex flags>
const LENGTH = 55
const TRACE_ID_START = 3
const PARENT_ID_START = 36
const FLAGS_START = 53

// `ignoreBOM` keeps a leading BOM in the output, where it fails the hex check instead of
// being silently dropped: a header value has no business starting with one.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const decode = (bytes: Uint8Array): string | undefined => {
  try {
    return decoder.decode(bytes)
  } catch {
    return undefined
  }
}

/** Value of a hex digit in either case, or -1. */
const hexDigit = (c: number): number =>
  c >= 0x30 && c <= 0x39
    ? c - 0x30
    : c >= 0x61 && c <= 0x66
    ? c - 0x57
    : c >= 0x41 && c <= 0x46
    ? c - 0x37
    : -1

/** The byte spelled by two hex digits at `i`, or -1. */
const hexByte = (s: string, i: number): number => {
  const hi = hexDigit(s.charCodeAt(i))
  const lo = hexDigit(s.charCodeAt(i + 1))
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo
}

/** `length` hex digits at `start`, lowercased, or `undefined` when non-hex or all zero. */
const hexId = (s: string, start: number, length: number): string | undefined => {
  let nonZero = false
  for (let i = start; i < start + length; i++) {
    const d = hexDigit(s.charCodeAt(i))
    if (d < 0) return undefined
    if (d !== 0) nonZero = true
  }
  return nonZero ? s.slice(start, start + length).toLowerCase() : undefined
}

const isOws = (c: number): boolean => c === 0x20 || c === 0x09

/** Whether the part after the first 55 characters is acceptable for `version`. */
const validTail = (s: string, version: number, start: number, end: number): boolean => {
  if (end === start) return true
  // Version 00 is exactly 55 characters; a future version may append `-`-led fields.
  if (version === 0 || s.charCodeAt(start) !== DASH) return false
  // A comma can only come from the header having been sent twice (joined by the HTTP layer).
  for (let i = start + 1; i < end; i++) {
    if (s.charCodeAt(i) === COMMA) return false
  }
  return true
}

const parseString = (s: string): Option.Option<Traceparent.Traceparent> => {
  let start = 0
  let end = s.length
  while (start < end && isOws(s.charCodeAt(start))) start++
  while (end > start && isOws(s.charCodeAt(end - 1))) end--
  if (end - start < LENGTH) return Option.none()
  const version = hexByte(s, start)
  if (
    version < 0 ||
    version === 0xff ||
    s.charCodeAt(start + TRACE_ID_START - 1) !== DASH ||
    s.charCodeAt(start + PARENT_ID_START - 1) !== DASH ||
    s.charCodeAt(start + FLAGS_START - 1) !== DASH ||
    !validTail(s, version, start + LENGTH, end)
  ) {
    return Option.none()
  }
  const traceFlags = hexByte(s, start + FLAGS_START)
  if (traceFlags < 0) return Option.none()
  const traceId = hexId(s, start + TRACE_ID_START, 32)
  if (traceId === undefined) return Option.none()
  const parentId = hexId(s, start + PARENT_ID_START, 16)
  if (parentId === undefined) return Option.none()
  return Option.some({ version, traceId, parentId, traceFlags })
}

/** @internal */
export const parse = (header: string | Uint8Array): Option.Option<Traceparent.Traceparent> => {
  if (typeof header === "string") return parseString(header)
  const decoded = decode(header)
  return decoded === undefined ? Option.none() : parseString(decoded)
}

const hex2 = (n: number): string => (n & 0xff).toString(16).padStart(2, "0")

/** @internal */
export const format = (self: Traceparent.Traceparent): string =>
  `${hex2(self.version)}-${self.traceId.toLowerCase()}-${self.parentId.toLowerCase()}-${hex2(self.traceFlags)}`

/** @internal */
export const isSampled = (self: Traceparent.Traceparent): boolean => (self.traceFlags & 0x01) === 0x01

/** @internal */
export const make = (fields: {
  readonly traceId: string
  readonly parentId: string
  readonly traceFlags?: number | undefined
  readonly version?: number | undefined
}): Traceparent.Traceparent => ({
  version: fields.version ?? 0,
  traceId: fields.traceId.toLowerCase(),
  parentId: fields.parentId.toLowerCase(),
  traceFlags: fields.traceFlags ?? 0
})
