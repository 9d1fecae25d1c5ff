import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import {
  OtlpUserTraceExporter,
  RoutingMetadata,
  TestUserTracing,
  Traceparent,
  UserTraceExporter,
  UserTraceSink,
  UserTracing,
  UserTracingSettings,
  UserTracingTest
} from "../src/index.js"
import type { FinishedUserSpan } from "../src/UserSpan.js"
import { routing, withRecordingTracer } from "./utils/helpers.js"
import { counted, settingsFor, withPipeline } from "./utils/pipeline.js"
import { eventually, makeReceiver, tempSocketPath } from "./utils/receiver.js"

const { withUserSpan, withUserTrace } = UserTracing

const attr = (span: any, key: string) => span.attributes.find((kv: any) => kv.key === key)?.value
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

/** A span made by the application (not a record of the harness): ids in hex. */
const applicationSpan = (fields: Partial<FinishedUserSpan>): FinishedUserSpan => ({
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
  parentSpanId: undefined,
  remoteParent: false,
  traceFlags: 1,
  traceState: undefined,
  routing,
  name: "forwarded",
  kind: "internal",
  startTime: 1n,
  endTime: 2n,
  attributes: new Map(),
  events: [],
  links: [],
  status: "unset",
  statusMessage: "",
  droppedAttributesCount: 0,
  droppedEventsCount: 0,
  droppedLinksCount: 0,
  ...fields
})

/** Hands `spans` to the public exporter synchronously (so one worker takes them as one batch), then flushes. */
const exportSpans = (socketPath: string, spans: ReadonlyArray<FinishedUserSpan>) =>
  Effect.scoped(
    Effect.gen(function*() {
      const exporter = yield* UserTraceExporter.UserTraceExporter
      for (const span of spans) exporter.export(span)
      yield* exporter.forceFlush
    }).pipe(
      Effect.provide(
        OtlpUserTraceExporter.layer.pipe(Layer.provide(UserTracingSettings.layer(settingsFor(socketPath))))
      )
    )
  )

