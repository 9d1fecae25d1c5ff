import { describe, expect, it } from "@effect/vitest"
import { context as otelContext, trace as otelTrace } from "@opentelemetry/api"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Chunk, Context, Effect, Exit, Fiber, Layer, Option, Scope, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import otlpRoot from "otlp-transformer-0214/build/esm/generated/root.js"
import protobuf from "protobufjs"
import { RoutingMetadata, TestUserTracing, Traceparent, UserTracing, UserTracingTest } from "../src/index.js"
import type { FinishedUserSpan } from "../src/UserSpan.js"
import * as UserTraceSink from "../src/UserTraceSink.js"
import { encodeTraceRequest } from "./utils/encodeRequest.js"
import { eventually, tempSocketPath } from "./utils/receiver.js"
import { send, targetOf } from "./utils/sinkClient.js"

// The official OTLP definitions: responses are checked by a decoder we did not write.
const ExportTraceServiceResponse = (otlpRoot as any).opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse
// `google.rpc.Status`, the body OTLP wants for every 4xx/5xx answer.
const RpcStatus = protobuf.parse(`syntax = "proto3"; message Status { int32 code = 1; string message = 2; }`).root
  .lookupType("Status")

const { withUserSpan, withUserTrace } = UserTracing

const inboundTraceId = "0af7651916cd43dd8448eb211c80319c"
const inboundParentId = "b7ad6b7169203331"
const inbound = Option.getOrThrow(Traceparent.parse(`00-${inboundTraceId}-${inboundParentId}-01`))
const acme = RoutingMetadata.json({ tenant: "acme" })

/** A sink on a fresh temporary socket, for the scope. */
const socketSink = (options?: Partial<UserTraceSink.Options>) =>
  UserTraceSink.make({ socketPath: tempSocketPath(), ...options } as UserTraceSink.Options)

const socketOf = (sink: UserTraceSink.Service): string => {
  if (sink.address._tag !== "Unix") throw new Error("not a socket sink")
  return sink.address.socketPath
}

/** Runs `self` with the live pipeline pointed at `socketPath`, then closes the layer (which flushes). */
const withPipeline = <A, E>(socketPath: string, self: Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(
    Layer.build(UserTracing.layer({
      enabled: true,
      serviceName: "checkout",
      output: { otlpUds: { socketPath, routingHeaderName: "x-user-routing" } }
    })),
    (context) => Effect.provide(self, context)
  ))

/** Finished spans made under `TestUserTracing`, to encode by hand. */
const testSpans = (self: Effect.Effect<unknown>) =>
  Effect.zipRight(self, UserTracingTest.finishedSpans).pipe(Effect.provide(TestUserTracing))

const simpleTrace = testSpans(Effect.void.pipe(withUserSpan("child"), withUserTrace("root", { routing: acme })))

const protobufBody = (spans: ReadonlyArray<FinishedUserSpan>) => encodeTraceRequest({ serviceName: "hand" }, spans)

const names = (nodes: ReadonlyArray<UserTraceSink.ReceivedSpanNode>): Array<unknown> =>
  nodes.map((node) => node.children.length === 0 ? node.span.name : [node.span.name, names(node.children)])

const attribute = (span: UserTraceSink.ReceivedSpan, key: string) => span.attributes.find(([k]) => k === key)?.[1]

