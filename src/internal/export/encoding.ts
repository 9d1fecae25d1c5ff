/**
 * @internal
 * The OTLP/HTTP protobuf body, written straight from the span records with protobufjs's
 * `Writer`: no intermediate objects in OTLP shape. Field numbers are those of the official
 * opentelemetry-proto definitions (collector/trace/v1/trace_service.proto, trace/v1/trace.proto,
 * resource/v1/resource.proto, common/v1/common.proto); each tag below is
 * `field_number << 3 | wire_type` (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
 */
import protobuf from "protobufjs/minimal.js"
import type {
  AttributeValue,
  FinishedUserSpan,
  UserSpanEvent,
  UserSpanKind,
  UserSpanLinkRecord
} from "../../UserSpan.js"
import { hexByte } from "../span/ids.js"
import { UserSpanRecord } from "../span/record.js"
import { libraryName, libraryVersion } from "./version.js"

type Writer = protobuf.Writer

// ExportTraceServiceRequest
const REQUEST_RESOURCE_SPANS = 1 << 3 | 2
// ResourceSpans
const RESOURCE_SPANS_RESOURCE = 1 << 3 | 2
const RESOURCE_SPANS_SCOPE_SPANS = 2 << 3 | 2
// Resource
const RESOURCE_ATTRIBUTES = 1 << 3 | 2
// ScopeSpans
const SCOPE_SPANS_SCOPE = 1 << 3 | 2
const SCOPE_SPANS_SPANS = 2 << 3 | 2
// InstrumentationScope
const SCOPE_NAME = 1 << 3 | 2
const SCOPE_VERSION = 2 << 3 | 2
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
const SPAN_FLAGS = 16 << 3 | 5
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

const varintSize = (value: number): number =>
  value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5

/** `Span.SpanKind` */
const spanKind: Record<UserSpanKind, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 }

/** Whole encoded `Status { code: STATUS_CODE_ERROR }` and `{ code: STATUS_CODE_OK }`, with no message. */
const STATUS_ERROR = Uint8Array.of(STATUS_CODE, 2)
const STATUS_OK = Uint8Array.of(STATUS_CODE, 1)

const ZEROS_16 = new Uint8Array(16)
const ZEROS_8 = new Uint8Array(8)

/**
 * Writes a hex id as a bytes field, decoded in place in the writer's buffer (`zeros` reserves
 * its `hex.length / 2` bytes): no per-id allocation. protobufjs 8's writer is one contiguous
 * buffer, so what `bytes` just wrote ends at `pos`.
 */
const writeId = (w: Writer, tag: number, hex: string, zeros: Uint8Array): void => {
  w.uint32(tag).bytes(zeros)
  const buf = w.buf
  for (let i = 0, p = w.pos - zeros.length; i < 2 * zeros.length; i += 2, p++) {
    buf[p] = hexByte(hex, i)
  }
}

/** A span id field from its two words, each written little-endian. */
const writeIdWords = (w: Writer, tag: number, idLow: number, idHigh: number): void => {
  w.uint32(tag).uint32(8).fixed32(idLow).fixed32(idHigh)
}

const MASK_32 = 0xffffffffn

// The bigint split into its two words through an 8-byte DataView: `setBigUint64` costs a third of
// splitting it with `&` and `>>` (which allocate bigints).
const fixed64 = new DataView(new ArrayBuffer(8))

/** A `fixed64` field from unsigned nanoseconds, little-endian. */
const writeFixed64 = (w: Writer, tag: number, value: bigint): void => {
  fixed64.setBigUint64(0, value, true)
  w.uint32(tag).fixed32(fixed64.getUint32(0, true)).fixed32(fixed64.getUint32(4, true))
}

/** An `int64` from a bigint, wrapped to 64 bits (two's complement, as `BigInt.asIntN(64)`). */
const int64Bits = (value: bigint): protobuf.Long => {
  const bits = BigInt.asUintN(64, value)
  return { low: Number(bits & MASK_32) | 0, high: Number(bits >> 32n) | 0, unsigned: false }
}

