import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Scope, Stream } from "effect"
import { escapeUnsafe as sanitize, safeJson } from "../src/internal/shared/text.js"
import { PendingTraces } from "../src/internal/sink/pending.js"
import type { PendingLimits } from "../src/internal/sink/pending.js"
import { showOrReport } from "../src/internal/viewer/terminalText.js"
import { renderTrace, spanJson } from "../src/internal/viewer/waterfall.js"
import * as UserTraceSink from "../src/UserTraceSink.js"
import { eventually, tempSocketPath } from "./utils/receiver.js"
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

/** The nodes of a trace's trees in display order, walked without recursion. */
const walk = (roots: ReadonlyArray<UserTraceSink.ReceivedSpanNode>) => {
  const out: Array<{ readonly name: string; readonly depth: number }> = []
  const stack = roots.map((node) => ({ node, depth: 0 })).reverse()
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    out.push({ name: item.node.span.name, depth: item.depth })
    for (let i = item.node.children.length - 1; i >= 0; i--) {
      stack.push({ node: item.node.children[i], depth: item.depth + 1 })
    }
  }
  return out
}

/** Characters a terminal acts on that no output line may carry raw (newlines between lines aside). */
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

describe("trace trees and waterfalls of any size", () => {
  it("a chain of 100,000 spans: built and rendered without recursion, every row short", () => {
    const spans = chain(traceIdOf(0), 100_000).map((input) =>
      receivedSpan({
        traceId: input.traceId,
        spanId: input.spanId,
        parentSpanId: input.parentSpanId,
        name: input.name,
        startTimeUnixNano: input.start!,
        endTimeUnixNano: input.end!
      })
    )
    const [trace] = UserTraceSink.toTraces(spans.slice().reverse())
    const nodes = walk(trace.roots)
    expect(nodes).toHaveLength(100_000)
    expect(nodes[99_999]).toEqual({ name: "step-99999", depth: 99_999 })
    const lines = renderTrace(trace, { color: false, width: 100 }).split("\n")
    // Header, axis, one row per span.
    expect(lines).toHaveLength(2 + 100_000)
    expect(lines.every((line) => line.length <= 100)).toBe(true)
    // Deep rows show their depth, then the nearest levels of the tree.
    expect(lines.at(-1)).toMatch(/^\[99999\] +└─ step-99999 +█+ +[\d.]+ [nµm]?s$/)
  }, 60_000)

  it("a flat trace of 200,000 spans: one root, every child shown once", () => {
    const traceId = traceIdOf(1)
    const spans = Array.from({ length: 200_000 }, (_, i) =>
      receivedSpan({
        traceId,
        spanId: spanIdOf(i),
        parentSpanId: i === 0 ? undefined : spanIdOf(0),
        name: `s${i}`,
        startTimeUnixNano: 1_000n + BigInt(i),
        endTimeUnixNano: 500_000n
      }))
    const [trace] = UserTraceSink.toTraces(spans)
    expect(trace.roots).toHaveLength(1)
    expect(trace.roots[0].children).toHaveLength(199_999)
    const text = renderTrace(trace, { color: false, width: 120 })
    const rows = text.split("\n").slice(2)
    expect(rows).toHaveLength(200_000)
    expect(rows[0]).toMatch(/^s0 /)
    expect(rows[1]).toMatch(/^├─ s1 /)
    expect(rows.at(-1)).toMatch(/^└─ s199999 /)
  }, 60_000)

  it("parent cycles, self-parents and missing parents: every span shown once, none lost", () => {
    const traceId = traceIdOf(2)
    const spans = [
      receivedSpan({ traceId, spanId: spanIdOf(1), parentSpanId: spanIdOf(2), name: "a" }),
      receivedSpan({ traceId, spanId: spanIdOf(2), parentSpanId: spanIdOf(1), name: "b" }),
      receivedSpan({ traceId, spanId: spanIdOf(3), parentSpanId: spanIdOf(3), name: "self" }),
      receivedSpan({ traceId, spanId: spanIdOf(4), parentSpanId: spanIdOf(99), name: "orphan" })
    ]
    const [trace] = UserTraceSink.toTraces(spans)
    expect(walk(trace.roots).map((node) => node.name).sort()).toEqual(["a", "b", "orphan", "self"])
  })
})

