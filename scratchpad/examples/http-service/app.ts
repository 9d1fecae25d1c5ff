/**
 * An `@effect/platform` HTTP service with user tracing: the middleware opens one user trace per
 * request that names a tenant, the handlers add user spans, and the call to a downstream service
 * goes through the user-tracing client, so that service's spans join the same trace.
 *
 * `main.ts` runs it on Node with `UserTracingLive`; `app.test.ts` tests it with `TestUserTracing`.
 */
import {
  HttpClient,
  HttpClientRequest,
  HttpRouter,
  HttpServer,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import type { HttpClientError } from "@effect/platform"
import { Config, Context, Effect, Layer, Option } from "effect"
import { RoutingMetadata, UserTracing } from "effect-user-tracing"
import * as UserTracingHttp from "effect-user-tracing/UserTracingHttp"

/** The downstream inventory service. */
export class Inventory extends Context.Tag("example/Inventory")<Inventory, {
  readonly reserve: (cart: string, tenant: string) => Effect.Effect<void, HttpClientError.HttpClientError>
}>() {
  /** Inventory at `baseUrl`, called through the user-tracing client. */
  static readonly layer = (baseUrl: string): Layer.Layer<Inventory, never, HttpClient.HttpClient> =>
    Layer.effect(
      Inventory,
      Effect.gen(function*() {
        const client = (yield* HttpClient.HttpClient).pipe(
          HttpClient.mapRequest(HttpClientRequest.prependUrl(baseUrl)),
          HttpClient.filterStatusOk,
          // Each call runs in its own user span (kind client) and sends its traceparent.
          UserTracingHttp.withUserTracing()
        )
        return {
          reserve: (cart, tenant) =>
            Effect.asVoid(client.post(`/stock/${cart}/reserve`, { headers: { "x-tenant": tenant } }))
        }
      })
    )

  /** Inventory at `INVENTORY_URL`. */
  static readonly layerConfig = Layer.unwrapEffect(Effect.map(Config.string("INVENTORY_URL"), Inventory.layer))
}

const loadCart = (cart: string) =>
  Effect.sleep("3 millis").pipe(UserTracing.withUserSpan("load cart", { attributes: { "cart.id": cart } }))

const chargeCard = Effect.sleep("5 millis").pipe(UserTracing.withDualSpan("charge card", { kind: "client" }))

const checkout = Effect.gen(function*() {
  const { cart = "" } = yield* HttpRouter.params
  const request = yield* HttpServerRequest.HttpServerRequest
  const inventory = yield* Inventory
  yield* loadCart(cart)
  yield* inventory.reserve(cart, request.headers["x-tenant"] ?? "")
  yield* chargeCard
  return yield* HttpServerResponse.json({ cart, status: "paid" })
})

// What the inventory service does; served here too, so that the example is self-contained.
const reserveStock = Effect.as(
  Effect.sleep("2 millis").pipe(UserTracing.withUserSpan("count stock")),
  HttpServerResponse.empty({ status: 204 })
)

/** A user trace for each request that names its tenant, routed to that tenant; none otherwise. */
const userTracing = UserTracingHttp.middleware({
  routing: (request) =>
    Option.map(Option.fromNullable(request.headers["x-tenant"]), (tenant) => RoutingMetadata.json({ tenant }))
})

/** The routes; inside the router, the middleware names each root after its route. */
export const router = HttpRouter.empty.pipe(
  HttpRouter.post("/checkout/:cart", checkout),
  HttpRouter.post("/stock/:cart/reserve", reserveStock),
  HttpRouter.use(userTracing)
)

/** The service, on whatever `HttpServer` is provided. */
export const HttpLive: Layer.Layer<never, never, HttpServer.HttpServer | Inventory> = HttpServer.serve(router)