describe("UserTraceSink: bodies from this library", () => {
  it.live("the live pipeline over the socket: trees, ids, attributes, events, status, routing header", () =>
    Effect.gen(function*() {
      const sink = yield* socketSink()
      yield* withPipeline(
        socketOf(sink),
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
          yield* Effect.sleep("2 millis").pipe(withUserSpan("grandchild"), withUserSpan("child", { kind: "client" }))
          yield* Effect.exit(Effect.fail("no").pipe(withUserSpan("failing")))
        }).pipe(withUserTrace("request", { routing: acme, inbound, tracestate: "vendor=x", kind: "server" }))
      )
      const traces = yield* sink.traces
      expect(traces).toHaveLength(1)
      const [trace] = traces
      expect(trace.traceId).toBe(inboundTraceId)
      expect(names(trace.roots)).toEqual([["request", [["child", ["grandchild"]], "failing"]]])
      const root = trace.roots[0].span
      const [child, failing] = trace.roots[0].children.map((node) => node.span)
      expect(root.parentSpanId).toBe(inboundParentId)
      expect(root.remoteParent).toBe(true)
      expect(root.flags).toBe(0x01 | 0x100 | 0x200)
      expect(root.kind).toBe("server")
      expect(root.traceState).toBe("vendor=x")
      expect(root.status).toBe("unset")
      expect(root.spanId).toMatch(/^[0-9a-f]{16}$/)
      expect(root.startTimeUnixNano <= root.endTimeUnixNano).toBe(true)
      expect(root.attributes).toEqual([
        ["s", "text"],
        ["i", 42n],
        ["d", 1.5],
        ["b", true],
        ["big", 2n ** 60n],
        ["arr", ["a", 1n, false]]
      ])
      expect(root.events.map((e) => [e.name, e.attributes])).toEqual([["Log entry", [["a", "1"], ["b", "2"]]]])
      expect(child.parentSpanId).toBe(root.spanId)
      expect(child.remoteParent).toBe(false)
      expect(child.kind).toBe("client")
      expect(failing.status).toBe("error")
      expect(failing.statusMessage).toBe("")
      for (const span of trace.spans) {
        expect(span.serviceName).toBe("checkout")
        expect(span.scope.name).toBe("effect-user-tracing")
        expect(span.headers["x-user-routing"]).toBe("{\"tenant\":\"acme\"}")
        expect(span.headers["content-type"]).toBe("application/x-protobuf")
      }
      // The stream replays what came before it was subscribed.
      const streamed = yield* Stream.runCollect(Stream.take(sink.spans, 4))
      expect(Chunk.toArray(streamed).map((s) => s.spanId).sort()).toEqual(trace.spans.map((s) => s.spanId).sort())
      expect((yield* sink.stats).rejected).toBe(0)
    }).pipe(Effect.scoped))

  it.live("two tenants: each span keeps the routing header of its request; two traces", () =>
    Effect.gen(function*() {
      const sink = yield* socketSink()
      yield* withPipeline(
        socketOf(sink),
        Effect.all([
          Effect.void.pipe(withUserSpan("a-child"), withUserTrace("a", { routing: RoutingMetadata.json("tenant-a") })),
          Effect.void.pipe(withUserTrace("b", { routing: RoutingMetadata.json("tenant-b") }))
        ])
      )
      const traces = yield* sink.traces
      const byRoot = Object.fromEntries(
        traces.map((trace) => [trace.roots[0].span.name, trace.spans.map((s) => s.headers["x-user-routing"])])
      )
      expect(byRoot).toEqual({ a: ["\"tenant-a\"", "\"tenant-a\""], b: ["\"tenant-b\""] })
    }).pipe(Effect.scoped))
})

