import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, Option, Queue, type Scope } from "effect"
import { HttpClient, HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { TestUserTracing, Traceparent, UserTracing, UserTracingTest } from "../src/index.js"
import * as UserTracingHttp from "../src/UserTracingHttp.js"
import { routing } from "./utils/helpers.js"

const inboundTraceId = "4bf92f3577b34da6a3ce929d0e0e4736"
const inboundParentId = "00f067aa0ba902b7"
const inboundTraceparent = `00-${inboundTraceId}-${inboundParentId}-01`

/** A real Node server on a random port, a client pointed at it, and an in-memory user sink. */
const TestLayer = Layer.mergeAll(NodeHttpServer.layerTest, TestUserTracing)

type App = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  unknown,
  HttpServerRequest.HttpServerRequest | Scope.Scope
>
type Middleware = <E, R>(app: UserTracingHttp.App<E, R>) => UserTracingHttp.App<E, R>

/** Routes, the middleware around each route's handler (inside the router) or none: `/items/:id` (200), `/status/:code` (that status), `/echo` (the request headers as JSON). */
const routes = (inside: Middleware = (app) => app) =>
  Layer.mergeAll(
    HttpRouter.add("GET", "/items/:id", inside(Effect.succeed(HttpServerResponse.text("item")))),
    HttpRouter.add(
      "GET",
      "/status/:code",
      inside(Effect.map(HttpRouter.params, (params) => HttpServerResponse.empty({ status: Number(params.code) })))
    ),
    HttpRouter.add(
      "GET",
      "/echo",
      inside(Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
        HttpServerResponse.jsonUnsafe({ ...request.headers })))
    )
  )

/**
 * Serves `app` (by default the router) through `middleware` and returns a take that completes once
 * a request has left the middleware, so its user root has ended (the client may see the response earlier).
 */
const serve = (middleware: Middleware, app?: App) =>
  Effect.gen(function*() {
    const done = yield* Queue.unbounded<void>()
    const handler: App = app ?? (yield* HttpRouter.toHttpEffect(routes()))
    yield* HttpServer.serveEffect()(Effect.ensuring(middleware(handler), Queue.offer(done, void 0)))
    return Queue.take(done)
  })

const withoutPropagation = (client: HttpClient.HttpClient) =>
  HttpClient.transform(client, (effect) => Effect.provideService(effect, HttpClient.TracerPropagationEnabled, false))

/** The test client without Effect's own propagation, so hand-written headers reach the wire. */
const rawClient = Effect.map(HttpClient.HttpClient, withoutPropagation)

const echo = (client: HttpClient.HttpClient) =>
  client.get("/echo").pipe(
    Effect.flatMap((response) => response.json),
    Effect.map((body) => body as Record<string, string>)
  )

const always = UserTracingHttp.middleware({ routing: () => Option.some(routing) })

