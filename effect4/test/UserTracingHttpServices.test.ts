// A chain of services, deferred roots per request, and where the client lets the user context go.
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Layer, Logger, Option, Queue, type Scope, Tracer } from "effect"
import {
  FetchHttpClient,
  HttpBody,
  HttpClient,
  HttpRouter,
  HttpServer,
  HttpServerRequest,
  HttpServerResponse
} from "effect/http"
import * as Http from "node:http"
import { RoutingMetadata, TestUserTracing, Traceparent, UserTracing, UserTracingTest } from "../src/index.js"
import * as UserTracingHttp from "../src/UserTracingHttp.js"
import { routing } from "./utils/helpers.js"

const inboundTraceId = "4bf92f3577b34da6a3ce929d0e0e4736"
const inboundTraceparent = `00-${inboundTraceId}-00f067aa0ba902b7-01`

type App = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  unknown,
  HttpServerRequest.HttpServerRequest | Scope.Scope
>

const withoutPropagation = (client: HttpClient.HttpClient) =>
  HttpClient.transform(client, (effect) => Effect.provideService(effect, HttpClient.TracerPropagationEnabled, false))

const TestLayer = Layer.mergeAll(NodeHttpServer.layerTest, TestUserTracing)

/**
 * Serves `app` and returns a take that completes once a request has left it (its user root has
 * ended: the client may see the response earlier).
 */
const serve = (app: App) =>
  Effect.gen(function*() {
    const done = yield* Queue.unbounded<void>()
    yield* HttpServer.serveEffect()(Effect.ensuring(app, Queue.offer(done, void 0)))
    return Queue.take(done)
  })

/** The request headers, as JSON. */
const echoHeaders = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (request) => HttpServerResponse.jsonUnsafe({ ...request.headers })
)

/** The test client without Effect's own propagation: what an outside caller sends. */
const outsideClient = Effect.map(HttpClient.HttpClient, withoutPropagation)

const json = (response: { readonly json: Effect.Effect<unknown, unknown> }) =>
  Effect.map(response.json, (body) => body as Record<string, string>)

const tenantRouting = (request: HttpServerRequest.HttpServerRequest) =>
  Option.map(Option.fromNullishOr(request.headers["x-tenant"]), (tenant) => RoutingMetadata.json({ tenant }))

