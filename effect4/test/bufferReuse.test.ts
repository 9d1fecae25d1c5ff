// A receiver that answers before it has read a body: the body's unread bytes stay the ones encoded
// for its tenant, though the exporter keeps chunk buffers for the next chunks.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { startEarlyAnswerServer } from "../../test/utils/earlyAnswerServer.js"
import { checkStrictWire } from "../../test/utils/strictWire.js"
import { RoutingMetadata, UserTracing } from "../src/index.js"
import { settingsFor, withPipeline } from "./utils/pipeline.js"
import { eventually, ExportTraceServiceRequest } from "./utils/receiver.js"

const earlyAnswerReceiver = (answersEarly: (request: number) => boolean) =>
  Effect.acquireRelease(
    Effect.promise(() => startEarlyAnswerServer(answersEarly)),
    (receiver) => Effect.promise(receiver.close)
  )

describe("a receiver that answers before it has read the body (Effect 4)", () => {
  it.live(
    "a body's unread bytes stay its own tenant's spans, though the next tenant's chunk wants a buffer of its size",
    () =>
      Effect.gen(function*() {
        // The second request (tenant a's) is answered as soon as its head is read.
        const receiver = yield* earlyAnswerReceiver((request) => request === 1)
        const tenantA = RoutingMetadata.json({ tenant: "a" })
        const tenantB = RoutingMetadata.json({ tenant: "b" })
        // 64 spans of 16 KB: one full chunk, a body far larger than a Unix socket's buffers, the
        // same size for either tenant.
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
