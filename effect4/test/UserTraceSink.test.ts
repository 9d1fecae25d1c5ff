import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, Scope, Stream } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import { RoutingMetadata, Traceparent, UserTraceSink, UserTracing } from "../src/index.js"
import { tempSocketPath } from "./utils/receiver.js"

const { withUserSpan, withUserTrace } = UserTracing
const inboundTraceId = "0af7651916cd43dd8448eb211c80319c"
const inbound = Option.getOrThrow(Traceparent.parse(`00-${inboundTraceId}-b7ad6b7169203331-01`))
const acme = RoutingMetadata.json({ tenant: "acme" })

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

const names = (nodes: ReadonlyArray<UserTraceSink.ReceivedSpanNode>): Array<unknown> =>
  nodes.map((node) => node.children.length === 0 ? node.span.name : [node.span.name, names(node.children)])

/** A raw request to the sink's socket: its status. */
const post = (socketPath: string, path: string, headers: Record<string, string>, body: string) =>
  Effect.callback<number>((resume) => {
    const request = Http.request({ socketPath, path, method: "POST", headers }, (response) => {
      response.resume()
      response.on("end", () => resume(Effect.succeed(response.statusCode ?? 0)))
    })
    request.end(body)
  })

describe("UserTraceSink on Effect 4", () => {
  it.live("receives what the live pipeline exports: trees, ids, the routing header", () =>
    Effect.gen(function*() {
      const sink = yield* UserTraceSink.make({ socketPath: tempSocketPath() })
      yield* withPipeline(
        socketOf(sink),
        Effect.gen(function*() {
          yield* UserTracing.annotateUserSpan({ s: "text", i: 42 })
          yield* Effect.void.pipe(withUserSpan("grandchild"), withUserSpan("child", { kind: "client" }))
        }).pipe(withUserTrace("request", { routing: acme, inbound, kind: "server" }))
      )
      const [trace] = yield* sink.traces
      expect(trace.traceId).toBe(inboundTraceId)
      expect(names(trace.roots)).toEqual([["request", [["child", ["grandchild"]]]]])
      const root = trace.roots[0].span
      expect(root.serviceName).toBe("checkout")
      expect(root.headers["x-user-routing"]).toBe("{\"tenant\":\"acme\"}")
      expect(root.attributes).toEqual([["s", "text"], ["i", 42n]])
      expect(yield* sink.stats).toMatchObject({ accepted: 1, rejected: 0, spans: 3 })
      // Drawn as the viewer draws it: the tree, one bar per span, the routing header.
      const drawn = UserTraceSink.renderWaterfall(trace, { routingHeader: "x-user-routing", width: 90 })
      expect(drawn).toMatch(new RegExp(`^trace ${inboundTraceId} {2}checkout · 3 spans · `))
      expect(drawn).toContain("x-user-routing: {\"tenant\":\"acme\"}")
      expect(drawn).toMatch(/^request server /m)
      expect(drawn).toMatch(/^└─ child client /m)
    }).pipe(Effect.scoped))

  it.live("spans streams what arrived and what arrives; completedTraces emits a trace once its root came and it went quiet", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const sink = yield* UserTraceSink.make({ socketPath: tempSocketPath() }).pipe(Scope.provide(scope))
      const completed = yield* Stream.runCollect(Stream.take(sink.completedTraces({ quietPeriod: "50 millis" }), 1))
        .pipe(
          Effect.forkChild
        )
      yield* withPipeline(
        socketOf(sink),
        Effect.void.pipe(withUserSpan("child"), withUserTrace("a", { routing: acme }))
      )
      const [trace] = yield* Fiber.join(completed)
      expect(names(trace.roots)).toEqual([["a", ["child"]]])
      const streamed = yield* Stream.runCollect(sink.spans).pipe(Effect.forkChild)
      yield* Scope.close(scope, Exit.void)
      // Closing ends the stream (after the spans already received) and removes the socket.
      expect((yield* Fiber.join(streamed)).map((span) => span.name).sort()).toEqual(["a", "child"])
      expect(Fs.existsSync(socketOf(sink))).toBe(false)
    }))

  it.live("answers like an OTLP receiver: other paths 404, other content types 415, garbage 400", () =>
    Effect.gen(function*() {
      const sink = yield* UserTraceSink.make({ socketPath: tempSocketPath() })
      const socketPath = socketOf(sink)
      expect(yield* post(socketPath, "/v1/logs", { "content-type": "application/x-protobuf" }, "")).toBe(404)
      expect(yield* post(socketPath, "/v1/traces", { "content-type": "text/plain" }, "x")).toBe(415)
      expect(yield* post(socketPath, "/v1/traces", { "content-type": "application/json" }, "{")).toBe(400)
      expect(yield* sink.stats).toMatchObject({ accepted: 0, rejected: 3 })
    }).pipe(Effect.scoped))

  it.effect("an address it must not listen on fails before it tries", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(UserTraceSink.make({ socketPath: `/tmp/${"x".repeat(120)}` }))
      expect(error._tag).toBe("UserTraceSinkError")
      expect(error.message).toMatch(/^socketPath must be at most 107 bytes/)
    }).pipe(Effect.scoped))
})
