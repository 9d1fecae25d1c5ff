/**
 * A prototype of suggestion 1 for src/ (not used by the library): an OTLP `ExportTraceServiceRequest`
 * encoder that writes into one reused `Buffer` with no per-field allocation. It produces the same
 * bytes as `src/internal/otlpEncoding.ts` (checked by `encoder-bench.ts`).
 *
 * - Nested lengths: each span and key/value is written after a 1-byte length placeholder, then
 *   moved right if its length needs a longer varint (rare: spans > 127 bytes move once, by
 *   `copyWithin` of a few hundred bytes); the three outer headers are written last, in front.
 * - Strings: an ASCII fast path in JS for short strings, else `utf8Write` into the buffer.
 * - Hex ids: the last trace id is cached (a trace's spans are batched together).
 */
import type { AttributeValue, FinishedUserSpan, UserSpanEvent, UserSpanKind } from "../../src/UserSpan.js"

const spanKind: Record<UserSpanKind, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 }
const hexDigit = new Uint8Array(128)
for (let i = 0; i < 10; i++) hexDigit[48 + i] = i
for (let i = 0; i < 6; i++) hexDigit[65 + i] = hexDigit[97 + i] = 10 + i

/** Node's undocumented (but long-stable) fast path behind `buf.write(s, offset, "utf8")`. */
interface NodeUtf8Write {
  utf8Write(s: string, offset: number): number
}

let buf = Buffer.allocUnsafe(1 << 20)
let pos = 0

const ensure = (n: number): void => {
  if (pos + n <= buf.length) return
  const next = Buffer.allocUnsafe(Math.max(buf.length * 2, pos + n))
  buf.copy(next, 0, 0, pos)
  buf = next
}

const varint = (v: number): void => {
  // v is a non-negative integer below 2^53
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80
    v = Math.floor(v / 128)
  }
  buf[pos++] = v
}
const varintSize = (v: number): number => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5)

/** Closes a message opened at `start` (1 byte reserved for its length). */
const close = (start: number): void => {
  const length = pos - start - 1
  if (length < 0x80) {
    buf[start] = length
    return
  }
  const extra = varintSize(length) - 1
  ensure(extra)
  buf.copyWithin(start + 1 + extra, start + 1, pos)
  const end = pos + extra
  pos = start
  varint(length)
  pos = end
}

const writeString = (tag: number, s: string): void => {
  ensure(6)
  buf[pos++] = tag
  const n = s.length
  if (n < 0x80) {
    // ASCII fast path in JS (a native call costs more than the copy for short strings).
    ensure(n + 1)
    let p = pos + 1
    let i = 0
    for (; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) break
      buf[p++] = c
    }
    if (i === n) {
      buf[pos] = n
      pos = p
      return
    }
  }
  const max = n * 3
  ensure(max + 5)
  if (max < 0x80) {
    const written = (buf as unknown as NodeUtf8Write).utf8Write(s, pos + 1)
    buf[pos] = written
    pos += 1 + written
  } else {
    const length = Buffer.byteLength(s)
    varint(length)
    pos += (buf as unknown as NodeUtf8Write).utf8Write(s, pos)
  }
}

let lastHex = ""
const lastBytes = Buffer.alloc(16)
const writeId = (tag: number, hex: string): void => {
  const n = hex.length >> 1
  ensure(n + 2)
  buf[pos++] = tag
  buf[pos++] = n
  if (hex === lastHex) {
    lastBytes.copy(buf, pos, 0, n)
  } else {
    for (let i = 0, p = pos; i < hex.length; i += 2, p++) {
      buf[p] = hexDigit[hex.charCodeAt(i)] << 4 | hexDigit[hex.charCodeAt(i + 1)]
    }
    if (n === 16) {
      lastHex = hex
      buf.copy(lastBytes, 0, pos, pos + 16)
    }
  }
  pos += n
}

const fixed64 = (tag: number, v: bigint): void => {
  buf[pos++] = tag
  buf.writeBigUInt64LE(v, pos)
  pos += 8
}

const int64 = (v: number | bigint): void => {
  if (typeof v === "number" && v >= 0) return varint(v)
  let bits = BigInt.asUintN(64, BigInt(v))
  while (bits > 0x7fn) {
    buf[pos++] = Number(bits & 0x7fn) | 0x80
    bits >>= 7n
  }
  buf[pos++] = Number(bits)
}

const anyValue = (value: AttributeValue): void => {
  switch (typeof value) {
    case "string":
      return writeString(0x0a, value)
    case "boolean":
      buf[pos++] = 0x10
      buf[pos++] = value ? 1 : 0
      return
    case "number":
      if (Number.isSafeInteger(value)) {
        buf[pos++] = 0x18
        return int64(value)
      }
      buf[pos++] = 0x21
      buf.writeDoubleLE(value, pos)
      pos += 8
      return
    case "bigint":
      buf[pos++] = 0x18
      return int64(value)
    default: {
      buf[pos++] = 0x2a
      const array = pos++
      for (let i = 0; i < value.length; i++) {
        ensure(32)
        buf[pos++] = 0x0a
        const item = pos++
        anyValue(value[i])
        close(item)
      }
      close(array)
    }
  }
}

