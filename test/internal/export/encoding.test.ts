import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as fc from "fast-check"
import { readFileSync } from "node:fs"
// The decoder generated from the official opentelemetry-proto files by OpenTelemetry JS: code we did not write.
import officialRoot from "otlp-transformer-0214/build/src/generated/root.js"
import { TestUserTracing, Traceparent, UserTracing, UserTracingTest } from "../../../src/index.js"
import { libraryName, libraryVersion } from "../../../src/internal/export/version.js"
import { decodeTraceRequest, decodeTraceRequestJson, encodeTraceResponse } from "../../../src/internal/sink/proto.js"
import type { AttributeValue, FinishedUserSpan } from "../../../src/UserSpan.js"
import { encodeTraceRequest } from "../../utils/encodeRequest.js"
import { routing } from "../../utils/helpers.js"
import { checkStrictWire } from "../../utils/strictWire.js"

const { annotateUserSpan, logUserSpan, withUserSpan, withUserTrace } = UserTracing

interface OfficialType {
  decode(bytes: Uint8Array): object
  // The generated code's plain objects are untyped.
  toObject(message: object, options: object): any
}

const official = (officialRoot as unknown as {
  opentelemetry: {
    proto: {
      collector: {
        trace: { v1: { ExportTraceServiceRequest: OfficialType; ExportTraceServiceResponse: OfficialType } }
      }
    }
  }
}).opentelemetry.proto.collector.trace.v1

/** The official decoding: int64/fixed64 as decimal strings, bytes as `Uint8Array`, defaults left out. */
/** The official decoding of a body whose every nested message is also read from exactly its own bytes. */
const officialDecode = (bytes: Uint8Array): any => {
  checkStrictWire(bytes)
  return official.ExportTraceServiceRequest.toObject(official.ExportTraceServiceRequest.decode(bytes), {
    longs: String
  })
}

const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString("hex")

