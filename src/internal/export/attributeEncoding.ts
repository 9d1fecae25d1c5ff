/**
 * @internal
 * Attributes as OTLP protobuf (`KeyValue`, `AnyValue`), for the span encoder: each nested message
 * sized before it is written (its lengths kept on the stack of `nestedLengths.ts`), and each
 * attribute key seen encoded once. Field numbers are those of the official opentelemetry-proto
 * definitions (common/v1/common.proto); each tag is `field_number << 3 | wire_type`.
 */
import type { AttributeValue, FinishedUserSpan } from "../../UserSpan.js"
import { UserSpanRecord } from "../span/record.js"
import {
  MAX_LENGTHS,
  measureString,
  reserve,
  resetLengths,
  setLength,
  writeHeader,
  writeStringField
} from "./nestedLengths.js"
import {
  copy,
  fieldSize,
  int64OfBigint,
  int64OfNumber,
  int64Size,
  utf8Length,
  varintSize,
  writeDouble,
  writeInt64,
  writeUtf8,
  writeVarint
} from "./wire.js"

/** `Span.attributes` (trace.proto): the tag in front of every span attribute written here */
const SPAN_ATTRIBUTES = 9 << 3 | 2

// KeyValue
const KEY_VALUE_KEY = 1 << 3 | 2
const KEY_VALUE_VALUE = 2 << 3 | 2
// AnyValue
const ANY_STRING = 1 << 3 | 2
const ANY_BOOL = 2 << 3 | 0
const ANY_INT = 3 << 3 | 0
const ANY_DOUBLE = 4 << 3 | 1
const ANY_ARRAY = 5 << 3 | 2
// ArrayValue
const ARRAY_VALUES = 1 << 3 | 2

// AnyValue --------------------------------------------------------------------------------------

/** The size of an `AnyValue`'s fields; throws on a value of no OTLP type. */
const measureAnyValue = (value: AttributeValue): number => {
  switch (typeof value) {
    case "string":
      return measureString(value)
    case "boolean":
      return 2
    case "number":
      // A non-negative integer below 2^32 is its own varint; a safe integer an int64, else a double.
      if (!Number.isSafeInteger(value)) return 9
      if (value >= 0 && value <= 0xffffffff) return 1 + varintSize(value)
      int64OfNumber(value)
      return 1 + int64Size()
    case "bigint":
      int64OfBigint(value)
      return 1 + int64Size()
    default: {
      if (!Array.isArray(value)) throw new TypeError(`not an attribute value: ${typeof value}`)
      const slot = reserve()
      let length = 0
      for (let i = 0; i < value.length; i++) {
        const item = reserve()
        const itemLength = measureAnyValue(value[i])
        setLength(item, itemLength)
        length += fieldSize(itemLength)
      }
      setLength(slot, length)
      return fieldSize(length)
    }
  }
}

const writeAnyValue = (buf: Uint8Array, pos: number, value: AttributeValue): number => {
  switch (typeof value) {
    case "string":
      return writeStringField(buf, pos, ANY_STRING, value)
    case "boolean":
      buf[pos] = ANY_BOOL
      buf[pos + 1] = value ? 1 : 0
      return pos + 2
    case "number":
      if (!Number.isSafeInteger(value)) {
        buf[pos] = ANY_DOUBLE
        return writeDouble(buf, pos + 1, value)
      }
      buf[pos] = ANY_INT
      if (value >= 0 && value <= 0xffffffff) return writeVarint(buf, pos + 1, value)
      int64OfNumber(value)
      return writeInt64(buf, pos + 1)
    case "bigint":
      buf[pos] = ANY_INT
      int64OfBigint(value)
      return writeInt64(buf, pos + 1)
    default: {
      const items = value as ReadonlyArray<AttributeValue>
      pos = writeHeader(buf, pos, ANY_ARRAY)
      for (let i = 0; i < items.length; i++) pos = writeAnyValue(buf, writeHeader(buf, pos, ARRAY_VALUES), items[i])
      return pos
    }
  }
}

// Keys and attributes ---------------------------------------------------------------------------

/**
 * What is kept of each attribute key seen (at most `MAX_CACHED_KEYS`, each of at most
 * `MAX_CACHED_CHARS`): keys repeat from span to span, and so do many values (a route, a tier, a
 * flag), so a key is encoded once, and a span attribute whose value is a boolean, or the same
 * string as the last one of its key, is copied whole.
 */
class KeyEntry {
  /** The last string value seen with the key, and its whole span attribute field once it repeated. */
  lastString: string | undefined = undefined
  stringField: Uint8Array | undefined = undefined
  /** The whole span attribute fields of `true` and `false`, once used. */
  trueField: Uint8Array | undefined = undefined
  falseField: Uint8Array | undefined = undefined
  constructor(readonly keyField: Uint8Array) {}
}

