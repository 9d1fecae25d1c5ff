import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option, TestClock, Tracer } from "effect"
import { TestUserTracing, Traceparent, UserHarness, UserTracing, UserTracingTest } from "../src/index.js"
import { routing, withRecordingTracer } from "./utils/helpers.js"

const { withUserSpan, withUserTrace } = UserTracing

const names = (traces: ReadonlyArray<UserTracingTest.TestTrace>): unknown =>
  traces.map((t): unknown => (t.children.length === 0 ? t.name : { [t.name]: names(t.children) }))

describe("nesting", () => {
  it.effect("root > child > grandchild, and no internal span", () =>
    Effect.gen(function*() {
      const [, internal] = yield* withRecordingTracer(
        Effect.void.pipe(
          withUserSpan("grandchild"),
          withUserSpan("child"),
          withUserTrace("request", { routing })
        )
      )
      expect(names(yield* UserTracingTest.userTraces())).toEqual([{ request: [{ child: ["grandchild"] }] }])
      expect(internal).toEqual([])
      const spans = yield* UserTracingTest.finishedSpans
      const byName = new Map(spans.map((s) => [s.name, s]))
      expect(byName.get("child")!.parentSpanId).toBe(byName.get("request")!.spanId)
      expect(byName.get("grandchild")!.parentSpanId).toBe(byName.get("child")!.spanId)
      expect(new Set(spans.map((s) => s.traceId)).size).toBe(1)
      expect(byName.get("request")!.parentSpanId).toBeUndefined()
      expect(byName.get("request")!.routing.encode()).toBe(routing.encode())
      // The root's routing, not a copy: descendants inherit it.
      expect(byName.get("grandchild")!.routing).toBe(byName.get("request")!.routing)
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("values, errors and interruptions pass through unchanged", () =>
    Effect.gen(function*() {
      const value = yield* Effect.succeed(42).pipe(withUserSpan("a"), withUserTrace("r", { routing }))
      expect(value).toBe(42)
      const error = yield* Effect.flip(
        Effect.fail("boom" as const).pipe(withUserSpan("a"), withUserTrace("r", { routing }))
      )
      expect(error).toBe("boom")
      const exit = yield* Effect.exit(Effect.interrupt.pipe(withUserSpan("a"), withUserTrace("r", { routing })))
      expect(exit._tag === "Failure" && exit.cause._tag).toBe("Interrupt")
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("attributes and logs", () => {
  it.effect("a repeated key replaces the old value and moves to the end; logs sorted by key", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        yield* UserTracing.annotateUserSpan("a", 1)
        yield* UserTracing.annotateUserSpan({ b: "two", c: true })
        yield* UserTracing.annotateUserSpan("a", "again")
        yield* UserTracing.logUserSpan({ zeta: "z", alpha: "a" })
      }).pipe(withUserTrace("request", { routing, attributes: { first: 0 } }))
      const [trace] = yield* UserTracingTest.userTraces({ includeAttributes: true, includeLogs: true })
      expect(trace.attributes).toEqual([["first", 0], ["b", "two"], ["c", true], ["a", "again"]])
      expect(trace.logs).toEqual([["alpha", "a"], ["zeta", "z"]])
      const [span] = yield* UserTracingTest.finishedSpans
      expect(span.events.map((e) => e.name)).toEqual(["Log entry"])
      expect(span.events[0].attributes).toEqual([["alpha", "a"], ["zeta", "z"]])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("excluded fields are empty; an attribute named error gives error status", () =>
    Effect.gen(function*() {
      yield* UserTracing.annotateUserSpan("error", false).pipe(withUserTrace("request", { routing }))
      const [trace] = yield* UserTracingTest.userTraces()
      expect(trace.attributes).toEqual([])
      expect(trace.logs).toEqual([])
      const [span] = yield* UserTracingTest.finishedSpans
      expect(span.status).toBe("error")
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("limits cut attributes, events and long strings, and count what was cut", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        for (let i = 0; i < 130; i++) yield* UserTracing.annotateUserSpan(`k${i}`, i)
        for (let i = 0; i < 129; i++) yield* UserTracing.logUserSpan({ i: String(i) })
        yield* UserTracing.annotateUserSpan("k0", "x".repeat(5000))
        // Replacing keys of a full span is not a drop; each key is still held once, moved to the end.
        yield* UserTracing.annotateUserSpan("k5", "again")
        yield* UserTracing.annotateUserSpan("k100", "again")
        yield* UserTracing.annotateUserSpan("k5", "last")
      }).pipe(withUserTrace("request", { routing }))
      const [span] = yield* UserTracingTest.finishedSpans
      expect(span.attributes.size).toBe(128)
      expect([...span.attributes.keys()].slice(-3)).toEqual(["k0", "k100", "k5"])
      expect(span.attributes.get("k5")).toBe("last")
      expect(span.droppedAttributesCount).toBe(2)
      expect(span.events.length).toBe(128)
      expect(span.droppedEventsCount).toBe(1)
      expect((span.attributes.get("k0") as string).length).toBe(4096)
    }).pipe(Effect.provide(TestUserTracing)))
  it.effect("limits cut the attributes given when a span opens too, and a key given again replaces it", () =>
    Effect.gen(function*() {
      const attributes: Record<string, string | number> = {}
      for (let i = 0; i < 130; i++) attributes[`k${i}`] = i
      attributes.k1 = "y".repeat(5000)
      yield* UserTracing.annotateUserSpan("k3", "again").pipe(
        UserTracing.withUserSpan("child", { attributes }),
        withUserTrace("request", { routing, attributes: { only: 1 } })
      )
      const spans = yield* UserTracingTest.finishedSpans
      const child = spans.find((span) => span.name === "child")!
      expect(child.attributes.size).toBe(128)
      expect(child.droppedAttributesCount).toBe(2)
      expect((child.attributes.get("k1") as string).length).toBe(4096)
      expect([...child.attributes.keys()].slice(-2)).toEqual(["k127", "k3"])
      expect(child.attributes.get("k3")).toBe("again")
      expect(child.attributes.has("k128")).toBe(false)
    }).pipe(Effect.provide(TestUserTracing)))
  it.effect("an error attribute makes the status error, given at open or later; one cut by the limit does not", () =>
    Effect.gen(function*() {
      const beyondLimit: Record<string, unknown> = {}
      for (let i = 0; i < 128; i++) beyondLimit[`k${i}`] = i
      beyondLimit.error = true
      yield* Effect.all([
        Effect.void.pipe(UserTracing.withUserSpan("at-open", { attributes: { a: 1, error: true } })),
        UserTracing.annotateUserSpan({ error: "yes" }).pipe(UserTracing.withUserSpan("annotated-first")),
        UserTracing.annotateUserSpan("error", 1).pipe(UserTracing.withUserSpan("annotated", { attributes: { a: 1 } })),
        Effect.void.pipe(UserTracing.withUserSpan("cut", { attributes: beyondLimit as Record<string, number> })),
        Effect.void.pipe(UserTracing.withUserSpan("plain", { attributes: { a: 1 } }))
      ], { discard: true }).pipe(withUserTrace("request", { routing }))
      const spans = yield* UserTracingTest.finishedSpans
      const status = (name: string) => spans.find((span) => span.name === name)!.status
      expect(["at-open", "annotated-first", "annotated", "cut", "plain", "request"].map(status)).toEqual([
        "error",
        "error",
        "error",
        "unset",
        "unset",
        "unset"
      ])
      expect(spans.find((span) => span.name === "cut")!.droppedAttributesCount).toBe(1)
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("withDualSpan", () => {
  it.effect("under a user root: internal op and user request{op}", () =>
    Effect.gen(function*() {
      const [, internal] = yield* withRecordingTracer(
        Effect.void.pipe(UserTracing.withDualSpan("op"), withUserTrace("request", { routing }))
      )
      expect(internal).toEqual(["op"])
      expect(names(yield* UserTracingTest.userTraces())).toEqual([{ request: ["op"] }])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("with no user root: internal op only", () =>
    Effect.gen(function*() {
      const [, internal] = yield* withRecordingTracer(Effect.void.pipe(UserTracing.withDualSpan("op")))
      expect(internal).toEqual(["op"])
      expect(yield* UserTracingTest.userTraces()).toEqual([])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("the user span keeps the name when the internal span is not sampled; attributes stay internal", () =>
    Effect.gen(function*() {
      yield* Effect.void.pipe(
        UserTracing.withDualSpan("op", {
          parent: Tracer.externalSpan({ traceId: "f".repeat(32), spanId: "e".repeat(16), sampled: false }),
          attributes: { secret: "internal" }
        }),
        withUserTrace("request", { routing })
      )
      expect(names(yield* UserTracingTest.userTraces())).toEqual([{ request: ["op"] }])
      const op = (yield* UserTracingTest.finishedSpans).find((s) => s.name === "op")!
      expect(op.attributes.size).toBe(0)
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("propagation through fibers", () => {
  it.effect("fork/join, forkDaemon, Effect.all with concurrency, sleep", () =>
    Effect.gen(function*() {
      const daemonDone = yield* Deferred.make<void>()
      yield* Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.void.pipe(withUserSpan("forked")))
        yield* Fiber.join(fiber)
        yield* Effect.forkDaemon(
          Effect.void.pipe(withUserSpan("daemon"), Effect.zipRight(Deferred.succeed(daemonDone, void 0)))
        )
        yield* Deferred.await(daemonDone)
        yield* Effect.all([withUserSpan(Effect.void, "all-1"), withUserSpan(Effect.void, "all-2")], { concurrency: 2 })
        const sleeper = yield* Effect.fork(
          Effect.sleep("1 second").pipe(Effect.zipRight(withUserSpan(Effect.void, "after-sleep")))
        )
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(sleeper)
      }).pipe(withUserTrace("request", { routing }))
      const [trace] = yield* UserTracingTest.userTraces()
      expect(trace.children.map((c) => c.name).sort()).toEqual(["after-sleep", "all-1", "all-2", "daemon", "forked"])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("a forked child's spans do not leak into the parent's current span", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* Effect.gen(function*() {
        const fiber = yield* Effect.fork(
          Deferred.succeed(started, void 0).pipe(Effect.zipRight(Deferred.await(release)), withUserSpan("in-child"))
        )
        yield* Deferred.await(started)
        // The child is inside "in-child" now; the parent must still be at the root.
        yield* Effect.void.pipe(withUserSpan("in-parent"))
        yield* Deferred.succeed(release, void 0)
        yield* Fiber.join(fiber)
        yield* Effect.void.pipe(withUserSpan("after-join"))
      }).pipe(withUserTrace("request", { routing }))
      const [trace] = yield* UserTracingTest.userTraces()
      expect(trace.children.map((c) => c.name)).toEqual(["in-child", "in-parent", "after-join"])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("an Effect.withSpan between two user spans is skipped; nested dual spans and fn", () =>
    Effect.gen(function*() {
      const handler = UserTracing.fn("handler")(function*(n: number) {
        yield* withUserSpan(Effect.void, "inside-fn")
        return n * 2
      })
      const [value, internal] = yield* withRecordingTracer(
        Effect.gen(function*() {
          yield* Effect.void.pipe(withUserSpan("inner"), Effect.withSpan("internal-only"), withUserSpan("outer"))
          yield* Effect.void.pipe(UserTracing.withDualSpan("dual-inner"), UserTracing.withDualSpan("dual-outer"))
          return (yield* handler(1)) + (yield* handler(2))
        }).pipe(withUserTrace("request", { routing }))
      )
      expect(value).toBe(6)
      expect(internal).toEqual(["internal-only", "dual-outer", "dual-inner", "handler", "handler"])
      expect(names(yield* UserTracingTest.userTraces())).toEqual([{
        request: [{ outer: ["inner"] }, { "dual-outer": ["dual-inner"] }, { handler: ["inside-fn"] }, {
          handler: ["inside-fn"]
        }]
      }])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("a fiber that outlives the region may still open children under it", () =>
    Effect.gen(function*() {
      const go = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkDaemon(
        Deferred.await(go).pipe(Effect.zipRight(withUserSpan(Effect.void, "late")))
      ).pipe(
        withUserTrace("request", { routing })
      )
      yield* Deferred.succeed(go, void 0)
      yield* Fiber.join(fiber)
      expect(names(yield* UserTracingTest.userTraces())).toEqual([{ request: ["late"] }])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("layers built inside a user span see it", () =>
    Effect.gen(function*() {
      class Probe extends Effect.Service<Probe>()("test/Probe", {
        effect: Effect.as(withUserSpan(Effect.void, "layer-build"), {})
      }) {}
      yield* Effect.provide(Probe, Probe.Default).pipe(withUserTrace("request", { routing }))
      expect(names(yield* UserTracingTest.userTraces())).toEqual([{ request: ["layer-build"] }])
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("roots", () => {
  it.effect("withUserTrace inside an active trace starts a new, unrelated root", () =>
    Effect.gen(function*() {
      yield* Effect.void.pipe(
        withUserSpan("inner-child"),
        withUserTrace("inner", { routing }),
        withUserTrace("outer", { routing })
      )
      const traces = yield* UserTracingTest.userTraces()
      expect(names(traces)).toEqual(["outer", { inner: ["inner-child"] }])
      const spans = yield* UserTracingTest.finishedSpans
      const outer = spans.find((s) => s.name === "outer")!
      const inner = spans.find((s) => s.name === "inner")!
      expect(inner.traceId).not.toBe(outer.traceId)
      expect(inner.parentSpanId).toBeUndefined()
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("withUserSpan with no root records nothing and never starts a root", () =>
    Effect.gen(function*() {
      yield* Effect.void.pipe(withUserSpan("orphan"), withUserSpan("orphan-parent"))
      expect(yield* UserTracingTest.finishedSpans).toEqual([])
      expect(yield* UserTracing.currentUserSpan.pipe(withUserSpan("orphan"))).toEqual(Option.none())
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("with no layer, withUserTrace records nothing and userTraceparent is None", () =>
    Effect.gen(function*() {
      const [traceparent, headers, current] = yield* Effect.all([
        UserTracing.userTraceparent,
        UserTracing.userTraceHeaders,
        UserTracing.currentUserSpan
      ]).pipe(withUserSpan("child"), withUserTrace("request", { routing }))
      expect(traceparent).toEqual(Option.none())
      expect(headers).toEqual({})
      expect(current).toEqual(Option.none())
      yield* UserTracing.forceFlush
    }))

  it.effect("an inactive root hides an ambient active span", () =>
    Effect.gen(function*() {
      const inactive = Effect.void.pipe(withUserSpan("hidden"), withUserTrace("inactive", { routing }))
      yield* inactive.pipe(
        Effect.provideService(UserHarness.UserHarness, UserHarness.UserHarness.defaultValue()),
        withUserTrace("outer", { routing })
      )
      expect(names(yield* UserTracingTest.userTraces())).toEqual(["outer"])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("startUserTrace: current for the rest of the scope, ended when it closes", () =>
    Effect.gen(function*() {
      const root = yield* Effect.scoped(Effect.gen(function*() {
        const root = yield* UserTracing.startUserTrace("scoped", { routing })
        yield* withUserSpan(Effect.void, "child")
        const current = yield* UserTracing.currentUserSpan
        expect(Option.map(current, (s) => s.spanId)).toEqual(Option.some(root.spanId))
        expect(yield* UserTracingTest.finishedSpans).toHaveLength(1)
        return root
      }))
      expect(root.sampled).toBe(true)
      expect(yield* UserTracing.currentUserSpan).toEqual(Option.none())
      expect(names(yield* UserTracingTest.userTraces())).toEqual([{ scoped: ["child"] }])
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("inbound continuation", () => {
  const inbound = Option.getOrThrow(Traceparent.parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))

  it.effect("shares the trace id, takes the inbound parent id, and emits traceparent/tracestate", () =>
    Effect.gen(function*() {
      const [rootTp, childTp, headers] = yield* Effect.gen(function*() {
        const rootTp = yield* UserTracing.userTraceparent
        const [childTp, headers] = yield* Effect.all([UserTracing.userTraceparent, UserTracing.userTraceHeaders]).pipe(
          withUserSpan("child", { kind: "client" })
        )
        return [rootTp, childTp, headers] as const
      }).pipe(withUserTrace("request", { routing, inbound, tracestate: ["vendor=a", "other=b"] }))
      const root = Option.getOrThrow(rootTp)
      const child = Option.getOrThrow(childTp)
      expect(root.startsWith("00-0af7651916cd43dd8448eb211c80319c-")).toBe(true)
      expect(root.slice(0, 36)).toBe(child.slice(0, 36))
      expect(root.slice(53)).toBe(child.slice(53))
      expect(root.slice(36, 52)).not.toBe(child.slice(36, 52))
      // Sampled, and no random bit: the inbound header did not set it.
      expect(root.slice(53)).toBe("01")
      expect(headers).toEqual({ traceparent: child, tracestate: "vendor=a,other=b" })
      const spans = yield* UserTracingTest.finishedSpans
      const rootSpan = spans.find((s) => s.name === "request")!
      expect(rootSpan.parentSpanId).toBe("b7ad6b7169203331")
      expect(rootSpan.remoteParent).toBe(true)
      expect(spans.find((s) => s.name === "child")!.kind).toBe("client")
      // The continued root still shows as a root of the recorded traces.
      expect(names(yield* UserTracingTest.userTraces())).toEqual([{ request: ["child"] }])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("a fresh trace sets sampled and random; tracestate without inbound is dropped", () =>
    Effect.gen(function*() {
      const headers = yield* UserTracing.userTraceHeaders.pipe(withUserTrace("request", { routing, tracestate: "a=b" }))
      expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-03$/)
      expect(headers.tracestate).toBeUndefined()
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("the inbound random bit is kept; an invalid tracestate is dropped", () =>
    Effect.gen(function*() {
      const random = { ...inbound, traceFlags: 0x02 }
      const headers = yield* UserTracing.userTraceHeaders.pipe(
        withUserTrace("request", { routing, inbound: random, tracestate: "BAD KEY=1" })
      )
      expect(headers).toEqual({ traceparent: expect.stringMatching(/-03$/) })
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("finish callback and ending", () => {
  it.effect("sets attributes at finish, is inherited by later children, cleared by undefined", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        yield* withUserSpan(Effect.void, "before")
        yield* UserTracing.setUserSpanFinishCallback((span) => {
          span.attribute("finished", span.name)
          span.name = span.name + "!"
        })
        yield* withUserSpan(Effect.void, "after")
        yield* Effect.gen(function*() {
          yield* UserTracing.setUserSpanFinishCallback(undefined)
        }).pipe(withUserSpan("cleared"))
      }).pipe(withUserTrace("request", { routing }))
      const spans = yield* UserTracingTest.finishedSpans
      const attrs = Object.fromEntries(spans.map((s) => [s.name, Object.fromEntries(s.attributes)]))
      expect(attrs).toEqual({
        "before": {},
        "after!": { finished: "after" },
        "cleared": {},
        "request!": { finished: "request" }
      })
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("each span ends exactly once, on success, failure and interruption; failure is error", () =>
    Effect.gen(function*() {
      let calls = 0
      const counted = <A, E, R>(self: Effect.Effect<A, E, R>) =>
        Effect.zipRight(UserTracing.setUserSpanFinishCallback(() => void calls++), self)
      yield* Effect.void.pipe(counted, withUserTrace("ok", { routing }))
      yield* Effect.exit(Effect.fail("secret cause text").pipe(counted, withUserTrace("failed", { routing })))
      yield* Effect.exit(Effect.die(new Error("secret defect")).pipe(counted, withUserTrace("died", { routing })))
      const gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        Deferred.succeed(gate, void 0).pipe(
          Effect.zipRight(Effect.never),
          counted,
          withUserTrace("interrupted", { routing })
        )
      )
      yield* Deferred.await(gate)
      yield* Fiber.interrupt(fiber)
      const spans = yield* UserTracingTest.finishedSpans
      expect(calls).toBe(4)
      expect(spans.map((s) => [s.name, s.status])).toEqual([
        ["ok", "unset"],
        ["failed", "error"],
        ["died", "error"],
        ["interrupted", "unset"]
      ])
      for (const span of spans) expect(span.endTime >= span.startTime).toBe(true)
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("interruption", () => {
  it.effect("a span keeps the interruptibility it was opened with", () =>
    Effect.gen(function*() {
      const interruptible = Effect.checkInterruptible((isInterruptible) => Effect.succeed(isInterruptible))
      const traced = <A, E, R>(self: Effect.Effect<A, E, R>) =>
        self.pipe(withUserSpan("a"), withUserTrace("r", { routing }))
      expect(yield* traced(interruptible)).toBe(true)
      expect(yield* Effect.uninterruptible(traced(interruptible))).toBe(false)
      expect(yield* Effect.uninterruptible(traced(Effect.interruptible(interruptible)))).toBe(true)
      expect(yield* Effect.uninterruptibleMask((restore) => traced(restore(interruptible)))).toBe(true)
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("an interrupted span ends, and the finalizers around it see its parent as current", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(
        Deferred.succeed(gate, void 0).pipe(
          Effect.zipRight(Effect.never),
          withUserSpan("inner"),
          Effect.onInterrupt(() => UserTracing.annotateUserSpan("finalizer", "ran")),
          withUserSpan("outer"),
          withUserTrace("request", { routing })
        )
      )
      yield* Deferred.await(gate)
      yield* Fiber.interrupt(fiber)
      const spans = yield* UserTracingTest.finishedSpans
      const byName = new Map(spans.map((s) => [s.name, s]))
      expect(spans.map((s) => [s.name, s.status])).toEqual([["inner", "unset"], ["outer", "unset"], [
        "request",
        "unset"
      ]])
      expect([...byName.get("outer")!.attributes]).toEqual([["finalizer", "ran"]])
      expect(byName.get("inner")!.attributes.size).toBe(0)
      expect(byName.get("inner")!.parentSpanId).toBe(byName.get("outer")!.spanId)
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("the two pipelines are apart", () => {
  it.effect("Effect.log adds no user event; a failure's cause text appears nowhere in the user span", () =>
    Effect.gen(function*() {
      yield* Effect.exit(
        Effect.gen(function*() {
          yield* Effect.log("leaky log line")
          yield* Effect.annotateCurrentSpan("leaky-key", "leaky attribute")
          return yield* Effect.fail(new Error("secret cause text"))
        }).pipe(Effect.withSpan("leaky-internal-span"), withUserSpan("child"), withUserTrace("request", { routing }))
      )
      const spans = yield* UserTracingTest.finishedSpans
      const text = JSON.stringify(
        spans,
        (_, v) => (typeof v === "bigint" ? v.toString() : v instanceof Map ? [...v] : v)
      )
      expect(text).not.toContain("secret")
      expect(text).not.toContain("leaky")
      for (const span of spans) expect(span.events).toEqual([])
      expect(spans.map((s) => s.status)).toEqual(["error", "error"])
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("test layer isolation", () => {
  it.effect("each provided TestUserTracing has its own sink", () =>
    Effect.gen(function*() {
      yield* Effect.void.pipe(withUserTrace("one", { routing }), Effect.provide(TestUserTracing))
      const seen = yield* UserTracingTest.userTraces().pipe(Effect.provide(TestUserTracing))
      expect(seen).toEqual([])
    }))
})