describe("UserTraceSink: other clients and encodings", () => {
  it.live("@opentelemetry/exporter-trace-otlp-proto over TCP: chunked, plain and gzip", () =>
    Effect.gen(function*() {
      const sink = yield* UserTraceSink.make({ port: 0 })
      expect(sink.url).toBe(`http://127.0.0.1:${(sink.address as { port: number }).port}/v1/traces`)
      for (const compression of ["none", "gzip"] as const) {
        const exporter = new OTLPTraceExporter({ url: sink.url!, compression: compression as any })
        const provider = new BasicTracerProvider({
          resource: resourceFromAttributes({ "service.name": `otel-${compression}` }),
          spanProcessors: [new SimpleSpanProcessor(exporter)]
        })
        const tracer = provider.getTracer("otel-test", "1.2.3")
        const parent = tracer.startSpan(`parent-${compression}`, { attributes: { n: 7, f: 0.5, tags: ["x", "y"] } })
        const child = tracer.startSpan("child", {}, otelTrace.setSpan(otelContext.active(), parent))
        child.addEvent("hello", { k: "v" })
        child.setStatus({ code: 2, message: "boom" })
        child.end()
        parent.end()
        yield* Effect.promise(() => provider.forceFlush())
        yield* Effect.promise(() => provider.shutdown())
      }
      const traces = yield* sink.traces
      expect(traces.map((t) => names(t.roots))).toEqual([[["parent-none", ["child"]]], [["parent-gzip", ["child"]]]])
      for (const [i, trace] of traces.entries()) {
        const compression = i === 0 ? "none" : "gzip"
        const parent = trace.roots[0].span
        const child = trace.roots[0].children[0].span
        expect(parent.serviceName).toBe(`otel-${compression}`)
        expect(parent.scope).toEqual({ name: "otel-test", version: "1.2.3" })
        expect(parent.parentSpanId).toBeUndefined()
        expect(parent.attributes).toEqual([["n", 7n], ["f", 0.5], ["tags", ["x", "y"]]])
        expect(child.status).toBe("error")
        expect(child.statusMessage).toBe("boom")
        expect(child.events.map((e) => [e.name, e.attributes])).toEqual([["hello", [["k", "v"]]]])
        // The OTel exporter pipes its body: chunked transfer encoding, no Content-Length.
        for (const span of trace.spans) {
          expect(span.headers["transfer-encoding"]).toBe("chunked")
          expect(span.headers["content-length"]).toBeUndefined()
          expect(span.headers["content-encoding"]).toBe(compression === "gzip" ? "gzip" : undefined)
          expect(span.headers["user-agent"]).toMatch(/OTel-OTLP-Exporter-JavaScript/)
        }
      }
      expect((yield* sink.stats).rejected).toBe(0)
    }).pipe(Effect.scoped))

  it.live("a chunked body written in pieces, without Content-Length; the response decodes officially", () =>
    Effect.gen(function*() {
      const sink = yield* socketSink()
      const spans = yield* simpleTrace
      const answer = yield* send(targetOf(sink), protobufBody(spans), { pieces: 5 })
      expect(answer.status).toBe(200)
      expect(answer.headers["content-type"]).toBe("application/x-protobuf")
      const response = ExportTraceServiceResponse.decode(answer.body)
      expect(response.partialSuccess ?? null).toBeNull()
      const [trace] = yield* sink.traces
      expect(names(trace.roots)).toEqual([["root", ["child"]]])
      expect(trace.spans[0].headers["transfer-encoding"]).toBe("chunked")
      expect(trace.spans[0].serviceName).toBe("hand")
    }).pipe(Effect.scoped))

  it.live("gzip bodies, with Content-Length and chunked", () =>
    Effect.gen(function*() {
      const sink = yield* socketSink()
      const spans = yield* simpleTrace
      const gzipped = Zlib.gzipSync(protobufBody(spans))
      const a = yield* send(targetOf(sink), gzipped, { headers: { "content-encoding": "gzip" } })
      const b = yield* send(targetOf(sink), gzipped, { headers: { "content-encoding": "GZIP" }, pieces: 3 })
      expect([a.status, b.status]).toEqual([200, 200])
      expect(ExportTraceServiceResponse.decode(b.body).partialSuccess ?? null).toBeNull()
      const received = yield* sink.received
      expect(received.map((s) => s.name)).toEqual(["child", "root", "child", "root"])
      // The same spans twice: the tree shows each span id once.
      const [trace] = yield* sink.traces
      expect(names(trace.roots)).toEqual([["root", ["child"]]])
    }).pipe(Effect.scoped))

  it.live("OTLP/JSON bodies: hex ids, int64 as strings, enums as numbers; answered with {} as JSON", () =>
    Effect.gen(function*() {
      const sink = yield* socketSink()
      const traceId = "5B8EFFF798038103D269B633813FC60C"
      const body = {
        resourceSpans: [{
          resource: { attributes: [{ key: "service.name", value: { stringValue: "json-svc" } }] },
          scopeSpans: [{
            scope: { name: "json-scope", version: "9" },
            spans: [
              {
                traceId,
                spanId: "EEE19B7EC3C1B174",
                name: "json-root",
                kind: 2,
                startTimeUnixNano: "1544712660000000000",
                endTimeUnixNano: "1544712661000000000",
                attributes: [
                  { key: "count", value: { intValue: "12" } },
                  { key: "nested", value: { kvlistValue: { values: [{ key: "k", value: { boolValue: true } }] } } }
                ],
                status: { code: 1 }
              },
              {
                traceId,
                spanId: "eee19b7ec3c1b175",
                parentSpanId: "eee19b7ec3c1b174",
                name: "json-child",
                startTimeUnixNano: 1544712660100000000,
                endTimeUnixNano: "1544712660200000000",
                events: [{ name: "e", timeUnixNano: "1544712660150000000", attributes: [] }]
              }
            ]
          }]
        }]
      }
      const answer = yield* send(targetOf(sink), JSON.stringify(body), {
        headers: { "content-type": "application/json; charset=utf-8" }
      })
      expect(answer.status).toBe(200)
      expect(answer.headers["content-type"]).toBe("application/json")
      expect(JSON.parse(answer.body.toString())).toEqual({})
      const [trace] = yield* sink.traces
      expect(trace.traceId).toBe(traceId.toLowerCase())
      expect(names(trace.roots)).toEqual([["json-root", ["json-child"]]])
      const root = trace.roots[0].span
      expect(root.kind).toBe("server")
      expect(root.status).toBe("ok")
      expect(root.serviceName).toBe("json-svc")
      expect(root.startTimeUnixNano).toBe(1544712660000000000n)
      expect(attribute(root, "count")).toBe(12n)
      expect(attribute(root, "nested")).toEqual({ k: true })
      expect(trace.roots[0].children[0].span.events[0].timeUnixNano).toBe(1544712660150000000n)
    }).pipe(Effect.scoped))
})