describe("completedTraces' bounds (PendingTraces)", () => {
  const limits = (overrides: Partial<PendingLimits>): PendingLimits => ({
    quietMillis: 100,
    orphanMillis: 1_000,
    maxAgeMillis: 10_000,
    maxSpansPerTrace: 1_000,
    maxPendingSpans: 10_000,
    ...overrides
  })
  const collect = (overrides: Partial<PendingLimits>) => {
    const emitted: Array<UserTraceSink.ReceivedTrace> = []
    const reported: Array<readonly [string, unknown]> = []
    const pending = new PendingTraces(limits(overrides), (trace) => emitted.push(trace), (traceId, error) => {
      reported.push([traceId, error])
    })
    return { emitted, pending, reported }
  }
  const spanOf = (trace: number, span: number, parent?: number) =>
    receivedSpan({
      traceId: traceIdOf(trace),
      spanId: spanIdOf(span),
      parentSpanId: parent === undefined ? undefined : spanIdOf(parent),
      name: `t${trace}s${span}`
    })

  it("spans past maxSpansPerTrace are counted, not kept; duplicates are neither", () => {
    const { emitted, pending } = collect({ maxSpansPerTrace: 3 })
    for (let i = 0; i < 6; i++) pending.add(spanOf(0, i, i === 0 ? undefined : 0), 0)
    pending.add(spanOf(0, 1, 0), 0)
    expect(pending.size).toBe(3)
    pending.sweep(100)
    expect(emitted).toHaveLength(1)
    expect(emitted[0].spans.map((span) => span.name)).toEqual(["t0s0", "t0s1", "t0s2"])
    expect(emitted[0].droppedSpans).toBe(3)
    expect(emitted[0].incomplete).toBeUndefined()
    expect(pending.size).toBe(0)
  })

  it("past maxPendingSpans the oldest trace goes first, marked incomplete", () => {
    const { emitted, pending } = collect({ maxPendingSpans: 4 })
    for (let i = 1; i <= 3; i++) pending.add(spanOf(1, i, 0), 0)
    pending.add(spanOf(2, 1, 0), 1)
    expect(emitted).toEqual([])
    pending.add(spanOf(3, 1, 0), 2)
    expect(emitted.map((trace) => [trace.traceId, trace.spans.length, trace.incomplete])).toEqual([
      [traceIdOf(1), 3, "maxPendingSpans"]
    ])
    expect(pending.size).toBe(2)
    // The trace that would overflow is itself the oldest: it goes, and the new span starts it again.
    const single = collect({ maxPendingSpans: 2 })
    for (let i = 1; i <= 3; i++) single.pending.add(spanOf(4, i, 0), 0)
    expect(single.emitted.map((trace) => trace.spans.length)).toEqual([2])
    expect(single.pending.size).toBe(1)
  })

  it("a trace that keeps growing without a root goes at maxTraceAge, marked incomplete; then starts again", () => {
    const { emitted, pending } = collect({ maxAgeMillis: 1_000, orphanMillis: 500 })
    let now = 0
    for (; now < 1_000; now += 100) {
      pending.add(spanOf(5, now + 1, 0), now)
      pending.sweep(now)
    }
    expect(emitted).toEqual([])
    pending.sweep(now)
    expect(emitted.map((trace) => [trace.spans.length, trace.incomplete])).toEqual([[10, "maxTraceAge"]])
    pending.add(spanOf(5, 5_000, 0), now)
    pending.flush()
    expect(emitted.map((trace) => [trace.spans.length, trace.incomplete])).toEqual([[10, "maxTraceAge"], [
      1,
      undefined
    ]])
  })

  it("a trace whose tree cannot be built is reported and emitted flat; the others are emitted as usual", () => {
    const { emitted, pending, reported } = collect({})
    const broken = spanOf(6, 1)
    const brokenLate = Object.defineProperty({ ...spanOf(6, 2, 1) }, "startTimeUnixNano", {
      get: () => {
        throw new Error("no start\n\u001b[31m")
      }
    })
    pending.add(spanOf(7, 1), 0)
    pending.add(broken, 0)
    pending.add(brokenLate, 0)
    pending.add(spanOf(8, 1), 0)
    pending.sweep(100)
    expect(reported.map(([traceId]) => traceId)).toEqual([traceIdOf(6)])
    expect(emitted.map((trace) => [trace.traceId, trace.roots.length, trace.spans.length])).toEqual([
      [traceIdOf(7), 1, 1],
      [traceIdOf(6), 2, 2],
      [traceIdOf(8), 1, 1]
    ])
  })
})