describe("middleware", () => {
  it.live("continues an inbound traceparent and keeps its tracestate", () =>
    Effect.gen(function*() {
      const handled = yield* serve(always)
      const client = yield* rawClient
      const response = yield* client.get("/items/42?secret=1", {
        headers: { traceparent: inboundTraceparent, tracestate: "vendor=value,other=x" }
      })
      expect(response.status).toBe(200)
      expect(yield* response.text).toBe("item")
      yield* handled
      const [root] = yield* UserTracingTest.finishedSpans
      expect(root.traceId).toBe(inboundTraceId)
      expect(root.parentSpanId).toBe(inboundParentId)
      expect(root.remoteParent).toBe(true)
      expect(root.traceState).toBe("vendor=value,other=x")
      expect(root.kind).toBe("server")
      expect(root.name).toBe("GET /items/42")
      expect(root.routing.encode()).toBe(routing.encode())
      expect([...root.attributes]).toEqual([
        ["http.request.method", "GET"],
        ["url.path", "/items/42"],
        ["http.response.status_code", 200]
      ])
      expect(root.status).toBe("unset")
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))

  it.live("a malformed traceparent is ignored: a fresh trace, no tracestate", () =>
    Effect.gen(function*() {
      const handled = yield* serve(always)
      const client = yield* rawClient
      const response = yield* client.get("/items/1", {
        headers: { traceparent: `00-${inboundTraceId}-${inboundParentId}-0`, tracestate: "vendor=value" }
      })
      expect(response.status).toBe(200)
      yield* handled
      const [root] = yield* UserTracingTest.finishedSpans
      expect(root.parentSpanId).toBeUndefined()
      expect(root.remoteParent).toBe(false)
      expect(root.traceId).not.toBe(inboundTraceId)
      expect(root.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(root.traceState).toBeUndefined()
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))

  it.live("routing None records nothing and leaves the response alone", () =>
    Effect.gen(function*() {
      const routed = UserTracingHttp.middleware({
        routing: (request) => request.headers["x-tenant"] === undefined ? Option.none() : Option.some(routing)
      })
      const handled = yield* serve(routed)
      const client = yield* rawClient
      const response = yield* client.get("/items/1", { headers: { traceparent: inboundTraceparent } })
      expect(yield* response.text).toBe("item")
      yield* handled
      expect(yield* UserTracingTest.finishedSpans).toEqual([])
      yield* client.get("/items/1", { headers: { "x-tenant": "acme" } })
      yield* handled
      expect((yield* UserTracingTest.finishedSpans).length).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))

  it.live("inside the router the root is named after the matched route", () =>
    Effect.gen(function*() {
      const handled = yield* serve((app) => app, yield* HttpRouter.toHttpEffect(routes(always)))
      const client = yield* rawClient
      yield* client.get("/items/42?q=1")
      yield* handled
      const [root] = yield* UserTracingTest.finishedSpans
      expect(root.name).toBe("GET /items/:id")
      expect(root.attributes.get("http.route")).toBe("/items/:id")
      expect(root.attributes.has("url.path")).toBe(false)
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))

  it.live("5xx marks the root as error, 4xx does not; a custom span name", () =>
    Effect.gen(function*() {
      const named = UserTracingHttp.middleware({ routing: () => Option.some(routing), spanName: () => "request" })
      const handled = yield* serve(named)
      const client = yield* rawClient
      for (const path of ["/status/503", "/status/404", "/nowhere"]) {
        yield* client.get(path)
        yield* handled
      }
      const spans = yield* UserTracingTest.finishedSpans
      expect(spans.map((s) => [s.name, s.attributes.get("http.response.status_code"), s.status])).toEqual([
        ["request", 503, "error"],
        ["request", 404, "unset"],
        ["request", 404, "unset"]
      ])
      expect(spans[0].attributes.get("error")).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))
})

describe("withUserTracing (client)", () => {
  it.live("each request runs in its own client span and carries that span's id; Effect's own context too", () =>
    Effect.gen(function*() {
      const handled = yield* serve((app) => app)
      // Effect's own propagation stays on: by default the user context travels in headers of its own.
      const client = UserTracingHttp.withUserTracing(yield* HttpClient.HttpClient)
      const [first, second] = yield* Effect.all([echo(client), echo(client)]).pipe(
        UserTracing.withUserTrace("job", {
          routing,
          inbound: Option.getOrUndefined(Traceparent.parse(inboundTraceparent)),
          tracestate: "vendor=value"
        })
      )
      yield* handled
      yield* handled
      const spans = yield* UserTracingTest.finishedSpans
      const root = spans.find((s) => s.name === "job")!
      const clientSpans = spans.filter((s) => s.kind === "client")
      expect(clientSpans.map((s) => s.name)).toEqual(["GET /echo", "GET /echo"])
      const sent = [first, second].map((headers) => Option.getOrThrow(Traceparent.parse(headers["x-user-traceparent"])))
      expect(sent.map((tp) => tp.traceId)).toEqual([inboundTraceId, inboundTraceId])
      expect(sent[0].parentId).not.toBe(sent[1].parentId)
      expect(sent.map((tp) => tp.parentId)).toEqual(clientSpans.map((s) => s.spanId))
      expect(clientSpans.map((s) => s.parentSpanId)).toEqual([root.spanId, root.spanId])
      expect([first["x-user-tracestate"], second["x-user-tracestate"]]).toEqual(["vendor=value", "vendor=value"])
      // Effect's internal context is in `traceparent` and `b3`, and is not the user trace.
      for (const headers of [first, second]) {
        const internal = Option.getOrThrow(Traceparent.parse(headers.traceparent))
        expect(internal.traceId).toBe(headers.b3.split("-")[0])
        expect(internal.traceId).not.toBe(inboundTraceId)
        expect(headers.tracestate).toBeUndefined()
      }
      expect([...clientSpans[0].attributes]).toEqual([
        ["http.request.method", "GET"],
        ["http.response.status_code", 200]
      ])
      expect(clientSpans[0].status).toBe("unset")
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))

  it.live("the user context in the W3C headers: Effect's propagation is off on those requests, said once", () =>
    Effect.gen(function*() {
      const handled = yield* serve((app) => app)
      const logs: Array<string> = []
      const logger = Layer.succeed(
        Logger.CurrentLoggers,
        new Set([Logger.make<unknown, void>(({ message }) => {
          logs.push(Array.isArray(message) ? message.join(" ") : String(message))
        })])
      )
      const client = UserTracingHttp.withUserTracing(yield* HttpClient.HttpClient, {
        traceparentHeader: "traceparent",
        tracestateHeader: "tracestate"
      })
      const [first, second] = yield* Effect.all([echo(client), echo(client)]).pipe(
        UserTracing.withUserTrace("job", {
          routing,
          inbound: Option.getOrUndefined(Traceparent.parse(inboundTraceparent))
        }),
        Effect.provide(logger)
      )
      yield* handled
      yield* handled
      expect([first, second].map((h) => Traceparent.parse(h.traceparent).pipe(Option.map((tp) => tp.traceId))))
        .toEqual([Option.some(inboundTraceId), Option.some(inboundTraceId)])
      // No internal b3 either: Effect's propagation was off for these requests.
      expect([first.b3, second.b3]).toEqual([undefined, undefined])
      // Said once (per process; no other test of this file sends the user context in `traceparent`).
      const said = logs.filter((line) => line.includes("Effect's own trace context is not propagated"))
      expect(said.length).toBe(1)
      expect(said[0]).toContain("`traceparent`")
      // Outside a user trace the same client leaves Effect's propagation alone.
      const untraced = yield* echo(client)
      yield* handled
      expect(untraced.b3).toBeDefined()
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))

  it.live("no user trace: the request is sent unchanged and nothing is recorded", () =>
    Effect.gen(function*() {
      const handled = yield* serve((app) => app)
      const client = UserTracingHttp.withUserTracing(yield* HttpClient.HttpClient)
      const headers = yield* echo(client)
      yield* handled
      // Only Effect's own propagation: its traceparent matches its b3.
      expect(headers.b3).toBeDefined()
      expect(Option.getOrThrow(Traceparent.parse(headers.traceparent)).traceId).toBe(headers.b3.split("-")[0])
      expect(headers.tracestate).toBeUndefined()
      const quiet = UserTracingHttp.withUserTracing(yield* rawClient)
      const none = yield* echo(quiet)
      yield* handled
      expect(none.traceparent).toBeUndefined()
      expect(none.tracestate).toBeUndefined()
      expect(yield* UserTracingTest.finishedSpans).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))

  it.live("a 4xx response marks the client span as error", () =>
    Effect.gen(function*() {
      const handled = yield* serve((app) => app)
      const client = UserTracingHttp.withUserTracing(yield* HttpClient.HttpClient, {
        spanName: (r) => r.method
      })
      const response = yield* client.get("/status/404").pipe(UserTracing.withUserTrace("job", { routing }))
      expect(response.status).toBe(404)
      yield* handled
      const span = (yield* UserTracingTest.finishedSpans).find((s) => s.kind === "client")!
      expect(span.name).toBe("GET")
      expect(span.attributes.get("http.response.status_code")).toBe(404)
      expect(span.status).toBe("error")
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))
})

describe("custom header names", () => {
  it.live("client and middleware on x-user-*: both pipelines propagate, the user trace is stitched", () =>
    Effect.gen(function*() {
      const names = { traceparentHeader: "X-User-Traceparent", tracestateHeader: "X-User-Tracestate" }
      const recorded = yield* Queue.unbounded<Record<string, string>>()
      const app = Effect.flatMap(
        HttpServerRequest.HttpServerRequest,
        (request) => Effect.as(Queue.offer(recorded, request.headers), HttpServerResponse.empty())
      )
      const handled = yield* serve(UserTracingHttp.middleware({ routing: () => Option.some(routing), ...names }), app)
      const client = UserTracingHttp.withUserTracing(yield* HttpClient.HttpClient, names)
      yield* client.get("/hop").pipe(
        UserTracing.withUserTrace("job", {
          routing,
          inbound: Option.getOrUndefined(Traceparent.parse(inboundTraceparent)),
          tracestate: "vendor=value"
        })
      )
      yield* handled
      const headers = yield* Queue.take(recorded)
      const user = Option.getOrThrow(Traceparent.parse(headers["x-user-traceparent"]))
      const internal = Option.getOrThrow(Traceparent.parse(headers.traceparent))
      expect(user.traceId).toBe(inboundTraceId)
      expect(internal.traceId).not.toBe(inboundTraceId)
      expect(headers.b3).toBeDefined()
      expect(headers["x-user-tracestate"]).toBe("vendor=value")
      expect(headers.tracestate).toBeUndefined()
      const spans = yield* UserTracingTest.finishedSpans
      const clientSpan = spans.find((s) => s.kind === "client")!
      const serverRoot = spans.find((s) => s.kind === "server")!
      expect(clientSpan.spanId).toBe(user.parentId)
      expect(serverRoot.traceId).toBe(inboundTraceId)
      expect(serverRoot.parentSpanId).toBe(clientSpan.spanId)
      expect(serverRoot.traceState).toBe("vendor=value")
      expect(serverRoot.name).toBe("GET /hop")
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))

  it("invalid header names are rejected when built", () => {
    expect(() => UserTracingHttp.middleware({ routing: () => Option.none(), traceparentHeader: "bad header" })).toThrow(
      /traceparentHeader/
    )
    expect(() => UserTracingHttp.withUserTracing({ traceparentHeader: "x", tracestateHeader: "X" })).toThrow(/same/)
    // A tracestate travels with its traceparent: W3C names for both or neither.
    expect(() => UserTracingHttp.withUserTracing({ tracestateHeader: "tracestate" })).toThrow(/both/)
    expect(() => UserTracingHttp.withUserTracing({ routingHeader: "x-user-traceparent" })).toThrow(/routingHeader/)
    expect(() => UserTracingHttp.withUserTracing({ routingHeader: "bad header" })).toThrow(/routingHeader/)
    expect(() => UserTracingHttp.routingFromHeader("bad header")).toThrow(/routingFromHeader/)
    expect(() => UserTracingHttp.middleware({ deferred: true, serviceTraceparentHeader: "tracestate" })).not.toThrow()
    expect(() => UserTracingHttp.middleware({} as UserTracingHttp.MiddlewareOptions)).toThrow(/routing/)
    expect(() => UserTracingHttp.middleware({ deferred: true, serviceTracestateHeader: "x-user-traceparent" })).toThrow(
      /same/
    )
  })
})