const keyEntries = new Map<string, KeyEntry>()
const MAX_CACHED_KEYS = 1024
const MAX_CACHED_CHARS = 256

const keyEntryOf = (key: string): KeyEntry | undefined => {
  let entry = keyEntries.get(key)
  if (entry === undefined) {
    if (keyEntries.size >= MAX_CACHED_KEYS || key.length > MAX_CACHED_CHARS) return undefined
    const bytes = utf8Length(key)
    const keyField = new Uint8Array(fieldSize(bytes))
    keyField[0] = KEY_VALUE_KEY
    writeUtf8(keyField, writeVarint(keyField, 1, bytes), key, bytes)
    entry = new KeyEntry(keyField)
    keyEntries.set(key, entry)
  }
  return entry
}

/** A whole span attribute field of a scalar value (uses the stack of lengths: not while a message is sized). */
const wholeField = (keyField: Uint8Array, value: string | boolean): Uint8Array => {
  resetLengths()
  const size = keyValueSize(keyField, "", value)
  const field = new Uint8Array(size)
  writeKeyValue(field, 0, SPAN_ATTRIBUTES, keyField, "", value)
  return field
}

/** Sizes a `KeyValue` field (tag included); `keyField` is the key's cached field, if any. */
const keyValueSize = (keyField: Uint8Array | undefined, key: string, value: AttributeValue): number => {
  const slot = reserve()
  const keySize = keyField === undefined ? measureString(key) : keyField.length
  const valueSlot = reserve()
  const valueLength = measureAnyValue(value)
  setLength(valueSlot, valueLength)
  const length = keySize + fieldSize(valueLength)
  setLength(slot, length)
  return fieldSize(length)
}

/** Writes a `KeyValue` field sized by `keyValueSize` with the same `keyField`. */
const writeKeyValue = (
  buf: Uint8Array,
  pos: number,
  tag: number,
  keyField: Uint8Array | undefined,
  key: string,
  value: AttributeValue
): number => {
  pos = writeHeader(buf, pos, tag)
  pos = keyField === undefined ? writeStringField(buf, pos, KEY_VALUE_KEY, key) : copy(buf, pos, keyField)
  return writeAnyValue(buf, writeHeader(buf, pos, KEY_VALUE_VALUE), value)
}

/**
 * A span attribute: copied whole when its key was seen with this boolean, or with this string last
 * time; else `writeSpanAttributeFields`. Kept small, so that it is inlined where it is called.
 */
const writeSpanAttribute = (buf: Uint8Array, pos: number, key: string, value: AttributeValue): number => {
  const entry = keyEntries.get(key)
  if (entry !== undefined) {
    const whole = typeof value === "boolean"
      ? value ? entry.trueField : entry.falseField
      : value === entry.lastString
      ? entry.stringField
      : undefined
    if (whole !== undefined) return copy(buf, pos, whole)
    return writeSpanAttributeFields(buf, pos, key, value, entry)
  }
  return writeSpanAttributeFields(buf, pos, key, value, keyEntryOf(key))
}

/**
 * A span attribute not copied whole (`entry`: its key's, if cached): its whole field made for next
 * time when its value allows, else sized and written.
 */
const writeSpanAttributeFields = (
  buf: Uint8Array,
  pos: number,
  key: string,
  value: AttributeValue,
  entry: KeyEntry | undefined
): number => {
  if (entry === undefined) {
    resetLengths()
    keyValueSize(undefined, key, value)
    return writeKeyValue(buf, pos, SPAN_ATTRIBUTES, undefined, key, value)
  }
  if (typeof value === "boolean") {
    return copy(
      buf,
      pos,
      value
        ? entry.trueField ??= wholeField(entry.keyField, true)
        : entry.falseField ??= wholeField(entry.keyField, false)
    )
  }
  if (typeof value === "string") {
    if (value === entry.lastString) return copy(buf, pos, entry.stringField ??= wholeField(entry.keyField, value))
    entry.lastString = value.length > MAX_CACHED_CHARS ? undefined : value
    entry.stringField = undefined
    return writeStringAttribute(buf, pos, entry.keyField, value)
  }
  if (typeof value === "number" && value >= 0 && value <= 0xffffffff && Number.isInteger(value)) {
    return writeIntAttribute(buf, pos, entry.keyField, value)
  }
  resetLengths()
  keyValueSize(entry.keyField, key, value)
  return writeKeyValue(buf, pos, SPAN_ATTRIBUTES, entry.keyField, key, value)
}

// The two most common values not copied whole, written with their sizes worked out on the spot
// (no stack of lengths): a string, and an integer that is its own varint.

