import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as Http from "node:http"
import {
  RoutingMetadata,
  TestUserTracing,
  UserTracing,
  UserTracingSettings,
  UserTracingTest
} from "../../../src/index.js"
import { REQUESTS_PER_WORKER } from "../../../src/internal/export/transport.js"
import { encodeTraceRequest } from "../../utils/encodeRequest.js"
import { routing } from "../../utils/helpers.js"
import { counted, settingsFor, withPipeline } from "../../utils/pipeline.js"
import { eventually, ExportTraceServiceRequest, makeReceiver, tempSocketPath } from "../../utils/receiver.js"

const { withUserSpan, withUserTrace } = UserTracing

interface GatedRequest {
  readonly header: string
  readonly body: Buffer
  readonly spans: ReadonlyArray<any>
}

/**
 * A receiver that holds every answer until `open()` (a stalled collector), then answers 200;
 * bodies decoded by the official OTLP definitions.
 */
const makeGatedReceiver = Effect.acquireRelease(
  Effect.async<{
    readonly socketPath: string
    readonly requests: Array<GatedRequest>
    readonly received: () => number
    readonly open: () => void
    readonly close: () => Promise<void>
  }>((resume) => {
    const socketPath = tempSocketPath()
    const requests: Array<GatedRequest> = []
    const held: Array<() => void> = []
    let isOpen = false
    let received = 0
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        received++
        const answer = () => {
          const body = Buffer.concat(chunks)
          const decoded = ExportTraceServiceRequest.decode(body)
          requests.push({
            header: String(req.headers["x-user-routing"]),
            body,
            spans: decoded.resourceSpans[0].scopeSpans[0].spans
          })
          res.writeHead(200, { "content-type": "application/x-protobuf" })
          res.end()
        }
        if (isOpen) answer()
        else held.push(answer)
      })
    })
    server.listen(socketPath, () =>
      resume(Effect.succeed({
        socketPath,
        requests,
        received: () => received,
        open: () => {
          isOpen = true
          for (const answer of held.splice(0)) answer()
        },
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })))
  }),
  (receiver) => Effect.promise(receiver.close)
)

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
const tenant = (name: string) => RoutingMetadata.json({ tenant: name })
const rootSpans = (name: string, count: number) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => i),
    () => Effect.void.pipe(withUserTrace(name, { routing: tenant(name) })),
    { discard: true }
  )

/** The encoded size of one root span as the flood test makes them: all of them have the same. */
const encodedRootSize = Effect.gen(function*() {
  const [span] = yield* Effect.void.pipe(
    withUserTrace("a", { routing: tenant("a") }),
    Effect.zipRight(UserTracingTest.finishedSpans)
  )
  return encodeTraceRequest({ serviceName: "checkout" }, [span]).length -
    encodeTraceRequest({ serviceName: "checkout" }, []).length
}).pipe(Effect.provide(TestUserTracing))

/**
 * The scenario: the receiver stalled, tenant A floods 50,000 spans, then B..E finish
 * 1,000 each; the receiver answers again and the layer closes.
 */
const floodThenOthers = (bounds: Record<string, unknown>) =>
  Effect.gen(function*() {
    const receiver = yield* makeGatedReceiver
    const [, delta] = yield* counted(withPipeline(
      settingsFor(receiver.socketPath, {}, bounds),
      Effect.gen(function*() {
        yield* rootSpans("a", 50_000)
        // The worker holds its requests in flight (A's) at the stalled receiver; the rest is queued.
        yield* eventually(() => receiver.received() === REQUESTS_PER_WORKER)
        for (const name of ["b", "c", "d", "e"]) yield* rootSpans(name, 1_000)
        receiver.open()
      })
    ))
    const byTenant: Record<string, number> = {}
    const ids = new Set<string>()
    let spans = 0
    for (const request of receiver.requests) {
      for (const span of request.spans) {
        byTenant[span.name] = (byTenant[span.name] ?? 0) + 1
        ids.add(hex(span.spanId))
        spans++
        expect(request.header).toBe(JSON.stringify({ tenant: span.name }))
      }
    }
    expect(ids.size).toBe(spans)
    expect([byTenant.b, byTenant.c, byTenant.d, byTenant.e]).toEqual([1_000, 1_000, 1_000, 1_000])
    expect(byTenant.a).toBeGreaterThanOrEqual(6_000)
    // The bound held: what is left of A is its share plus the requests that were in flight.
    expect(byTenant.a).toBeLessThanOrEqual(6_000 + REQUESTS_PER_WORKER * 512)
    expect(delta.total).toBe(54_000)
    expect(delta.exported).toBe(spans)
    expect(delta.dropped).toBe(54_000 - spans)
    return byTenant
  }).pipe(Effect.scoped)

