import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import * as fc from "fast-check"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import otlpRoot from "otlp-transformer-0214/build/esm/generated/root.js"
import { isCredentialHeader } from "../src/internal/shared/httpSyntax.js"
import { safeJson } from "../src/internal/shared/text.js"
import { toReceivedSpans } from "../src/internal/sink/decode.js"
import { PendingTraces } from "../src/internal/sink/pending.js"
import { decodeTraceRequestJsonText } from "../src/internal/sink/proto.js"
import { renderTrace, spanJson } from "../src/internal/viewer/waterfall.js"
import * as UserTraceSink from "../src/UserTraceSink.js"
import { eventually, tempSocketPath } from "./utils/receiver.js"
import type { SpanInput } from "./utils/sinkClient.js"
import {
  chain,
  jsonRequest,
  protobufRequest,
  receivedSpan,
  send,
  spanIdOf,
  targetOf,
  traceIdOf
} from "./utils/sinkClient.js"

// The official OTLP definitions: answers are checked by a decoder we did not write.
const ExportTraceServiceResponse = (otlpRoot as any).opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse

/** What a terminal acts on or hides, bar the newline between lines: controls, format characters (Cf), separators. */
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\p{Cf}]/u
/** The colour codes the waterfall itself writes. */
const SGR = /\u001b\[[\d;]*m/g

/** Invisible format characters (Cf): zero-width, byte order mark, soft hyphen, bidi, tag characters. */
const invisible = fc.constantFrom(
  "\u200b",
  "\u200d",
  "\u2060",
  "\ufeff",
  "\u00ad",
  "\u061c",
  "\u2066",
  "\u{e0041}",
  "\u{e007f}"
)

const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ unit: fc.oneof(invisible, fc.constantFrom("a", "é", "🙂", "\u001b", "\u202e")), maxLength: 12 }),
  fc.constantFrom("", "\u001b[2J", "\u202eevil", "a\u2028b", "\u009b31m", "\r\n", "__proto__", " ", "a\u200bb\ufeff")
)

const maxU64 = 2n ** 64n - 1n
const minI64 = -(2n ** 63n)
const maxI64 = 2n ** 63n - 1n

/** Unsigned 64-bit times, their extremes often. */
const time = fc.oneof(
  fc.bigInt({ min: 0n, max: maxU64 }),
  fc.constantFrom(0n, 2n ** 53n + 1n, 2n ** 63n, maxU64 - 1n, maxU64)
)

/** Signed 64-bit integers, their extremes often. */
const int64 = fc.oneof(
  fc.bigInt({ min: minI64, max: maxI64 }),
  fc.constantFrom(minI64, minI64 + 1n, -(2n ** 53n) - 1n, 2n ** 53n + 1n, maxI64)
)

/** Headers that may carry a credential, each with a value that must never be printed. */
const credentialHeaders = fc.dictionary(
  fc.constantFrom(
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "X-Auth-Token",
    "x-secret",
    "x-password"
  ),
  fc.string({ maxLength: 8 }).map((tail) => `SECRET-${tail}`),
  { maxKeys: 3 }
)

// Small pools of ids, so that spans meet in traces, parents, duplicates and cycles.
const traceIdPool = fc.constantFrom(traceIdOf(0), traceIdOf(1), traceIdOf(2))
const spanIdPool = fc.integer({ min: 0, max: 11 }).map(spanIdOf)

// ---------------------------------------------------------------------------------------------
// Request bodies

type Body = {
  readonly format: "protobuf" | "json"
  readonly body: Uint8Array | string
  readonly gzip: "yes" | "no" | "claimed"
}

const spanInput: fc.Arbitrary<SpanInput> = fc.record({
  traceId: traceIdPool,
  spanId: spanIdPool,
  parentSpanId: fc.option(spanIdPool, { nil: undefined }),
  name: fc.string({ maxLength: 12 }),
  start: time,
  end: time
})