const keyValue = (tag: number, key: string, value: AttributeValue): void => {
  ensure(32)
  buf[pos++] = tag
  const kv = pos++
  writeString(0x0a, key)
  ensure(16)
  buf[pos++] = 0x12
  const any = pos++
  anyValue(value)
  close(any)
  close(kv)
}

const event = (e: UserSpanEvent): void => {
  ensure(64)
  buf[pos++] = 0x5a
  const start = pos++
  fixed64(0x09, e.time)
  writeString(0x12, e.name)
  for (let i = 0; i < e.attributes.length; i++) keyValue(0x1a, e.attributes[i][0], e.attributes[i][1])
  close(start)
}

const span = (s: FinishedUserSpan): void => {
  ensure(128)
  buf[pos++] = 0x12
  const start = pos++
  writeId(0x0a, s.traceId)
  writeId(0x12, s.spanId)
  if (s.traceState !== undefined) writeString(0x1a, s.traceState)
  if (s.parentSpanId !== undefined) writeId(0x22, s.parentSpanId)
  writeString(0x2a, s.name)
  ensure(32)
  buf[pos++] = 0x30
  buf[pos++] = spanKind[s.kind]
  fixed64(0x39, s.startTime)
  fixed64(0x41, s.endTime)
  for (const [key, value] of s.attributes) keyValue(0x4a, key, value)
  ensure(32)
  if (s.droppedAttributesCount > 0) {
    buf[pos++] = 0x50
    varint(s.droppedAttributesCount)
  }
  for (let i = 0; i < s.events.length; i++) event(s.events[i])
  ensure(32)
  if (s.droppedEventsCount > 0) {
    buf[pos++] = 0x60
    varint(s.droppedEventsCount)
  }
  if (s.status === "error") {
    buf[pos++] = 0x7a
    buf[pos++] = 2
    buf[pos++] = 0x18
    buf[pos++] = 2
  }
  buf[pos++] = 0x85
  buf[pos++] = 0x01
  buf.writeUInt32LE((s.traceFlags | 0x100 | (s.remoteParent ? 0x200 : 0)) >>> 0, pos)
  pos += 4
  close(start)
}

/** Same signature and bytes as `encodeTraceRequest`; the result is a fresh copy (the buffer is reused). */
export const encodeTraceRequest = (
  resource: { readonly serviceName: string },
  spans: ReadonlyArray<FinishedUserSpan>,
  scope: { readonly name: string; readonly version: string }
): Uint8Array => {
  // Header parts that do not depend on the spans: resource and scope, encoded once per call here
  // (a real implementation would cache them per exporter).
  pos = 0
  buf[pos++] = 0x0a // ResourceSpans.resource
  const res = pos++
  keyValue(0x0a, "service.name", resource.serviceName)
  close(res)
  const resourceBytes = Buffer.from(buf.subarray(0, pos))
  pos = 0
  buf[pos++] = 0x0a // ScopeSpans.scope
  const sc = pos++
  writeString(0x0a, scope.name)
  writeString(0x12, scope.version)
  close(sc)
  const scopeBytes = Buffer.from(buf.subarray(0, pos))

  // Spans, after room for the headers.
  const headroom = 16 + resourceBytes.length + scopeBytes.length
  pos = headroom
  for (let i = 0; i < spans.length; i++) span(spans[i])
  const end = pos
  const spansLength = end - headroom
  const scopeSpansLength = scopeBytes.length + spansLength
  const resourceSpansLength = resourceBytes.length + 1 + varintSize(scopeSpansLength) + scopeSpansLength
  const headerLength = 1 + varintSize(resourceSpansLength) + resourceBytes.length + 1 + varintSize(scopeSpansLength) +
    scopeBytes.length
  const start = headroom - headerLength
  pos = start
  buf[pos++] = 0x0a // ExportTraceServiceRequest.resource_spans
  varint(resourceSpansLength)
  resourceBytes.copy(buf, pos)
  pos += resourceBytes.length
  buf[pos++] = 0x12 // ResourceSpans.scope_spans
  varint(scopeSpansLength)
  scopeBytes.copy(buf, pos)
  pos += scopeBytes.length
  return Buffer.from(buf.subarray(start, end))
}

// ---------------------------------------------------------------------------------------------
// What the same encoder costs if the span record kept ids as bytes and times as two numbers
// (suggestion 2): no hex parsing and no BigInt on the encoding path.

/** A span record with ids as bytes and unix nanoseconds split in high and low 32-bit words. */
export interface CompactSpan extends Omit<FinishedUserSpan, "traceId" | "spanId" | "parentSpanId" | "startTime" | "endTime"> {
  readonly traceIdBytes: Uint8Array
  readonly spanIdBytes: Uint8Array
  readonly parentIdBytes: Uint8Array | undefined
  readonly startHi: number
  readonly startLo: number
  readonly endHi: number
  readonly endLo: number
}

const writeBytes = (tag: number, bytes: Uint8Array): void => {
  ensure(bytes.length + 2)
  buf[pos++] = tag
  buf[pos++] = bytes.length
  for (let i = 0; i < bytes.length; i++) buf[pos + i] = bytes[i]
  pos += bytes.length
}

