/**
 * @internal
 * One span as OTLP protobuf (a `ScopeSpans.spans` field), written straight from the span record
 * into the chunk's buffer: no writer object, no intermediate objects in OTLP shape. Field numbers
 * are those of the official opentelemetry-proto definitions (trace/v1/trace.proto,
 * common/v1/common.proto); each tag below is `field_number << 3 | wire_type` (0 varint, 1 fixed64,
 * 2 length-delimited, 5 fixed32).
 *
 * Each nested message (an attribute, an event, a link, the status) is sized before it is written,
 * so its length prefix is written once. The span's own length is known only at its end: it gets
 * two bytes, the width of any span from 128 bytes to 16 KiB, and only a span outside that range is
 * moved (by a byte, or by the few bytes a larger length takes). The caller makes room first with
 * `spanSizeBound`, a cheap upper bound: nothing is ever written past a buffer's end (V8 would
 * then compile every later byte store of the process to its slow form).
 */
import type {
  AttributeValue,
  FinishedUserSpan,
  UserSpanEvent,
  UserSpanKind,
  UserSpanLinkRecord
} from "../../UserSpan.js"
import { hexByte } from "../span/ids.js"
import { UserSpanRecord } from "../span/record.js"
import {
  copy,
  fieldSize,
  int64OfBigint,
  int64OfNumber,
  int64Size,
  utf8Length,
  varintSize,
  writeDouble,
  writeFixed32,
  writeFixed64,
  writeInt64,
  writeUtf8,
  writeVarint
} from "./wire.js"

/** @internal `ScopeSpans.spans`: the tag in front of every span written here */
export const SCOPE_SPANS_SPANS = 2 << 3 | 2
// Span
const SPAN_TRACE_ID = 1 << 3 | 2
const SPAN_SPAN_ID = 2 << 3 | 2
const SPAN_TRACE_STATE = 3 << 3 | 2
const SPAN_PARENT_SPAN_ID = 4 << 3 | 2
const SPAN_NAME = 5 << 3 | 2
const SPAN_KIND = 6 << 3 | 0
const SPAN_START_TIME = 7 << 3 | 1
const SPAN_END_TIME = 8 << 3 | 1
const SPAN_ATTRIBUTES = 9 << 3 | 2
const SPAN_DROPPED_ATTRIBUTES_COUNT = 10 << 3 | 0
const SPAN_EVENTS = 11 << 3 | 2
const SPAN_DROPPED_EVENTS_COUNT = 12 << 3 | 0
const SPAN_LINKS = 13 << 3 | 2
const SPAN_DROPPED_LINKS_COUNT = 14 << 3 | 0
const SPAN_STATUS = 15 << 3 | 2
/** `Span.flags`, field 16: its tag (fixed32) is a two-byte varint. */
const SPAN_FLAGS_0 = (16 << 3 | 5) & 0x7f | 0x80
const SPAN_FLAGS_1 = (16 << 3 | 5) >>> 7
// Span.Event
const EVENT_TIME = 1 << 3 | 1
const EVENT_NAME = 2 << 3 | 2
const EVENT_ATTRIBUTES = 3 << 3 | 2
const EVENT_DROPPED_ATTRIBUTES_COUNT = 4 << 3 | 0
// Span.Link
const LINK_TRACE_ID = 1 << 3 | 2
const LINK_SPAN_ID = 2 << 3 | 2
const LINK_TRACE_STATE = 3 << 3 | 2
const LINK_ATTRIBUTES = 4 << 3 | 2
const LINK_DROPPED_ATTRIBUTES_COUNT = 5 << 3 | 0
const LINK_FLAGS = 6 << 3 | 5
// Status
const STATUS_MESSAGE = 2 << 3 | 2
const STATUS_CODE = 3 << 3 | 0
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

/** `SpanFlags`: the W3C trace flags in the low byte, then "has is_remote" and "is_remote". */
const FLAG_HAS_IS_REMOTE = 0x100
const FLAG_IS_REMOTE = 0x200