/** A valid protobuf body, then cut and with bytes overwritten. */
const mangledProtobuf = fc.tuple(
  fc.array(spanInput, { minLength: 1, maxLength: 4 }),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
  fc.option(fc.nat(), { nil: undefined })
).map(([spans, writes, cut]) => {
  const bytes = Uint8Array.from(protobufRequest(spans))
  for (const [at, byte] of writes) bytes[at % bytes.length] = byte
  return cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1))
})

const jsonOrJunk = fc.jsonValue({ maxDepth: 4 })

/** Each OTLP field either well-typed or any JSON at all. */
const field = <A>(good: fc.Arbitrary<A>) =>
  fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: jsonOrJunk })

const { anyValue } = fc.letrec((tie) => ({
  anyValue: fc.oneof(
    { depthSize: "small" },
    fc.record({ stringValue: field(fc.string({ maxLength: 10 })) }),
    fc.record({ intValue: field(fc.oneof(fc.integer(), fc.bigInt().map(String))) }),
    fc.record({ doubleValue: field(fc.double()) }),
    fc.record({ boolValue: field(fc.boolean()) }),
    fc.record({ bytesValue: field(fc.base64String({ maxLength: 12 })) }),
    fc.record({ arrayValue: field(fc.record({ values: field(fc.array(tie("anyValue"), { maxLength: 3 })) })) }),
    fc.record({
      kvlistValue: field(fc.record({
        values: field(
          fc.array(fc.record({ key: field(fc.string({ maxLength: 6 })), value: tie("anyValue") }), { maxLength: 3 })
        )
      }))
    })
  )
}))

const attributes = field(
  fc.array(fc.record({ key: field(fc.string({ maxLength: 8 })), value: field(anyValue) }), { maxLength: 3 })
)

const jsonSpan = fc.record({
  traceId: field(traceIdPool),
  spanId: field(spanIdPool),
  parentSpanId: field(spanIdPool),
  name: field(fc.string({ maxLength: 12 })),
  kind: field(fc.integer({ min: -1, max: 7 })),
  flags: field(fc.nat()),
  startTimeUnixNano: field(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String)),
  endTimeUnixNano: field(fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String))),
  attributes,
  events: field(
    fc.array(fc.record({ name: field(fc.string()), timeUnixNano: field(fc.nat()), attributes }), { maxLength: 2 })
  ),
  status: field(fc.record({ code: field(fc.integer({ min: 0, max: 3 })), message: field(fc.string({ maxLength: 8 })) }))
}, { requiredKeys: [] })

/** OTLP/JSON with every level possibly wrong. */
const otlpShapedJson = fc.record({
  resourceSpans: field(fc.array(
    fc.record({
      resource: field(fc.record({ attributes })),
      scopeSpans: field(
        fc.array(
          fc.record({
            scope: field(fc.record({ name: field(fc.string()) })),
            spans: field(fc.array(jsonSpan, { maxLength: 4 }))
          }),
          { maxLength: 2 }
        )
      )
    }, { requiredKeys: [] }),
    { maxLength: 2 }
  ))
}, { requiredKeys: [] })

const bracketSoup = fc.array(fc.constantFrom("[", "]", "{", "}", "\"", "\\", ",", ":", "1", "\"resourceSpans\""), {
  maxLength: 400
})
  .map((parts) => parts.join(""))

const body: fc.Arbitrary<Body> = fc.tuple(
  fc.oneof(
    fc.array(spanInput, { maxLength: 6 }).map((spans) => ({
      format: "protobuf" as const,
      body: protobufRequest(spans)
    })),
    fc.array(spanInput, { maxLength: 6 }).map((spans) => ({ format: "json" as const, body: jsonRequest(spans) })),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ format: "protobuf" as const, body: bytes })),
    mangledProtobuf.map((bytes) => ({ format: "protobuf" as const, body: bytes })),
    jsonOrJunk.map((value) => ({ format: "json" as const, body: JSON.stringify(value) })),
    otlpShapedJson.map((value) => ({ format: "json" as const, body: JSON.stringify(value) })),
    bracketSoup.map((soup) => ({ format: "json" as const, body: soup })),
    fc.uint8Array({ maxLength: 100 }).map((bytes) => ({ format: "json" as const, body: bytes }))
  ),
  fc.constantFrom("no" as const, "no" as const, "yes" as const, "claimed" as const)
).map(([{ body, format }, gzip]) => ({ format, gzip, body: gzip === "yes" ? Zlib.gzipSync(body) : body }))

