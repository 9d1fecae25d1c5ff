// The export wing's policy on Effect 4, as the Effect 3 line's tests check it
// (test/exportLateReceiver.test.ts, test/internal/export/routingLimit.test.ts): a receiver that
// starts after the service loses nothing; routing values past maxRoutingValueBytes are rejected,
// counted, said once per process. One file: the warning is once per process.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { RoutingMetadata, UserTracing, UserTracingSettings } from "../src/index.js"
import { observed, settingsFor, withPipeline } from "./utils/pipeline.js"
import { makeReceiver, receiverAt, tempSocketPath } from "./utils/receiver.js"

const { withUserTrace } = UserTracing

/** A routing value whose header is `length` bytes long (`RoutingMetadata.json` of a string adds 2 quotes). */
const routingOf = (length: number, fill = "x") => RoutingMetadata.json(fill.repeat(length - 2))

describe("a receiver that appears after the service started", () => {
  it.live(
    "its socket appears after 1.5 s: the 150 spans finished before arrive, nothing is lost",
    () =>
      Effect.gen(function*() {
        const socketPath = tempSocketPath()
        const { delta, logs } = yield* observed(withPipeline(
          // Fewer attempts than the wait takes: connection failures do not use them up.
          settingsFor(socketPath, { maxAttempts: 2 }),
          Effect.gen(function*() {
            for (const tenant of ["a", "b", "c"]) {
              yield* Effect.forEach(
                Array.from({ length: 50 }, (_, i) => i),
                (i) => Effect.void.pipe(withUserTrace(`${tenant}-${i}`, { routing: RoutingMetadata.json({ tenant }) })),
                { discard: true }
              )
            }
            yield* Effect.sleep("1500 millis")
            const receiver = yield* receiverAt(socketPath)
            yield* UserTracing.forceFlush
            const names = receiver.spans().map((s: any) => s.name as string)
            expect(names).toHaveLength(150)
            expect(new Set(names).size).toBe(150)
          }).pipe(Effect.scoped)
        ))
        expect(delta).toEqual({ total: 150, exported: 150, dropped: 0, failed: 0 })
        expect(logs.join("\n")).toContain("not reachable")
        expect(logs.join("\n")).not.toContain("lost since start")
      }),
    30_000
  )
})

describe("maxRoutingValueBytes", () => {
  it.live("a longer value is rejected and counted, said once per process; other tenants go on", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      const run = observed(withPipeline(
        settingsFor(receiver.socketPath),
        Effect.gen(function*() {
          yield* Effect.void.pipe(withUserTrace("long", { routing: routingOf(4_097) }))
          yield* Effect.void.pipe(withUserTrace("long-again", { routing: routingOf(5_000, "y") }))
          yield* Effect.void.pipe(withUserTrace("at-the-limit", { routing: routingOf(4_096, "z") }))
        })
      ))
      const first = yield* run
      expect(first.delta).toEqual({ total: 3, exported: 1, dropped: 0, failed: 2 })
      const warnings = first.logs.filter((line) => line.includes("maxRoutingValueBytes"))
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain("a routing value of 4097 bytes is longer than maxRoutingValueBytes (4096)")
      expect(receiver.requests.map((r) => String(r.headers["x-user-routing"]).length)).toEqual([4_096])
      // A second layer in the same process: counted again, not said again.
      const second = yield* run
      expect(second.delta).toEqual({ total: 3, exported: 1, dropped: 0, failed: 2 })
      expect(second.logs.filter((line) => line.includes("maxRoutingValueBytes"))).toEqual([])
      // The closing report says what was lost.
      expect(first.logs.join("\n")).toContain("closed with 2 of 3 spans lost since start")
    }).pipe(Effect.scoped))

  it.live("raised in the settings, the longer value goes out verbatim", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      const { delta } = yield* observed(withPipeline(
        settingsFor(receiver.socketPath, {}, { maxRoutingValueBytes: 8_192 }),
        Effect.void.pipe(withUserTrace("long", { routing: routingOf(5_000) }))
      ))
      expect(delta).toEqual({ total: 1, exported: 1, dropped: 0, failed: 0 })
      expect(receiver.requests[0].headers["x-user-routing"]).toBe(routingOf(5_000).encode())
    }).pipe(Effect.scoped))

  it.effect("default 4 KiB; read from USER_TRACING_MAX_ROUTING_VALUE_BYTES; a bad value names the variable", () =>
    Effect.gen(function*() {
      const defaults = yield* UserTracingSettings.decode({})
      expect(defaults.maxRoutingValueBytes).toBe(4_096)
      expect(UserTracingSettings.defaultMaxRoutingValueBytes).toBe(4_096)
      const fromEnv = (value: string) =>
        Effect.provide(
          UserTracingSettings.UserTracingSettings.use(Effect.succeed),
          UserTracingSettings.layerConfig()
        ).pipe(
          Effect.provideService(
            ConfigProvider.ConfigProvider,
            ConfigProvider.fromEnv({ env: { USER_TRACING_MAX_ROUTING_VALUE_BYTES: value } })
          )
        )
      expect((yield* fromEnv("16384")).maxRoutingValueBytes).toBe(16_384)
      const bad = yield* Effect.flip(fromEnv("0"))
      expect(bad.message).toBe("USER_TRACING_MAX_ROUTING_VALUE_BYTES must be a positive integer (got \"0\")")
    }))
})
