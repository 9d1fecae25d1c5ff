/**
 * The demo (`npm start`): user traces over the real wire.
 *
 * 1. The embedded OTLP receiver (`UserTraceSink`) listens on a socket in a temporary directory.
 * 2. A small shop (`@effect/platform` on Node, port 0) runs behind `UserTracingHttp.middleware`,
 *    which opens a user trace for requests that carry an `x-tenant` header, routed per tenant,
 *    continuing an inbound `traceparent`. The live pipeline (`UserTracing.layer`) exports over
 *    the socket.
 * 3. A client sends three requests; one handler calls another service (itself) through the
 *    user-tracing `HttpClient`, so that hop is stitched into the same trace.
 * 4. Everything shuts down (closing the layer flushes), and the traces the receiver got are
 *    printed as waterfalls by the `user-tracing-sink` renderer.
 */
import {
  FetchHttpClient,
  HttpClient,
  HttpRouter,
  HttpServer,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Data, Effect, Fiber, Layer, Option, Stream, SubscriptionRef } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { RoutingMetadata, UserTracing } from "../src/index.js"
import { renderTrace, useColor } from "../src/internal/viewer/waterfall.js"
import * as UserTraceSink from "../src/UserTraceSink.js"
import * as UserTracingHttp from "../src/UserTracingHttp.js"

const routingHeaderName = "x-tenant-routing"
const inboundTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
const color = useColor(process.stdout, process.env)
const dim = (text: string) => (color ? `\u001b[2m${text}\u001b[0m` : text)
const bold = (text: string) => (color ? `\u001b[1m${text}\u001b[0m` : text)

// ---------------------------------------------------------------------------------------------
// The shop. Its steps are user spans: what the customer sees of the request.

class CardDeclined extends Data.TaggedError("CardDeclined") {}

const loadCart = UserTracing.fn("load-cart")(function*(cartId: string) {
  yield* UserTracing.annotateUserSpan({ "cart.id": cartId, "cart.items": 3 })
  yield* Effect.sleep("4 millis")
  return { id: cartId, total: 4_200 }
})

const priceCart = (total: number) =>
  Effect.gen(function*() {
    yield* Effect.sleep("2 millis").pipe(UserTracing.withUserSpan("apply-discounts"))
    yield* UserTracing.annotateUserSpan("price.total_cents", total)
  }).pipe(UserTracing.withUserSpan("price-cart"))

/** A dual span (internal + user) around a call to the inventory service, through the tracing client. */
const reserveStock = (baseUrl: string, cartId: string, tenant: string | undefined) =>
  Effect.gen(function*() {
    const client = UserTracingHttp.withUserTracing(yield* HttpClient.HttpClient)
    const headers: Record<string, string> = tenant === undefined ? {} : { "x-tenant": tenant }
    const response = yield* client.get(`${baseUrl}/inventory/${cartId}`, { headers })
    yield* UserTracing.annotateUserSpan("inventory.status", response.status)
  }).pipe(UserTracing.withDualSpan("reserve-stock"))

const chargeCard = (cartId: string) =>
  Effect.gen(function*() {
    yield* Effect.sleep("3 millis")
    if (cartId === "declined") {
      // The customer sees why; the internal failure itself never reaches the user span.
      yield* UserTracing.setUserSpanStatus({ code: "error", message: "card declined by issuer" })
      return yield* new CardDeclined()
    }
  }).pipe(UserTracing.withUserSpan("charge-card", { kind: "client", attributes: { "payment.provider": "demo-pay" } }))

const sendReceipt = Effect.sleep("2 millis").pipe(UserTracing.withUserSpan("send-receipt", { kind: "producer" }))

const checkout = (baseUrl: string) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const { cart } = yield* HttpRouter.params
    const cartId = cart ?? "unknown"
    const loaded = yield* loadCart(cartId)
    yield* Effect.all([reserveStock(baseUrl, cartId, request.headers["x-tenant"]), priceCart(loaded.total)], {
      concurrency: 2
    })
    return yield* chargeCard(cartId).pipe(
      Effect.zipRight(Effect.gen(function*() {
        // A forked fiber: its user span still lands under the request's root.
        const receipt = yield* Effect.fork(sendReceipt)
        yield* Fiber.join(receipt)
        return HttpServerResponse.unsafeJson({ cart: cartId, status: "paid" })
      })),
      Effect.catchTag("CardDeclined", () =>
        Effect.as(
          UserTracing.logUserSpan({ outcome: "declined", hint: "try another card" }),
          HttpServerResponse.unsafeJson({ cart: cartId, status: "declined" }, { status: 402 })
        ))
    )
  })

const inventory = Effect.gen(function*() {
  yield* Effect.sleep("3 millis").pipe(
    UserTracing.withUserSpan("count-stock", { attributes: { "stock.warehouse": "eu-1" } })
  )
  return HttpServerResponse.unsafeJson({ available: true })
})

// ---------------------------------------------------------------------------------------------
// The run

interface Sent {
  readonly path: string
  readonly headers: Record<string, string>
  readonly status: number
}

