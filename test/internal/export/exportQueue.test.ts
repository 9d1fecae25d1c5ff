// The export queue on its own (plain synchronous code): the fair share's heap against a scan, the
// bounds and counts under random traffic, and flushes that wait for exactly what came before.
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { RoutingMetadata } from "../../../src/index.js"
import { Group, GroupHeap } from "../../../src/internal/export/chunk.js"
import { makeEnvelope } from "../../../src/internal/export/encoding.js"
import { type Chunk, CHUNK_OBJECT_BYTES, ExportQueue, MAX_IDLE_GROUPS } from "../../../src/internal/export/queue.js"
import type { FinishedUserSpan } from "../../../src/UserSpan.js"
import { ExportTraceServiceRequest } from "../../utils/receiver.js"

const routings = new Map<string, RoutingMetadata.RoutingMetadata>()
const routingOf = (tenant: string) => {
  let routing = routings.get(tenant)
  if (routing === undefined) routings.set(tenant, routing = RoutingMetadata.json({ tenant }))
  return routing
}

/** A finished span of `tenant` whose encoding grows with `padding`. */
const span = (tenant: string, padding = 0, name = "s"): FinishedUserSpan => ({
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
  parentSpanId: undefined,
  remoteParent: false,
  traceFlags: 1,
  traceState: undefined,
  routing: routingOf(tenant),
  name,
  kind: "internal",
  startTime: 1n,
  endTime: 2n,
  attributes: new Map(padding > 0 ? [["pad", "p".repeat(padding)]] : []),
  events: [],
  links: [],
  status: "unset",
  statusMessage: "",
  droppedAttributesCount: 0,
  droppedEventsCount: 0,
  droppedLinksCount: 0
})

const makeQueue = (bounds: { maxQueueSize: number | null; maxQueueBytes: number | null; maxBatchBytes?: number }) => {
  const flushed: Array<number> = []
  const queue = new ExportQueue({
    envelope: makeEnvelope({ serviceName: "s" }),
    maxQueueSize: bounds.maxQueueSize,
    maxQueueBytes: bounds.maxQueueBytes,
    maxBatchSize: 16,
    maxBatchBytes: bounds.maxBatchBytes ?? 4_096,
    maxRoutingValueBytes: 4_096,
    handOff: () => {},
    onFlushed: () => flushed.push(flushed.length)
  })
  return { queue, flushed }
}

/** The queued chunks, oldest first, as workers would take them. */
const queuedChunks = (queue: ExportQueue): Array<Chunk> => {
  const chunks: Array<Chunk> = []
  for (let chunk = queue.peek(); chunk !== undefined; chunk = chunk.next) chunks.push(chunk)
  return chunks
}

describe("the fair share's heap", () => {
  it("the heaviest group other than one is the one a scan finds, through inserts, changes and removals", () =>
    fc.assert(fc.property(
      fc.array(
        fc.tuple(fc.constantFrom("insert", "remove", "grow", "shrink"), fc.nat(20), fc.integer({ min: 1, max: 50 })),
        { maxLength: 300 }
      ),
      (ops) => {
        const groups = Array.from({ length: 21 }, (_, i) => new Group(`g${i}`, `g${i}`, 2))
        const heap = new GroupHeap(true)
        const members = new Set<Group>()
        for (const [op, index, amount] of ops) {
          const group = groups[index]
          if (op === "insert" && !members.has(group)) {
            group.spans = amount
            members.add(group)
            heap.insert(group)
          } else if (op === "remove" && members.has(group)) {
            members.delete(group)
            heap.remove(group)
          } else if (op === "grow" && members.has(group)) {
            group.spans += amount
            heap.up(group)
          } else if (op === "shrink" && members.has(group)) {
            group.spans = Math.max(0, group.spans - amount)
            heap.down(group)
          }
          expect(heap.size).toBe(members.size)
          for (const except of [group, groups[0]]) {
            const others = [...members].filter((g) => g !== except)
            const heaviest = heap.heaviest(except)
            if (others.length === 0) expect(heaviest).toBeUndefined()
            else expect(heaviest?.spans).toBe(Math.max(...others.map((g) => g.spans)))
          }
        }
      }
    )))
})