describe("the wire", () => {
  it.live("a root with a child and attributes arrives as one decodable request", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const inbound = Option.getOrThrow(Traceparent.parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
      const tenant = RoutingMetadata.json({ tenant: "acme", region: "eu" })
      yield* withPipeline(
        settingsFor(receiver.socketPath),
        Effect.gen(function*() {
          yield* UserTracing.annotateUserSpan({
            s: "text",
            i: 42,
            d: 1.5,
            b: true,
            big: 2n ** 60n,
            arr: ["a", 1, false]
          })
          yield* UserTracing.logUserSpan({ b: "2", a: "1" })
          yield* Effect.exit(Effect.fail("no").pipe(withUserSpan("child", { kind: "client" })))
        }).pipe(withUserTrace("request", { routing: tenant, inbound, tracestate: "vendor=x", kind: "server" }))
      )
      expect(receiver.requests).toHaveLength(1)
      const [request] = receiver.requests
      expect(request.method).toBe("POST")
      expect(request.url).toBe("/v1/traces")
      expect(request.headers.host).toBe("localhost")
      expect(request.headers["content-type"]).toBe("application/x-protobuf")
      expect(Number(request.headers["content-length"])).toBe(request.body.length)
      expect(request.headers["x-user-routing"]).toBe("{\"region\":\"eu\",\"tenant\":\"acme\"}")
      expect(request.headers.traceparent).toBeUndefined()
      const resourceSpans = request.decoded.resourceSpans
      expect(resourceSpans).toHaveLength(1)
      expect(resourceSpans[0].resource.attributes).toEqual([
        expect.objectContaining({ key: "service.name", value: expect.objectContaining({ stringValue: "checkout" }) })
      ])
      expect(resourceSpans[0].scopeSpans[0].scope.name).toBe("effect-user-tracing")
      const [child, root] = resourceSpans[0].scopeSpans[0].spans
      expect([child.name, root.name]).toEqual(["child", "request"])
      expect(hex(root.traceId)).toBe("0af7651916cd43dd8448eb211c80319c")
      expect(hex(child.traceId)).toBe("0af7651916cd43dd8448eb211c80319c")
      expect(hex(root.parentSpanId)).toBe("b7ad6b7169203331")
      expect(hex(child.parentSpanId)).toBe(hex(root.spanId))
      expect(root.spanId).toHaveLength(8)
      expect(root.flags).toBe(0x01 | 0x100 | 0x200)
      expect(child.flags).toBe(0x01 | 0x100)
      expect(root.traceState).toBe("vendor=x")
      expect(root.kind).toBe(2)
      expect(child.kind).toBe(3)
      expect(attr(root, "s").stringValue).toBe("text")
      expect(Number(attr(root, "i").intValue)).toBe(42)
      expect(attr(root, "d").doubleValue).toBe(1.5)
      expect(attr(root, "b").boolValue).toBe(true)
      expect(attr(root, "big").intValue.toString()).toBe((2n ** 60n).toString())
      expect(attr(root, "arr").arrayValue.values).toHaveLength(3)
      expect(root.events.map((e: any) => [e.name, e.attributes.map((a: any) => a.key)])).toEqual([["Log entry", [
        "a",
        "b"
      ]]])
      expect(child.status.code).toBe(2)
      expect(child.status.message ?? "").toBe("")
      for (const span of [child, root]) {
        expect(BigInt(span.startTimeUnixNano.toString()) <= BigInt(span.endTimeUnixNano.toString())).toBe(true)
      }
    }).pipe(Effect.scoped))

  it.live("two routing groups in one batch give two requests, each with its own header", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const spans = yield* Effect.gen(function*() {
        yield* Effect.void.pipe(withUserTrace("a", { routing: RoutingMetadata.json("tenant-a") }))
        yield* Effect.void.pipe(withUserTrace("b", { routing: RoutingMetadata.json("tenant-b") }))
        yield* Effect.void.pipe(withUserTrace("a2", { routing: RoutingMetadata.json("tenant-a") }))
        return yield* UserTracingTest.finishedSpans
      }).pipe(Effect.provide(TestUserTracing))
      yield* exportSpans(receiver.socketPath, spans)
      const byHeader = Object.fromEntries(
        receiver.requests.map((
          r
        ) => [r.headers["x-user-routing"], r.decoded.resourceSpans[0].scopeSpans[0].spans.map((s: any) => s.name)])
      )
      expect(byHeader).toEqual({ "\"tenant-a\"": ["a", "a2"], "\"tenant-b\"": ["b"] })
    }).pipe(Effect.scoped))

  it.live("a FinishedUserSpan made by the application (not a record of the harness) goes out with its hex ids", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      yield* exportSpans(receiver.socketPath, [applicationSpan({
        traceId: "0AF7651916CD43DD8448EB211C80319C",
        parentSpanId: "00f067aa0ba902b7",
        remoteParent: true,
        kind: "server",
        attributes: new Map([["k", "v"]])
      })])
      const [span] = receiver.requests[0].decoded.resourceSpans[0].scopeSpans[0].spans
      expect([hex(span.traceId), hex(span.spanId), hex(span.parentSpanId)])
        .toEqual(["0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "00f067aa0ba902b7"])
      expect(span.name).toBe("forwarded")
    }).pipe(Effect.scoped))

  it.live("a span that cannot be encoded is lost and counted; the spans beside it in its batch arrive intact", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const malformed = new Map<string, unknown>([["k", "v"], ["nested", [null]]]) as FinishedUserSpan["attributes"]
      const [, delta] = yield* counted(exportSpans(receiver.socketPath, [
        applicationSpan({ name: "before", attributes: new Map([["k", "v"]]) }),
        // It fails half-written, between two good spans of its batch.
        applicationSpan({ name: "malformed", attributes: malformed }),
        applicationSpan({ name: "after", attributes: new Map([["k", "w"]]) })
      ]))
      const spans = receiver.requests.flatMap((r) => r.decoded.resourceSpans[0].scopeSpans[0].spans)
      expect(spans.map((s: any) => [s.name, attr(s, "k").stringValue])).toEqual([["before", "v"], ["after", "w"]])
      expect(delta).toEqual({ total: 3, exported: 2, failed: 1, dropped: 0 })
    }).pipe(Effect.scoped))

  it.live("a routing value with CR or LF never reaches the wire; the other group does", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const evil: RoutingMetadata.RoutingMetadata = { groupKey: () => "evil", encode: () => "x\r\ninjected: 1" }
      const [, delta] = yield* counted(withPipeline(
        settingsFor(receiver.socketPath),
        Effect.all([
          Effect.void.pipe(withUserTrace("evil", { routing: evil })),
          Effect.void.pipe(withUserTrace("good", { routing }))
        ])
      ))
      expect(receiver.spans().map((s) => s.name)).toEqual(["good"])
      expect(receiver.requests.every((r) => r.headers.injected === undefined)).toBe(true)
      expect(delta).toEqual({ total: 2, exported: 1, failed: 1, dropped: 0 })
    }).pipe(Effect.scoped))
})