describe("fuzz: the sink answers every request and keeps showing traces", () => {
  it.live(
    "random, mangled and wrongly shaped bodies: 200 or 400, well-formed answers; the next valid trace is shown",
    () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const sink = yield* UserTraceSink.make({ socketPath: tempSocketPath(), retainSpans: false }).pipe(
          Scope.extend(scope)
        )
        const shown: Array<string> = []
        // Every completed trace is rendered too, as the CLI does.
        const consuming = yield* Effect.fork(Stream.runForEach(
          sink.completedTraces({
            quietPeriod: "20 millis",
            orphanTimeout: "100 millis",
            maxSpansPerTrace: 20,
            maxPendingSpans: 50
          }),
          (trace) =>
            Effect.sync(() => {
              const rendered = renderTrace(trace, { color: false, width: 80 })
              expect(rendered).not.toMatch(UNSAFE)
              for (const span of trace.spans) JSON.parse(safeJson(spanJson(span, undefined)))
              shown.push(trace.traceId)
            })
        ))
        let requests = 0
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(body, async ({ body, format, gzip }) => {
              requests++
              const answer = await Effect.runPromise(
                send(targetOf(sink), body, {
                  headers: {
                    "content-type": format === "json" ? "application/json" : "application/x-protobuf",
                    ...(gzip === "no" ? {} : { "content-encoding": "gzip" })
                  }
                }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("no answer in 5 s") }))
              )
              expect([200, 400]).toContain(answer.status)
              if (format === "json") {
                expect(answer.headers["content-type"]).toBe("application/json")
                const parsed = JSON.parse(answer.body.toString())
                if (answer.status === 400) expect(parsed).toMatchObject({ code: 3, message: expect.any(String) })
              } else {
                expect(answer.headers["content-type"]).toBe("application/x-protobuf")
                if (answer.status === 200) ExportTraceServiceResponse.decode(answer.body)
              }
            }),
            { numRuns: 400, interruptAfterTimeLimit: 30_000 }
          )
        )
        const next = traceIdOf(99)
        expect((yield* send(targetOf(sink), protobufRequest(chain(next, 3)))).status).toBe(200)
        yield* eventually(() => shown.includes(next))
        const stats = yield* sink.stats
        expect(stats.accepted + stats.rejected).toBe(requests + 1)
        // Both ways were taken: bodies decoded (their spans shown) and bodies refused.
        expect(stats.accepted).toBeGreaterThan(10)
        expect(stats.rejected).toBeGreaterThan(10)
        expect(stats.spans).toBeGreaterThan(100)
        yield* Scope.close(scope, Exit.void)
        yield* Fiber.join(consuming)
      }),
    60_000
  )
})

// ---------------------------------------------------------------------------------------------
// Span shapes, straight to the trees and the renderer

const { receivedValue } = fc.letrec((tie) => ({
  receivedValue: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    text,
    fc.boolean(),
    int64,
    fc.double(),
    fc.uint8Array({ maxLength: 8 }),
    fc.array(tie("receivedValue"), { maxLength: 4 }),
    fc.dictionary(text, tie("receivedValue"), { maxKeys: 3 })
  )
})) as { receivedValue: fc.Arbitrary<UserTraceSink.ReceivedValue> }

const attributeList = fc.array(fc.tuple(text, receivedValue), { maxLength: 3 })