describe("completedTraces on a running sink", () => {
  it.live("an unrooted trace that keeps growing is shown at maxTraceAge, capped and counted; others still shown", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      // Spans retained: the stream replays what came before it subscribed, so none is missed.
      const sink = yield* UserTraceSink.make({ socketPath: tempSocketPath() }).pipe(Scope.extend(scope))
      const traces: Array<UserTraceSink.ReceivedTrace> = []
      const consuming = yield* Effect.fork(Stream.runForEach(
        sink.completedTraces({
          quietPeriod: "50 millis",
          orphanTimeout: "1 minute",
          maxTraceAge: "500 millis",
          maxSpansPerTrace: 30
        }),
        (trace) => Effect.sync(() => traces.push(trace))
      ))
      const growing = traceIdOf(10)
      let sent = 0
      let delivered = 0
      const feeding = yield* Effect.fork(Effect.forever(Effect.suspend(() => {
        const batch = Array.from(
          { length: 10 },
          () => ({ traceId: growing, spanId: spanIdOf(++sent), parentSpanId: spanIdOf(0), name: "leaf" })
        )
        return send(targetOf(sink), protobufRequest(batch)).pipe(
          Effect.andThen(() => (delivered += batch.length)),
          Effect.zipRight(Effect.sleep("20 millis"))
        )
      })))
      yield* send(targetOf(sink), protobufRequest(chain(traceIdOf(11), 3)))
      yield* eventually(() => traces.some((trace) => trace.traceId === growing))
      const first = traces.find((trace) => trace.traceId === growing)!
      expect(first.incomplete).toBe("maxTraceAge")
      expect(first.spans).toHaveLength(30)
      expect(first.droppedSpans).toBeGreaterThan(0)
      expect(traces.find((trace) => trace.traceId === traceIdOf(11))?.spans).toHaveLength(3)
      // Closing while it still grows: what is pending is emitted, and the stream ends.
      yield* eventually(() => delivered > first.spans.length + first.droppedSpans!)
      yield* Scope.close(scope, Exit.void)
      yield* Fiber.interrupt(feeding)
      yield* Fiber.join(consuming)
      const shown = traces.filter((trace) => trace.traceId === growing)
      expect(shown.length).toBeGreaterThanOrEqual(2)
      const kept = shown.reduce((sum, trace) => sum + trace.spans.length + (trace.droppedSpans ?? 0), 0)
      expect(kept + 3).toBe((yield* sink.stats).spans)
    }))

  it.live("bad limits are defects", () =>
    Effect.gen(function*() {
      const sink = yield* UserTraceSink.make({ port: 0 })
      const exit = yield* Effect.exit(Stream.runDrain(sink.completedTraces({ maxSpansPerTrace: 0 })))
      expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toMatch(/maxSpansPerTrace must be a positive integer/)
    }).pipe(Effect.scoped))
})

