/**
 * Random spans encoded by ours, decoded by the official OTLP definitions (code we did not write),
 * field by field: names, kinds, 64-bit times, attributes of every type, events, links, status,
 * dropped counts, trace state, flags, remote parents; strings with non-ASCII, astral and lone
 * surrogate characters. Both the spans an application hands the exporter (hex ids, a `Map`) and the
 * pipeline's own records (ids as words, attributes in a list).
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import otlpRoot from "otlp-transformer-0214/build/esm/generated/root.js"
import { spanSizeBound, writeSpan, writeSpanToScratch } from "../../../src/internal/export/spanEncoding.js"
import { TraceContext, UserSpanRecord } from "../../../src/internal/span/record.js"
import type {
  AttributeValue,
  FinishedUserSpan,
  UserSpanEvent,
  UserSpanKind,
  UserSpanLinkRecord
} from "../../../src/UserSpan.js"
import { encodeTraceRequest } from "../../utils/encodeRequest.js"
import { routing } from "../../utils/helpers.js"
import { checkStrictWire } from "../../utils/strictWire.js"

const ExportTraceServiceRequest = (otlpRoot as any).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest

/**
 * The official decoding (64-bit integers as decimal strings, bytes as `Uint8Array`), of a body
 * whose every nested message is also read from exactly its own bytes.
 */
const officialSpans = (body: Uint8Array): Array<any> => {
  checkStrictWire(body)
  return ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), { longs: String })
    .resourceSpans[0].scopeSpans[0].spans ?? []
}

const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString("hex")

/** What a receiver reads back from a string: valid UTF-8, a lone surrogate as U+FFFD. */
const wellFormed = (text: string): string =>
  text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd")

// Arbitraries -----------------------------------------------------------------------------------

/** Strings of any code unit: ASCII, non-ASCII, astral (surrogate pairs) and lone surrogates. */
const text = (maxLength = 12): fc.Arbitrary<string> =>
  fc.string({
    maxLength,
    unit: fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: "binary-ascii", minLength: 1, maxLength: 1 }) },
      { weight: 3, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
      { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)) }
    )
  })

/** Now and then a long string: length prefixes of 2 and 3 bytes, and `TextEncoder`'s path. */
const anyText = fc.oneof(
  { weight: 8, arbitrary: text() },
  { weight: 1, arbitrary: fc.tuple(text(4), fc.nat(20_000)).map(([unit, n]) => unit.repeat(Math.ceil(n / 4) + 1)) }
)

const int64Edges = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n + 5n, -(2n ** 64n) - 3n]
const scalar: fc.Arbitrary<string | number | bigint | boolean> = fc.oneof(
  anyText,
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  // Where a varint takes another byte, and around 2^32.
  fc.constantFrom(127, 128, 2 ** 14 - 1, 2 ** 14, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31),
  fc.constantFrom(
    0,
    -0,
    2 ** 32 - 1,
    2 ** 32,
    -(2 ** 31),
    -(2 ** 32),
    -(2 ** 52),
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER
  ),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, 2 ** 60, 1.5),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.constantFrom(...int64Edges)
)
const attributeValue: fc.Arbitrary<AttributeValue> = fc.oneof(
  { weight: 5, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 6 }) }
)
const attributes = fc.array(fc.tuple(anyText, attributeValue), { maxLength: 8 })

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const time = fc.oneof(u64, fc.constantFrom(0n, 1n, 2n ** 63n, 2n ** 64n - 1n, 1_700_000_000_123_456_789n))
const hexId = (bytes: number) =>
  fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString("hex"))
const count = fc.oneof(fc.constant(0), fc.nat(300), fc.constantFrom(127, 128, 2 ** 31 - 1))
const traceState = fc.option(fc.oneof(fc.constant(""), fc.constant("vendor=a,other=b"), text(40)), { nil: undefined })
const kind = fc.constantFrom<UserSpanKind>("internal", "server", "client", "producer", "consumer")

