import { describe, expect, it } from "@effect/vitest"
import { PendingTraces } from "../../../src/internal/sink/pending.js"
import type { PendingLimits } from "../../../src/internal/sink/pending.js"
import { renderTrace } from "../../../src/internal/viewer/waterfall.js"
import type * as UserTraceSink from "../../../src/UserTraceSink.js"
import { receivedSpan, spanIdOf, traceIdOf } from "../../utils/sinkClient.js"

const limits: PendingLimits = {
  quietMillis: 100,
  orphanMillis: 1_000,
  maxAgeMillis: 60_000,
  maxSpansPerTrace: 10_000,
  maxPendingSpans: 50_000
}

const collect = (overrides: Partial<PendingLimits> = {}) => {
  const emitted: Array<UserTraceSink.ReceivedTrace> = []
  const pending = new PendingTraces({ ...limits, ...overrides }, (trace) => emitted.push(trace), (traceId, error) => {
    throw new Error(`trace ${traceId} reported: ${String(error)}`)
  })
  return { emitted, pending }
}

const traceId = traceIdOf(0)

describe("the per-trace cap keeps the root", () => {
  it("10,001 spans, the root last, against a cap of 10,000: the root kept, one span cut and said once", () => {
    const { emitted, pending } = collect()
    // 100 parents of 99 leaves each, then the root: the order an exporter sends them (ended first, first).
    for (let parent = 0; parent < 100; parent++) {
      for (let leaf = 0; leaf < 99; leaf++) {
        pending.add(
          receivedSpan({
            traceId,
            spanId: spanIdOf(1_000 + parent * 100 + leaf),
            parentSpanId: spanIdOf(1 + parent),
            name: `leaf-${parent}-${leaf}`
          }),
          0
        )
      }
      pending.add(
        receivedSpan({ traceId, spanId: spanIdOf(1 + parent), parentSpanId: spanIdOf(0), name: `parent-${parent}` }),
        0
      )
    }
    pending.add(receivedSpan({ traceId, spanId: spanIdOf(0), name: "root" }), 0)
    expect(pending.size).toBe(10_000)
    pending.sweep(100)
    expect(emitted).toHaveLength(1)
    const [trace] = emitted
    expect(trace.droppedSpans).toBe(1)
    expect(trace.spans).toHaveLength(10_000)
    expect(trace.roots.map((node) => node.span.name)).toEqual(["root"])
    expect(trace.roots[0].children).toHaveLength(100)
    const text = renderTrace(trace, { color: false, width: 120 })
    expect(text).not.toContain("not received")
    expect(text.split("\n").filter((line) => line.includes("not kept"))).toEqual([
      "  1 more span(s) received and not kept (over the spans-per-trace cap)"
    ])
  })

  it("the span making room is one no kept span names as its parent; a second root is cut like any span", () => {
    const { emitted, pending } = collect({ maxSpansPerTrace: 3 })
    pending.add(receivedSpan({ traceId, spanId: spanIdOf(2), parentSpanId: spanIdOf(1), name: "leaf-a" }), 0)
    pending.add(receivedSpan({ traceId, spanId: spanIdOf(3), parentSpanId: spanIdOf(1), name: "leaf-b" }), 0)
    pending.add(receivedSpan({ traceId, spanId: spanIdOf(1), parentSpanId: spanIdOf(0), name: "middle" }), 0)
    pending.add(receivedSpan({ traceId, spanId: spanIdOf(9), parentSpanId: spanIdOf(1), name: "over" }), 0)
    pending.add(receivedSpan({ traceId, spanId: spanIdOf(0), name: "root" }), 0)
    // A remote-parent root is root-like too, but the trace has its root now.
    pending.add(
      receivedSpan({ traceId, spanId: spanIdOf(7), parentSpanId: spanIdOf(8), remoteParent: true, name: "root-2" }),
      0
    )
    // A span already seen (the one that made room included) is neither kept nor counted again.
    pending.add(receivedSpan({ traceId, spanId: spanIdOf(3), parentSpanId: spanIdOf(1), name: "leaf-b" }), 0)
    pending.sweep(100)
    const [trace] = emitted
    expect(trace.spans.map((span) => span.name)).toEqual(["leaf-a", "middle", "root"])
    expect(trace.droppedSpans).toBe(3)
    expect(trace.roots.map((node) => node.span.name)).toEqual(["root"])
  })

  it("a trace of roots only past the cap: the first kept, the rest counted", () => {
    const { emitted, pending } = collect({ maxSpansPerTrace: 2 })
    for (let i = 0; i < 5; i++) pending.add(receivedSpan({ traceId, spanId: spanIdOf(i), name: `r${i}` }), 0)
    pending.flush()
    expect(emitted.map((trace) => [trace.spans.map((span) => span.name), trace.droppedSpans])).toEqual([
      [["r0", "r1"], 3]
    ])
  })
})