describe("bounds and counts under random traffic", () => {
  const traffic = fc.array(
    fc.oneof(
      fc.record({ op: fc.constant("add" as const), tenant: fc.nat(30), padding: fc.constantFrom(0, 10, 200, 1_500) }),
      fc.record({ op: fc.constant("take" as const) }),
      fc.record({ op: fc.constant("finish" as const), exported: fc.boolean(), reusable: fc.boolean() })
    ),
    { maxLength: 400 }
  )

  it("allocated bytes are the queued chunks' capacity and objects plus their groups', within maxQueueBytes", () =>
    fc.assert(
      fc.property(
        traffic,
        fc.constantFrom(null, 40),
        fc.constantFrom(null, 6_000, 20_000),
        (ops, maxQueueSize, maxQueueBytes) => {
          const { queue } = makeQueue({ maxQueueSize, maxQueueBytes })
          const inFlight: Array<Chunk> = []
          // What each chunk in flight sends, as it was taken: nothing may write into it until it is finished.
          const bodies = new Map<Chunk, Buffer>()
          // Buffers of chunks finished as still read from: never another chunk's.
          const stillRead = new Set<ArrayBufferLike>()
          let exported = 0
          let failed = 0
          for (const step of ops) {
            if (step.op === "add") queue.add(span(`t${step.tenant}`, step.padding))
            else if (step.op === "take") {
              const chunk = queue.take()
              if (chunk !== undefined) {
                inFlight.push(chunk)
                bodies.set(chunk, Buffer.from(queue.body(chunk)))
              }
            } else {
              const chunk = inFlight.shift()
              if (chunk !== undefined) {
                if (step.exported) exported += chunk.count
                else failed += chunk.count
                if (!step.reusable) stillRead.add(chunk.buf.buffer)
                queue.finish(chunk, step.exported ? chunk.count : 0, step.exported ? 0 : chunk.count, step.reusable)
                bodies.delete(chunk)
              }
            }
            for (const [chunk, body] of bodies) expect(Buffer.from(queue.body(chunk))).toEqual(body)
            const chunks = queuedChunks(queue)
            const buffers = [...chunks, ...inFlight].map((c) => c.buf.buffer)
            expect(new Set(buffers).size).toBe(buffers.length)
            for (const buffer of buffers) expect(stillRead.has(buffer)).toBe(false)
            const groups = new Set(chunks.map((c) => c.group))
            const capacity = chunks.reduce((n, c) => n + c.buf.length + CHUNK_OBJECT_BYTES, 0) +
              [...groups].reduce((n, g) => n + g.ownBytes, 0)
            expect(queue.allocated).toBe(capacity)
            if (maxQueueBytes !== null) expect(queue.allocated).toBeLessThanOrEqual(maxQueueBytes)
            expect(queue.queuedSpans).toBe(chunks.reduce((n, c) => n + c.count, 0))
            if (maxQueueSize !== null) expect(queue.queuedSpans).toBeLessThanOrEqual(maxQueueSize)
            // Groups with something queued or in flight are known, and a bounded number of idle ones.
            const active = new Set([...groups, ...inFlight.map((c) => c.group)])
            expect(queue.groupCount).toBeGreaterThanOrEqual(active.size)
            expect(queue.groupCount).toBeLessThanOrEqual(active.size + MAX_IDLE_GROUPS)
            const lifetime = queue.lifetime()
            const held = queue.queuedSpans + inFlight.reduce((n, c) => n + c.count, 0)
            expect(lifetime.total).toBe(held + lifetime.exported + lifetime.dropped + lifetime.failed)
            expect([lifetime.exported, lifetime.failed]).toEqual([exported, failed])
          }
        }
      ),
      { numRuns: 150 }
    ))

  it("a tenant under its fair share is never dropped itself while a larger one holds more", () => {
    const { queue } = makeQueue({ maxQueueSize: null, maxQueueBytes: 20_000 })
    for (let i = 0; i < 500; i++) queue.add(span("flood", 200))
    const flooded = queue.lifetime()
    expect(flooded.dropped).toBeGreaterThan(0)
    for (let i = 0; i < 10; i++) queue.add(span(`small-${i}`, 10))
    const after = queue.lifetime()
    const tenants = new Map<string, number>()
    for (const chunk of queuedChunks(queue)) {
      tenants.set(chunk.group.header, (tenants.get(chunk.group.header) ?? 0) + chunk.count)
    }
    for (let i = 0; i < 10; i++) expect(tenants.get(JSON.stringify({ tenant: `small-${i}` }))).toBe(1)
    // Room was made by dropping the flood's oldest spans.
    expect(after.dropped).toBeGreaterThan(flooded.dropped)
    expect(queue.allocated).toBeLessThanOrEqual(20_000)
  })

  it("a chunk whose oldest spans made room for another tenant sends exactly its newer spans", () => {
    // Spans whose encoded length takes one, two and three bytes: the chunk finds where each starts
    // from the encoding itself.
    const paddings = [10, 300, 20_000]
    const { queue } = makeQueue({ maxQueueSize: 12, maxQueueBytes: null, maxBatchBytes: 1_000_000 })
    const names: Array<string> = []
    for (let i = 0; i < 12; i++) {
      names.push(`flood-${i}`)
      queue.add(span("flood", paddings[i % 3], `flood-${i}`))
    }
    // Each small tenant is under its share: the flood's oldest span makes room for it.
    for (let i = 0; i < 5; i++) queue.add(span(`small-${i}`, 0, `small-${i}`))
    expect(queue.lifetime()).toMatchObject({ total: 17, dropped: 5 })
    const flood = queuedChunks(queue).find((chunk) => chunk.group.header === JSON.stringify({ tenant: "flood" }))!
    expect(queue.begin(flood)).toBe(true)
    const decoded = ExportTraceServiceRequest.decode(queue.body(flood))
    expect(decoded.resourceSpans[0].scopeSpans[0].spans.map((s: { name: string }) => s.name)).toEqual(names.slice(5))
  })

  it("100,000 one-span tenants through a full queue: the bounds hold, idle groups are bounded", () => {
    const { queue } = makeQueue({ maxQueueSize: 1_000, maxQueueBytes: 200_000 })
    for (let i = 0; i < 100_000; i++) queue.add(span(`t${i}`))
    expect(queue.queuedSpans).toBeLessThanOrEqual(1_000)
    expect(queue.allocated).toBeLessThanOrEqual(200_000)
    expect(queue.groupCount).toBeLessThanOrEqual(
      new Set(queuedChunks(queue).map((c) => c.group)).size + MAX_IDLE_GROUPS
    )
    const lifetime = queue.lifetime()
    expect(lifetime.total).toBe(100_000)
    expect(lifetime.dropped + queue.queuedSpans).toBe(100_000)
  })
  it("tenants whose only span is dropped are not known for ever", () => {
    const { queue } = makeQueue({ maxQueueSize: null, maxQueueBytes: 2_000 })
    for (let i = 0; i < 5_000; i++) queue.add(span(`t${i}`, 3_000))
    expect(queue.lifetime()).toMatchObject({ total: 5_000, dropped: 5_000 })
    expect(queue.groupCount).toBeLessThanOrEqual(MAX_IDLE_GROUPS)
  })
})

