import { describe, expect, it, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Result } from "effect"
import * as Util from "node:util"
import { RoutingMetadata, TestUserTracing, Traceparent, UserTracing, UserTracingTest } from "../src/index.js"

const routing = RoutingMetadata.json({ tenant: "acme" })
const inbound = Option.getOrThrow(Traceparent.parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))

const traced = Effect.gen(function*() {
  yield* UserTracing.annotateUserSpan("order.id", "42")
  yield* UserTracing.addUserSpanEvent("cache miss", { key: "order:42" })
  yield* Effect.void.pipe(UserTracing.withUserSpan("load order"))
}).pipe(UserTracing.withUserTrace("GET /orders/:id", { routing, inbound, kind: "server" }))

/** The defect a view dies with, as text (`undefined` when it succeeds). */
const defectOf = <A>(self: Effect.Effect<A>) =>
  Effect.map(
    Effect.exit(self),
    (exit) => Exit.isFailure(exit) ? Cause.findDefect(exit.cause).pipe(Result.getOrUndefined) : undefined
  )

describe("views without TestUserTracing fail instead of showing nothing", () => {
  it.live("finishedSpans and userTraces die with an error that names the layer and the fix", () =>
    Effect.gen(function*() {
      yield* traced
      const views: ReadonlyArray<Effect.Effect<ReadonlyArray<unknown>>> = [
        UserTracingTest.finishedSpans,
        UserTracingTest.userTraces()
      ]
      for (const view of views) {
        const defect = yield* defectOf(view)
        expect(String(defect)).toMatch(/no TestUserTracing layer is provided/)
        expect(String(defect)).toContain("Effect.provide(TestUserTracing)")
      }
    }))

  // `it.live` inside a `layer(...)` block is the plain `it.live`: the block's layer is not
  // provided to it. The views used to answer `[]`, and a test expecting no span passed.
  layer(TestUserTracing)("in a layer block", (it) => {
    it.effect("it.effect gets the block's layer", () =>
      Effect.gen(function*() {
        yield* traced
        expect((yield* UserTracingTest.userTraces()).map((trace) => trace.name)).toEqual(["GET /orders/:id"])
      }))
  })
  layer(TestUserTracing)("it.live in a layer block", () => {
    it.live("gets no layer, and the view says so", () =>
      Effect.gen(function*() {
        yield* traced
        expect(String(yield* defectOf(UserTracingTest.userTraces()))).toMatch(/no TestUserTracing layer/)
      }))
  })

  it.live("the recipe that works: the layer provided to each test's effect (live clock, fresh sink)", () =>
    Effect.gen(function*() {
      yield* Effect.sleep("1 millis").pipe(
        UserTracing.withUserSpan("sleep"),
        UserTracing.withUserTrace("job", { routing })
      )
      expect(yield* UserTracingTest.userTraces()).toEqual([
        { name: "job", attributes: [], logs: [], children: [{ name: "sleep", attributes: [], logs: [], children: [] }] }
      ])
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("finishedSpans shows the documented fields", () => {
  it.effect("as plain objects: no internal record fields, routing as its encoded value", () =>
    Effect.gen(function*() {
      yield* traced
      const [child, root] = yield* UserTracingTest.finishedSpans
      expect(Object.keys(root)).toEqual([
        "traceId",
        "spanId",
        "parentSpanId",
        "name",
        "kind",
        "status",
        "statusMessage",
        "startTime",
        "endTime",
        "attributes",
        "events",
        "links",
        "routing",
        "remoteParent",
        "traceFlags",
        "traceState",
        "droppedAttributesCount",
        "droppedEventsCount",
        "droppedLinksCount"
      ])
      const shown = Util.inspect(root, { depth: 5 })
      expect(shown).not.toMatch(/idHigh|idLow|TraceContext|UserSpanRecord|sequence|sink/)
      expect(shown).toContain(`routing: {"tenant":"acme"},`)
      expect(shown).toContain("traceId: '0af7651916cd43dd8448eb211c80319c'")
      // The routing still works as routing, and descendants share the root's.
      expect(root.routing.encode()).toBe("{\"tenant\":\"acme\"}")
      expect(child.routing).toBe(root.routing)
      // What a vitest snapshot of a span shows (the span id is random; times come from the TestClock).
      expect(root).toMatchInlineSnapshot(
        { spanId: expect.stringMatching(/^[0-9a-f]{16}$/) },
        `
        {
          "attributes": Map {
            "order.id" => "42",
          },
          "droppedAttributesCount": 0,
          "droppedEventsCount": 0,
          "droppedLinksCount": 0,
          "endTime": 0n,
          "events": [
            {
              "attributes": [
                [
                  "key",
                  "order:42",
                ],
              ],
              "droppedAttributesCount": 0,
              "name": "cache miss",
              "time": 0n,
            },
          ],
          "kind": "server",
          "links": [],
          "name": "GET /orders/:id",
          "parentSpanId": "b7ad6b7169203331",
          "remoteParent": true,
          "routing": "{"tenant":"acme"}",
          "spanId": StringMatching /\\^\\[0-9a-f\\]\\{16\\}\\$/,
          "startTime": 0n,
          "status": "unset",
          "statusMessage": "",
          "traceFlags": 1,
          "traceId": "0af7651916cd43dd8448eb211c80319c",
          "traceState": undefined,
        }
      `
      )
    }).pipe(Effect.provide(TestUserTracing)))
})
