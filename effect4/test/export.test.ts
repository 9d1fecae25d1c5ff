import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import { RoutingMetadata, UserTracing, UserTracingMetrics, type UserTracingSettings } from "../src/index.js"
import { ExportTraceServiceRequest, makeReceiver } from "./utils/receiver.js"

const settingsFor = (socketPath: string, output?: Record<string, unknown>): UserTracingSettings.SettingsInput => ({
  enabled: true,
  serviceName: "checkout",
  output: { otlpUds: { socketPath, routingHeaderName: "x-user-routing", ...output } }
})

/** Runs `self` with the live pipeline, then closes the layer (drain included). */
const withPipeline = <A, E>(settings: UserTracingSettings.SettingsInput, self: Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(Layer.build(UserTracing.layer(settings)), (context) => Effect.provide(self, context)))

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

describe("the live pipeline on Effect 4", () => {
  it.live("exports each routing group as one POST over the Unix socket; closing the layer flushes", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      const before = yield* Metric.value(UserTracingMetrics.spansExported)
      const request = (tenant: string) =>
        Effect.void.pipe(
          UserTracing.withUserSpan("lookup", { kind: "client", attributes: { n: 1 } }),
          UserTracing.withUserTrace("request", { routing: RoutingMetadata.json({ tenant }) })
        )
      yield* withPipeline(
        settingsFor(receiver.socketPath),
        Effect.all([request("a"), request("b"), request("a")], { discard: true })
      )
      // Closing the layer drained the queue: everything is at the receiver already.
      expect(receiver.requests.map((r) => r.headers["x-user-routing"]).sort()).toEqual([
        "{\"tenant\":\"a\"}",
        "{\"tenant\":\"b\"}"
      ])
      for (const r of receiver.requests) {
        expect(r.url).toBe("/v1/traces")
        expect(r.headers["content-type"]).toBe("application/x-protobuf")
        expect(r.headers.traceparent).toBeUndefined()
        expect(r.decoded.resourceSpans[0].resource.attributes[0]).toMatchObject({
          key: "service.name",
          value: { stringValue: "checkout" }
        })
        expect(r.decoded.resourceSpans[0].scopeSpans[0].scope.name).toBe("effect-user-tracing")
      }
      const spans = receiver.spans()
      expect(spans).toHaveLength(6)
      const lookup = spans.find((s: any) => s.name === "lookup")
      const root = spans.find((s: any) => hex(s.spanId) === hex(lookup.parentSpanId))
      expect(root.name).toBe("request")
      expect(lookup.kind).toBe(3)
      expect(hex(lookup.traceId)).toBe(hex(root.traceId))
      const after = yield* Metric.value(UserTracingMetrics.spansExported)
      expect(after.count - before.count).toBe(6)
      expect(ExportTraceServiceRequest).toBeDefined()
    }))

  it.live("forceFlush returns when the spans finished before it are at the receiver", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      yield* withPipeline(
        settingsFor(receiver.socketPath),
        Effect.gen(function*() {
          yield* Effect.void.pipe(UserTracing.withUserTrace("one", { routing: RoutingMetadata.json("t") }))
          yield* UserTracing.forceFlush
          expect(receiver.spans().map((s: any) => s.name)).toEqual(["one"])
        })
      )
    }))

  it.live("disabled settings build a layer that records nothing", () =>
    Effect.gen(function*() {
      const seen = yield* UserTracing.currentUserSpan.pipe(
        UserTracing.withUserTrace("request", { routing: RoutingMetadata.json("t") }),
        Effect.provide(UserTracing.layer({ enabled: false }))
      )
      expect(seen._tag).toBe("None")
    }))
})
