// Chunk buffers kept for the next chunks: which buffers come back, and a receiver that answers before
// it has read a body, whose unread bytes must stay the ones encoded for that body's tenant.
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { RoutingMetadata, UserTracing } from "../../../src/index.js"
import { SpareBuffers } from "../../../src/internal/export/spareBuffers.js"
import * as Transport from "../../../src/internal/export/transport.js"
import { startEarlyAnswerServer } from "../../utils/earlyAnswerServer.js"
import { settingsFor, withPipeline } from "../../utils/pipeline.js"
import { eventually, ExportTraceServiceRequest, makeReceiver } from "../../utils/receiver.js"
import { checkStrictWire } from "../../utils/strictWire.js"

describe("spare buffers", () => {
  it("a kept buffer serves a chunk wanting up to a third less, within the limit; else a new one of the capacity", () => {
    const spares = new SpareBuffers(1_000)
    const kept = Buffer.allocUnsafeSlow(30_000)
    spares.give(kept)
    expect(spares.take(30_001, Infinity)).not.toBe(kept)
    expect(spares.take(20_000, 29_999)).not.toBe(kept)
    const fresh = spares.take(19_000, Infinity)
    expect(fresh).not.toBe(kept)
    expect(fresh.length).toBe(19_000)
    expect(spares.take(20_000, 30_000)).toBe(kept)
    expect(spares.take(20_000, 30_000)).not.toBe(kept)
  })

  it("keeps whole buffers only: a view of another buffer never serves a chunk", () => {
    const spares = new SpareBuffers(1_000)
    const whole = Buffer.allocUnsafeSlow(60_000)
    spares.give(whole.subarray(0, 30_000))
    spares.give(whole.subarray(30_000))
    expect(spares.take(30_000, Infinity).buffer).not.toBe(whole.buffer)
  })

  it("keeps the two newest large buffers and up to 64 of the small size", () => {
    const spares = new SpareBuffers(1_000)
    const large = [1, 2, 3].map(() => Buffer.allocUnsafeSlow(10_000))
    for (const buf of large) spares.give(buf)
    expect([spares.take(10_000, Infinity), spares.take(10_000, Infinity), spares.take(10_000, Infinity)])
      .toEqual([large[2], large[1], expect.anything()])
    const small = Array.from({ length: 65 }, () => Buffer.allocUnsafeSlow(1_000))
    for (const buf of small) spares.give(buf)
    const taken = new Set(Array.from({ length: 65 }, () => spares.take(1_000, 1_000)))
    expect(small.filter((buf) => taken.has(buf))).toHaveLength(64)
  })
})

const earlyAnswerReceiver = (answersEarly: (request: number) => boolean) =>
  Effect.acquireRelease(
    Effect.promise(() => startEarlyAnswerServer(answersEarly)),
    (receiver) => Effect.promise(receiver.close)
  )