const inbound = Option.getOrThrow(Traceparent.parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
const beyondSafe = 2n ** 53n + 1n

/** A fresh trace, a continued one and one over the limits, recorded by the real library. */
const recordSpans: Effect.Effect<ReadonlyArray<FinishedUserSpan>> = Effect.gen(function*() {
  yield* Effect.gen(function*() {
    yield* annotateUserSpan({
      text: "hello",
      count: 42,
      negative: -7,
      ratio: 1.5,
      huge: 2 ** 60,
      flag: true,
      big: beyondSafe,
      wrapped: 2n ** 64n + 5n,
      strings: ["a", "b"],
      mixed: [1, 2.5, false, "x", -3n]
    })
    yield* Effect.gen(function*() {
      yield* annotateUserSpan("step", "one")
      yield* logUserSpan({ zeta: "z", alpha: "a" })
    }).pipe(withUserSpan("child", { kind: "client" }))
    yield* Effect.exit(Effect.fail("secret").pipe(withUserSpan("failing")))
    yield* annotateUserSpan("error", true).pipe(withUserSpan("error-attribute"))
    for (const kind of ["producer", "consumer", "internal"] as const) yield* withUserSpan(Effect.void, kind, { kind })
  }).pipe(withUserTrace("fresh", { routing, kind: "server" }))
  yield* withUserSpan(Effect.void, "continued-child").pipe(
    withUserTrace("continued", { routing, inbound, tracestate: ["vendor=a", "other=b"] })
  )
  yield* Effect.gen(function*() {
    for (let i = 0; i < 130; i++) yield* annotateUserSpan(`k${i}`, i)
    for (let i = 0; i < 129; i++) yield* logUserSpan({ i: String(i) })
  }).pipe(withUserTrace("limited", { routing }))
  return yield* UserTracingTest.finishedSpans
}).pipe(Effect.provide(TestUserTracing))

describe("encodeTraceRequest, decoded by the official OTLP decoder", () => {
  it.effect("resource, scope, ids, parents, flags, trace state, kinds and times", () =>
    Effect.gen(function*() {
      const records = yield* recordSpans
      const decoded = officialDecode(encodeTraceRequest({ serviceName: "checkout" }, records))
      expect(decoded.resourceSpans).toHaveLength(1)
      const [resourceSpans] = decoded.resourceSpans
      expect(resourceSpans.resource.attributes).toEqual([{ key: "service.name", value: { stringValue: "checkout" } }])
      expect(resourceSpans.scopeSpans).toHaveLength(1)
      const [scopeSpans] = resourceSpans.scopeSpans
      expect(scopeSpans.scope).toEqual({ name: "effect-user-tracing", version: libraryVersion })
      expect(scopeSpans.scope.name).toBe(libraryName)
      const spans: Array<any> = scopeSpans.spans
      expect(spans.map((s) => s.name)).toEqual(records.map((r) => r.name))

      for (const [i, span] of spans.entries()) {
        const record = records[i]
        expect(span.traceId).toHaveLength(16)
        expect(span.spanId).toHaveLength(8)
        expect(hex(span.traceId)).toBe(record.traceId)
        expect(hex(span.spanId)).toBe(record.spanId)
        expect(hex(span.parentSpanId)).toBe(record.parentSpanId ?? "")
        expect(span.startTimeUnixNano).toBe(String(record.startTime))
        expect(span.endTimeUnixNano).toBe(String(record.endTime))
        expect(BigInt(span.startTimeUnixNano) <= BigInt(span.endTimeUnixNano)).toBe(true)
        expect(span.flags & 0x100).toBe(0x100)
      }

      const byName = new Map(spans.map((s) => [s.name, s]))
      const fresh = byName.get("fresh")
      const child = byName.get("child")
      expect(fresh.parentSpanId ?? new Uint8Array()).toHaveLength(0)
      expect(child.parentSpanId).toHaveLength(8)
      expect(hex(child.parentSpanId)).toBe(hex(fresh.spanId))
      expect(hex(child.traceId)).toBe(hex(fresh.traceId))
      // A fresh trace is sampled and random (W3C 0x03); the parent is known not to be remote.
      expect(fresh.flags).toBe(0x103)
      expect(child.flags).toBe(0x103)
      expect(fresh.traceState).toBeUndefined()

      const continued = byName.get("continued")
      const continuedChild = byName.get("continued-child")
      expect(hex(continued.traceId)).toBe(inbound.traceId)
      expect(hex(continued.parentSpanId)).toBe(inbound.parentId)
      expect(continued.flags).toBe(0x100 | 0x200 | 0x01)
      expect(continuedChild.flags & 0x200).toBe(0)
      expect(continuedChild.flags).toBe(0x101)
      expect(hex(continuedChild.traceId)).toBe(inbound.traceId)
      expect(hex(continuedChild.parentSpanId)).toBe(hex(continued.spanId))
      expect(continued.traceState).toBe("vendor=a,other=b")
      expect(continuedChild.traceState).toBe("vendor=a,other=b")

      expect(Object.fromEntries(spans.map((s) => [s.name, s.kind]))).toMatchObject({
        fresh: 2,
        child: 3,
        producer: 4,
        consumer: 5,
        internal: 1,
        failing: 1
      })
    }))

  it.effect("attribute types, log events, status and dropped counts", () =>
    Effect.gen(function*() {
      const records = yield* recordSpans
      const spans: Array<any> = officialDecode(encodeTraceRequest({ serviceName: "checkout" }, records))
        .resourceSpans[0].scopeSpans[0].spans
      const byName = new Map(spans.map((s) => [s.name, s]))

      expect(byName.get("fresh").attributes).toEqual([
        { key: "text", value: { stringValue: "hello" } },
        { key: "count", value: { intValue: "42" } },
        { key: "negative", value: { intValue: "-7" } },
        { key: "ratio", value: { doubleValue: 1.5 } },
        { key: "huge", value: { doubleValue: 2 ** 60 } },
        { key: "flag", value: { boolValue: true } },
        { key: "big", value: { intValue: String(beyondSafe) } },
        { key: "wrapped", value: { intValue: "5" } },
        { key: "strings", value: { arrayValue: { values: [{ stringValue: "a" }, { stringValue: "b" }] } } },
        {
          key: "mixed",
          value: {
            arrayValue: {
              values: [{ intValue: "1" }, { doubleValue: 2.5 }, { boolValue: false }, { stringValue: "x" }, {
                intValue: "-3"
              }]
            }
          }
        }
      ])

      const child = byName.get("child")
      const childRecord = records.find((r) => r.name === "child")!
      expect(child.attributes).toEqual([{ key: "step", value: { stringValue: "one" } }])
      expect(child.events).toEqual([{
        timeUnixNano: String(childRecord.events[0].time),
        name: "Log entry",
        attributes: [{ key: "alpha", value: { stringValue: "a" } }, { key: "zeta", value: { stringValue: "z" } }]
      }])

      for (const name of ["failing", "error-attribute"]) {
        const status = byName.get(name).status
        expect(status.code).toBe(2)
        expect(status.message ?? "").toBe("")
      }
      for (const name of ["fresh", "child", "continued"]) expect(byName.get(name).status?.code ?? 0).toBe(0)

      const limited = byName.get("limited")
      expect(limited.attributes).toHaveLength(128)
      expect(limited.droppedAttributesCount).toBe(2)
      expect(limited.events).toHaveLength(128)
      expect(limited.droppedEventsCount).toBe(1)
      expect(byName.get("fresh").droppedAttributesCount ?? 0).toBe(0)
      expect(byName.get("fresh").droppedEventsCount ?? 0).toBe(0)
    }))

  it("no spans: still one resource and one scope", () => {
    const decoded = officialDecode(encodeTraceRequest({ serviceName: "idle" }, []))
    expect(decoded.resourceSpans[0].scopeSpans[0].spans ?? []).toEqual([])
    expect(decoded.resourceSpans[0].scopeSpans[0].scope.name).toBe(libraryName)
  })
})

describe("otlpProto", () => {
  it.effect("decodeTraceRequest agrees with the official decoder", () =>
    Effect.gen(function*() {
      const bytes = encodeTraceRequest({ serviceName: "checkout" }, yield* recordSpans)
      const ours = decodeTraceRequest(bytes)
      const theirs = official.ExportTraceServiceRequest.toObject(official.ExportTraceServiceRequest.decode(bytes), {
        longs: String,
        enums: Number,
        bytes: String,
        defaults: true
      })
      for (const span of theirs.resourceSpans[0].scopeSpans[0].spans) {
        for (const key of ["traceId", "spanId", "parentSpanId"]) {
          span[key] = Buffer.from(span[key], "base64").toString("hex")
        }
      }
      // Our schema leaves out Resource.entity_refs (development status, never sent by us).
      expect(theirs.resourceSpans[0].resource.entityRefs).toEqual([])
      delete theirs.resourceSpans[0].resource.entityRefs
      expect(ours).toEqual(theirs)
      const spans = ours.resourceSpans[0].scopeSpans[0].spans
      expect(spans.find((s) => s.name === "fresh")!.parentSpanId).toBe("")
      expect(spans.find((s) => s.name === "continued")!.parentSpanId).toBe(inbound.parentId)
      expect(spans.find((s) => s.name === "failing")!.status).toEqual({ message: "", code: 2 })
      expect(spans.find((s) => s.name === "fresh")!.status).toBeNull()
    }))

  it("encodeTraceResponse decodes with the official ExportTraceServiceResponse", () => {
    const decode = (bytes: Uint8Array) =>
      official.ExportTraceServiceResponse.toObject(official.ExportTraceServiceResponse.decode(bytes), { longs: String })
    expect(encodeTraceResponse()).toHaveLength(0)
    expect(decode(encodeTraceResponse())).toEqual({})
    expect(decode(encodeTraceResponse({ rejectedSpans: 3, errorMessage: "bad routing" }))).toEqual({
      partialSuccess: { rejectedSpans: "3", errorMessage: "bad routing" }
    })
  })

  it("decodeTraceRequestJson reads OTLP/JSON into the same shape", () => {
    const json = JSON.parse(`{
      "resourceSpans": [{
        "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "svc" } }] },
        "scopeSpans": [{
          "scope": { "name": "lib", "version": "1.0.0" },
          "spans": [{
            "traceId": "5B8EFFF798038103D269B633813FC60C",
            "spanId": "eee19b7ec3c1b174",
            "parentSpanId": "eee19b7ec3c1b173",
            "name": "I'm a server span",
            "kind": 2,
            "flags": 769,
            "startTimeUnixNano": "1544712660000000000",
            "endTimeUnixNano": 1544712661000000000,
            "attributes": [
              { "key": "my.int", "value": { "intValue": "9007199254740993" } },
              { "key": "my.small", "value": { "intValue": 5 } },
              { "key": "my.list", "value": { "arrayValue": { "values": [{ "boolValue": true }, { "doubleValue": 0.5 }] } } }
            ],
            "events": [{ "timeUnixNano": "1544712660500000000", "name": "Log entry",
              "attributes": [{ "key": "k", "value": { "stringValue": "v" } }] }],
            "status": { "code": 2 }
          }]
        }]
      }]
    }`)
    const decoded = decodeTraceRequestJson(json)
    expect(decoded).toEqual({
      resourceSpans: [{
        resource: {
          attributes: [{ key: "service.name", value: { stringValue: "svc" } }],
          droppedAttributesCount: 0
        },
        scopeSpans: [{
          scope: { name: "lib", version: "1.0.0", attributes: [], droppedAttributesCount: 0 },
          spans: [{
            traceId: "5b8efff798038103d269b633813fc60c",
            spanId: "eee19b7ec3c1b174",
            traceState: "",
            parentSpanId: "eee19b7ec3c1b173",
            flags: 769,
            name: "I'm a server span",
            kind: 2,
            startTimeUnixNano: "1544712660000000000",
            endTimeUnixNano: "1544712661000000000",
            attributes: [
              { key: "my.int", value: { intValue: "9007199254740993" } },
              { key: "my.small", value: { intValue: "5" } },
              { key: "my.list", value: { arrayValue: { values: [{ boolValue: true }, { doubleValue: 0.5 }] } } }
            ],
            droppedAttributesCount: 0,
            events: [{
              timeUnixNano: "1544712660500000000",
              name: "Log entry",
              attributes: [{ key: "k", value: { stringValue: "v" } }],
              droppedAttributesCount: 0
            }],
            droppedEventsCount: 0,
            links: [],
            droppedLinksCount: 0,
            status: { message: "", code: 2 }
          }],
          schemaUrl: ""
        }],
        schemaUrl: ""
      }]
    })
    // The input is not modified, and bad ids or shapes throw.
    expect(json.resourceSpans[0].scopeSpans[0].spans[0].traceId).toBe("5B8EFFF798038103D269B633813FC60C")
    expect(() => decodeTraceRequestJson({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: "xyz" }] }] }] }))
      .toThrow(
        TypeError
      )
    expect(() => decodeTraceRequestJson({ resourceSpans: 1 })).toThrow()
    expect(() => decodeTraceRequestJson("nope")).toThrow(TypeError)
  })
})