/** The fields of an `AnyValue` (the caller delimits it). */
const writeAnyValue = (w: Writer, value: AttributeValue): void => {
  switch (typeof value) {
    case "string":
      w.uint32(ANY_STRING).string(value)
      break
    case "boolean":
      w.uint32(ANY_BOOL).bool(value)
      break
    case "number":
      // A non-negative int64 below 2^32 is the same varint as a uint32, written with no `LongBits`.
      if (!Number.isSafeInteger(value)) w.uint32(ANY_DOUBLE).double(value)
      else if (value >= 0 && value <= 0xffffffff) w.uint32(ANY_INT).uint32(value)
      else w.uint32(ANY_INT).int64(value)
      break
    case "bigint":
      w.uint32(ANY_INT).int64(int64Bits(value))
      break
    default: {
      w.uint32(ANY_ARRAY).fork()
      for (let i = 0; i < value.length; i++) {
        w.uint32(ARRAY_VALUES).fork()
        writeAnyValue(w, value[i])
        w.ldelim()
      }
      w.ldelim()
    }
  }
}

/** A `KeyValue` as repeated field `tag`. */
const writeKeyValue = (w: Writer, tag: number, key: string, value: AttributeValue): void => {
  w.uint32(tag).fork().uint32(KEY_VALUE_KEY).string(key).uint32(KEY_VALUE_VALUE).fork()
  writeAnyValue(w, value)
  w.ldelim().ldelim()
}

/** Per span attribute key: its `KeyValue.key` field, and the last string value with its whole field. */
interface AttributeCache {
  readonly keyField: Uint8Array
  value: string | undefined
  /** The attribute field of `value`, once that value repeated. */
  field: Uint8Array | undefined
}

const attributeCache = new Map<string, AttributeCache>()
const MAX_CACHED_KEYS = 1024
const MAX_CACHED_CHARS = 256

/** A `KeyValue` whose value is a varint (bool or non-negative integer below 2^32), lengths computed: no fork. */
const writeVarintAttribute = (w: Writer, keyField: Uint8Array, anyTag: number, value: number): void => {
  const anyLength = 1 + varintSize(value)
  w.uint32(SPAN_ATTRIBUTES).uint32(keyField.length + 2 + anyLength).raw(keyField)
    .uint32(KEY_VALUE_VALUE).uint32(anyLength).uint32(anyTag).uint32(value)
}

/**
 * A span attribute. The keys seen (at most `MAX_CACHED_KEYS`) keep their encoded key field; a
 * bool or small integer is then written with no nested length to fill in, and a string value
 * equal to the last one of its key (a route, a tier: the same on most spans) is copied as the
 * field encoded when it first repeated, not encoded again.
 */
const writeSpanAttribute = (w: Writer, key: string, value: AttributeValue): void => {
  let cached = attributeCache.get(key)
  if (cached === undefined) {
    if (attributeCache.size >= MAX_CACHED_KEYS || key.length > MAX_CACHED_CHARS) {
      return writeKeyValue(w, SPAN_ATTRIBUTES, key, value)
    }
    cached = {
      keyField: protobuf.Writer.create().uint32(KEY_VALUE_KEY).string(key).finish(),
      value: undefined,
      field: undefined
    }
    attributeCache.set(key, cached)
  }
  switch (typeof value) {
    case "boolean":
      return writeVarintAttribute(w, cached.keyField, ANY_BOOL, value ? 1 : 0)
    case "number":
      if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) {
        return writeVarintAttribute(w, cached.keyField, ANY_INT, value)
      }
      return writeKeyValue(w, SPAN_ATTRIBUTES, key, value)
    case "string":
      break
    default:
      return writeKeyValue(w, SPAN_ATTRIBUTES, key, value)
  }
  if (value.length > MAX_CACHED_CHARS) return writeKeyValue(w, SPAN_ATTRIBUTES, key, value)
  if (cached.value !== value) {
    cached.value = value
    cached.field = undefined
    return writeKeyValue(w, SPAN_ATTRIBUTES, key, value)
  }
  if (cached.field !== undefined) {
    w.raw(cached.field)
    return
  }
  const start = w.pos
  writeKeyValue(w, SPAN_ATTRIBUTES, key, value)
  // A copy: the writer's buffer is a Node `Buffer`, whose `slice` is a view.
  cached.field = Uint8Array.prototype.slice.call(w.buf, start, w.pos)
}

// `forEach` with one callback made once, not `for...of` nor a closure per span: nothing is
// allocated per attribute or per span. The callback writes to `attributesWriter`.
let attributesWriter: Writer | undefined
const writeAttributeEntry = (value: AttributeValue, key: string): void =>
  writeSpanAttribute(attributesWriter!, key, value)