/** `Span.SpanKind` */
const spanKind: Record<UserSpanKind, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 }

/** `Status.StatusCode` */
const STATUS_CODE_OK = 1
const STATUS_CODE_ERROR = 2

// Lengths -----------------------------------------------------------------------------------------

// The lengths that sizing a nested message found (its own, its strings', its arrays'), in the
// order its writer needs them. One message's at a time: sized, then written at once.
const MIN_LENGTHS = 64
/** After a message with more, the stack is made small again: one huge message's lengths are not kept. */
const MAX_LENGTHS = 64 * 1024
let lengths = new Int32Array(MIN_LENGTHS)
let measured = 0
let consumed = 0

/** An empty stack, for the next message. */
const resetLengths = (): void => {
  if (measured > MAX_LENGTHS) lengths = new Int32Array(MIN_LENGTHS)
  measured = consumed = 0
}

/** Reserves the next slot of `lengths`, filled in once its message is sized. */
const reserve = (): number => {
  if (measured === lengths.length) {
    const larger = new Int32Array(2 * lengths.length)
    larger.set(lengths)
    lengths = larger
  }
  return measured++
}

/** The size of a string field (tag included); its UTF-8 length is kept. */
const measureString = (text: string): number => {
  const bytes = utf8Length(text)
  lengths[reserve()] = bytes
  return fieldSize(bytes)
}

const writeStringField = (buf: Uint8Array, pos: number, tag: number, text: string): number => {
  const bytes = lengths[consumed++]
  buf[pos] = tag
  return writeUtf8(buf, writeVarint(buf, pos + 1, bytes), text, bytes)
}

/** A length-delimited field whose body was sized (its length is next in `lengths`): its tag and length. */
const writeHeader = (buf: Uint8Array, pos: number, tag: number): number => {
  buf[pos] = tag
  return writeVarint(buf, pos + 1, lengths[consumed++])
}

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
        lengths[item] = itemLength
        length += fieldSize(itemLength)
      }
      lengths[slot] = length
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
  lengths[valueSlot] = valueLength
  const length = keySize + fieldSize(valueLength)
  lengths[slot] = length
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

/** A span attribute: copied whole when its value allows, else sized and written. */
const writeSpanAttribute = (buf: Uint8Array, pos: number, key: string, value: AttributeValue): number => {
  const entry = keyEntryOf(key)
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
  }
  resetLengths()
  keyValueSize(entry.keyField, key, value)
  return writeKeyValue(buf, pos, SPAN_ATTRIBUTES, entry.keyField, key, value)
}

// Any other span's attributes are a `Map`, walked by `forEach` with a callback made once (not
// `for...of` nor a closure per span): nothing is allocated per attribute.
let attributesBuf: Uint8Array = new Uint8Array(0)
let attributesPos = 0
const writeAttributeEntry = (value: AttributeValue, key: string): void => {
  attributesPos = writeSpanAttribute(attributesBuf, attributesPos, key, value)
}

const writeAttributes = (buf: Uint8Array, pos: number, span: FinishedUserSpan): number => {
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
  span.attributes.forEach(writeAttributeEntry)
  attributesBuf = EMPTY
  return attributesPos
}

const EMPTY = new Uint8Array(0)

// The attributes of events and links, sized with their message: the keys' cached fields found
// while sizing, in order, for the writer.
let keyFields: Array<Uint8Array | undefined> = []
let measuredKeys = 0
let consumedKeys = 0

const keyValuesSize = (attributes: ReadonlyArray<readonly [string, AttributeValue]>): number => {
  let size = 0
  for (let i = 0; i < attributes.length; i++) {
    const key = attributes[i][0]
    const keyField = keyEntryOf(key)?.keyField
    keyFields[measuredKeys++] = keyField
    size += keyValueSize(keyField, key, attributes[i][1])
  }
  return size
}