const span: fc.Arbitrary<UserTraceSink.ReceivedSpan> = fc.record({
  traceId: traceIdPool,
  spanId: spanIdPool,
  parentSpanId: fc.option(fc.oneof(spanIdPool, fc.constant("ffffffffffffffff")), { nil: undefined }),
  remoteParent: fc.boolean(),
  name: text,
  kind: fc.constantFrom<UserTraceSink.ReceivedSpanKind>(
    "unspecified",
    "internal",
    "server",
    "client",
    "producer",
    "consumer"
  ),
  startTimeUnixNano: time,
  endTimeUnixNano: time,
  attributes: attributeList,
  droppedAttributesCount: fc.nat(),
  events: fc.array(fc.record({ name: text, timeUnixNano: time, attributes: attributeList }), { maxLength: 2 }),
  droppedEventsCount: fc.nat(),
  status: fc.constantFrom<UserTraceSink.ReceivedSpan["status"]>("unset", "ok", "error"),
  statusMessage: text,
  traceState: fc.option(text, { nil: undefined }),
  serviceName: fc.option(text, { nil: undefined }),
  headers: fc.tuple(
    fc.dictionary(fc.oneof(text, fc.constantFrom("x-routing", "content-type")), text, { maxKeys: 3 }),
    credentialHeaders
  ).map(([plain, credentials]) => ({ ...plain, ...credentials }))
}).map((fields) => receivedSpan(fields))

/** Every node of the trees, counted without recursion. */
const countNodes = (roots: ReadonlyArray<UserTraceSink.ReceivedSpanNode>): number => {
  const stack = roots.slice()
  let count = 0
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    count++
    for (const child of node.children) stack.push(child)
  }
  return count
}

describe("fuzz: trees and the renderer take any span shapes", () => {
  it("every span once in its tree; the waterfall and the JSON lines carry no raw control characters", () => {
    fc.assert(
      fc.property(
        fc.array(span, { maxLength: 30 }),
        fc.option(fc.integer({ min: -10, max: 2_000 }), { nil: undefined }),
        fc.boolean(),
        fc.option(fc.oneof(text, fc.constant("x-routing")), { nil: undefined }),
        (spans, width, color, routingHeader) => {
          // Credentials are never printed, unless the one header asked for is one.
          const secretsHidden = routingHeader === undefined || !isCredentialHeader(routingHeader)
          for (const trace of UserTraceSink.toTraces(spans)) {
            expect(countNodes(trace.roots)).toBe(trace.spans.length)
            const rendered = renderTrace(trace, { color, width, routingHeader })
            expect(rendered.replace(SGR, "")).not.toMatch(UNSAFE)
            if (secretsHidden) expect(rendered).not.toContain("SECRET")
            for (const span of trace.spans) {
              const line = safeJson(spanJson(span, routingHeader))
              expect(line).not.toMatch(UNSAFE)
              if (secretsHidden) expect(line).not.toContain("SECRET")
              const json = JSON.parse(line)
              expect(json.spanId).toBe(span.spanId)
              // 64-bit numbers exactly: times as decimal strings, integers as numbers when safe, else strings.
              expect([json.startTimeUnixNano, json.endTimeUnixNano]).toEqual([
                String(span.startTimeUnixNano),
                String(span.endTimeUnixNano)
              ])
              expect(json.events.map((event: { timeUnixNano: string }) => event.timeUnixNano)).toEqual(
                span.events.map((event) => String(event.timeUnixNano))
              )
              const last = new Map(span.attributes)
              for (const [key, value] of last) {
                if (typeof value !== "bigint") continue
                expect(BigInt(json.attributes[key])).toBe(value)
                expect(rendered).toContain(`=${value}`)
              }
            }
          }
        }
      ),
      { numRuns: 300, interruptAfterTimeLimit: 20_000 }
    )
  })

  it("pending traces stay within their bounds under any arrival order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(span.map((s) => ({ add: s })), fc.nat({ max: 300 }).map((advance) => ({ advance }))), {
          maxLength: 80
        }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 12 }),
        (steps, maxSpansPerTrace, maxPendingSpans) => {
          const emitted: Array<UserTraceSink.ReceivedTrace> = []
          const pending = new PendingTraces(
            { quietMillis: 50, orphanMillis: 200, maxAgeMillis: 400, maxSpansPerTrace, maxPendingSpans },
            (trace) => emitted.push(trace),
            (traceId, error) => {
              throw new Error(`trace ${traceId} reported: ${String(error)}`)
            }
          )
          let now = 0
          let added = 0
          for (const step of steps) {
            if ("add" in step) {
              pending.add(step.add, now)
              added++
            } else {
              now += step.advance
              pending.sweep(now)
            }
            expect(pending.size).toBeLessThanOrEqual(maxPendingSpans)
          }
          pending.flush()
          expect(pending.size).toBe(0)
          for (const trace of emitted) {
            expect(trace.spans.length).toBeLessThanOrEqual(maxSpansPerTrace)
            expect(countNodes(trace.roots)).toBe(trace.spans.length)
          }
          const accounted = emitted.reduce((sum, trace) => sum + trace.spans.length + (trace.droppedSpans ?? 0), 0)
          expect(accounted).toBeLessThanOrEqual(added)
        }
      ),
      { numRuns: 300, interruptAfterTimeLimit: 20_000 }
    )
  })
})

