/**
 * The demo (`npm start`): user traces over the real wire.
 *
 * 1. The embedded OTLP receiver (`UserTraceSink`) listens on a socket in a temporary directory.
 * 2. A small shop (`@effect/platform` on Node, port 0) runs behind `UserTracingHttp.middleware`
 *    with `deferred: true`: each request opens a deferred root, and the checkout handler activates
 *    it once an effectful lookup of the API key has told it the customer (the root still starts
 *    with the request; a request with an unknown key is never traced). The live pipeline
 *    (`UserTracing.layer`) exports over the socket, routed per customer.
 * 3. The shop calls its inventory service through the user-tracing `HttpClient`, which sends the
 *    user context and the trace's routing (`routingHeader`) beside Effect's own `traceparent`; the
 *    inventory's middleware reads the routing back (`routingFromHeader`): the hop joins the
 *    customer's trace without the application forwarding anything.
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
import { Clock, Data, Effect, Fiber, Layer, Option, Stream, SubscriptionRef } from "effect"
import { RoutingMetadata, UserTraceSink, UserTracing } from "effect-user-tracing"
import * as UserTracingHttp from "effect-user-tracing/UserTracingHttp"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"

const routingHeaderName = "x-tenant-routing"
/** Where the shop sends a trace's routing to its own services. */
const serviceRoutingHeader = "x-user-routing"
const inboundTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
const color = process.stdout.isTTY === true && (process.env.NO_COLOR === undefined || process.env.NO_COLOR === "")
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

/**
 * A dual span (internal + user) around a call to the inventory service, through the tracing client:
 * it sends the user context and the trace's routing itself; nothing is forwarded by hand.
 */