describe("fair share", () => {
  it.live(
    "span bound: one tenant's flood cannot push the others out",
    () => floodThenOthers({ maxQueueSize: 10_000 }),
    60_000
  )

  it.live("byte bound: the same, with maxQueueBytes holding 10,000 spans", () =>
    Effect.gen(function*() {
      const size = yield* encodedRootSize
      yield* floodThenOthers({ maxQueueSize: null, maxQueueBytes: 10_000 * size })
    }), 60_000)

  it.live("a tenant at its fair share drops its own newest spans, not the others'", () =>
    Effect.gen(function*() {
      const receiver = yield* makeGatedReceiver
      const [, delta] = yield* counted(withPipeline(
        settingsFor(receiver.socketPath, {}, { maxQueueSize: 100 }),
        Effect.gen(function*() {
          yield* rootSpans("x", 1)
          yield* eventually(() => receiver.received() === 1)
          yield* rootSpans("a", 50)
          yield* rootSpans("b", 50)
          // Full (100 queued, 50 each = the fair share): more of A's are dropped themselves.
          yield* rootSpans("a", 30)
          receiver.open()
        })
      ))
      const names = receiver.requests.flatMap((r) => r.spans.map((s: any) => s.name))
      expect(names.filter((n) => n === "a")).toHaveLength(50)
      expect(names.filter((n) => n === "b")).toHaveLength(50)
      expect(delta).toEqual({ total: 131, exported: 101, dropped: 30, failed: 0 })
    }).pipe(Effect.scoped))

  it.live("a span larger than maxQueueBytes is dropped and counted; smaller ones pass", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const [, delta] = yield* counted(withPipeline(
        settingsFor(receiver.socketPath, {}, { maxQueueBytes: 2_000 }),
        Effect.gen(function*() {
          yield* UserTracing.annotateUserSpan({ big: "x".repeat(3_000) }).pipe(withUserTrace("big", { routing }))
          yield* UserTracing.forceFlush
          yield* Effect.void.pipe(withUserTrace("small", { routing }))
        })
      ))
      expect(receiver.spans().map((s) => s.name)).toEqual(["small"])
      expect(delta).toEqual({ total: 2, exported: 1, dropped: 1, failed: 0 })
    }).pipe(Effect.scoped))
})

describe("finishing never throws", () => {
  it.live("a routing value whose groupKey or encode throws: its spans are rejected and counted, the others go on", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const throwsKey: RoutingMetadata.RoutingMetadata = {
        groupKey: () => {
          throw new Error("no key")
        },
        encode: () => "x"
      }
      const throwsEncode: RoutingMetadata.RoutingMetadata = {
        groupKey: () => "k",
        encode: () => {
          throw new Error("no value")
        }
      }
      const [, delta] = yield* counted(withPipeline(
        settingsFor(receiver.socketPath),
        Effect.all([
          Effect.void.pipe(withUserTrace("key", { routing: throwsKey })),
          Effect.void.pipe(withUserTrace("encode", { routing: throwsEncode })),
          Effect.void.pipe(withUserTrace("good", { routing }))
        ])
      ))
      expect(receiver.spans().map((s) => s.name)).toEqual(["good"])
      expect(delta).toEqual({ total: 3, exported: 1, failed: 2, dropped: 0 })
    }).pipe(Effect.scoped))
})

describe("batch bounds", () => {
  it.live("maxBatchBytes: no body exceeds it, except one holding a single larger span; nothing is lost", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const maxBatchBytes = 4_096
      const sizes = Array.from({ length: 300 }, (_, i) => (i * 7919) % 1_500)
      const [, delta] = yield* counted(withPipeline(
        settingsFor(receiver.socketPath, { maxBatchBytes }),
        Effect.gen(function*() {
          yield* Effect.forEach(
            sizes,
            (size, i) =>
              UserTracing.annotateUserSpan({ pad: "p".repeat(size) }).pipe(withUserTrace(`s-${i}`, { routing })),
            {
              discard: true
            }
          )
          // Larger than the bound on its own: three attributes of 4,000 characters.
          yield* UserTracing.annotateUserSpan({ a: "a".repeat(4_000), b: "b".repeat(4_000), c: "c".repeat(4_000) })
            .pipe(
              withUserTrace("huge", { routing })
            )
        })
      ))
      const requests = receiver.requests.map((r) => ({
        bytes: r.body.length,
        names: r.decoded.resourceSpans[0].scopeSpans[0].spans.map((s: any) => s.name) as Array<string>
      }))
      for (const request of requests) {
        if (request.names.length > 1) expect(request.bytes).toBeLessThanOrEqual(maxBatchBytes)
      }
      const huge = requests.find((r) => r.names.includes("huge"))!
      expect(huge.names).toEqual(["huge"])
      expect(huge.bytes).toBeGreaterThan(maxBatchBytes)
      expect(requests.flatMap((r) => r.names).sort()).toEqual([...sizes.map((_, i) => `s-${i}`), "huge"].sort())
      expect(requests.length).toBeGreaterThan(20)
      expect(delta).toEqual({ total: 301, exported: 301, dropped: 0, failed: 0 })
    }).pipe(Effect.scoped))

  it.live("maxBatchSize: no request holds more spans", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      yield* withPipeline(
        settingsFor(receiver.socketPath, { maxBatchSize: 7 }),
        Effect.forEach(Array.from({ length: 100 }, (_, i) => i), (i) =>
          Effect.void.pipe(withUserTrace(`r-${i}`, { routing })), { discard: true })
      )
      const counts = receiver.requests.map((r) =>
        r.decoded.resourceSpans[0].scopeSpans[0].spans.length
      )
      expect(Math.max(...counts)).toBeLessThanOrEqual(7)
      expect(counts.reduce((a, b) => a + b, 0)).toBe(100)
    }).pipe(Effect.scoped))
})

