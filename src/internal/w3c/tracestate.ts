import { dual } from "effect/Function"
import * as Option from "effect/Option"
import type * as Tracestate from "../../Tracestate.js"

const MAX_MEMBERS = 32
const MAX_KEY_LENGTH = 256
const MAX_VALUE_LENGTH = 256

const isOws = (c: number): boolean => c === 0x20 || c === 0x09

const isLcAlphaOrDigit = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)

// `_` `-` `*` `/` `@`: Level 2 folds the multi-tenant `tenant@system` form into one grammar.
const isKeyChar = (c: number): boolean =>
  isLcAlphaOrDigit(c) || c === 0x5f || c === 0x2d || c === 0x2a || c === 0x2f || c === 0x40

/** `key = ( lcalpha / DIGIT ) 0*255( keychar )` */
const isKey = (s: string, start: number, end: number): boolean => {
  if (end - start < 1 || end - start > MAX_KEY_LENGTH || !isLcAlphaOrDigit(s.charCodeAt(start))) {
    return false
  }
  for (let i = start + 1; i < end; i++) {
    if (!isKeyChar(s.charCodeAt(i))) return false
  }
  return true
}

/**
 * `value = 0*255( chr ) nblk-chr`: printable ASCII except `,` and `=`. The "not ending in a
 * space" half of the rule holds by construction: trailing spaces were trimmed as separator OWS.
 */
const isValue = (s: string, start: number, end: number): boolean => {
  if (end - start < 1 || end - start > MAX_VALUE_LENGTH) return false
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x3d) return false
  }
  return true
}

const parseString = (s: string): Option.Option<Tracestate.Tracestate> => {
  const members: Array<readonly [string, string]> = []
  const seen = new Set<string>()
  let count = 0
  let next = 0
  while (next <= s.length) {
    let start = next
    let end = s.indexOf(",", start)
    if (end === -1) end = s.length
    next = end + 1
    while (start < end && isOws(s.charCodeAt(start))) start++
    while (end > start && isOws(s.charCodeAt(end - 1))) end--
    if (start === end) continue
    // Members are counted as they appear, duplicates included: the limit is on what was sent.
    if (++count > MAX_MEMBERS) return Option.none()
    const eq = s.indexOf("=", start)
    if (eq === -1 || eq >= end || !isKey(s, start, eq) || !isValue(s, eq + 1, end)) {
      return Option.none()
    }
    const key = s.slice(start, eq)
    if (!seen.has(key)) {
      seen.add(key)
      members.push([key, s.slice(eq + 1, end)])
    }
  }
  return members.length === 0 ? Option.none() : Option.some({ members })
}

/** @internal */
export const parse = (header: string | ReadonlyArray<string>): Option.Option<Tracestate.Tracestate> =>
  parseString(typeof header === "string" ? header : header.join(","))

/** @internal */
export const format = (self: Tracestate.Tracestate): string =>
  self.members.map(([key, value]) => `${key}=${value}`).join(",")

/** @internal */
export const get: {
  (key: string): (self: Tracestate.Tracestate) => Option.Option<string>
  (self: Tracestate.Tracestate, key: string): Option.Option<string>
} = dual(2, (self: Tracestate.Tracestate, key: string): Option.Option<string> => {
  for (const [k, value] of self.members) {
    if (k === key) return Option.some(value)
  }
  return Option.none()
})
