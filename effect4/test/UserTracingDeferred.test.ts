import { describe, expect, it } from "@effect/vitest"
import { type Context, Deferred, Effect, Exit, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"
import { RoutingMetadata, TestUserTracing, Traceparent, UserTracing, UserTracingTest } from "../src/index.js"
import { routing } from "./utils/helpers.js"
import { counted, settingsFor, withPipeline } from "./utils/pipeline.js"
import { makeReceiver } from "./utils/receiver.js"

const { activateUserTrace, currentUserSpan, withDeferredUserTrace, withUserSpan } = UserTracing

const names = (traces: ReadonlyArray<UserTracingTest.TestTrace>): unknown =>
  traces.map((t): unknown => (t.children.length === 0 ? t.name : { [t.name]: names(t.children) }))

const currentName = Effect.map(currentUserSpan, Option.map((span) => span.name))

const inboundTraceId = "4bf92f3577b34da6a3ce929d0e0e4736"
const inbound = (flags: string) =>
  Option.getOrThrow(Traceparent.parse(`00-${inboundTraceId}-00f067aa0ba902b7-${flags}`))

describe("withDeferredUserTrace / activateUserTrace", () => {
  it.effect("nothing is active before activation; the root starts when the region did and ends with it", () =>
    Effect.gen(function*() {
      const before = yield* Effect.gen(function*() {
        yield* TestClock.adjust("5 seconds")
        // Before activation every user API is a no-op.
        yield* UserTracing.annotateUserSpan("lost", true)
        yield* Effect.void.pipe(withUserSpan("not-recorded"))
        const seen = {
          current: yield* currentName,
          headers: yield* UserTracing.userTraceHeaders,
          handle: yield* UserTracing.makeUserSpan("handle")
        }
        expect(yield* activateUserTrace("request", { routing, attributes: { tenant: "acme" } })).toBe(true)
        yield* Effect.void.pipe(withUserSpan("child"))
        yield* UserTracing.annotateUserSpan("after", 1)
        const after = yield* currentName
        yield* TestClock.adjust("2 seconds")
        return { ...seen, after }
      }).pipe(withDeferredUserTrace())
      expect(before.current).toEqual(Option.none())
      expect(before.headers).toEqual({})
      expect(before.handle.sampled).toBe(false)
      expect(before.after).toEqual(Option.some("request"))
      expect(names(yield* UserTracingTest.userTraces())).toEqual([{ request: ["child"] }])
      const root = (yield* UserTracingTest.finishedSpans).find((span) => span.name === "request")!
      expect(root.startTime).toBe(0n)
      expect(root.endTime).toBe(7_000_000_000n)
      expect(root.parentSpanId).toBeUndefined()
      expect(root.routing.encode()).toBe(routing.encode())
      expect([...root.attributes]).toEqual([["tenant", "acme"], ["after", 1]])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("a region never activated records nothing: the whole request is dropped", () =>
    Effect.gen(function*() {
      yield* Effect.void.pipe(withUserSpan("a"), withDeferredUserTrace({}))
      expect(yield* UserTracingTest.finishedSpans).toEqual([])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("false: outside a region, when already active, after the region exited, unsampled inbound", () =>
    Effect.gen(function*() {
      expect(yield* activateUserTrace("outside", { routing })).toBe(false)
      const outlived = yield* Deferred.make<void>()
      const [first, second, daemon] = yield* Effect.gen(function*() {
        const first = yield* activateUserTrace("first", { routing })
        const second = yield* activateUserTrace("second", { routing })
        // A fiber that outlives the region activates nothing once the region has exited.
        const daemon = yield* Effect.forkDetach(
          Effect.andThen(Deferred.await(outlived), activateUserTrace("late", { routing }))
        )
        return [first, second, daemon] as const
      }).pipe(withDeferredUserTrace())
      expect([first, second]).toEqual([true, false])
      yield* Deferred.succeed(outlived, undefined)
      expect(yield* Fiber.join(daemon)).toBe(false)
      // An inbound parent whose sampled flag is 0 is not continued (as upstream): nothing recorded.
      const unsampled = yield* activateUserTrace("unsampled", { routing, inbound: inbound("00") }).pipe(
        Effect.tap(() => Effect.void.pipe(withUserSpan("child"))),
        withDeferredUserTrace()
      )
      expect(unsampled).toBe(false)
      expect((yield* UserTracingTest.finishedSpans).map((span) => span.name)).toEqual(["first"])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("false with no enabled harness, or where user tracing is off", () =>
    Effect.gen(function*() {
      const noHarness = yield* activateUserTrace("r", { routing }).pipe(withDeferredUserTrace())
      expect(noHarness).toBe(false)
      const off = yield* activateUserTrace("r", { routing }).pipe(
        UserTracing.withUserTracingEnabled(false),
        withDeferredUserTrace(),
        Effect.provide(TestUserTracing)
      )
      expect(off).toBe(false)
    }))

  it.effect("the region ignores an ambient user span; regions that hide the current span hide it too", () =>
    Effect.gen(function*() {
      const seen = yield* Effect.gen(function*() {
        const inside = yield* currentName
        // Nothing joins the caller's trace from here: the deferred root is hidden like a span.
        const hidden = yield* activateUserTrace("hidden", { routing }).pipe(UserTracing.withoutUserTrace)
        const inactiveParent = yield* activateUserTrace("hidden", { routing }).pipe(
          UserTracing.withParentUserSpan(yield* UserTracing.makeUserSpan("inactive"))
        )
        // Inside a root opened in the region, the region's root is not the current one.
        const nested = yield* activateUserTrace("nested", { routing }).pipe(
          UserTracing.withUserTrace("inner", { routing })
        )
        const activated = yield* activateUserTrace("deferred", { routing: RoutingMetadata.json({ tenant: "b" }) })
        return { inside, hidden, inactiveParent, nested, activated }
      }).pipe(
        withDeferredUserTrace(),
        Effect.tap(() => Effect.void.pipe(withUserSpan("after"))),
        UserTracing.withUserTrace("outer", { routing })
      )
      expect(seen).toEqual({
        inside: Option.none(),
        hidden: false,
        inactiveParent: false,
        nested: false,
        activated: true
      })
      const spans = yield* UserTracingTest.finishedSpans
      const byName = new Map(spans.map((span) => [span.name, span]))
      expect(byName.get("deferred")!.parentSpanId).toBeUndefined()
      expect(byName.get("deferred")!.traceId).not.toBe(byName.get("outer")!.traceId)
      expect(byName.get("after")!.parentSpanId).toBe(byName.get("outer")!.spanId)
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("the region's options: inbound, tracestate, kind and attributes, unless the activation says", () =>
    Effect.gen(function*() {
      const region = {
        inbound: inbound("01"),
        tracestate: "vendor=value",
        kind: "server" as const,
        attributes: { "http.request.method": "GET", shared: "region" }
      }
      yield* activateUserTrace("defaults", { routing, attributes: { shared: "activation" } }).pipe(
        withDeferredUserTrace(region)
      )
      const other = Option.getOrThrow(Traceparent.parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
      yield* activateUserTrace("overridden", { routing, inbound: other, kind: "consumer" }).pipe(
        withDeferredUserTrace(region)
      )
      // The region's unsampled inbound decides for an activation that gives none.
      const unsampled = yield* activateUserTrace("unsampled", { routing }).pipe(
        withDeferredUserTrace({ inbound: inbound("00") })
      )
      expect(unsampled).toBe(false)
      const [defaults, overridden] = yield* UserTracingTest.finishedSpans
      expect(defaults.traceId).toBe(inboundTraceId)
      expect(defaults.parentSpanId).toBe("00f067aa0ba902b7")
      expect(defaults.traceState).toBe("vendor=value")
      expect(defaults.kind).toBe("server")
      expect([...defaults.attributes]).toEqual([["http.request.method", "GET"], ["shared", "activation"]])
      expect(overridden.traceId).toBe("0af7651916cd43dd8448eb211c80319c")
      expect(overridden.traceState).toBeUndefined()
      expect(overridden.kind).toBe("consumer")
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("deferred roots across fibers", () => {
  it.effect("a fiber forked before the activation, or the one that activates, shares the root", () =>
    Effect.gen(function*() {
      const [early, later] = yield* Effect.gen(function*() {
        const go = yield* Deferred.make<void>()
        const early = yield* Effect.forkChild(
          Effect.andThen(Deferred.await(go), Effect.void.pipe(withUserSpan("early")))
        )
        // Activated by a forked fiber: the parent sees it once the fork has run.
        const activated = yield* Fiber.join(yield* Effect.forkChild(activateUserTrace("request", { routing })))
        expect(activated).toBe(true)
        yield* Deferred.succeed(go, undefined)
        yield* Fiber.join(early)
        return [activated, yield* currentName] as const
      }).pipe(withDeferredUserTrace())
      expect([early, later]).toEqual([true, Option.some("request")])
      expect(names(yield* UserTracingTest.userTraces())).toEqual([{ request: ["early"] }])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("a snapshot taken before the activation sees the root; after the region exits, it activates nothing", () =>
    Effect.gen(function*() {
      const captured: Context.Context<never> = yield* Effect.gen(function*() {
        const captured = yield* Effect.context<never>()
        yield* activateUserTrace("request", { routing })
        expect(Effect.runSyncWith(captured)(currentName)).toEqual(Option.some("request"))
        return captured
      }).pipe(withDeferredUserTrace())
      expect(Effect.runSyncWith(captured)(activateUserTrace("late", { routing }))).toBe(false)
      // Like any captured context, it still opens children of the (ended) root it saw.
      Effect.runSyncWith(captured)(Effect.void.pipe(withUserSpan("from-snapshot")))
      expect(names(yield* UserTracingTest.userTraces())).toEqual([{ request: ["from-snapshot"] }])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("two activations racing: exactly one opens the root", () =>
    Effect.gen(function*() {
      const results = yield* Effect.all(
        [activateUserTrace("a", { routing }), activateUserTrace("b", { routing })],
        { concurrency: "unbounded" }
      ).pipe(withDeferredUserTrace())
      expect(results.filter(Boolean).length).toBe(1)
      const spans = yield* UserTracingTest.finishedSpans
      expect(spans.map((span) => span.name)).toEqual([results[0] ? "a" : "b"])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("interrupted: an activated root ends (not an error), then nothing more is activated", () =>
    Effect.gen(function*() {
      const activated = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(
        Effect.gen(function*() {
          yield* activateUserTrace("request", { routing })
          // Signalled from inside the span: on Effect 4 the waiter resumes at once, and its
          // interruption lands at this fiber's next step.
          yield* Deferred.succeed(activated, undefined).pipe(Effect.andThen(Effect.never), withUserSpan("waiting"))
        }).pipe(withDeferredUserTrace())
      )
      yield* Deferred.await(activated)
      yield* Fiber.interrupt(fiber)
      expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
      const spans = yield* UserTracingTest.finishedSpans
      expect(spans.map((span) => [span.name, span.status])).toEqual([["waiting", "unset"], ["request", "unset"]])
      // A region interrupted before its activation records nothing.
      const never = yield* Effect.forkChild(Effect.never.pipe(withDeferredUserTrace()))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(never)
      expect((yield* UserTracingTest.finishedSpans).length).toBe(2)
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("a failing region marks the activated root as error and passes the failure through", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.andThen(activateUserTrace("request", { routing }), Effect.fail("boom" as const)).pipe(
          withDeferredUserTrace()
        )
      )
      expect(error).toBe("boom")
      const [root] = yield* UserTracingTest.finishedSpans
      expect([root.status, root.statusMessage]).toEqual(["error", ""])
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("discardUserSpan", () => {
  it.effect("a discarded root is not exported; its children ended before are; nothing is recorded after", () =>
    Effect.gen(function*() {
      const finished: Array<string> = []
      const after = yield* Effect.gen(function*() {
        // Children copy the callback: it runs for the child, never for the discarded root.
        yield* UserTracing.setUserSpanFinishCallback((span) => {
          finished.push(span.name)
        })
        yield* Effect.void.pipe(withUserSpan("ended-before"))
        yield* UserTracing.discardUserSpan
        yield* Effect.void.pipe(withUserSpan("opened-after"))
        yield* UserTracing.annotateUserSpan("lost", true)
        return { current: yield* currentName, headers: yield* UserTracing.userTraceHeaders }
      }).pipe(UserTracing.withUserTrace("request", { routing }))
      expect(after).toEqual({ current: Option.none(), headers: {} })
      expect(finished).toEqual(["ended-before"])
      const spans = yield* UserTracingTest.finishedSpans
      expect(spans.map((span) => span.name)).toEqual(["ended-before"])
      // The test layer shows a span whose parent is not in the sink as a root.
      expect(names(yield* UserTracingTest.userTraces())).toEqual(["ended-before"])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("discarding a child leaves its parent; a child still open when its parent is discarded is exported", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        yield* UserTracing.discardUserSpan.pipe(withUserSpan("discarded-child"))
        const open = yield* Deferred.make<void>()
        const child = yield* Effect.forkChild(Deferred.await(open).pipe(withUserSpan("still-open")))
        yield* Effect.yieldNow
        yield* UserTracing.discardUserSpan.pipe(UserTracing.withParentUserSpan(yield* UserTracing.makeUserSpan("x")))
        yield* Deferred.succeed(open, undefined)
        yield* Fiber.join(child)
      }).pipe(UserTracing.withUserTrace("request", { routing }))
      const spans = yield* UserTracingTest.finishedSpans
      expect(spans.map((span) => span.name).sort()).toEqual(["request", "still-open"])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("a discarded handle is inactive: as a parent it hides the current span", () =>
    Effect.gen(function*() {
      const seen = yield* Effect.gen(function*() {
        const handle = yield* UserTracing.makeUserSpan("handle")
        yield* UserTracing.discardUserSpan.pipe(UserTracing.withParentUserSpan(handle))
        expect(handle.sampled).toBe(false)
        return yield* currentName.pipe(UserTracing.withParentUserSpan(handle))
      }).pipe(UserTracing.withUserTrace("request", { routing }))
      expect(seen).toEqual(Option.none())
      expect((yield* UserTracingTest.finishedSpans).map((span) => span.name)).toEqual(["request"])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("a deferred root discarded after activation: the request is exported without it", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        yield* activateUserTrace("request", { routing })
        yield* Effect.void.pipe(withUserSpan("child"))
        yield* UserTracing.discardUserSpan
        // Discarded, the root is current nowhere: it cannot be activated again either.
        expect(yield* activateUserTrace("again", { routing })).toBe(false)
      }).pipe(withDeferredUserTrace())
      expect((yield* UserTracingTest.finishedSpans).map((span) => span.name)).toEqual(["child"])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("before activation there is nothing to discard: the root can still be activated", () =>
    Effect.gen(function*() {
      yield* UserTracing.discardUserSpan.pipe(
        Effect.andThen(activateUserTrace("request", { routing })),
        withDeferredUserTrace()
      )
      expect((yield* UserTracingTest.finishedSpans).map((span) => span.name)).toEqual(["request"])
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("on the wire", () => {
  it.live("an activated deferred root is exported with its region's start; a discarded span is neither sent nor counted", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver
      const [, delta] = yield* counted(withPipeline(
        settingsFor(receiver.socketPath),
        Effect.gen(function*() {
          yield* Effect.gen(function*() {
            yield* Effect.sleep("2 millis")
            yield* activateUserTrace("request", { routing, kind: "server" })
            yield* UserTracing.discardUserSpan.pipe(withUserSpan("discarded"))
            yield* Effect.void.pipe(withUserSpan("kept"))
          }).pipe(withDeferredUserTrace({ startTime: 1_000n }))
          // Never activated: nothing at all.
          yield* Effect.void.pipe(withUserSpan("lost"), withDeferredUserTrace())
        })
      ))
      const spans = receiver.spans()
      expect(spans.map((span: any) => span.name)).toEqual(["kept", "request"])
      const root = spans.find((span: any) => span.name === "request")
      expect(String(root.startTimeUnixNano)).toBe("1000")
      expect(delta).toEqual({ total: 2, dropped: 0, exported: 2, failed: 0 })
    }).pipe(Effect.scoped))
})