const event: fc.Arbitrary<UserSpanEvent> = fc.record({
  name: anyText,
  time,
  attributes,
  droppedAttributesCount: count
})
const link: fc.Arbitrary<UserSpanLinkRecord> = fc.record({
  traceId: hexId(16),
  spanId: hexId(8),
  traceState,
  traceFlags: fc.nat(255),
  remote: fc.boolean(),
  attributes,
  droppedAttributesCount: count
})

interface Content {
  readonly name: string
  readonly kind: UserSpanKind
  readonly startTime: bigint
  readonly endTime: bigint
  readonly attributes: ReadonlyArray<readonly [string, AttributeValue]>
  readonly events: ReadonlyArray<UserSpanEvent>
  readonly links: ReadonlyArray<UserSpanLinkRecord>
  readonly status: "unset" | "ok" | "error"
  readonly statusMessage: string
  readonly droppedAttributesCount: number
  readonly droppedEventsCount: number
  readonly droppedLinksCount: number
  readonly traceState: string | undefined
  readonly traceFlags: number
  readonly remoteParent: boolean
}

const content: fc.Arbitrary<Content> = fc.record({
  name: anyText,
  kind,
  startTime: time,
  endTime: time,
  attributes,
  events: fc.array(event, { maxLength: 3 }),
  links: fc.array(link, { maxLength: 3 }),
  status: fc.constantFrom("unset", "ok", "error"),
  statusMessage: fc.oneof(fc.constant(""), anyText),
  droppedAttributesCount: count,
  droppedEventsCount: count,
  droppedLinksCount: count,
  traceState,
  traceFlags: fc.nat(255),
  remoteParent: fc.boolean()
})

/** A span as an application hands it to the exporter: hex ids, attributes in a `Map`. */
const applicationSpan = fc.tuple(content, hexId(16), hexId(8), fc.option(hexId(8), { nil: undefined })).map((
  [c, traceId, spanId, parentSpanId]
): FinishedUserSpan => ({
  ...c,
  // The status message goes with an error only, as the records keep it.
  statusMessage: c.status === "error" ? c.statusMessage : "",
  traceId,
  spanId,
  parentSpanId,
  routing,
  attributes: new Map(c.attributes)
}))

const noLimits = {
  limits: {
    maxAttributes: 1_000,
    maxEvents: 1_000,
    maxEventAttributes: 1_000,
    maxLinks: 1_000,
    maxLinkAttributes: 1_000,
    maxAttributeValueLength: 1_000_000
  },
  export: () => {}
}

/** The same content as one of the pipeline's records: ids drawn as words, attributes in its list. */
const recordSpan = fc.tuple(content, fc.boolean(), fc.uint8Array({ minLength: 16, maxLength: 16 })).map((
  [c, hasParent, traceIdBytes]
): FinishedUserSpan => {
  const trace = new TraceContext(
    Buffer.from(traceIdBytes.some((b) => b !== 0) ? traceIdBytes : [1, ...traceIdBytes.slice(1)]).toString("hex"),
    c.traceFlags,
    c.traceState,
    routing,
    noLimits
  )
  const parent = hasParent
    ? new UserSpanRecord(trace, "parent", "internal", undefined, false, 0n, undefined)
    : undefined
  const record = new UserSpanRecord(trace, c.name, c.kind, parent, c.remoteParent, c.startTime, undefined)
  for (const [key, value] of c.attributes) record.attribute(key, value)
  for (const e of c.events) record.addEvent(e.name, e.time, e.attributes)
  // Links and dropped counts set as the record keeps them (its own cuts are tested elsewhere).
  record.links = [...c.links]
  record.droppedAttributesCount = c.droppedAttributesCount
  record.droppedEventsCount = c.droppedEventsCount
  record.droppedLinksCount = c.droppedLinksCount
  if (c.status !== "unset") record.setStatus({ code: c.status, message: c.statusMessage })
  record.end(c.endTime, false)
  return record
})

// Checks ----------------------------------------------------------------------------------------