it("libraryVersion is package.json's version", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8"))
  expect(libraryName).toBe(pkg.name)
  expect(libraryVersion).toBe(pkg.version)
})

describe("integer attributes", () => {
  it.effect("every safe integer and 2^32 boundaries arrive as the same int64", () =>
    Effect.gen(function*() {
      const values = [
        0,
        1,
        127,
        128,
        2 ** 31 - 1,
        2 ** 31,
        2 ** 32 - 1,
        2 ** 32,
        -1,
        -(2 ** 32),
        Number.MAX_SAFE_INTEGER
      ]
      const random = fc.sample(fc.maxSafeInteger(), { numRuns: 200, seed: 9 })
      const all = [...values, ...random]
      const [record] = yield* annotateUserSpan({ values: all }).pipe(
        withUserTrace("ints", { routing }),
        Effect.zipRight(UserTracingTest.finishedSpans),
        Effect.provide(TestUserTracing)
      )
      const [span] =
        officialDecode(encodeTraceRequest({ serviceName: "ints" }, [record])).resourceSpans[0].scopeSpans[0]
          .spans
      expect(span.attributes[0].value.arrayValue.values.map((v: any) => v.intValue)).toEqual(all.map(String))
    }))
})

describe("scalar attributes", () => {
  it.effect("bools and integers, each under its own key (short, long, non-ASCII), arrive as set", () =>
    Effect.gen(function*() {
      const integers = [0, 1, 127, 128, 2 ** 31, 2 ** 32 - 1, 2 ** 32, -1, -(2 ** 32), Number.MAX_SAFE_INTEGER, 1.5]
      const keys = ["k", "ключ", "x".repeat(200), "y".repeat(300)]
      const attributes: Record<string, AttributeValue> = {}
      for (const key of keys) {
        attributes[`${key}-true`] = true
        attributes[`${key}-false`] = false
        integers.forEach((value, i) => (attributes[`${key}-${i}`] = value))
      }
      // Twice: the second span is written with the keys already seen.
      const records = yield* Effect.forEach(
        [1, 2],
        (i) => annotateUserSpan(attributes).pipe(withUserTrace(`s${i}`, { routing }))
      )
        .pipe(Effect.zipRight(UserTracingTest.finishedSpans), Effect.provide(TestUserTracing))
      const spans =
        officialDecode(encodeTraceRequest({ serviceName: "scalars" }, records)).resourceSpans[0].scopeSpans[0].spans
      for (const span of spans) {
        const decoded = Object.fromEntries(span.attributes.map((kv: any) => [kv.key, kv.value]))
        expect(Object.keys(decoded)).toEqual(Object.keys(attributes))
        for (const key of keys) {
          expect(decoded[`${key}-true`]).toEqual({ boolValue: true })
          // Written explicitly (a default value the official decoder leaves out of the object).
          expect(decoded[`${key}-false`].boolValue ?? false).toBe(false)
          integers.forEach((value, i) =>
            expect(decoded[`${key}-${i}`]).toEqual(
              Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value }
            )
          )
        }
      }
    }))
})

describe("repeated attributes", () => {
  it.effect("a value equal to the last one of its key, or not, arrives as set on each span", () =>
    Effect.gen(function*() {
      const values = ["a", "a", "a", "b", "b", "a", "é", "é", "x".repeat(300), "x".repeat(300), "a"]
      const records = yield* Effect.forEach(
        values,
        (value, i) =>
          annotateUserSpan({ route: value, other: i % 2 === 0 ? "even" : "odd", n: i }).pipe(
            withUserTrace(`s${i}`, { routing })
          )
      ).pipe(Effect.zipRight(UserTracingTest.finishedSpans), Effect.provide(TestUserTracing))
      // Twice: the second pass writes every repeated value from the cache.
      for (let pass = 0; pass < 2; pass++) {
        const spans =
          officialDecode(encodeTraceRequest({ serviceName: "r" }, records)).resourceSpans[0].scopeSpans[0].spans
        expect(spans.map((s: any) => s.attributes.map((a: any) => a.value.stringValue ?? a.value.intValue))).toEqual(
          values.map((value, i) => [value, i % 2 === 0 ? "even" : "odd", String(i)])
        )
      }
    }))
})
