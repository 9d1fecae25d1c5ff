/**
 * @internal
 * What an OTLP/JSON body is checked for before protobufjs sees it: its nesting depth, in one
 * pass over the text (no parse, no recursion) that also keeps large integers exact, then the JSON
 * type of every known field, integers within their type's range.
 */
import protobuf from "protobufjs"

type Json = Record<string, unknown>

const isPlainObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

/** A digit, `.`, `e`, `E`, `+` or `-`: what a JSON number is made of. */
const isNumberPart = (c: number): boolean =>
  isDigit(c) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d

/**
 * @internal
 * OTLP/JSON text made ready for `JSON.parse`, in one pass over it (no parse, no recursion): throws
 * when `[`/`{` outside strings nest deeper than `max` (malformed text is `JSON.parse`'s to reject),
 * and quotes every integer literal outside the safe range (beyond 2^53), so that a 64-bit value
 * written as a bare number reaches the decoder exactly, as the decimal string OTLP/JSON also allows.
 */
export const prepareJsonText = (text: string, max: number): string => {
  let depth = 0
  let inString = false
  let out: Array<string> | undefined
  let copied = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // a backslash escapes the next character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) throw new TypeError(`JSON nested deeper than ${max} levels`)
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    } else if (c === 0x2d || isDigit(c)) {
      // A number: digits, sign, point and exponent; only a plain integer literal of more digits
      // than a double holds exactly (16 or more) can be outside the safe range.
      let end = i + 1
      while (end < text.length && isNumberPart(text.charCodeAt(end))) end++
      if (end - i >= 16) {
        const literal = text.slice(i, end)
        if (/^-?(?:0|[1-9]\d*)$/.test(literal) && !Number.isSafeInteger(Number(literal))) {
          out ??= []
          out.push(text.slice(copied, i), `"${literal}"`)
          copied = end
        }
      }
      i = end - 1
    }
  }
  if (out === undefined) return text
  out.push(text.slice(copied))
  return out.join("")
}

const expected = (path: string, what: string): never => {
  throw new TypeError(`${path}: ${what} expected`)
}

const INTEGER = /^-?\d+$/

/** The values each protobuf integer type holds. */
const integerRanges: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n]
}

/** Checks one non-repeated, non-null value of a field against its proto type. */
const checkValue = (field: protobuf.Field, value: unknown, path: string): void => {
  const type = field.resolvedType
  if (type instanceof protobuf.Type) return checkShape(type, value, path)
  if (type instanceof protobuf.Enum) {
    if (!(typeof value === "string" || Number.isInteger(value))) expected(path, "enum name or number")
    return
  }
  switch (field.type) {
    case "string":
    case "bytes":
      if (typeof value !== "string") expected(path, "string")
      return
    case "bool":
      if (typeof value !== "boolean") expected(path, "boolean")
      return
    case "double":
    case "float":
      if (typeof value !== "number" && typeof value !== "string") expected(path, "number")
      return
    default: {
      const range = integerRanges[field.type]
      const integer = Number.isInteger(value)
        ? BigInt(value as number)
        : typeof value === "string" && INTEGER.test(value)
        ? BigInt(value)
        : undefined
      if (integer === undefined) return expected(path, "integer")
      // Out of range, protobufjs would wrap it: a different number than the one sent.
      if (range !== undefined && (integer < range[0] || integer > range[1])) {
        expected(path, `integer from ${range[0]} to ${range[1]}`)
      }
    }
  }
}

/**
 * @internal
 * Throws unless `value` has the OTLP/JSON shape of `type`: an object whose known fields hold the
 * JSON type their proto type maps to (`null` for a default); unknown fields are ignored, as OTLP
 * wants. Recursive: the sink calls it only on parsed text whose depth `checkJsonDepth` bounded.
 */
export const checkShape = (type: protobuf.Type, value: unknown, path: string): void => {
  if (!isPlainObject(value)) return expected(path, `${type.name} object`)
  for (const field of type.fieldsArray) {
    const member = value[field.name]
    if (member === undefined || member === null) continue
    const memberPath = `${path}.${field.name}`
    if (!field.repeated) {
      checkValue(field, member, memberPath)
    } else if (!Array.isArray(member)) {
      expected(memberPath, "array")
    } else {
      for (let i = 0; i < member.length; i++) checkValue(field, member[i], `${memberPath}[${i}]`)
    }
  }
}