const fixed64Words = (tag: number, hi: number, lo: number): void => {
  buf[pos++] = tag
  buf.writeUInt32LE(lo >>> 0, pos)
  buf.writeUInt32LE(hi >>> 0, pos + 4)
  pos += 8
}

const compactSpan = (s: CompactSpan): void => {
  ensure(128)
  buf[pos++] = 0x12
  const start = pos++
  writeBytes(0x0a, s.traceIdBytes)
  writeBytes(0x12, s.spanIdBytes)
  if (s.traceState !== undefined) writeString(0x1a, s.traceState)
  if (s.parentIdBytes !== undefined) writeBytes(0x22, s.parentIdBytes)
  writeString(0x2a, s.name)
  ensure(32)
  buf[pos++] = 0x30
  buf[pos++] = spanKind[s.kind]
  fixed64Words(0x39, s.startHi, s.startLo)
  fixed64Words(0x41, s.endHi, s.endLo)
  s.attributes.forEach((value, key) => keyValue(0x4a, key, value))
  ensure(32)
  if (s.droppedAttributesCount > 0) {
    buf[pos++] = 0x50
    varint(s.droppedAttributesCount)
  }
  for (let i = 0; i < s.events.length; i++) event(s.events[i])
  ensure(32)
  if (s.droppedEventsCount > 0) {
    buf[pos++] = 0x60
    varint(s.droppedEventsCount)
  }
  if (s.status === "error") {
    buf[pos++] = 0x7a
    buf[pos++] = 2
    buf[pos++] = 0x18
    buf[pos++] = 2
  }
  buf[pos++] = 0x85
  buf[pos++] = 0x01
  buf.writeUInt32LE((s.traceFlags | 0x100 | (s.remoteParent ? 0x200 : 0)) >>> 0, pos)
  pos += 4
  close(start)
}

let headerCache: { readonly key: string; readonly resource: Buffer; readonly scope: Buffer } | undefined

/** Like `encodeTraceRequest`, for compact records, with the resource and scope bytes cached. */
export const encodeCompact = (
  resource: { readonly serviceName: string },
  spans: ReadonlyArray<CompactSpan>,
  scope: { readonly name: string; readonly version: string }
): Uint8Array => {
  const key = `${resource.serviceName}\u0000${scope.name}\u0000${scope.version}`
  if (headerCache?.key !== key) {
    pos = 0
    buf[pos++] = 0x0a
    const res = pos++
    keyValue(0x0a, "service.name", resource.serviceName)
    close(res)
    const resourceBytes = Buffer.from(buf.subarray(0, pos))
    pos = 0
    buf[pos++] = 0x0a
    const sc = pos++
    writeString(0x0a, scope.name)
    writeString(0x12, scope.version)
    close(sc)
    headerCache = { key, resource: resourceBytes, scope: Buffer.from(buf.subarray(0, pos)) }
  }
  const resourceBytes = headerCache.resource
  const scopeBytes = headerCache.scope
  const headroom = 16 + resourceBytes.length + scopeBytes.length
  pos = headroom
  for (let i = 0; i < spans.length; i++) compactSpan(spans[i])
  const end = pos
  const spansLength = end - headroom
  const scopeSpansLength = scopeBytes.length + spansLength
  const resourceSpansLength = resourceBytes.length + 1 + varintSize(scopeSpansLength) + scopeSpansLength
  const headerLength = 1 + varintSize(resourceSpansLength) + resourceBytes.length + 1 + varintSize(scopeSpansLength) +
    scopeBytes.length
  const start = headroom - headerLength
  pos = start
  buf[pos++] = 0x0a
  varint(resourceSpansLength)
  resourceBytes.copy(buf, pos)
  pos += resourceBytes.length
  buf[pos++] = 0x12
  varint(scopeSpansLength)
  scopeBytes.copy(buf, pos)
  pos += scopeBytes.length
  return Buffer.from(buf.subarray(start, end))
}

/** A compact copy of a finished span (for the benchmark: the conversion itself is not timed). */
export const toCompact = (s: FinishedUserSpan): CompactSpan => ({
  traceIdBytes: Buffer.from(s.traceId, "hex"),
  spanIdBytes: Buffer.from(s.spanId, "hex"),
  parentIdBytes: s.parentSpanId === undefined ? undefined : Buffer.from(s.parentSpanId, "hex"),
  startHi: Number(s.startTime >> 32n),
  startLo: Number(s.startTime & 0xffffffffn),
  endHi: Number(s.endTime >> 32n),
  endLo: Number(s.endTime & 0xffffffffn),
  traceFlags: s.traceFlags,
  traceState: s.traceState,
  remoteParent: s.remoteParent,
  routing: s.routing,
  name: s.name,
  kind: s.kind,
  attributes: s.attributes,
  events: s.events,
  links: s.links,
  status: s.status,
  statusMessage: s.statusMessage,
  droppedAttributesCount: s.droppedAttributesCount,
  droppedEventsCount: s.droppedEventsCount,
  droppedLinksCount: s.droppedLinksCount
})