describe("UserTraceSink: bad requests", () => {
  it.live("garbage, bad JSON, bad gzip get 400 with a Status body; the sink goes on on the same connection", () =>
    Effect.gen(function*() {
      const sink = yield* socketSink()
      const agent = new Http.Agent({ keepAlive: true, maxSockets: 1 })
      yield* Effect.addFinalizer(() => Effect.sync(() => agent.destroy()))
      const target = targetOf(sink)
      const garbage = yield* send(target, Uint8Array.of(0x0a, 0xff, 0xff, 0xff), { agent })
      expect(garbage.status).toBe(400)
      expect(garbage.headers["content-type"]).toBe("application/x-protobuf")
      const status = RpcStatus.toObject(RpcStatus.decode(garbage.body)) as { code: number; message: string }
      expect(status.code).toBe(3)
      expect(status.message).toMatch(/^invalid ExportTraceServiceRequest/)

      const badJson = yield* send(target, "{not json", { agent, headers: { "content-type": "application/json" } })
      expect(badJson.status).toBe(400)
      expect(badJson.headers["content-type"]).toBe("application/json")
      expect(JSON.parse(badJson.body.toString()).message).toMatch(/^invalid ExportTraceServiceRequest/)

      const badShape = yield* send(
        target,
        JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: "zz" }] }] }] }),
        {
          agent,
          headers: { "content-type": "application/json" }
        }
      )
      expect(badShape.status).toBe(400)

      const badGzip = yield* send(target, "definitely not gzip", { agent, headers: { "content-encoding": "gzip" } })
      expect(badGzip.status).toBe(400)
      expect(RpcStatus.decode(badGzip.body).toJSON().message).toMatch(/^invalid gzip body/)

      const good = yield* send(target, protobufBody(yield* simpleTrace), { agent })
      expect(good.status).toBe(200)
      expect((yield* sink.received).map((s) => s.name)).toEqual(["child", "root"])
      expect(yield* sink.stats).toEqual({ accepted: 1, rejected: 4, spans: 2, rejectedSpans: 0 })
    }).pipe(Effect.scoped))

  it.live("other paths 404, other methods 405, other content types or encodings 415", () =>
    Effect.gen(function*() {
      const sink = yield* socketSink()
      const target = targetOf(sink)
      const body = protobufBody(yield* simpleTrace)
      expect((yield* send(target, body, { path: "/v1/metrics" })).status).toBe(404)
      expect((yield* send(target, body, { path: "/" })).status).toBe(404)
      const get = yield* send(target, "", { method: "GET" })
      expect(get.status).toBe(405)
      expect(get.headers.allow).toBe("POST")
      expect((yield* send(target, body, { headers: { "content-type": "text/plain" } })).status).toBe(415)
      expect((yield* send(target, body, { headers: { "content-encoding": "br" } })).status).toBe(415)
      // A query string does not change the path.
      expect((yield* send(target, body, { path: "/v1/traces?x=1" })).status).toBe(200)
      expect((yield* sink.stats).rejected).toBe(5)
    }).pipe(Effect.scoped))

  it.live("bodies over maxBodySize get 413: declared, chunked, or inflated from gzip", () =>
    Effect.gen(function*() {
      const sink = yield* socketSink({ maxBodySize: 1024 })
      const target = targetOf(sink)
      const big = Buffer.alloc(4096, 1)
      expect((yield* send(target, big)).status).toBe(413)
      expect((yield* send(target, big, { pieces: 8 })).status).toBe(413)
      const bomb = Zlib.gzipSync(Buffer.alloc(100_000))
      expect(bomb.length).toBeLessThan(1024)
      expect((yield* send(target, bomb, { headers: { "content-encoding": "gzip" } })).status).toBe(413)
      expect((yield* send(target, protobufBody(yield* simpleTrace))).status).toBe(200)
    }).pipe(Effect.scoped))

  it.live("spans with a bad trace or span id are rejected as a partial success", () =>
    Effect.gen(function*() {
      const sink = yield* socketSink()
      const spans = yield* simpleTrace
      // A record's ids are getters: copy the fields one by one.
      const { traceId, traceFlags, traceState, routing, name, kind, startTime, endTime, attributes, events, status } =
        spans[0]
      const bad: FinishedUserSpan = {
        ...{ traceId, traceFlags, traceState, routing, name, kind, startTime, endTime, attributes, events, status },
        spanId: "0000000000000000",
        parentSpanId: undefined,
        remoteParent: false,
        links: [],
        statusMessage: "",
        droppedAttributesCount: 0,
        droppedEventsCount: 0,
        droppedLinksCount: 0
      }
      const answer = yield* send(targetOf(sink), protobufBody([bad, spans[1]]))
      expect(answer.status).toBe(200)
      const response = ExportTraceServiceResponse.decode(answer.body)
      expect(Number(response.partialSuccess.rejectedSpans)).toBe(1)
      expect(response.partialSuccess.errorMessage).toMatch(/invalid/)
      expect((yield* sink.received).map((s) => s.name)).toEqual(["root"])
    }).pipe(Effect.scoped))
})

