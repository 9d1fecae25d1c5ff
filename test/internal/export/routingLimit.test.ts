// Routing values past maxRoutingValueBytes: rejected by the export queue, counted, said once per
// process. Alone in its file: the warning is once per process.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { RoutingMetadata, UserTracing, UserTracingSettings } from "../../../src/index.js"
import { observed, settingsFor, withPipeline } from "../../utils/pipeline.js"
import { makeReceiver } from "../../utils/receiver.js"

const { withUserTrace } = UserTracing

/** A routing value whose header is `length` bytes long (`RoutingMetadata.json` of a string adds 2 quotes). */
const routingOf = (length: number, fill = "x") => RoutingMetadata.json(fill.repeat(length - 2))

describe("maxRoutingValueBytes", () => {
  it.live("a longer value is rejected and counted, said once per process; other tenants go on", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
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
      expect(warnings[0]).toContain("USER_TRACING_MAX_ROUTING_VALUE_BYTES")
      expect(receiver.requests.map((r) => String(r.headers["x-user-routing"]).length)).toEqual([4_096])
      // A second layer in the same process: counted again, not said again.
      const second = yield* run
      expect(second.delta).toEqual({ total: 3, exported: 1, dropped: 0, failed: 2 })
      expect(second.logs.filter((line) => line.includes("maxRoutingValueBytes"))).toEqual([])
    }).pipe(Effect.scoped))

  it.live("a group key longer than the limit is rejected too (it would be held in memory)", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const longKey: RoutingMetadata.RoutingMetadata = { groupKey: () => "k".repeat(10_000), encode: () => "short" }
      const { delta } = yield* observed(withPipeline(
        settingsFor(receiver.socketPath),
        Effect.void.pipe(withUserTrace("long-key", { routing: longKey }))
      ))
      expect(delta).toEqual({ total: 1, exported: 0, dropped: 0, failed: 1 })
      expect(receiver.requests).toHaveLength(0)
    }).pipe(Effect.scoped))

  it.live("raised in the settings, the longer value goes out verbatim", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
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
        Effect.flatMap(UserTracingSettings.config, UserTracingSettings.decode).pipe(
          Effect.withConfigProvider(
            ConfigProvider.fromMap(new Map([["USER_TRACING_MAX_ROUTING_VALUE_BYTES", value]]))
          )
        )
      expect((yield* fromEnv("16384")).maxRoutingValueBytes).toBe(16_384)
      const bad = yield* Effect.flip(fromEnv("0"))
      expect(bad.message).toBe("USER_TRACING_MAX_ROUTING_VALUE_BYTES must be a positive integer (got \"0\")")
    }))
})