describe("a sent body's memory is let go only when nothing reads it", () => {
  it.live("the transport says a body is still read from until the receiver has read it", () =>
    Effect.gen(function*() {
      const receiver = yield* earlyAnswerReceiver(() => true)
      const transport = Transport.make({
        otlpUds: {
          socketPath: receiver.socketPath,
          routingHeaderName: "x-user-routing",
          numTasks: 1,
          maxBatchSize: 512,
          maxBatchBytes: 8 * 1024 * 1024,
          requestTimeout: Duration.seconds(5),
          maxAttempts: 1,
          compression: "none"
        }
      })
      yield* Effect.addFinalizer(() => Effect.sync(transport.close))
      // Far more than a Unix socket's buffers hold.
      const body = Buffer.alloc(4 * 1024 * 1024, 7)
      expect(transport.released(body)).toBe(true)
      const answer = yield* transport.send("{\"tenant\":\"a\"}", body)
      expect(answer.status).toBe(200)
      expect(transport.released(body)).toBe(false)
      receiver.release()
      yield* eventually(() => receiver.requests.length === 1)
      yield* eventually(() => transport.released(body))
      expect(receiver.requests[0].body.equals(body)).toBe(true)
    }).pipe(Effect.scoped))

  it.live("a body whose request was given up while it waited for a connection is held until undici ends it", () =>
    Effect.gen(function*() {
      // A receiver that never answers: the pool's two connections stay busy with the first two
      // requests (whose small bodies are written out at once), and the third waits in undici's queue.
      const receiver = yield* makeReceiver({ behaviour: () => "never" })
      const transport = Transport.make({
        otlpUds: {
          socketPath: receiver.socketPath,
          routingHeaderName: "x-user-routing",
          numTasks: 1,
          maxBatchSize: 512,
          maxBatchBytes: 8 * 1024 * 1024,
          requestTimeout: Duration.seconds(30),
          maxAttempts: 1,
          compression: "none"
        }
      })
      const bodies = [1, 2, 3].map((n) => Buffer.alloc(1024, n))
      const send = (body: Buffer) => Effect.fork(transport.send("{\"tenant\":\"a\"}", body))
      yield* send(bodies[0])
      yield* send(bodies[1])
      yield* eventually(() => receiver.received() === 2)
      const third = yield* send(bodies[2])
      yield* eventually(() => !transport.released(bodies[2]))
      // Given up here (interrupted) while it waited: undici still holds it, though every connection
      // has written out what it was handed.
      yield* Fiber.interrupt(third)
      expect(transport.released(bodies[2])).toBe(false)
      // Closing the pool ends it in undici, unwritten.
      transport.close()
      yield* eventually(() => transport.released(bodies[2]))
      expect(receiver.received()).toBe(2)
    }).pipe(Effect.scoped))

  it.live(
    "a body's unread bytes stay its own tenant's spans, though the next tenant's chunk wants a buffer of its size",
    () =>
      Effect.gen(function*() {
        // The second request (tenant a's) is answered as soon as its head is read.
        const receiver = yield* earlyAnswerReceiver((request) => request === 1)
        const tenantA = RoutingMetadata.json({ tenant: "a" })
        const tenantB = RoutingMetadata.json({ tenant: "b" })
        // 64 spans of 16 KB: one full chunk, a body far larger than a Unix socket's buffers, the same
        // size for either tenant.
        const batch = (routing: RoutingMetadata.RoutingMetadata, mark: string) =>
          Effect.forEach(Array.from({ length: 64 }, (_, i) => i), (i) =>
            Effect.void.pipe(
              UserTracing.withUserTrace(`${mark}-${String(i).padStart(2, "0")}`, {
                routing,
                attributes: Object.fromEntries(["w", "x", "y", "z"].map((key) => [key, mark.repeat(4_000)]))
              })
            ), { discard: true })
        yield* withPipeline(
          settingsFor(receiver.socketPath, { maxBatchSize: 64 }),
          Effect.gen(function*() {
            // Tenant b's first chunk is sent and read whole: its group now starts chunks of that size.
            yield* batch(tenantB, "b")
            yield* UserTracing.forceFlush
            // Tenant a's chunk is answered while most of it is still to be written.
            yield* batch(tenantA, "a")
            yield* UserTracing.forceFlush
            expect(receiver.answeredEarly()).toBe(1)
            // Tenant b's next spans are encoded as they end, into a chunk of the same size.
            yield* batch(tenantB, "b")
            receiver.release()
            yield* eventually(() => receiver.requests.length === 3)
          })
        )
        expect(receiver.requests.map((request) => request.routing)).toEqual([
          "{\"tenant\":\"b\"}",
          "{\"tenant\":\"a\"}",
          "{\"tenant\":\"b\"}"
        ])
        for (const request of receiver.requests) {
          const mark = request.routing === "{\"tenant\":\"a\"}" ? "a" : "b"
          checkStrictWire(request.body)
          const spans = ExportTraceServiceRequest.decode(request.body).resourceSpans[0].scopeSpans[0].spans
          expect(spans).toHaveLength(64)
          for (const span of spans) {
            expect(span.name.startsWith(`${mark}-`)).toBe(true)
            for (const attribute of span.attributes) expect(attribute.value.stringValue).toBe(mark.repeat(4_000))
          }
        }
      }).pipe(Effect.scoped),
    30_000
  )
})