const reserveStock = (baseUrl: string, cartId: string) =>
  Effect.gen(function*() {
    const client = UserTracingHttp.withUserTracing(yield* HttpClient.HttpClient, {
      routingHeader: serviceRoutingHeader
    })
    const response = yield* client.get(`${baseUrl}/inventory/${cartId}`)
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

/** The customer behind an API key, known only after a lookup (here: a little I/O, then a map). */
const apiKeys = new Map([["key-acme", "acme"], ["key-globex", "globex"]])
/** When each customer's root was activated (unix nanoseconds), for the checks at the end. */
const activations = new Map<string, bigint>()
const lookupCustomer = (apiKey: string | undefined) =>
  Effect.sleep("3 millis").pipe(Effect.as(Option.fromNullable(apiKey === undefined ? undefined : apiKeys.get(apiKey))))

const checkout = (baseUrl: string) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    // Before the activation nothing is recorded: the lookup is not part of any customer's trace.
    const customer = yield* lookupCustomer(request.headers["x-api-key"])
    if (Option.isNone(customer)) return HttpServerResponse.unsafeJson({ error: "unknown API key" }, { status: 401 })
    // Now the routing is known: the deferred root opens, starting when the request did.
    yield* UserTracing.activateUserTrace("GET /checkout/:cart", {
      routing: RoutingMetadata.json({ tenant: customer.value })
    })
    activations.set(customer.value, yield* Clock.currentTimeNanos)
    const { cart } = yield* HttpRouter.params
    const cartId = cart ?? "unknown"
    const loaded = yield* loadCart(cartId)
    yield* Effect.all([reserveStock(baseUrl, cartId), priceCart(loaded.total)], { concurrency: 2 })
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

  // The shop, facing customers: a deferred root per request, activated by the handler.
  const shopTracing = UserTracingHttp.middleware({ deferred: true })
  // The inventory, reached only by the shop: its routing is the one the shop's client sent.
  const inventoryTracing = UserTracingHttp.middleware({
    routing: UserTracingHttp.routingFromHeader(serviceRoutingHeader)
  })
  // The client may see a response before the user root has ended: count requests in flight.
  const inFlight = yield* SubscriptionRef.make(0)
  const counted = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    Effect.acquireUseRelease(
      SubscriptionRef.update(inFlight, (n) => n + 1),
      () => app,
      () => SubscriptionRef.update(inFlight, (n) => n - 1)
    )
  const router = HttpRouter.empty.pipe(
    HttpRouter.get("/checkout/:cart", counted(shopTracing(checkout(baseUrl)))),
    HttpRouter.get("/inventory/:cart", counted(inventoryTracing(inventory)))
  )
  yield* HttpServer.serveEffect(router)

  // The outside client writes its own headers: Effect's internal propagation is off for it.
  const client = HttpClient.withTracerPropagation(yield* HttpClient.HttpClient, false)
  const requests: ReadonlyArray<{ readonly path: string; readonly headers: Record<string, string> }> = [
    {
      path: "/checkout/cart-1",
      headers: { "x-api-key": "key-acme", traceparent: inboundTraceparent, tracestate: "shop=demo" }
    },
    { path: "/checkout/declined", headers: { "x-api-key": "key-globex" } },
    { path: "/checkout/cart-2", headers: { "x-api-key": "key-unknown" } }
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
  out.push(dim(`  shop      ${baseUrl}/checkout behind UserTracingHttp.middleware({ deferred: true })`))
  out.push(
    dim(`  inventory ${baseUrl}/inventory behind middleware({ routing: routingFromHeader("${serviceRoutingHeader}") })`)
  )
  out.push("")
  for (const { headers, path, status } of sent) {
    const shown = Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join("  ")
    out.push(
      `→ GET ${path}  ${shown}  ← ${status}${status === 401 ? dim("  (unknown key: never activated, not traced)") : ""}`
    )
  }
  const stats = yield* sink.stats
  out.push("")
  out.push(dim(`Layer closed and flushed: the receiver got ${stats.spans} spans in ${stats.accepted} export requests.`))
  out.push("")

  const traces = yield* sink.traces
  const width = Math.min(process.stdout.columns ?? 110, 120)
  for (const trace of traces) {
    out.push(UserTraceSink.renderWaterfall(trace, { color, width, routingHeader: routingHeaderName }))
    out.push("")
  }

  // What the run shows, checked on what arrived over the wire.
  const spans = traces.flatMap((trace) => trace.spans)
  const continued = traces.find((trace) => trace.traceId === "4bf92f3577b34da6a3ce929d0e0e4736")
  const routings = Array.from(new Set(spans.map((span) => span.headers[routingHeaderName]))).sort()
  const errors = spans.filter((span) => span.status === "error").map((span) => span.name)
  const inventoryRoot = continued?.spans.find((span) => span.kind === "server" && span.name === "GET /inventory/:cart")
  const shopRoot = continued?.roots[0]?.span
  const stitched = continued?.roots.length === 1 && inventoryRoot !== undefined
  // The deferred root started with the request, before the lookup after which it was activated.
  const activatedAt = activations.get("acme")
  const activatedAfter = shopRoot === undefined || activatedAt === undefined
    ? undefined
    : activatedAt - shopRoot.startTimeUnixNano
  const checks: ReadonlyArray<readonly [boolean, string]> = [
    [
      continued !== undefined && continued.roots[0].span.parentSpanId === "00f067aa0ba902b7",
      `the acme trace continues the inbound traceparent: trace id ${continued?.traceId}, root parent ${
        continued?.roots[0].span.parentSpanId
      }`
    ],
    [
      activatedAfter !== undefined && activatedAfter >= 3_000_000n,
      `the deferred root was activated ${
        activatedAfter === undefined ? "?" : (Number(activatedAfter) / 1e6).toFixed(1)
      } ms into the request, after the API key lookup, and starts with the request`
    ],
    [
      stitched && inventoryRoot.headers[routingHeaderName] === shopRoot?.headers[routingHeaderName],
      `the inventory hop is stitched into that trace with the customer's routing (${
        inventoryRoot?.headers[routingHeaderName]
      }), sent by the client, not forwarded by hand`
    ],
    [traces.length === 2, `${traces.length} traces: the request with an unknown API key was not traced`],
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
