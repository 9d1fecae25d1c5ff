/**
 * @internal
 * What an OTLP/JSON body is checked for before protobufjs sees it: its nesting depth, in one
 * pass over the text (no parse, no recursion), then the JSON type of every known field.
 */
import protobuf from "protobufjs"

type Json = Record<string, unknown>

const isPlainObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** @internal throws when `[`/`{` outside strings nest deeper than `max` (malformed text is `JSON.parse`'s to reject) */
export const checkJsonDepth = (text: string, max: number): void => {
  let depth = 0
  let inString = false
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
    }
  }
}

const expected = (path: string, what: string): never => {
  throw new TypeError(`${path}: ${what} expected`)
}

const INTEGER = /^-?\d+$/

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
    default:
      if (!(Number.isInteger(value) || (typeof value === "string" && INTEGER.test(value)))) expected(path, "integer")
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