describe("zero loss", () => {
  it.live("a 20,000-span burst followed at once by closing the layer: every span arrives", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const [, delta] = yield* counted(withPipeline(
        settingsFor(receiver.socketPath),
        Effect.forEach(
          Array.from({ length: 10_000 }, (_, i) => i),
          (i) => Effect.void.pipe(withUserSpan("child"), withUserTrace(`request-${i}`, { routing })),
          { discard: true }
        )
      ))
      expect(receiver.spans()).toHaveLength(20_000)
      expect(delta).toEqual({ total: 20_000, exported: 20_000, failed: 0, dropped: 0 })
    }).pipe(Effect.scoped))

  it.live("numTasks: 4 under load: nothing duplicated, nothing lost", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      yield* withPipeline(
        settingsFor(receiver.socketPath, { numTasks: 4, maxBatchSize: 64 }),
        Effect.forEach(
          Array.from({ length: 2_000 }, (_, i) => i),
          (i) => Effect.yieldNow().pipe(withUserSpan("child"), withUserTrace(`request-${i}`, { routing })),
          { concurrency: 8, discard: true }
        )
      )
      const ids = receiver.spans().map((s) => hex(s.spanId))
      expect(ids).toHaveLength(4_000)
      expect(new Set(ids).size).toBe(4_000)
      expect(receiver.requests.length).toBeGreaterThan(4_000 / 64 - 1)
    }).pipe(Effect.scoped))
})

describe("faults", () => {
  it.live("receiver absent for the first second, then started: every span arrives; the app never blocks", () =>
    Effect.gen(function*() {
      const socketPath = tempSocketPath()
      const [, delta] = yield* counted(withPipeline(
        // Connection failures do not use up maxAttempts.
        settingsFor(socketPath, { maxAttempts: 2 }),
        Effect.gen(function*() {
          const started = Date.now()
          yield* Effect.forEach(
            Array.from({ length: 100 }, (_, i) => i),
            (i) => Effect.void.pipe(withUserTrace(`early-${i}`, { routing })),
            { discard: true }
          )
          // Producing spans never waits for the receiver.
          expect(Date.now() - started).toBeLessThan(2_000)
          // The outage: longer than two attempts with backoff take.
          yield* Effect.sleep("1 second")
          const receiver = yield* makeReceiver({ socketPath })
          yield* Effect.void.pipe(withUserTrace("late", { routing }))
          yield* UserTracing.forceFlush
          expect(receiver.spans()).toHaveLength(101)
        }).pipe(Effect.scoped)
      ))
      expect(delta).toEqual({ total: 101, exported: 101, failed: 0, dropped: 0 })
    }))

  it.live("503 with Retry-After: 1, then 200: the batch arrives once", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver({
        behaviour: (n) => (n === 0 ? { status: 503, headers: { "retry-after": "1" } } : { status: 200 })
      })
      const started = Date.now()
      const [, delta] = yield* counted(
        withPipeline(settingsFor(receiver.socketPath), Effect.void.pipe(withUserTrace("r", { routing })))
      )
      expect(Date.now() - started).toBeGreaterThanOrEqual(900)
      expect(receiver.spans().map((s) => s.name)).toEqual(["r"])
      expect(delta).toMatchObject({ exported: 1, failed: 0 })
    }).pipe(Effect.scoped))

  it.live("500 is not retried and is counted as failed", () =>
    Effect.gen(function*() {
      let calls = 0
      const receiver = yield* makeReceiver({ behaviour: () => (calls++, { status: 500 }) })
      const [, delta] = yield* counted(
        withPipeline(settingsFor(receiver.socketPath), Effect.void.pipe(withUserTrace("r", { routing })))
      )
      expect(calls).toBe(1)
      expect(receiver.requests).toHaveLength(0)
      expect(delta).toMatchObject({ exported: 0, failed: 1 })
    }).pipe(Effect.scoped))

  it.live("a receiver that never answers: the request times out, is counted, and the worker goes on", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver({ behaviour: (n) => (n === 0 ? "never" : { status: 200 }) })
      const [, delta] = yield* counted(withPipeline(
        settingsFor(receiver.socketPath, { requestTimeout: 200 }),
        Effect.gen(function*() {
          yield* Effect.void.pipe(withUserTrace("lost", { routing }))
          yield* UserTracing.forceFlush
          yield* Effect.void.pipe(withUserTrace("after", { routing }))
        })
      ))
      expect(receiver.spans().map((s) => s.name)).toEqual(["after"])
      expect(delta).toMatchObject({ exported: 1, failed: 1 })
    }).pipe(Effect.scoped))

  it.live("a connection reset mid-request is retried", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver({ behaviour: (n) => (n === 0 ? "reset" : { status: 200 }) })
      const [, delta] = yield* counted(
        withPipeline(settingsFor(receiver.socketPath), Effect.void.pipe(withUserTrace("r", { routing })))
      )
      expect(receiver.spans().map((s) => s.name)).toEqual(["r"])
      expect(delta).toMatchObject({ exported: 1, failed: 0 })
    }).pipe(Effect.scoped))

  it.live("a full queue drops the newest spans and counts them", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver({ behaviour: (n) => (n === 0 ? "never" : { status: 200 }) })
      const [, delta] = yield* counted(withPipeline(
        settingsFor(receiver.socketPath, { requestTimeout: 300, maxAttempts: 1 }, { maxQueueSize: 10 }),
        Effect.gen(function*() {
          yield* Effect.void.pipe(withUserTrace("stuck", { routing }))
          // The worker has taken "stuck" and waits on the silent receiver.
          yield* eventually(() => receiver.received() === 1)
          yield* Effect.forEach(Array.from({ length: 25 }, (_, i) => i), (i) =>
            Effect.void.pipe(withUserTrace(`burst-${i}`, { routing })), { discard: true })
        })
      ))
      expect(
        receiver.spans().map((s) =>
          s.name
        )
      ).toEqual(Array.from({ length: 10 }, (_, i) => `burst-${i}`))
      expect(delta).toEqual({ total: 26, exported: 10, dropped: 15, failed: 1 })
    }).pipe(Effect.scoped))
})