describe("flushes", () => {
  it("a flush waits for the chunks before it, in whatever order they settle, and not for later ones", () => {
    const { flushed, queue } = makeQueue({ maxQueueSize: null, maxQueueBytes: null })
    queue.add(span("a"))
    queue.add(span("b"))
    const first = queue.flushPoint()!
    queue.add(span("c"))
    const second = queue.flushPoint()!
    // A repeated flush with nothing new shares the last one's point.
    expect(queue.flushPoint()).toBe(second)
    const [a, b, c] = [queue.take()!, queue.take()!, queue.take()!]
    expect([a, b, c].map((chunk) => chunk.group.header)).toEqual([
      "{\"tenant\":\"a\"}",
      "{\"tenant\":\"b\"}",
      "{\"tenant\":\"c\"}"
    ])
    queue.finish(c, 1, 0)
    queue.finish(b, 1, 0)
    expect([queue.isFlushedThrough(first), queue.isFlushedThrough(second)]).toEqual([false, false])
    expect(flushed).toEqual([])
    queue.finish(a, 1, 0)
    expect([queue.isFlushedThrough(first), queue.isFlushedThrough(second)]).toEqual([true, true])
    expect(flushed.length).toBeGreaterThan(0)
    expect(queue.flushPoint()).toBeUndefined()
    // Idle now: kept among the idle groups, at most MAX_IDLE_GROUPS of them.
    expect(queue.groupCount).toBe(3)
    for (let i = 0; i < 2 * MAX_IDLE_GROUPS; i++) {
      queue.add(span(`other-${i}`))
      queue.finish(queue.take()!, 1, 0)
    }
    expect(queue.groupCount).toBe(MAX_IDLE_GROUPS)
  })

  it("closing counts what is queued and in flight as failed; a late finish changes nothing", () => {
    const { queue } = makeQueue({ maxQueueSize: null, maxQueueBytes: null })
    queue.add(span("a"))
    queue.add(span("b"))
    const taken = queue.take()!
    expect(queue.close()).toEqual({ queuedSpans: 1, inFlightRequests: 1, inFlightSpans: 1 })
    queue.finish(taken, 1, 0)
    queue.add(span("c"))
    expect(queue.lifetime()).toEqual({ total: 3, exported: 0, dropped: 1, failed: 2 })
    expect(queue.groupCount).toBe(0)
  })
})