const writeKeyValues = (
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

/** An empty stack of key fields, for the next event or link. */
const resetKeys = (): void => {
  if (measuredKeys > MAX_LENGTHS) keyFields = []
  measuredKeys = consumedKeys = 0
}

// Events, links, status -------------------------------------------------------------------------

const writeEvent = (buf: Uint8Array, pos: number, event: UserSpanEvent): number => {
  resetLengths()
  resetKeys()
  const slot = reserve()
  let length = 9 + measureString(event.name) + keyValuesSize(event.attributes)
  if (event.droppedAttributesCount > 0) length += 1 + varintSize(event.droppedAttributesCount)
  lengths[slot] = length

  pos = writeHeader(buf, pos, SPAN_EVENTS)
  buf[pos] = EVENT_TIME
  pos = writeFixed64(buf, pos + 1, event.time)
  pos = writeStringField(buf, pos, EVENT_NAME, event.name)
  pos = writeKeyValues(buf, pos, EVENT_ATTRIBUTES, event.attributes)
  if (event.droppedAttributesCount > 0) {
    buf[pos] = EVENT_DROPPED_ATTRIBUTES_COUNT
    pos = writeVarint(buf, pos + 1, event.droppedAttributesCount)
  }
  return pos
}

/** A hex id as a bytes field of `bytes` bytes (a link's, or an application's `FinishedUserSpan`). */
const writeHexId = (buf: Uint8Array, pos: number, tag: number, hex: string, bytes: number): number => {
  buf[pos++] = tag
  buf[pos++] = bytes
  for (let i = 0; i < 2 * bytes; i += 2) buf[pos++] = hexByte(hex, i)
  return pos
}

const writeLink = (buf: Uint8Array, pos: number, link: UserSpanLinkRecord): number => {
  resetLengths()
  resetKeys()
  const slot = reserve()
  // Trace id, span id and flags: 18 + 10 + 5 bytes.
  let length = 33
  if (link.traceState !== undefined) length += measureString(link.traceState)
  length += keyValuesSize(link.attributes)
  if (link.droppedAttributesCount > 0) length += 1 + varintSize(link.droppedAttributesCount)
  lengths[slot] = length

  pos = writeHeader(buf, pos, SPAN_LINKS)
  pos = writeHexId(buf, pos, LINK_TRACE_ID, link.traceId, 16)
  pos = writeHexId(buf, pos, LINK_SPAN_ID, link.spanId, 8)
  if (link.traceState !== undefined) pos = writeStringField(buf, pos, LINK_TRACE_STATE, link.traceState)
  pos = writeKeyValues(buf, pos, LINK_ATTRIBUTES, link.attributes)
  if (link.droppedAttributesCount > 0) {
    buf[pos] = LINK_DROPPED_ATTRIBUTES_COUNT
    pos = writeVarint(buf, pos + 1, link.droppedAttributesCount)
  }
  buf[pos] = LINK_FLAGS
  return writeFixed32(buf, pos + 1, link.traceFlags | FLAG_HAS_IS_REMOTE | (link.remote ? FLAG_IS_REMOTE : 0))
}

/** The `Status` field of a status other than unset: its code, and a message when there is one. */
const writeStatus = (buf: Uint8Array, pos: number, status: "ok" | "error", message: string): number => {
  const code = status === "error" ? STATUS_CODE_ERROR : STATUS_CODE_OK
  buf[pos] = SPAN_STATUS
  if (message === "") {
    buf[pos + 1] = 2
    buf[pos + 2] = STATUS_CODE
    buf[pos + 3] = code
    return pos + 4
  }
  resetLengths()
  const slot = reserve()
  lengths[slot] = measureString(message) + 2
  pos = writeStringField(buf, writeHeader(buf, pos, SPAN_STATUS), STATUS_MESSAGE, message)
  buf[pos] = STATUS_CODE
  buf[pos + 1] = code
  return pos + 2
}

// Span ------------------------------------------------------------------------------------------

/** A span id field from its two words, each written little-endian. */
const writeIdWords = (buf: Uint8Array, pos: number, tag: number, low: number, high: number): number => {
  buf[pos] = tag
  buf[pos + 1] = 8
  return writeFixed32(buf, writeFixed32(buf, pos + 2, low), high)
}

/** A string field that needs nothing sized but itself. */
const writeString = (buf: Uint8Array, pos: number, tag: number, text: string): number => {
  const bytes = utf8Length(text)
  buf[pos] = tag
  return writeUtf8(buf, writeVarint(buf, pos + 1, bytes), text, bytes)
}

/** The span's length into the two bytes left for it: the body moves only if its length takes another width. */
const writeSpanLength = (buf: Uint8Array, start: number, bodyStart: number, end: number): number => {
  const length = end - bodyStart
  if (length >= 0x80 && length < 0x4000) {
    buf[start + 1] = length & 0x7f | 0x80
    buf[start + 2] = length >>> 7
    return end
  }
  // One byte fewer, or more (the bound counts them).
  const shift = varintSize(length) - 2
  buf.copyWithin(bodyStart + shift, bodyStart, end)
  writeVarint(buf, start + 1, length)
  return end + shift
}

/**
 * @internal
 * Writes `span` as a `ScopeSpans.spans` field at `pos` of `buf`, which has `spanSizeBound(span)`
 * bytes of room from there, and returns the position after it: spans written one after another
 * are the tail of a `ScopeSpans`, so a request is `frameRequestInPlace` around their bytes.
 * Throws on what cannot be encoded (an attribute value of no OTLP type).
 */
export const writeSpan = (buf: Uint8Array, pos: number, span: FinishedUserSpan): number => {
  const start = pos
  buf[pos] = SCOPE_SPANS_SPANS
  pos += 3
  const bodyStart = pos
  // The pipeline's own records carry their ids as words and bytes; any other `FinishedUserSpan`
  // (an application's, handed to the exporter) as hex.
  const traceState = span.traceState
  if (span instanceof UserSpanRecord) {
    buf[pos] = SPAN_TRACE_ID
    buf[pos + 1] = 16
    pos = copy(buf, pos + 2, span.trace.traceIdBytes)
    pos = writeIdWords(buf, pos, SPAN_SPAN_ID, span.idLow, span.idHigh)
    if (traceState !== undefined) pos = writeString(buf, pos, SPAN_TRACE_STATE, traceState)
    if (span.hasParent) pos = writeIdWords(buf, pos, SPAN_PARENT_SPAN_ID, span.parentLow, span.parentHigh)
  } else {
    pos = writeHexId(buf, pos, SPAN_TRACE_ID, span.traceId, 16)
    pos = writeHexId(buf, pos, SPAN_SPAN_ID, span.spanId, 8)
    if (traceState !== undefined) pos = writeString(buf, pos, SPAN_TRACE_STATE, traceState)
    const parent = span.parentSpanId
    if (parent !== undefined) pos = writeHexId(buf, pos, SPAN_PARENT_SPAN_ID, parent, 8)
  }
  pos = writeString(buf, pos, SPAN_NAME, span.name)
  buf[pos] = SPAN_KIND
  buf[pos + 1] = spanKind[span.kind] ?? 0
  buf[pos + 2] = SPAN_START_TIME
  pos = writeFixed64(buf, pos + 3, span.startTime)
  buf[pos] = SPAN_END_TIME
  pos = writeFixed64(buf, pos + 1, span.endTime)
  pos = writeAttributes(buf, pos, span)
  if (span.droppedAttributesCount > 0) {
    buf[pos] = SPAN_DROPPED_ATTRIBUTES_COUNT
    pos = writeVarint(buf, pos + 1, span.droppedAttributesCount)
  }
  const events = span.events
  for (let i = 0; i < events.length; i++) pos = writeEvent(buf, pos, events[i])
  if (span.droppedEventsCount > 0) {
    buf[pos] = SPAN_DROPPED_EVENTS_COUNT
    pos = writeVarint(buf, pos + 1, span.droppedEventsCount)
  }
  const links = span.links
  for (let i = 0; i < links.length; i++) pos = writeLink(buf, pos, links[i])
  if (span.droppedLinksCount > 0) {
    buf[pos] = SPAN_DROPPED_LINKS_COUNT
    pos = writeVarint(buf, pos + 1, span.droppedLinksCount)
  }
  const status = span.status
  if (status !== "unset") pos = writeStatus(buf, pos, status, span.statusMessage)
  buf[pos] = SPAN_FLAGS_0
  buf[pos + 1] = SPAN_FLAGS_1
  pos = writeFixed32(buf, pos + 2, span.traceFlags | FLAG_HAS_IS_REMOTE | (span.remoteParent ? FLAG_IS_REMOTE : 0))
  return writeSpanLength(buf, start, bodyStart, pos)
}

// Bounds ----------------------------------------------------------------------------------------

/** A string field at most: tag, a length of up to 5 bytes, 3 bytes per UTF-16 code unit. */
const stringBound = (text: string): number => 6 + 3 * text.length

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

/** A `KeyValue` field at most: tag and length, the key, the value's tag and length, the value. */
const keyValueBound = (key: string, value: AttributeValue): number => 12 + stringBound(key) + anyValueBound(value)

const keyValuesBound = (attributes: ReadonlyArray<readonly [string, AttributeValue]>): number => {
  let bound = 0
  for (let i = 0; i < attributes.length; i++) bound += keyValueBound(attributes[i][0], attributes[i][1])
  return bound
}

let attributesBound = 0
const boundAttributeEntry = (value: AttributeValue, key: string): void => {
  attributesBound += keyValueBound(key, value)
}

/**
 * @internal
 * At least the bytes `writeSpan` writes for `span` (strings at 3 bytes per code unit, lengths at
 * their widest): a walk over its attributes, events and links, no encoding. Throws on what cannot
 * be encoded.
 */
export const spanSizeBound = (span: FinishedUserSpan): number => {
  // Tag, a length of up to 5 bytes, trace and span ids 18 + 10, parent 10, kind 2, times 9 + 9,
  // flags 6, three dropped counts 6 + 6 + 6, status 6 + 2.
  let bound = 104 + stringBound(span.name)
  if (span.traceState !== undefined) bound += stringBound(span.traceState)
  if (span instanceof UserSpanRecord) {
    const list = span.attributeList
    for (let i = 0; i < list.length; i += 2) bound += keyValueBound(list[i] as string, list[i + 1] as AttributeValue)
  } else {
    attributesBound = 0
    span.attributes.forEach(boundAttributeEntry)
    bound += attributesBound
  }
  const events = span.events
  for (let i = 0; i < events.length; i++) {
    // Tag and length, time, dropped count.
    bound += 21 + stringBound(events[i].name) + keyValuesBound(events[i].attributes)
  }
  const links = span.links
  for (let i = 0; i < links.length; i++) {
    const link = links[i]
    // Tag and length, ids 18 + 10, dropped count, flags.
    bound += 45 + keyValuesBound(link.attributes) + (link.traceState === undefined ? 0 : stringBound(link.traceState))
  }
  if (span.status !== "unset") bound += stringBound(span.statusMessage)
  return bound
}

const MIN_SCRATCH = 2048
/** The scratch buffer is made small again after a span larger than this: one huge span is not kept. */
const MAX_SCRATCH = 1024 * 1024
let scratch: Uint8Array = Buffer.allocUnsafeSlow(MIN_SCRATCH)
const scratchResult = { buf: scratch, size: 0 }

/**
 * @internal
 * Writes `span` (of size at most `bound`, from `spanSizeBound`) at the start of a scratch buffer
 * and returns the buffer and the span's size: valid until the next call.
 */
export const writeSpanToScratch = (
  span: FinishedUserSpan,
  bound: number
): { readonly buf: Uint8Array; readonly size: number } => {
  if (scratch.length < bound || scratch.length > MAX_SCRATCH) {
    scratch = Buffer.allocUnsafeSlow(Math.max(MIN_SCRATCH, bound))
  }
  scratchResult.buf = scratch
  scratchResult.size = writeSpan(scratch, 0, span)
  return scratchResult
}