describe("a chain of services", () => {
  it.live("routing sent in a header continues one customer trace downstream; both pipelines propagate", () =>
    Effect.gen(function*() {
      const seenByB = yield* Queue.unbounded<Record<string, string>>()
      const client = yield* HttpClient.HttpClient
      const serviceB = UserTracingHttp.middleware({ routing: UserTracingHttp.routingFromHeader("x-user-routing") })(
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          yield* Queue.offer(seenByB, request.headers)
          yield* Effect.void.pipe(UserTracing.withUserSpan("work-in-b"))
          return HttpServerResponse.empty()
        })
      )
      // Service A forwards nothing by hand: the client sends the routing when told to.
      const serviceA = (routingHeader: string | undefined) =>
        UserTracingHttp.middleware({ routing: tenantRouting })(
          Effect.gen(function*() {
            const toB = UserTracingHttp.withUserTracing(client, routingHeader === undefined ? {} : { routingHeader })
            yield* toB.get("/b/work")
            return HttpServerResponse.empty()
          })
        )
      const handled = yield* serve(
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          request.url.startsWith("/b/")
            ? serviceB
            : serviceA(request.url.startsWith("/a/routed") ? "x-user-routing" : undefined))
      )
      const outside = yield* outsideClient
      yield* outside.get("/a/routed", { headers: { "x-tenant": "acme", traceparent: inboundTraceparent } })
      yield* handled
      yield* handled
      const spans = yield* UserTracingTest.finishedSpans
      const byName = new Map(spans.map((span) => [span.name, span]))
      const rootA = byName.get("GET /a/routed")!
      const clientA = spans.find((span) => span.kind === "client")!
      const rootB = spans.find((span) => span.kind === "server" && span.name === "GET /b/work")!
      expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set([inboundTraceId]))
      expect(clientA.parentSpanId).toBe(rootA.spanId)
      expect(rootB.parentSpanId).toBe(clientA.spanId)
      expect(rootB.routing.encode()).toBe(RoutingMetadata.json({ tenant: "acme" }).encode())
      expect(byName.get("work-in-b")!.parentSpanId).toBe(rootB.spanId)
      // Effect's own context went along in `traceparent` and `b3`, apart from the user context (its
      // trace id is the customer's here only because Effect's server continued their `traceparent`).
      const headers = yield* Queue.take(seenByB)
      expect(headers["x-user-routing"]).toBe(RoutingMetadata.json({ tenant: "acme" }).encode())
      expect(Option.getOrThrow(Traceparent.parse(headers["x-user-traceparent"])).parentId).toBe(clientA.spanId)
      const internal = Option.getOrThrow(Traceparent.parse(headers.traceparent))
      expect(internal.parentId).not.toBe(clientA.spanId)
      // Effect 4 writes b3 as <trace id>-<span id>-<sampled>.
      expect(headers.b3).toBe(`${internal.traceId}-${internal.parentId}-1`)
      // Off unless named: without routingHeader, service B has no routing and traces nothing.
      yield* outside.get("/a/plain", { headers: { "x-tenant": "acme" } })
      yield* handled
      yield* handled
      expect((yield* Queue.take(seenByB))["x-user-routing"]).toBeUndefined()
      const after = yield* UserTracingTest.finishedSpans
      expect(after.filter((span) => span.kind === "server" && span.name.startsWith("GET /b/")).length).toBe(1)
      expect(after.filter((span) => span.kind === "client").length).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))

  it.live("the middleware reads your services' headers first; present but malformed, they start a fresh trace", () =>
    Effect.gen(function*() {
      const handled = yield* serve(UserTracingHttp.middleware({ routing: () => Option.some(routing) })(echoHeaders))
      const outside = yield* outsideClient
      const serviceTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
      yield* outside.get("/one", {
        headers: {
          "x-user-traceparent": serviceTraceparent,
          "x-user-tracestate": "service=1",
          traceparent: inboundTraceparent,
          tracestate: "edge=1"
        }
      })
      yield* handled
      yield* outside.get("/two", { headers: { "x-user-traceparent": "garbage", traceparent: inboundTraceparent } })
      yield* handled
      const [one, two] = yield* UserTracingTest.finishedSpans
      expect([one.traceId, one.parentSpanId, one.traceState]).toEqual([
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
        "service=1"
      ])
      // On a hop between services `traceparent` is Effect's own: it never becomes the user trace.
      expect(two.traceId).not.toBe(inboundTraceId)
      expect(two.parentSpanId).toBeUndefined()
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))

  it("routingFromHeader: the header's value as routing; none when absent, empty or too long", () => {
    const read = UserTracingHttp.routingFromHeader("X-User-Routing")
    const request = (headers: Record<string, string>) => ({ headers }) as unknown as HttpServerRequest.HttpServerRequest
    const some = Option.getOrThrow(read(request({ "x-user-routing": "{\"tenant\":\"acme\"}" })))
    expect([some.encode(), some.groupKey()]).toEqual(["{\"tenant\":\"acme\"}", "{\"tenant\":\"acme\"}"])
    expect(read(request({}))).toEqual(Option.none())
    expect(read(request({ "x-user-routing": "" }))).toEqual(Option.none())
    expect(read(request({ "x-user-routing": "x".repeat(8193) }))).toEqual(Option.none())
    expect(read(request({ "x-user-routing": "a\u0000b" }))).toEqual(Option.none())
  })
})