describe("settings and isolation", () => {
  it.effect("bad settings fail the layer with a message naming the field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(UserTracing.layer(settingsFor("")))).pipe(Effect.scoped)
      expect(error._tag).toBe("UserTracingSettingsError")
      expect(error.message).toContain("output.otlpUds.socketPath")
    }))

  it.live("enabled: false exports nothing and roots are inactive", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const traceparent = yield* withPipeline(
        settingsFor(receiver.socketPath, {}, { enabled: false }),
        UserTracing.userTraceparent.pipe(withUserTrace("r", { routing }))
      )
      expect(traceparent).toEqual(Option.none())
      expect(receiver.requests).toHaveLength(0)
    }).pipe(Effect.scoped))

  it.live("the exporter creates no internal span and sends no traceparent", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver({ behaviour: (n) => (n === 0 ? { status: 503 } : { status: 200 }) })
      const [, internal] = yield* withRecordingTracer(
        withPipeline(
          settingsFor(receiver.socketPath),
          Effect.void.pipe(withUserSpan("c"), withUserTrace("r", { routing }))
        )
      )
      expect(internal).toEqual([])
      expect(receiver.spans()).toHaveLength(2)
      expect(receiver.requests.every((r) => r.headers.traceparent === undefined)).toBe(true)
    }).pipe(Effect.scoped))
})

describe("otlpHttp output", () => {
  it.live("exports over TCP to the URL's host, port and path", () =>
    Effect.gen(function*() {
      const sink = yield* UserTraceSink.UserTraceSink
      const url = sink.url!
      yield* withPipeline(
        {
          enabled: true,
          serviceName: "checkout",
          output: { otlpHttp: { url, routingHeaderName: "x-user-routing" } }
        },
        Effect.void.pipe(withUserSpan("child"), withUserTrace("request", { routing }))
      )
      const spans = yield* sink.received
      expect(spans.map((s) => s.name).sort()).toEqual(["child", "request"])
      expect(spans[0].headers["x-user-routing"]).toBe(routing.encode())
      expect(spans[0].headers.host).toBe(new URL(url).host)
    }).pipe(Effect.provide(UserTraceSink.layer({ port: 0, host: "127.0.0.1" }))))
})

describe("layerConfig", () => {
  it.live("UserTracing.layerConfig() reads the USER_TRACING_* variables and exports", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const provider = ConfigProvider.fromMap(
        new Map([
          ["USER_TRACING_ENABLED", "true"],
          ["USER_TRACING_SERVICE_NAME", "from-env"],
          ["USER_TRACING_SOCKET_PATH", receiver.socketPath],
          ["USER_TRACING_ROUTING_HEADER_NAME", "x-env-routing"]
        ])
      )
      yield* Effect.scoped(
        Effect.flatMap(Layer.build(UserTracing.layerConfig()), (context) =>
          Effect.void.pipe(withUserTrace("request", { routing }), Effect.provide(context)))
      ).pipe(Effect.withConfigProvider(provider))
      expect(
        receiver.spans().map((s) =>
          s.name
        )
      ).toEqual(["request"])
      expect(receiver.requests[0].headers["x-env-routing"]).toBe(routing.encode())
    }).pipe(Effect.scoped))

  it.effect("with no variable set, the layer builds disabled", () =>
    Effect.gen(function*() {
      const traceparent = yield* Effect.scoped(
        Effect.flatMap(Layer.build(UserTracing.layerConfig()), (context) =>
          UserTracing.userTraceparent.pipe(withUserTrace("request", { routing }), Effect.provide(context)))
      ).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
      expect(traceparent).toEqual(Option.none())
    }))
})
