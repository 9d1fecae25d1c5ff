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
  keyValueBound,
  keyValuesBound,
  keyValuesSize,
  resetKeys,
  stringBound,
  writeAttributes,
  writeKeyValues
} from "./attributeEncoding.js"
import { measureString, reserve, resetLengths, setLength, writeHeader, writeStringField } from "./nestedLengths.js"
import { utf8Length, varintSize, writeFixed32, writeFixed64, writeUtf8, writeVarint } from "./wire.js"

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
/** `SpanFlags`: the W3C trace flags in the low byte, then "has is_remote" and "is_remote". */
const FLAG_HAS_IS_REMOTE = 0x100
const FLAG_IS_REMOTE = 0x200

/** `Span.SpanKind` */
const spanKind: Record<UserSpanKind, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 }

/** `Status.StatusCode` */
const STATUS_CODE_OK = 1
const STATUS_CODE_ERROR = 2

// Events, links, status -------------------------------------------------------------------------

const writeEvent = (buf: Uint8Array, pos: number, event: UserSpanEvent): number => {
  resetLengths()
  resetKeys()
  const slot = reserve()
  let length = 9 + measureString(event.name) + keyValuesSize(event.attributes)
  if (event.droppedAttributesCount > 0) length += 1 + varintSize(event.droppedAttributesCount)
  setLength(slot, length)

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
  setLength(slot, length)

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
  setLength(slot, measureString(message) + 2)
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
    const trace = span.trace
    buf[pos] = SPAN_TRACE_ID
    buf[pos + 1] = 16
    pos = writeFixed32(
      buf,
      writeFixed32(buf, writeFixed32(buf, writeFixed32(buf, pos + 2, trace.w0), trace.w1), trace.w2),
      trace.w3
    )
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