describe("middleware({ deferred: true })", () => {
  const apiKeys = new Map([["key-acme", "acme"]])
  /** The customer is known only after a lookup (here: a little I/O, then a map). */
  const lookup = (key: string | undefined) =>
    Effect.sleep("5 millis").pipe(Effect.as(Option.fromNullishOr(key === undefined ? undefined : apiKeys.get(key))))

  const app = Effect.gen(function*() {
    const handlerStart = yield* Clock.currentTimeNanos
    const request = yield* HttpServerRequest.HttpServerRequest
    const tenant = yield* lookup(request.headers["x-api-key"])
    if (Option.isNone(tenant)) return HttpServerResponse.empty({ status: 401 })
    const activated = yield* UserTracing.activateUserTrace("GET /orders", {
      routing: RoutingMetadata.json({ tenant: tenant.value })
    })
    yield* Effect.void.pipe(UserTracing.withUserSpan("load-orders"))
    return HttpServerResponse.jsonUnsafe({ activated, handlerStart: String(handlerStart) })
  })

  it.live("the handler activates the root after an effectful lookup; it started with the request", () =>
    Effect.gen(function*() {
      const handled = yield* serve(UserTracingHttp.middleware({ deferred: true })(app))
      const outside = yield* outsideClient
      const response = yield* outside.get("/orders?page=2", {
        headers: { "x-api-key": "key-acme", traceparent: inboundTraceparent, tracestate: "vendor=value" }
      })
      const body = yield* json(response)
      yield* handled
      expect(body.activated).toBe(true)
      const [child, root] = yield* UserTracingTest.finishedSpans
      expect(child.name).toBe("load-orders")
      expect(child.parentSpanId).toBe(root.spanId)
      expect(root.name).toBe("GET /orders")
      expect(root.kind).toBe("server")
      expect(root.startTime <= BigInt(body.handlerStart)).toBe(true)
      expect(root.routing.encode()).toBe(RoutingMetadata.json({ tenant: "acme" }).encode())
      expect([root.traceId, root.parentSpanId, root.traceState]).toEqual([
        inboundTraceId,
        "00f067aa0ba902b7",
        "vendor=value"
      ])
      expect([...root.attributes]).toEqual([
        ["http.request.method", "GET"],
        ["url.path", "/orders"],
        ["http.response.status_code", 200]
      ])
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))

  it.live("never activated (unknown customer), or an unsampled inbound parent: nothing is recorded", () =>
    Effect.gen(function*() {
      const handled = yield* serve(UserTracingHttp.middleware({ deferred: true })(app))
      const outside = yield* outsideClient
      const rejected = yield* outside.get("/orders", { headers: { "x-api-key": "unknown" } })
      expect(rejected.status).toBe(401)
      yield* handled
      const unsampled = yield* outside.get("/orders", {
        headers: { "x-api-key": "key-acme", traceparent: inboundTraceparent.replace(/01$/, "00") }
      })
      expect((yield* json(unsampled)).activated).toBe(false)
      yield* handled
      expect(yield* UserTracingTest.finishedSpans).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))
})

/** Effect's own spans, with the attributes each one had when it ended. */
const recordInternalSpans = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const spans: Array<Tracer.Span> = []
    const recording = Tracer.make({
      span: (options) => {
        const span = Tracer.nativeTracer.span(options)
        spans.push(span)
        return span
      }
    })
    return Effect.map(Effect.withTracer(self, recording), (a) => [a, spans] as const)
  })

