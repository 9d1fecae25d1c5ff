import { FetchHttpClient, HttpClient, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestUserTracing, UserTracingTest } from "effect-user-tracing"
import { HttpLive, Inventory } from "./app.js"

// The inventory is this same test server, at the address it got.
const InventoryTest = Layer.unwrapEffect(HttpServer.addressFormattedWith((url) => Effect.succeed(Inventory.layer(url))))
  .pipe(Layer.provide(FetchHttpClient.layer))

// Provided to each test's effect: a fresh server, and a fresh in-memory user trace sink that
// both the server and the test see. `it.live`: the handlers sleep and do I/O on the real clock.
const TestLayer = HttpLive.pipe(
  Layer.provide(InventoryTest),
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provideMerge(TestUserTracing)
)

describe("checkout service", () => {
  it.live("a checkout is one user trace, with the inventory call and its spans in it", () =>
    Effect.gen(function*() {
      const response = yield* HttpClient.post("/checkout/cart-1", { headers: { "x-tenant": "acme" } })
      expect(response.status).toBe(200)
      expect(yield* UserTracingTest.userTraces({ includeAttributes: true })).toEqual([
        {
          name: "POST /checkout/:cart",
          attributes: [
            ["http.request.method", "POST"],
            ["http.route", "/checkout/:cart"],
            ["http.response.status_code", 200]
          ],
          logs: [],
          children: [
            { name: "load cart", attributes: [["cart.id", "cart-1"]], logs: [], children: [] },
            {
              name: "POST /stock/cart-1/reserve",
              attributes: [["http.request.method", "POST"], ["http.response.status_code", 204]],
              logs: [],
              children: [{
                name: "POST /stock/:cart/reserve",
                attributes: [
                  ["http.request.method", "POST"],
                  ["http.route", "/stock/:cart/reserve"],
                  ["http.response.status_code", 204]
                ],
                logs: [],
                children: [{ name: "count stock", attributes: [], logs: [], children: [] }]
              }]
            },
            { name: "charge card", attributes: [], logs: [], children: [] }
          ]
        }
      ])
      const spans = yield* UserTracingTest.finishedSpans
      expect(new Set(spans.map((span) => span.routing.encode()))).toEqual(new Set([`{"tenant":"acme"}`]))
    }).pipe(Effect.provide(TestLayer)))

  it.live("a request that names no tenant is not traced", () =>
    Effect.gen(function*() {
      const response = yield* HttpClient.post("/stock/cart-1/reserve")
      expect(response.status).toBe(204)
      expect(yield* UserTracingTest.userTraces()).toEqual([])
    }).pipe(Effect.provide(TestLayer)))
})