/** A span attribute of a string value, its key encoded as `keyField`. */
const writeStringAttribute = (buf: Uint8Array, pos: number, keyField: Uint8Array, value: string): number => {
  const bytes = utf8Length(value)
  const anyValueLength = 1 + varintSize(bytes) + bytes
  buf[pos] = SPAN_ATTRIBUTES
  pos = copy(buf, writeVarint(buf, pos + 1, keyField.length + fieldSize(anyValueLength)), keyField)
  buf[pos] = KEY_VALUE_VALUE
  pos = writeVarint(buf, pos + 1, anyValueLength)
  buf[pos] = ANY_STRING
  return writeUtf8(buf, writeVarint(buf, pos + 1, bytes), value, bytes)
}

/** A span attribute of an integer in [0, 2^32), its key encoded as `keyField`. */
const writeIntAttribute = (buf: Uint8Array, pos: number, keyField: Uint8Array, value: number): number => {
  // An `AnyValue` of a tag and at most 5 varint bytes: its length takes one byte.
  const anyValueLength = 1 + varintSize(value)
  buf[pos] = SPAN_ATTRIBUTES
  pos = copy(buf, writeVarint(buf, pos + 1, keyField.length + 2 + anyValueLength), keyField)
  buf[pos] = KEY_VALUE_VALUE
  buf[pos + 1] = anyValueLength
  buf[pos + 2] = ANY_INT
  return writeVarint(buf, pos + 3, value)
}

// Any other span's attributes are a `Map`, walked by `forEach` with a callback made once (not
// `for...of` nor a closure per span): nothing is allocated per attribute.
let attributesBuf: Uint8Array = new Uint8Array(0)
let attributesPos = 0
const writeAttributeEntry = (value: AttributeValue, key: string): void => {
  attributesPos = writeSpanAttribute(attributesBuf, attributesPos, key, value)
}

/** @internal */
export const writeAttributes = (buf: Uint8Array, pos: number, span: FinishedUserSpan): number => {
  if (span instanceof UserSpanRecord) {
    // A record's attributes: keys and values in turn, read in place.
    const list = span.attributeList
    for (let i = 0; i < list.length; i += 2) {
      pos = writeSpanAttribute(buf, pos, list[i] as string, list[i + 1] as AttributeValue)
    }
    return pos
  }
  attributesBuf = buf
  attributesPos = pos
  try {
    span.attributes.forEach(writeAttributeEntry)
  } finally {
    // Not kept past the span, even one that failed: a chunk's buffer is released when it is sent.
    attributesBuf = EMPTY
  }
  return attributesPos
}

const EMPTY = new Uint8Array(0)

// The attributes of events and links, sized with their message: the keys' cached fields found
// while sizing, in order, for the writer.
let keyFields: Array<Uint8Array | undefined> = []
let measuredKeys = 0
let consumedKeys = 0

/** @internal */
export const keyValuesSize = (attributes: ReadonlyArray<readonly [string, AttributeValue]>): number => {
  let size = 0
  for (let i = 0; i < attributes.length; i++) {
    const key = attributes[i][0]
    const keyField = keyEntryOf(key)?.keyField
    keyFields[measuredKeys++] = keyField
    size += keyValueSize(keyField, key, attributes[i][1])
  }
  return size
}

/** @internal */
export const writeKeyValues = (
  buf: Uint8Array,
  pos: number,
  tag: number,
  attributes: ReadonlyArray<readonly [string, AttributeValue]>
): number => {
  for (let i = 0; i < attributes.length; i++) {
    pos = writeKeyValue(buf, pos, tag, keyFields[consumedKeys++], attributes[i][0], attributes[i][1])
  }
  return pos
}

/** @internal An empty stack of key fields, for the next event or link. */
export const resetKeys = (): void => {
  if (measuredKeys > MAX_LENGTHS) keyFields = []
  measuredKeys = consumedKeys = 0
}

// Bounds ----------------------------------------------------------------------------------------

/** @internal A string field at most: tag, a length of up to 5 bytes, 3 bytes per UTF-16 code unit. */
export const stringBound = (text: string): number => 6 + 3 * text.length

const anyValueBound = (value: AttributeValue): number => {
  switch (typeof value) {
    case "string":
      return stringBound(value)
    case "boolean":
      return 2
    case "number":
    case "bigint":
      // A tag and a 10-byte varint, or a tag and 8 bytes.
      return 11
    default: {
      if (!Array.isArray(value)) throw new TypeError(`not an attribute value: ${typeof value}`)
      let bound = 6
      for (let i = 0; i < value.length; i++) bound += 6 + anyValueBound(value[i])
      return bound
    }
  }
}

/** @internal A `KeyValue` field at most: tag and length, the key, the value's tag and length, the value. */
export const keyValueBound = (key: string, value: AttributeValue): number =>
  12 + stringBound(key) + anyValueBound(value)

/** @internal */
export const keyValuesBound = (attributes: ReadonlyArray<readonly [string, AttributeValue]>): number => {
  let bound = 0
  for (let i = 0; i < attributes.length; i++) bound += keyValueBound(attributes[i][0], attributes[i][1])
  return bound
}