describe("where the client lets the user context go", () => {
  const secretTrace = {
    routing,
    inbound: Option.getOrUndefined(Traceparent.parse(inboundTraceparent)),
    tracestate: "vendor=CUSTOMER-SECRET"
  }

  it.live("propagateTo sees the complete URL; refused, the request goes without any user header", () =>
    Effect.gen(function*() {
      const handled = yield* serve(echoHeaders)
      const asked: Array<string> = []
      const client = UserTracingHttp.withUserTracing(yield* HttpClient.HttpClient, {
        routingHeader: "x-user-routing",
        propagateTo: (url) => {
          asked.push(url.href)
          return false
        }
      })
      const headers = yield* Effect.flatMap(client.get("/echo?q=1"), json).pipe(
        UserTracing.withUserTrace("job", secretTrace)
      )
      yield* handled
      expect(asked.length).toBe(1)
      expect(asked[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/echo\?q=1$/)
      expect(JSON.stringify(headers)).not.toContain("CUSTOMER-SECRET")
      expect(Object.keys(headers).filter((name) => name.startsWith("x-user-"))).toEqual([])
      // The request still has its client span.
      expect((yield* UserTracingTest.finishedSpans).map((span) => span.kind)).toContain("client")
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))

  it("the default, privateDestination: private addresses and in-network names only", () => {
    const allowed = (url: string) => UserTracingHttp.privateDestination(new URL(url))
    for (
      const url of [
        "http://127.0.0.1:8080/",
        "http://10.1.2.3/",
        "http://172.20.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/",
        "http://[::1]:80/",
        "http://0.0.0.0:8080/",
        "http://[::]:8080/",
        "http://[fd12:3456::1]/",
        "http://localhost:3000/",
        "http://inventory:8080/",
        "http://inventory.shop.svc/",
        "http://inventory.shop.svc.cluster.local/",
        "http://db.internal/",
        "http://printer.local./"
      ]
    ) expect(allowed(url), url).toBe(true)
    for (
      const url of [
        "https://api.stripe.com/",
        "http://8.8.8.8/",
        "http://172.32.0.1/",
        "http://[2001:db8::1]/",
        "http://localhost.example.com/",
        "http://internal.example.com/"
      ]
    ) expect(allowed(url), url).toBe(false)
  })

  /** A redirect service: `/to/<host>` answers 302 to `http://<host>:<port>/echo`; `/same` to `/echo`. */
  const redirects = Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const port = (server.address as { readonly port: number }).port
    const router = yield* HttpRouter.toHttpEffect(Layer.mergeAll(
      HttpRouter.add("GET", "/echo", echoHeaders),
      HttpRouter.add("POST", "/echo", echoHeaders),
      HttpRouter.add(
        "GET",
        "/to/:host",
        Effect.map(
          HttpRouter.params,
          (params) =>
            HttpServerResponse.empty({ status: 302, headers: { location: `http://${params.host}:${port}/echo` } })
        )
      ),
      HttpRouter.add("GET", "/same", HttpServerResponse.empty({ status: 302, headers: { location: "/echo" } })),
      HttpRouter.add("POST", "/see-other", HttpServerResponse.empty({ status: 303, headers: { location: "/echo" } }))
    ))
    return { port, handled: yield* serve(router) }
  })

  it.live("over fetch, a redirect target propagateTo refuses gets no user context; an allowed one does", () =>
    Effect.gen(function*() {
      const { handled, port } = yield* redirects
      const client = UserTracingHttp.withUserTracing(yield* HttpClient.HttpClient, {
        routingHeader: "x-user-routing",
        propagateTo: (url) => url.hostname === "127.0.0.1"
      })
      const get = (path: string) =>
        Effect.flatMap(
          client.get(`http://127.0.0.1:${port}${path}`, { headers: { authorization: "Bearer app-credential" } }),
          json
        ).pipe(UserTracing.withUserTrace("job", secretTrace))
      const refused = yield* get("/to/127.0.0.2")
      yield* handled
      yield* handled
      expect(refused.host).toBe(`127.0.0.2:${port}`)
      expect(JSON.stringify(refused)).not.toContain("CUSTOMER-SECRET")
      expect(Object.keys(refused).filter((name) => name.startsWith("x-user-"))).toEqual([])
      // As fetch does, credentials do not follow to another origin.
      expect(refused.authorization).toBeUndefined()
      const allowed = yield* get("/same")
      yield* handled
      yield* handled
      expect(allowed["x-user-tracestate"]).toBe("vendor=CUSTOMER-SECRET")
      expect(allowed["x-user-routing"]).toBe(routing.encode())
      expect(Option.getOrThrow(Traceparent.parse(allowed["x-user-traceparent"])).traceId).toBe(inboundTraceId)
      expect(allowed.authorization).toBe("Bearer app-credential")
      // A 303 to a POST is followed as a GET, without the body.
      const seeOther = yield* Effect.flatMap(
        client.post(`http://127.0.0.1:${port}/see-other`, { body: HttpBody.jsonUnsafe({ a: 1 }) }),
        (response) => Effect.map(json(response), (headers) => [response.status, headers] as const)
      ).pipe(UserTracing.withUserTrace("job", secretTrace))
      yield* handled
      yield* handled
      expect(seeOther[0]).toBe(200)
      expect(seeOther[1]["content-type"]).toBeUndefined()
      expect(seeOther[1]["x-user-tracestate"]).toBe("vendor=CUSTOMER-SECRET")
    }).pipe(
      Effect.scoped,
      // Every interface (effect 4's layerTest listens on 127.0.0.1 only): the redirects go to 127.0.0.2.
      Effect.provide(Layer.mergeAll(
        NodeHttpServer.layer(Http.createServer, { port: 0, host: "0.0.0.0" }),
        TestUserTracing,
        FetchHttpClient.layer
      ))
    ))

  it.live("a client inside that follows redirects itself is said once in the log", () =>
    Effect.gen(function*() {
      const { handled } = yield* redirects
      const logs: Array<string> = []
      const logger = Layer.succeed(
        Logger.CurrentLoggers,
        new Set([Logger.make<unknown, void>(({ message }) => {
          logs.push(Array.isArray(message) ? message.join(" ") : String(message))
        })])
      )
      const client = UserTracingHttp.withUserTracing(
        HttpClient.followRedirects(yield* HttpClient.HttpClient)
      )
      yield* client.get("/same").pipe(
        UserTracing.withUserTrace("job", { routing }),
        Effect.provide(logger)
      )
      yield* handled
      yield* handled
      expect(logs.filter((line) => line.includes("followRedirects outside withUserTracing")).length).toBe(1)
    }).pipe(
      Effect.scoped,
      // A client that does not follow redirects itself (undici's), so that followRedirects does: over
      // fetch (effect 4's test client) the wrapper follows them itself, deciding each target.
      Effect.provide(Layer.mergeAll(
        HttpServer.layerTestClient.pipe(
          Layer.provide(NodeHttpClient.layerUndici),
          Layer.provideMerge(NodeHttpServer.layer(Http.createServer, { port: 0, host: "127.0.0.1" }))
        ),
        TestUserTracing
      ))
    ))

  it.live("the user headers stay out of Effect's internal client span", () =>
    Effect.gen(function*() {
      const handled = yield* serve(echoHeaders)
      const client = UserTracingHttp.withUserTracing(yield* HttpClient.HttpClient, {
        routingHeader: "x-user-routing"
      })
      const [headers, spans] = yield* recordInternalSpans(
        Effect.flatMap(client.get("/echo"), json).pipe(UserTracing.withUserTrace("job", secretTrace))
      )
      yield* handled
      // They reached the wire...
      expect(headers["x-user-tracestate"]).toBe("vendor=CUSTOMER-SECRET")
      // ...but not Effect's own span, whose other request headers are still recorded.
      const internal = spans.find((span) => span.kind === "client")!
      const attributes = Object.fromEntries(internal.attributes)
      expect(attributes["http.request.method"]).toBe("GET")
      const text = JSON.stringify(Array.from(internal.attributes, ([key, value]) => [key, String(value)]))
      expect(text).not.toContain("CUSTOMER-SECRET")
      expect(text).not.toContain(inboundTraceId)
      expect(text).not.toContain(routing.encode())
    }).pipe(Effect.scoped, Effect.provide(TestLayer)))
})