describe("OTLP/JSON bodies that are too deep or the wrong shape", () => {
  it.live("nesting past 256 levels gets 400 before any parse; brackets inside strings do not count", () =>
    Effect.gen(function*() {
      const sink = yield* UserTraceSink.make({ socketPath: tempSocketPath() })
      const json = { headers: { "content-type": "application/json" } }
      const deep = yield* send(targetOf(sink), "[".repeat(1_000_000) + "]".repeat(1_000_000), json)
      expect(deep.status).toBe(400)
      expect(JSON.parse(deep.body.toString())).toEqual({
        code: 3,
        message: expect.stringMatching(/nested deeper than 256/)
      })
      const deepObject = yield* send(targetOf(sink), `{"resourceSpans":${"[".repeat(300)}${"]".repeat(300)}}`, json)
      expect(deepObject.status).toBe(400)
      const bracketsInText = jsonRequest([{
        ...chain(traceIdOf(20), 1)[0],
        attributes: { text: "[{\"".repeat(10_000) }
      }])
      expect((yield* send(targetOf(sink), bracketsInText, json)).status).toBe(200)
      expect((yield* sink.received).map((span) => span.attributes)).toEqual([[["text", "[{\"".repeat(10_000)]]])
    }).pipe(Effect.scoped))

  it.live("wrong shapes get 400 with where and what; unknown fields are ignored", () =>
    Effect.gen(function*() {
      const sink = yield* UserTraceSink.make({ socketPath: tempSocketPath() })
      const [span] = JSON.parse(jsonRequest(chain(traceIdOf(21), 1))).resourceSpans[0].scopeSpans[0].spans
      const withSpan = (fields: Record<string, unknown>) => ({
        resourceSpans: [{ scopeSpans: [{ spans: [{ ...span, ...fields }] }] }]
      })
      const bad: ReadonlyArray<readonly [unknown, RegExp]> = [
        [[], /ExportTraceServiceRequest object expected/],
        ["text", /ExportTraceServiceRequest object expected/],
        [null, /ExportTraceServiceRequest object expected/],
        [{ resourceSpans: {} }, /resourceSpans: array expected/],
        [{ resourceSpans: [[]] }, /resourceSpans\[0\]: ResourceSpans object expected/],
        [{ resourceSpans: [{ scopeSpans: [{ spans: [[span]] }] }] }, /spans\[0\]: Span object expected/],
        [withSpan({ name: 5 }), /spans\[0\]\.name: string expected/],
        [withSpan({ kind: true }), /kind: enum name or number expected/],
        [withSpan({ startTimeUnixNano: "soon" }), /startTimeUnixNano: integer expected/],
        [withSpan({ attributes: [{ key: "k", value: { intValue: 1.5 } }] }), /intValue: integer expected/],
        [withSpan({ attributes: [{ key: "k", value: { arrayValue: { values: {} } } }] }), /values: array expected/],
        [withSpan({ status: [] }), /status: Status object expected/]
      ]
      for (const [body, message] of bad) {
        const answer = yield* send(targetOf(sink), JSON.stringify(body), {
          headers: { "content-type": "application/json" }
        })
        expect([answer.status, JSON.parse(answer.body.toString()).message]).toEqual([
          400,
          expect.stringMatching(message)
        ])
      }
      const extra = { ...withSpan({ unknownField: [1, { x: 2 }] }), somethingNew: true }
      const ok = yield* send(targetOf(sink), JSON.stringify(extra), { headers: { "content-type": "application/json" } })
      expect(ok.status).toBe(200)
      expect(yield* sink.stats).toMatchObject({ accepted: 1, rejected: bad.length, spans: 1 })
    }).pipe(Effect.scoped))
})

describe("output that a terminal cannot be tricked by", () => {
  const hostile = "a\u009b31mb\u202ec\u2028d\u2029e\u200ff\u061cg\u2066h\u0085i\u007fj\u001bk"

  it("the waterfall escapes C0/C1 controls, bidi controls and U+2028/U+2029", () => {
    expect(sanitize(hostile)).toBe(
      "a\\u009b31mb\\u202ec\\u2028d\\u2029e\\u200ff\\u061cg\\u2066h\\u0085i\\u007fj\\u001bk"
    )
    const span = receivedSpan({
      name: hostile,
      attributes: [[hostile, hostile]],
      statusMessage: hostile,
      status: "error",
      headers: { [`x-${hostile}`]: hostile }
    })
    const text = renderTrace(UserTraceSink.toTraces([span])[0], { color: false })
    expect(text.split("\n").filter((line) => UNSAFE.test(line))).toEqual([])
  })

  it("--json lines escape them as \\uXXXX and stay the same JSON", () => {
    const span = receivedSpan({ name: hostile, attributes: [[hostile, [hostile, { [hostile]: hostile }]]] })
    const line = safeJson(spanJson(span, undefined))
    expect(UNSAFE.test(line)).toBe(false)
    expect(line).toContain("a\\u009b31mb\\u202ec\\u2028d\\u2029e")
    expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(spanJson(span, undefined))))
  })

  it("a trace that cannot be rendered is reported in one escaped line; the next is rendered", () => {
    const good = UserTraceSink.toTraces([receivedSpan({ name: "fine" })])[0]
    const broken = {
      ...good,
      get spans(): ReadonlyArray<UserTraceSink.ReceivedSpan> {
        throw new Error("bad\nline \u001b[2J\u202e")
      }
    }
    const reports: Array<string> = []
    const shown = [broken, good].map((trace) =>
      showOrReport(
        () => `trace ${trace.traceId}`,
        () => renderTrace(trace, { color: false }),
        (line) => reports.push(line)
      )
    )
    expect(shown[0]).toBeUndefined()
    expect(shown[1]).toContain("fine")
    expect(reports).toEqual([`trace ${good.traceId} could not be shown: Error: bad\\nline \\u001b[2J\\u202e`])
  })
})