describe("fuzz: 64-bit integers and socket paths at their bounds", () => {
  /** Integers around every bound a 64-bit field has. */
  const near = (bound: bigint) => fc.bigInt({ min: bound - 3n, max: bound + 3n })
  const integer = fc.oneof(
    near(0n),
    near(minI64),
    near(maxI64),
    near(maxU64),
    near(2n ** 53n),
    near(-(2n ** 53n)),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n })
  )
  /** The integer as OTLP/JSON allows it: a decimal string, or a bare number. */
  const written = fc.tuple(integer, fc.boolean()).map(([value, quoted]) => ({
    value,
    text: quoted ? `"${value}"` : String(value)
  }))

  it("OTLP/JSON: an integer within its field's range is decoded exactly, quoted or bare; outside it is refused", () => {
    fc.assert(
      fc.property(written, written, (time, int) => {
        const text = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"${traceIdOf(0)}",` +
          `"spanId":"${spanIdOf(0)}","name":"s","startTimeUnixNano":${time.text},"endTimeUnixNano":"1",` +
          `"attributes":[{"key":"n","value":{"intValue":${int.text}}}]}]}]}]}`
        const fits = time.value >= 0n && time.value <= maxU64 && int.value >= minI64 && int.value <= maxI64
        if (!fits) return void expect(() => decodeTraceRequestJsonText(text)).toThrow(/integer from/)
        const [span] = toReceivedSpans(decodeTraceRequestJsonText(text), {}).spans
        expect([span.startTimeUnixNano, span.attributes]).toEqual([time.value, [["n", int.value]]])
      }),
      { numRuns: 500 }
    )
  })

  it.live("a socket path is listened on whole when it fits 107 bytes, refused before binding otherwise; none left", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-"))
      let listened = 0
      let refused = 0
      // Paths of about a target size around the bound, from one-, two- and four-byte characters.
      const path = fc.tuple(
        fc.integer({ min: 96, max: 118 }),
        fc.array(fc.constantFrom("s", "é", "🙂"), { minLength: 120, maxLength: 120 })
      ).map(([target, characters]) => {
        let name = ""
        for (const c of characters) {
          if (Buffer.byteLength(Path.join(dir, name + c)) > target) break
          name += c
        }
        return Path.join(dir, name)
      })
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(path, async (socketPath) => {
            const exit = await Effect.runPromiseExit(Effect.scoped(Effect.gen(function*() {
              const sink = yield* UserTraceSink.make({ socketPath })
              expect(Fs.statSync(socketPath).isSocket()).toBe(true)
              expect((yield* send(targetOf(sink), protobufRequest(chain(traceIdOf(7), 1)))).status).toBe(200)
            })))
            if (Buffer.byteLength(socketPath) <= 107) {
              listened++
              expect(Exit.isSuccess(exit)).toBe(true)
            } else {
              refused++
              expect(exit).toMatchObject({ _tag: "Failure", cause: { error: { _tag: "UserTraceSinkError" } } })
            }
            expect(Fs.readdirSync(dir)).toEqual([])
          }),
          { numRuns: 40 }
        )
      )
      // Both sides of the bound were taken.
      expect([listened > 5, refused > 5]).toEqual([true, true])
    }))
})