/** An attribute value as the official decoder gives it back (int64 wrapped to 64 bits). */
const expectedValue = (value: AttributeValue): object => {
  switch (typeof value) {
    case "string":
      return { stringValue: wellFormed(value) }
    case "boolean":
      return { boolValue: value }
    case "bigint":
      return { intValue: String(BigInt.asIntN(64, value)) }
    case "number":
      return Number.isSafeInteger(value) ? { intValue: String(value) } : { doubleValue: value }
    default:
      return { arrayValue: { values: value.map(expectedValue) } }
  }
}

/** The decoded value with the defaults the official decoder leaves out (`false`, `0`, empty). */
const decodedValue = (value: any): object => {
  if (value === undefined) return {}
  if ("arrayValue" in value) return { arrayValue: { values: (value.arrayValue.values ?? []).map(decodedValue) } }
  if ("boolValue" in value) return { boolValue: value.boolValue ?? false }
  if ("intValue" in value) return { intValue: value.intValue ?? "0" }
  if ("doubleValue" in value) return { doubleValue: value.doubleValue ?? 0 }
  if ("stringValue" in value) return { stringValue: value.stringValue ?? "" }
  return value
}

const expectAttributes = (decoded: Array<any> | undefined, expected: Iterable<readonly [string, AttributeValue]>) => {
  const entries = [...expected]
  expect((decoded ?? []).map((kv) => kv.key ?? "")).toEqual(entries.map(([key]) => wellFormed(key)))
  ;(decoded ?? []).forEach((kv, i) => expect(decodedValue(kv.value)).toEqual(expectedValue(entries[i][1])))
}

const u64String = (value: bigint): string => String(BigInt.asUintN(64, value))

const expectSpan = (decoded: any, span: FinishedUserSpan) => {
  expect(hex(decoded.traceId)).toBe(span.traceId.toLowerCase())
  expect(hex(decoded.spanId)).toBe(span.spanId.toLowerCase())
  expect(hex(decoded.parentSpanId)).toBe(span.parentSpanId ?? "")
  expect(decoded.traceState ?? "").toBe(wellFormed(span.traceState ?? ""))
  expect(decoded.name ?? "").toBe(wellFormed(span.name))
  expect(decoded.kind).toBe({ internal: 1, server: 2, client: 3, producer: 4, consumer: 5 }[span.kind])
  expect(decoded.startTimeUnixNano ?? "0").toBe(u64String(span.startTime))
  expect(decoded.endTimeUnixNano ?? "0").toBe(u64String(span.endTime))
  expectAttributes(decoded.attributes, span.attributes)
  expect(decoded.droppedAttributesCount ?? 0).toBe(span.droppedAttributesCount)
  expect(decoded.events ?? []).toHaveLength(span.events.length)
  span.events.forEach((e, i) => {
    const d = decoded.events[i]
    expect(d.timeUnixNano ?? "0").toBe(u64String(e.time))
    expect(d.name ?? "").toBe(wellFormed(e.name))
    expectAttributes(d.attributes, e.attributes)
    expect(d.droppedAttributesCount ?? 0).toBe(e.droppedAttributesCount)
  })
  expect(decoded.droppedEventsCount ?? 0).toBe(span.droppedEventsCount)
  expect(decoded.links ?? []).toHaveLength(span.links.length)
  span.links.forEach((l, i) => {
    const d = decoded.links[i]
    expect(hex(d.traceId)).toBe(l.traceId)
    expect(hex(d.spanId)).toBe(l.spanId)
    expect(d.traceState ?? "").toBe(wellFormed(l.traceState ?? ""))
    expectAttributes(d.attributes, l.attributes)
    expect(d.droppedAttributesCount ?? 0).toBe(l.droppedAttributesCount)
    expect(d.flags).toBe(l.traceFlags | 0x100 | (l.remote ? 0x200 : 0))
  })
  expect(decoded.droppedLinksCount ?? 0).toBe(span.droppedLinksCount)
  const code = { unset: 0, ok: 1, error: 2 }[span.status]
  expect(decoded.status?.code ?? 0).toBe(code)
  expect(decoded.status?.message ?? "").toBe(wellFormed(span.statusMessage))
  if (span.status !== "unset") expect(decoded.status).toBeDefined()
  expect(decoded.flags).toBe(span.traceFlags | 0x100 | (span.remoteParent ? 0x200 : 0))
}

