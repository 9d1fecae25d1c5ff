import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import * as fc from "fast-check"
import * as Zlib from "node:zlib"
import otlpRoot from "otlp-transformer-0214/build/esm/generated/root.js"
import { safeJson } from "../src/internal/shared/text.js"
import { PendingTraces } from "../src/internal/sink/pending.js"
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

/** What a terminal acts on, bar the newline between lines. */
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/
/** The colour codes the waterfall itself writes. */
const SGR = /\u001b\[[\d;]*m/g

const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("", "\u001b[2J", "\u202eevil", "a\u2028b", "\u009b31m", "\r\n", "__proto__", " ")
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
  start: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  end: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
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
    fc.bigInt(),
    fc.double(),
    fc.uint8Array({ maxLength: 8 }),
    fc.array(tie("receivedValue"), { maxLength: 4 }),
    fc.dictionary(text, tie("receivedValue"), { maxKeys: 3 })
  )
})) as { receivedValue: fc.Arbitrary<UserTraceSink.ReceivedValue> }

const time = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
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
  headers: fc.dictionary(fc.oneof(text, fc.constantFrom("x-routing", "content-type")), text, { maxKeys: 3 })
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
          for (const trace of UserTraceSink.toTraces(spans)) {
            expect(countNodes(trace.roots)).toBe(trace.spans.length)
            const rendered = renderTrace(trace, { color, width, routingHeader })
            expect(rendered.replace(SGR, "")).not.toMatch(UNSAFE)
            for (const span of trace.spans) {
              const line = safeJson(spanJson(span, routingHeader))
              expect(line).not.toMatch(UNSAFE)
              expect(JSON.parse(line).spanId).toBe(span.spanId)
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
