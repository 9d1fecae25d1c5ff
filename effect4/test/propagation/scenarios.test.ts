import { describe, expect, it } from "@effect/vitest"
import { type Context, Deferred, Effect, Exit, Fiber, Option, Request, RequestResolver } from "effect"
import { RoutingMetadata, UserTracing, UserTracingTest } from "../../src/index.js"
import { runtime } from "../../src/internal/span/current.js"

const { withUserSpan, withUserTrace } = UserTracing
const tenant = (name: string) => ({ routing: RoutingMetadata.json({ tenant: name }) })

/** The finished spans by name, with the tenant each one's routing names and its parent's name. */
const spansByName = Effect.map(UserTracingTest.finishedSpans, (spans) => {
  const byId = new Map(spans.map((span) => [span.spanId, span]))
  return new Map(spans.map((span) => [span.name, {
    span,
    tenant: JSON.parse(span.routing.encode()).tenant as string,
    parent: span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId)?.name
  }]))
})

const currentName = Effect.map(UserTracing.currentUserSpan, (span) => Option.getOrUndefined(span)?.name)

interface GetUser extends Request.Request<string> {
  readonly _tag: "GetUser"
  readonly id: string
}
const GetUser = Request.tagged<GetUser>("GetUser")

describe("request batches on Effect 4", () => {
  it.effect("a batch serving two tenants runs its resolver with no user span; each tenant resumes in its own", () =>
    Effect.gen(function*() {
      const seenInResolver: Array<unknown> = []
      const effectSpanInResolver: Array<string | undefined> = []
      // One resolver for every tenant: Effect runs the batch with the context of its first request.
      const users = RequestResolver.make<GetUser>((entries) =>
        Effect.gen(function*() {
          seenInResolver.push(yield* currentName, (yield* UserTracing.userTraceHeaders).traceparent)
          effectSpanInResolver.push(Option.getOrUndefined(yield* Effect.option(Effect.currentSpan))?.name)
          yield* UserTracing.annotateUserSpan("served", entries.length)
          yield* Effect.void.pipe(withUserSpan("inside-resolver"))
          for (const entry of entries) entry.completeUnsafe(Exit.succeed(`user-${entry.request.id}`))
        })
      )
      const handle = (name: string) =>
        Effect.gen(function*() {
          yield* Effect.request(GetUser({ id: name }), users).pipe(withUserSpan(`get-${name}`), Effect.withSpan("get"))
          expect(yield* currentName).toBe(`root-${name}`)
          yield* Effect.void.pipe(withUserSpan(`render-${name}`))
        }).pipe(withUserTrace(`root-${name}`, tenant(name)))
      yield* Effect.all([handle("A"), handle("B")], { concurrency: "unbounded" })
      expect(yield* UserTracing.userTraceHeaders).toEqual({})

      // One batch, run where Effect's own current span is the first request's span.
      expect(effectSpanInResolver).toEqual(["get"])
      expect(seenInResolver).toEqual([undefined, undefined])
      const spans = yield* spansByName
      expect(spans.has("inside-resolver")).toBe(false)
      expect(spans.get("get-A")).toMatchObject({ tenant: "A", parent: "root-A" })
      expect(spans.get("get-B")).toMatchObject({ tenant: "B", parent: "root-B" })
      expect(spans.get("render-B")).toMatchObject({ tenant: "B", parent: "root-B" })
      expect([...spans.values()].every(({ span }) => !span.attributes.has("served"))).toBe(true)
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("a per-entry resolver (fromEffect) records nothing either, not even under the entry's own span", () =>
    Effect.gen(function*() {
      const users = RequestResolver.fromEffect<GetUser>((entry) =>
        Effect.as(Effect.void.pipe(withUserSpan(`lookup-${entry.request.id}`)), entry.request.id)
      )
      yield* Effect.all(
        ["A", "B"].map((name) =>
          Effect.request(GetUser({ id: name }), users).pipe(withUserTrace(`root-${name}`, tenant(name)))
        ),
        { concurrency: "unbounded" }
      )
      const spans = yield* spansByName
      expect([...spans.keys()].sort()).toEqual(["root-A", "root-B"])
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("a root the resolver opens itself is its own trace, with its forks in it", () =>
    Effect.gen(function*() {
      const users = RequestResolver.make<GetUser>((entries) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(Effect.void.pipe(withUserSpan("forked-in-batch")))
          yield* Fiber.join(fiber)
        }).pipe(
          withUserTrace("batch", tenant("ops")),
          Effect.andThen(Effect.sync(() => {
            for (const entry of entries) entry.completeUnsafe(Exit.succeed(entry.request.id))
          }))
        )
      )
      yield* Effect.request(GetUser({ id: "A" }), users).pipe(withUserTrace("root-A", tenant("A")))
      const spans = yield* spansByName
      expect(spans.get("forked-in-batch")).toMatchObject({ tenant: "ops", parent: "batch" })
      expect(spans.get("batch")!.parent).toBeUndefined()
    }).pipe(Effect.provide(UserTracingTest.layer)))
})

describe("captured contexts and fibers on Effect 4", () => {
  it.effect("a context captured in tenant A's trace, run while the fiber serves tenant B, stays in A", () =>
    Effect.gen(function*() {
      let captured: Context.Context<never> | undefined
      yield* Effect.gen(function*() {
        captured = yield* Effect.context<never>()
      }).pipe(withUserTrace("job-A", tenant("A")))
      yield* Effect.sync(() =>
        Effect.runSyncWith(captured!)(
          UserTracing.annotateUserSpan("secret-of-A", "x").pipe(withUserSpan("callback-from-A"))
        )
      ).pipe(withUserTrace("job-B", tenant("B")))
      const spans = yield* spansByName
      expect(spans.get("callback-from-A")).toMatchObject({ tenant: "A", parent: "job-A" })
      expect(spans.get("job-B")!.span.attributes.size).toBe(0)
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("a daemon outlives its region and still opens children under it; a join hands nothing back", () =>
    Effect.gen(function*() {
      const go = yield* Deferred.make<void>()
      const daemon = yield* Effect.gen(function*() {
        const fiber = yield* Effect.forkDetach(
          Deferred.await(go).pipe(Effect.andThen(Effect.void.pipe(withUserSpan("late"))))
        )
        const child = yield* Effect.forkChild(Effect.void.pipe(withUserSpan("child")))
        yield* Fiber.join(child)
        expect(yield* currentName).toBe("request")
        return fiber
      }).pipe(withUserTrace("request", tenant("A")))
      yield* Deferred.succeed(go, undefined)
      yield* Fiber.join(daemon)
      const spans = yield* spansByName
      expect(spans.get("late")).toMatchObject({ tenant: "A", parent: "request" })
      expect(spans.get("child")).toMatchObject({ tenant: "A", parent: "request" })
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("withoutUserTrace: a fiber forked from a shared resource built inside a request stays out of it", () =>
    Effect.gen(function*() {
      const loader = yield* Effect.cached(
        UserTracing.withoutUserTrace(Effect.forkDetach(Effect.never.pipe(withUserSpan("loader-fiber"))))
      )
      yield* loader.pipe(withUserTrace("first-request", tenant("A")))
      expect((yield* spansByName).has("loader-fiber")).toBe(false)
    }).pipe(Effect.provide(UserTracingTest.layer)))
})

describe("when the runtime check fails (another effect release)", () => {
  it.effect("fibers outside the opener's lineage see no user span; forked children still do", () =>
    Effect.gen(function*() {
      const saved = { checked: runtime.checked, recognisesBatches: runtime.recognisesBatches }
      runtime.checked = true
      runtime.recognisesBatches = false
      try {
        const seen = yield* Effect.gen(function*() {
          const child = yield* Effect.forkChild(currentName)
          const daemon = yield* Effect.forkDetach(currentName)
          const context = yield* Effect.context<never>()
          return [yield* Fiber.join(child), yield* Fiber.join(daemon), Effect.runSyncWith(context)(currentName)]
        }).pipe(withUserTrace("request", tenant("A")))
        expect(seen).toEqual(["request", undefined, undefined])
      } finally {
        runtime.checked = saved.checked
        runtime.recognisesBatches = saved.recognisesBatches
      }
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it("the check passes on this effect release", () => {
    runtime.checked = false
    const seen = Effect.runSync(
      Effect.forkDetach(currentName, { startImmediately: true }).pipe(
        Effect.flatMap(Fiber.join),
        withUserTrace("daemon-parent", tenant("A")),
        Effect.provide(UserTracingTest.layer)
      )
    )
    expect(seen).toBe("daemon-parent")
    expect(runtime.recognisesBatches).toBe(true)
  })
})