const writeSpanAttributes = (w: Writer, attributes: ReadonlyMap<string, AttributeValue>): void => {
  attributesWriter = w
  attributes.forEach(writeAttributeEntry)
  attributesWriter = undefined
}

const writeLink = (w: Writer, link: UserSpanLinkRecord): void => {
  w.uint32(SPAN_LINKS).fork()
  writeId(w, LINK_TRACE_ID, link.traceId, ZEROS_16)
  writeId(w, LINK_SPAN_ID, link.spanId, ZEROS_8)
  if (link.traceState !== undefined) w.uint32(LINK_TRACE_STATE).string(link.traceState)
  const attributes = link.attributes
  for (let i = 0; i < attributes.length; i++) writeKeyValue(w, LINK_ATTRIBUTES, attributes[i][0], attributes[i][1])
  if (link.droppedAttributesCount > 0) w.uint32(LINK_DROPPED_ATTRIBUTES_COUNT).uint32(link.droppedAttributesCount)
  w.uint32(LINK_FLAGS).fixed32(link.traceFlags | FLAG_HAS_IS_REMOTE | (link.remote ? FLAG_IS_REMOTE : 0))
  w.ldelim()
}

const writeTraceState = (w: Writer, traceState: string | undefined): void => {
  if (traceState !== undefined) w.uint32(SPAN_TRACE_STATE).string(traceState)
}

const writeStatus = (w: Writer, span: FinishedUserSpan): void => {
  const status = span.status
  if (status === "unset") return
  const message = span.statusMessage
  if (message === "") {
    w.uint32(SPAN_STATUS).bytes(status === "error" ? STATUS_ERROR : STATUS_OK)
  } else {
    w.uint32(SPAN_STATUS).fork().uint32(STATUS_MESSAGE).string(message).uint32(STATUS_CODE).uint32(2).ldelim()
  }
}

const writeEvent = (w: Writer, event: UserSpanEvent): void => {
  w.uint32(SPAN_EVENTS).fork()
  writeFixed64(w, EVENT_TIME, event.time)
  w.uint32(EVENT_NAME).string(event.name)
  const attributes = event.attributes
  for (let i = 0; i < attributes.length; i++) {
    const [key, value] = attributes[i]
    writeKeyValue(w, EVENT_ATTRIBUTES, key, value)
  }
  if (event.droppedAttributesCount > 0) w.uint32(EVENT_DROPPED_ATTRIBUTES_COUNT).uint32(event.droppedAttributesCount)
  w.ldelim()
}

/**
 * @internal
 * One span as a `ScopeSpans.spans` field (tag, length, `Span`): spans written one after another
 * are the tail of a `ScopeSpans`, so a request is `frameRequest` around their bytes.
 */
export const writeSpan = (w: Writer, span: FinishedUserSpan): void => {
  w.uint32(SCOPE_SPANS_SPANS).fork()
  // The pipeline's own records carry their ids as words and bytes; any other `FinishedUserSpan`
  // (an application's, handed to the exporter) as hex.
  if (span instanceof UserSpanRecord) {
    w.uint32(SPAN_TRACE_ID).bytes(span.trace.traceIdBytes)
    writeIdWords(w, SPAN_SPAN_ID, span.idLow, span.idHigh)
    writeTraceState(w, span.traceState)
    if (span.hasParent) writeIdWords(w, SPAN_PARENT_SPAN_ID, span.parentLow, span.parentHigh)
  } else {
    writeId(w, SPAN_TRACE_ID, span.traceId, ZEROS_16)
    writeId(w, SPAN_SPAN_ID, span.spanId, ZEROS_8)
    writeTraceState(w, span.traceState)
    if (span.parentSpanId !== undefined) writeId(w, SPAN_PARENT_SPAN_ID, span.parentSpanId, ZEROS_8)
  }
  w.uint32(SPAN_NAME).string(span.name)
  w.uint32(SPAN_KIND).uint32(spanKind[span.kind])
  writeFixed64(w, SPAN_START_TIME, span.startTime)
  writeFixed64(w, SPAN_END_TIME, span.endTime)
  writeSpanAttributes(w, span.attributes)
  if (span.droppedAttributesCount > 0) w.uint32(SPAN_DROPPED_ATTRIBUTES_COUNT).uint32(span.droppedAttributesCount)
  const events = span.events
  for (let i = 0; i < events.length; i++) writeEvent(w, events[i])
  if (span.droppedEventsCount > 0) w.uint32(SPAN_DROPPED_EVENTS_COUNT).uint32(span.droppedEventsCount)
  const links = span.links
  for (let i = 0; i < links.length; i++) writeLink(w, links[i])
  if (span.droppedLinksCount > 0) w.uint32(SPAN_DROPPED_LINKS_COUNT).uint32(span.droppedLinksCount)
  writeStatus(w, span)
  w.uint32(SPAN_FLAGS).fixed32(span.traceFlags | FLAG_HAS_IS_REMOTE | (span.remoteParent ? FLAG_IS_REMOTE : 0))
  w.ldelim()
}

