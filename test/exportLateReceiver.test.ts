// A receiver that starts after the service (a sidecar Collector): spans finished before it came
// stay queued and arrive once it does. The 20-second case runs on the test clock in
// test/internal/export/retry.test.ts; this one runs for real, for 2 seconds.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { RoutingMetadata, UserTracing } from "../src/index.js"
import { observed, settingsFor, withPipeline } from "./utils/pipeline.js"
import { makeReceiver, tempSocketPath } from "./utils/receiver.js"

const { withUserTrace } = UserTracing

describe("a receiver that appears after the service started", () => {
  it.live(
    "its socket appears after 2 s: the 300 spans finished before arrive, nothing is lost",
    () =>
      Effect.gen(function*() {
        const socketPath = tempSocketPath()
        const { delta, logs } = yield* observed(withPipeline(
          settingsFor(socketPath),
          Effect.gen(function*() {
            // Three tenants, 100 spans each, all finished while nothing listens.
            for (const tenant of ["a", "b", "c"]) {
              yield* Effect.forEach(
                Array.from({ length: 100 }, (_, i) => i),
                (i) => Effect.void.pipe(withUserTrace(`${tenant}-${i}`, { routing: RoutingMetadata.json({ tenant }) })),
                { discard: true }
              )
            }
            // The sidecar's start-up time: longer than the old attempts with backoff lasted.
            yield* Effect.sleep("2 seconds")
            const receiver = yield* makeReceiver({ socketPath })
            yield* UserTracing.forceFlush
            return receiver
          }).pipe(
            Effect.flatMap((receiver) =>
              Effect.sync(() => {
                const names = receiver.spans().map((s) => s.name as string)
                expect(names).toHaveLength(300)
                expect(new Set(names).size).toBe(300)
              })
            ),
            Effect.scoped
          )
        ))
        expect(delta).toEqual({ total: 300, exported: 300, dropped: 0, failed: 0 })
        // Said while it was retried; not said as a loss at close.
        expect(logs.join("\n")).toContain("not reachable")
        expect(logs.join("\n")).not.toContain("lost since start")
      }),
    30_000
  )
})