const anySpan = fc.oneof(applicationSpan, recordSpan)

describe("span encoding against the official OTLP definitions (fuzz)", () => {
  it("every field of random spans arrives as set", () => {
    fc.assert(
      fc.property(fc.array(anySpan, { minLength: 1, maxLength: 4 }), (spans) => {
        const decoded = officialSpans(encodeTraceRequest({ serviceName: "fuzz" }, spans))
        expect(decoded).toHaveLength(spans.length)
        spans.forEach((span, i) => expectSpan(decoded[i], span))
      }),
      { numRuns: 400, seed: 24 }
    )
  })

  it("the same span written twice (attribute values cached the second time) arrives the same", () => {
    fc.assert(
      fc.property(anySpan, (span) => {
        const decoded = officialSpans(encodeTraceRequest({ serviceName: "fuzz" }, [span, span, span]))
        decoded.forEach((d) => expectSpan(d, span))
      }),
      { numRuns: 200, seed: 25 }
    )
  })

  it("spans of different tenants with the same keys keep their own values, however the key cache flips", () => {
    // Few keys and few values, interleaved across tenants: the cache of each key's last value is
    // hit, missed and replaced span after span; a copied field must only ever be the span's own.
    const sharedKey = fc.constantFrom("tenant.id", "http.route", "tier", "ok")
    const sharedValue = fc.oneof(
      fc.constantFrom("acme", "globex", "/orders/:id", "/cart", "gold", ""),
      // Strings whose lengths (and whose value's length) take 1, 2 or 3 varint bytes.
      fc.constantFrom("x".repeat(120), "é".repeat(100), "y".repeat(20_000)),
      fc.boolean(),
      fc.constantFrom(0, 42, -1, 2 ** 40),
      // Integers whose varint takes each width from 1 to 5 bytes, and the first past 32 bits.
      fc.constantFrom(127, 128, 2 ** 14 - 1, 2 ** 14, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 32 - 1, 2 ** 32)
    )
    const tenantSpan = fc.tuple(fc.nat(2), fc.array(fc.tuple(sharedKey, sharedValue), { maxLength: 6 })).map((
      [tenant, pairs]
    ): FinishedUserSpan => {
      const trace = new TraceContext(Buffer.alloc(16, tenant + 1).toString("hex"), 1, undefined, routing, noLimits)
      const record = new UserSpanRecord(trace, `t${tenant}`, "internal", undefined, false, 1n, undefined)
      record.attribute("tenant.id", `tenant-${tenant}`)
      for (const [key, value] of pairs) record.attribute(key, value)
      record.end(2n, false)
      return record
    })
    fc.assert(
      fc.property(fc.array(tenantSpan, { minLength: 2, maxLength: 12 }), (spans) => {
        const decoded = officialSpans(encodeTraceRequest({ serviceName: "fuzz" }, spans))
        expect(decoded).toHaveLength(spans.length)
        spans.forEach((span, i) => expectSpan(decoded[i], span))
      }),
      { numRuns: 400, seed: 27 }
    )
  })

  it("a span takes at most its bound, and the same bytes wherever it is written", () => {
    fc.assert(
      fc.property(anySpan, fc.nat(64), (span, offset) => {
        const bound = spanSizeBound(span)
        const written = writeSpanToScratch(span, bound)
        expect(written.size).toBeLessThanOrEqual(bound)
        const expected = Buffer.from(written.buf.subarray(0, written.size))
        const buf = Buffer.alloc(offset + bound + 8, 0xee)
        const end = writeSpan(buf, offset, span)
        expect(end).toBe(offset + expected.length)
        expect(Buffer.from(buf.subarray(offset, end))).toEqual(expected)
        // Nothing outside the span's place and its bound is touched.
        expect(buf.subarray(0, offset).every((b) => b === 0xee)).toBe(true)
        expect(buf.subarray(offset + bound).every((b) => b === 0xee)).toBe(true)
      }),
      { numRuns: 400, seed: 26 }
    )
  })
})
