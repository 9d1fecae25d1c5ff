/**
 * @internal
 * Text from outside (a receiver's answer, a span's fields, request headers) made safe for a log
 * line or a terminal: every control character (C0, DEL, C1), every invisible format character
 * (Unicode `Cf`: bidi controls, zero-width characters, U+FEFF, tag characters) and the line and
 * paragraph separators are escaped, so nothing in it can drive a terminal or hide text; and cut.
 */

const unsafeCharacters = /[\p{Cc}\p{Cf}\u2028\u2029]/gu

const hex4 = (code: number): string => code.toString(16).padStart(4, "0")

const escapeOne = (c: string): string => {
  if (c === "\n") return "\\n"
  if (c === "\r") return "\\r"
  if (c === "\t") return "\\t"
  const code = c.codePointAt(0)!
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${hex4(code)}`
}

/** @internal `text` with control, format and separator characters escaped (`\n`, `\u001b`, `\u200b`, `\u{e0041}`) */
export const escapeUnsafe = (text: string): string => text.replace(unsafeCharacters, escapeOne)

// What `JSON.stringify` leaves raw that a terminal acts on or hides: DEL, C1 controls, format
// characters and the separators (it escapes C0 itself).
const unsafeInJson = /[\u007f-\u009f\p{Cf}\u2028\u2029]/gu

/** A character as JSON `\uXXXX` escapes (a surrogate pair for one outside the BMP): still the same JSON string. */
const jsonEscape = (c: string): string => {
  let out = ""
  for (let i = 0; i < c.length; i++) out += `\\u${hex4(c.charCodeAt(i))}`
  return out
}

/** @internal `JSON.stringify(value)` with what it leaves raw that a terminal acts on escaped as `\uXXXX`: the same JSON */
export const safeJson = (value: unknown): string => JSON.stringify(value).replace(unsafeInJson, jsonEscape)

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff

/**
 * @internal
 * `text` cut to `max` characters, `…` marking the cut; never between the two halves of a
 * character outside the BMP (a lone half would print as a replacement character).
 */
export const truncate = (text: string, max: number): string => {
  if (max <= 0) return ""
  if (text.length <= max) return text
  let end = Math.max(0, max - 1)
  if (end > 0 && isHighSurrogate(text.charCodeAt(end - 1))) end--
  return `${text.slice(0, end)}…`
}

/**
 * @internal
 * Outside text for one line of a log or a terminal: escaped (`escapeUnsafe`) within a bounded
 * prefix, then cut to `max` characters, so its cost and its length are bounded whatever the input.
 */
export const escapeAndCut = (text: string, max: number): string =>
  truncate(escapeUnsafe(text.length > max * 2 ? text.slice(0, max * 2) : text), max)

/** @internal the most characters of outside text in one log line */
export const maxLoggedChars = 200

/** @internal outside text for one log line: `escapeAndCut` to `maxLoggedChars` */
export const forLog = (text: string): string => escapeAndCut(text, maxLoggedChars)