const writeVarint = (buf: Uint8Array, pos: number, value: number): number => {
  while (value >= 0x80) {
    buf[pos++] = value & 0x7f | 0x80
    value >>>= 7
  }
  buf[pos++] = value
  return pos
}

/**
 * @internal
 * What every request of one exporter shares: the `ResourceSpans.resource` field and the
 * `ScopeSpans.scope` field, encoded once.
 */
export interface RequestEnvelope {
  readonly resource: Uint8Array
  readonly scope: Uint8Array
  /** The most bytes `frameRequest` adds around the spans (length prefixes at their widest). */
  readonly maxOverhead: number
}

/** @internal */
export const makeEnvelope = (resource: { readonly serviceName: string }): RequestEnvelope => {
  const w = protobuf.Writer.create()
  w.uint32(RESOURCE_SPANS_RESOURCE).fork()
  writeKeyValue(w, RESOURCE_ATTRIBUTES, "service.name", resource.serviceName)
  const resourceField = w.ldelim().finish()
  const scope = protobuf.Writer.create().uint32(SCOPE_SPANS_SCOPE).fork().uint32(SCOPE_NAME).string(libraryName)
    .uint32(SCOPE_VERSION).string(libraryVersion).ldelim().finish()
  // Three tags of one byte and three lengths of at most 5 bytes each.
  return { resource: resourceField, scope, maxOverhead: resourceField.length + scope.length + 3 + 15 }
}

/** @internal how many bytes `frameRequest` puts before spans of `spansLength` bytes */
export const framePrefixSize = (envelope: RequestEnvelope, spansLength: number): number => {
  const scopeSpans = envelope.scope.length + spansLength
  const resourceSpans = envelope.resource.length + 1 + varintSize(scopeSpans) + scopeSpans
  return 1 + varintSize(resourceSpans) + envelope.resource.length + 1 + varintSize(scopeSpans) + envelope.scope.length
}

/**
 * @internal
 * Writes the request's envelope into `buf` so that it ends at `spansStart`, where the spans
 * (`writeSpan` fields) already are, up to `spansEnd`: the body is `buf.subarray(returned, spansEnd)`,
 * with no copy of the spans. The caller leaves `framePrefixSize` bytes free before `spansStart`.
 */
export const frameRequestInPlace = (
  envelope: RequestEnvelope,
  buf: Uint8Array,
  spansStart: number,
  spansEnd: number
): number => {
  const scopeSpans = envelope.scope.length + spansEnd - spansStart
  const resourceSpans = envelope.resource.length + 1 + varintSize(scopeSpans) + scopeSpans
  const start = spansStart - framePrefixSize(envelope, spansEnd - spansStart)
  buf[start] = REQUEST_RESOURCE_SPANS
  let pos = writeVarint(buf, start + 1, resourceSpans)
  buf.set(envelope.resource, pos)
  pos += envelope.resource.length
  buf[pos] = RESOURCE_SPANS_SCOPE_SPANS
  pos = writeVarint(buf, pos + 1, scopeSpans)
  buf.set(envelope.scope, pos)
  return start
}

/**
 * @internal
 * An `ExportTraceServiceRequest`: one `ResourceSpans` (resource attribute `service.name`), one
 * `ScopeSpans` (this library's name and version), and `spans` in order.
 */
export const encodeTraceRequest = (
  resource: { readonly serviceName: string },
  spans: ReadonlyArray<FinishedUserSpan>
): Uint8Array => {
  const envelope = makeEnvelope(resource)
  const w = protobuf.Writer.create()
  for (let i = 0; i < spans.length; i++) writeSpan(w, spans[i])
  const spansBytes = w.finish()
  const prefix = framePrefixSize(envelope, spansBytes.length)
  const buf = new Uint8Array(prefix + spansBytes.length)
  buf.set(spansBytes, prefix)
  frameRequestInPlace(envelope, buf, prefix, buf.length)
  return buf
}