describe("span limits", () => {
  it.live("maxEventAttributes: attributes past it are cut and counted in the event's dropped_attributes_count", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      yield* withPipeline(
        settingsFor(receiver.socketPath, {}, { limits: { maxEventAttributes: 2 } }),
        Effect.gen(function*() {
          yield* UserTracing.logUserSpan({ d: "4", b: "2", a: "1", c: "3" })
          yield* UserTracing.logUserSpan({ z: "26" })
        }).pipe(withUserTrace("r", { routing }))
      )
      const [span] = receiver.spans()
      const events = span.events.map((e: any) => ({
        keys: e.attributes.map((a: any) => a.key),
        dropped: e.droppedAttributesCount ?? 0
      }))
      expect(events).toEqual([{ keys: ["a", "b"], dropped: 2 }, { keys: ["z"], dropped: 0 }])
    }).pipe(Effect.scoped))
})

describe("flush and shutdown", () => {
  it.live("forceFlush returns only when every span finished before it has arrived", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      yield* withPipeline(
        settingsFor(receiver.socketPath, { maxBatchSize: 50 }),
        Effect.gen(function*() {
          for (let round = 1; round <= 3; round++) {
            yield* Effect.forEach(Array.from({ length: 500 }, (_, i) => i), (i) =>
              Effect.void.pipe(withUserSpan("child"), withUserTrace(`r-${i}`, { routing })), { discard: true })
            yield* UserTracing.forceFlush
            expect(receiver.spans()).toHaveLength(round * 1_000)
          }
        })
      )
    }).pipe(Effect.scoped))

  it.live("a burst across 20 tenants then closing at once: every span arrives, one routing header per request", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const [, delta] = yield* counted(withPipeline(
        settingsFor(receiver.socketPath, { numTasks: 2 }),
        Effect.forEach(
          Array.from({ length: 20_000 }, (_, i) => i),
          (i) => Effect.void.pipe(withUserTrace(`t${i % 20}`, { routing: tenant(`t${i % 20}`) })),
          { discard: true }
        )
      ))
      for (const request of receiver.requests) {
        const names = new Set(request.decoded.resourceSpans[0].scopeSpans[0].spans.map((s: any) => s.name))
        expect([...names]).toEqual([JSON.parse(String(request.headers["x-user-routing"])).tenant])
      }
      expect(new Set(receiver.spans().map((s) => hex(s.spanId))).size).toBe(20_000)
      expect(delta).toEqual({ total: 20_000, exported: 20_000, dropped: 0, failed: 0 })
    }).pipe(Effect.scoped))
})

describe("settings", () => {
  it.effect("byte bounds and maxEventAttributes: defaults, null, and their variables", () =>
    Effect.gen(function*() {
      const defaults = yield* UserTracingSettings.decode({})
      expect(defaults.maxQueueBytes).toBe(64 * 1024 * 1024)
      expect(defaults.limits.maxEventAttributes).toBe(128)
      const unbounded = yield* UserTracingSettings.decode({ maxQueueBytes: null })
      expect(unbounded.maxQueueBytes).toBeNull()
      const withOutput = yield* UserTracingSettings.decode(settingsFor("/tmp/x.sock"))
      const output = withOutput.output as { readonly otlpUds: UserTracingSettings.OtlpUdsOutput }
      expect(output.otlpUds.maxBatchBytes).toBe(4 * 1024 * 1024)
      const bad = yield* Effect.flip(UserTracingSettings.decode(settingsFor("/tmp/x.sock", { maxBatchBytes: 0 })))
      expect(bad.path).toBe("output.otlpUds.maxBatchBytes")

      const fromEnv = yield* Effect.flatMap(UserTracingSettings.config, UserTracingSettings.decode).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(
          new Map([
            ["USER_TRACING_MAX_QUEUE_BYTES", "1000000"],
            ["USER_TRACING_SOCKET_PATH", "/tmp/x.sock"],
            ["USER_TRACING_ROUTING_HEADER_NAME", "x-r"],
            ["USER_TRACING_MAX_BATCH_BYTES", "65536"]
          ])
        ))
      )
      expect(fromEnv.maxQueueBytes).toBe(1_000_000)
      expect((fromEnv.output as { readonly otlpUds: UserTracingSettings.OtlpUdsOutput }).otlpUds.maxBatchBytes).toBe(
        65_536
      )
      const none = yield* Effect.flatMap(UserTracingSettings.config, UserTracingSettings.decode).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["USER_TRACING_MAX_QUEUE_BYTES", "unbounded"]])))
      )
      expect(none.maxQueueBytes).toBeNull()
    }))
})