/** Serves the shop, sends the requests, waits until every request has left the middleware. */
const runShop = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const address = server.address as HttpServer.TcpAddress
  const baseUrl = `http://127.0.0.1:${address.port}`

  // Activation and routing are the application's decision: here, the `x-tenant` header.
  const userTracing = UserTracingHttp.middleware({
    routing: (request) =>
      Option.map(Option.fromNullable(request.headers["x-tenant"]), (tenant) => RoutingMetadata.json({ tenant }))
  })
  // The client may see a response before the user root has ended: count requests in flight.
  const inFlight = yield* SubscriptionRef.make(0)
  const router = HttpRouter.empty.pipe(
    HttpRouter.get("/checkout/:cart", checkout(baseUrl)),
    HttpRouter.get("/inventory/:cart", inventory),
    HttpRouter.use((app) =>
      Effect.acquireUseRelease(
        SubscriptionRef.update(inFlight, (n) => n + 1),
        () => userTracing(app),
        () => SubscriptionRef.update(inFlight, (n) => n - 1)
      )
    )
  )
  yield* HttpServer.serveEffect(router)

  // The outside client writes its own headers: Effect's internal propagation is off for it.
  const client = HttpClient.withTracerPropagation(yield* HttpClient.HttpClient, false)
  const requests: ReadonlyArray<{ readonly path: string; readonly headers: Record<string, string> }> = [
    {
      path: "/checkout/cart-1",
      headers: { "x-tenant": "acme", traceparent: inboundTraceparent, tracestate: "shop=demo" }
    },
    { path: "/checkout/declined", headers: { "x-tenant": "globex" } },
    { path: "/checkout/cart-2", headers: {} }
  ]
  const sent: Array<Sent> = []
  for (const { headers, path } of requests) {
    const response = yield* client.get(`${baseUrl}${path}`, { headers })
    sent.push({ path, headers, status: response.status })
  }
  yield* SubscriptionRef.get(inFlight).pipe(
    Effect.zipRight(Stream.runDrain(Stream.takeUntil(inFlight.changes, (n) => n === 0)))
  )
  return { sent, baseUrl }
})

const program = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-demo-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  const socketPath = Path.join(dir, "otlp.sock")
  const sink = yield* UserTraceSink.make({ socketPath })

  const AppLayer = Layer.mergeAll(
    UserTracing.layer({
      enabled: true,
      serviceName: "demo-shop",
      output: { otlpUds: { socketPath, routingHeaderName } }
    }),
    NodeHttpServer.layer(() => Http.createServer(), { port: 0, host: "127.0.0.1" }),
    FetchHttpClient.layer
  )
  // Providing the layer here closes it when the shop is done: the pipeline flushes to the sink.
  const { baseUrl, sent } = yield* Effect.provide(runShop, AppLayer)

  const out: Array<string> = []
  out.push(bold("effect-user-tracing demo: user traces over the real wire"))
  out.push(dim(`  receiver  UserTraceSink on unix:${socketPath}`))
  out.push(dim(`  app       ${baseUrl} behind UserTracingHttp.middleware (routing from x-tenant)`))
  out.push("")
  for (const { headers, path, status } of sent) {
    const shown = Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join("  ")
    out.push(`→ GET ${path}  ${shown === "" ? dim("(no x-tenant: not traced)") : shown}  ← ${status}`)
  }
  const stats = yield* sink.stats
  out.push("")
  out.push(dim(`Layer closed and flushed: the receiver got ${stats.spans} spans in ${stats.accepted} export requests.`))
  out.push("")

  const traces = yield* sink.traces
  const width = Math.min(process.stdout.columns ?? 110, 120)
  for (const trace of traces) {
    out.push(renderTrace(trace, { color, width, routingHeader: routingHeaderName }))
    out.push("")
  }

  // What the run shows, checked on what arrived over the wire.
  const spans = traces.flatMap((trace) => trace.spans)
  const continued = traces.find((trace) => trace.traceId === "4bf92f3577b34da6a3ce929d0e0e4736")
  const routings = Array.from(new Set(spans.map((span) => span.headers[routingHeaderName]))).sort()
  const errors = spans.filter((span) => span.status === "error").map((span) => span.name)
  const stitched = continued?.roots.length === 1 &&
    continued.spans.some((span) => span.kind === "server" && span.name === "GET /inventory/:cart")
  const checks: ReadonlyArray<readonly [boolean, string]> = [
    [
      continued !== undefined && continued.roots[0].span.parentSpanId === "00f067aa0ba902b7",
      `the acme trace continues the inbound traceparent: trace id ${continued?.traceId}, root parent ${
        continued?.roots[0].span.parentSpanId
      }`
    ],
    [stitched, "the inventory hop (client span → server root) is stitched into that trace"],
    [traces.length === 2, `${traces.length} traces: the request without x-tenant was not traced`],
    [routings.length === 2, `routing header ${routingHeaderName}: ${routings.join(", ")}`],
    [errors.includes("charge-card"), `error status on: ${errors.join(", ")}`]
  ]
  for (const [ok, text] of checks) out.push(`${ok ? "✓" : "✗"} ${text}`)
  process.stdout.write(`${out.join("\n")}\n`)
  if (checks.some(([ok]) => !ok)) process.exitCode = 1
})

Effect.runPromise(Effect.scoped(program)).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