describe("UserTraceSink: lifecycle", () => {
  it.live("closing the layer closes the server, removes the socket file and ends the span stream", () =>
    Effect.gen(function*() {
      const socketPath = tempSocketPath()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(UserTraceSink.layer({ socketPath }), scope)
      const service = Context.get(context, UserTraceSink.UserTraceSink)
      expect(Fs.statSync(socketPath).isSocket()).toBe(true)
      const collecting = yield* Effect.fork(Stream.runCollect(service.spans))
      yield* send({ socketPath }, protobufBody(yield* simpleTrace))
      yield* Scope.close(scope, Exit.void)
      expect(Fs.existsSync(socketPath)).toBe(false)
      const collected = yield* Fiber.join(collecting)
      expect(Chunk.toArray(collected).map((s) => s.name)).toEqual(["child", "root"])
      const after = yield* Effect.either(send({ socketPath }, "x"))
      expect(after._tag).toBe("Left")
    }))

  it.live("the service through its tag", () =>
    Effect.gen(function*() {
      const sink = yield* UserTraceSink.UserTraceSink
      expect(sink.address._tag).toBe("Tcp")
      expect((yield* send(targetOf(sink), protobufBody(yield* simpleTrace))).status).toBe(200)
      expect(yield* sink.received).toHaveLength(2)
    }).pipe(Effect.provide(UserTraceSink.layer({ port: 0 }))))

  it.live("a stale socket file is replaced; a live one or a regular file fails with UserTraceSinkError", () =>
    Effect.gen(function*() {
      const socketPath = tempSocketPath()
      // A socket file whose listener is gone: a process that binds it and is killed at once.
      ChildProcess.spawnSync(process.execPath, [
        "-e",
        `require("node:net").createServer().listen(${
          JSON.stringify(socketPath)
        }, () => process.kill(process.pid, "SIGKILL"))`
      ])
      expect(Fs.lstatSync(socketPath).isSocket()).toBe(true)
      yield* Effect.scoped(Effect.gen(function*() {
        const sink = yield* UserTraceSink.make({ socketPath })
        expect((yield* send({ socketPath }, protobufBody(yield* simpleTrace))).status).toBe(200)
        const second = yield* Effect.flip(UserTraceSink.make({ socketPath }))
        expect(second._tag).toBe("UserTraceSinkError")
        expect(second.message).toContain("another process is listening")
        expect(sink.address).toEqual({ _tag: "Unix", socketPath })
      }))
      Fs.writeFileSync(socketPath, "not a socket")
      const error = yield* Effect.flip(Effect.scoped(UserTraceSink.make({ socketPath })))
      expect(error.message).toContain("is not a socket")
      expect(Fs.readFileSync(socketPath, "utf8")).toBe("not a socket")
    }))

  it.live("an address it must not listen on fails before it tries: an empty host, a socket path the kernel would cut", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-"))
      // 107 bytes fit `sun_path` with its NUL; 108 would be cut (multi-byte characters count as their bytes).
      const pathOf = (bytes: number) => {
        const name = "é".repeat(Math.floor((bytes - dir.length - 1) / 2)) + "x".repeat((bytes - dir.length - 1) % 2)
        return Path.join(dir, name)
      }
      expect(Buffer.byteLength(pathOf(107))).toBe(107)
      for (const bytes of [108, 200]) {
        const socketPath = pathOf(bytes)
        const error = yield* Effect.flip(Effect.scoped(UserTraceSink.make({ socketPath })))
        expect(error._tag).toBe("UserTraceSinkError")
        expect(error.message).toBe(
          `socketPath must be at most 107 bytes (the kernel cuts a longer Unix socket path); this one has ${bytes}`
        )
      }
      for (const host of ["", " "]) {
        const error = yield* Effect.flip(Effect.scoped(UserTraceSink.make({ port: 0, host })))
        expect(error.message).toMatch(/^host must be a non-empty address \(default 127\.0\.0\.1/)
      }
      // Nothing was bound, cut or left behind; the longest path that fits works and is removed at close.
      expect(Fs.readdirSync(dir)).toEqual([])
      yield* Effect.scoped(Effect.gen(function*() {
        const sink = yield* UserTraceSink.make({ socketPath: pathOf(107) })
        expect((yield* send(targetOf(sink), protobufBody(yield* simpleTrace))).status).toBe(200)
        expect(Fs.readdirSync(dir)).toHaveLength(1)
      }))
      expect(Fs.readdirSync(dir)).toEqual([])
    }))

  it.live("completedTraces: a trace is emitted after a quiet period once its root arrived; pending ones at close", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const sink = yield* socketSink().pipe(Scope.extend(scope))
      const completed: Array<string> = []
      const consuming = yield* Effect.fork(
        Stream.runForEach(
          sink.completedTraces({ quietPeriod: "300 millis", orphanTimeout: "10 seconds" }),
          (trace) => Effect.sync(() => completed.push(names(trace.roots).map(String).join(";")))
        )
      )
      const [child, root] = yield* simpleTrace
      // The child alone: no root yet, so nothing is emitted.
      yield* send(targetOf(sink), protobufBody([child]))
      yield* Effect.sleep("500 millis")
      expect(completed).toEqual([])
      yield* send(targetOf(sink), protobufBody([root]))
      const rootSent = Date.now()
      yield* eventually(() => completed.length > 0)
      expect(Date.now() - rootSent).toBeGreaterThanOrEqual(280)
      expect(completed).toEqual(["root,child"])
      // A rootless trace stays pending until the sink closes.
      const [orphan] = yield* testSpans(
        Effect.void.pipe(withUserSpan("orphan"), withUserTrace("never-sent", { routing: acme }))
      )
      yield* send(targetOf(sink), protobufBody([orphan]))
      yield* Scope.close(scope, Exit.void)
      yield* Fiber.join(consuming)
      expect(completed).toEqual(["root,child", "orphan"])
    }))
})
