// Ways a user span could outlive its region or be seen by another fiber, tried one by one: each
// must leave the user pipeline where Effect leaves its own span, and one tenant's span never
// current in work done for another.
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Option, Queue } from "effect"
import { RoutingMetadata, UserTracing, UserTracingTest } from "../../src/index.js"

const { currentUserSpan, userTraceHeaders, withUserSpan, withUserTrace } = UserTracing
const tenant = (name: string) => ({ routing: RoutingMetadata.json({ tenant: name }) })

/** The finished spans by name, with the tenant each one's routing names and its parent's name. */
const spansByName = Effect.map(UserTracingTest.finishedSpans, (spans) => {
  const byId = new Map(spans.map((span) => [span.spanId, span]))
  return new Map(spans.map((span) => [span.name, {
    tenant: JSON.parse(span.routing.encode()).tenant as string,
    parent: span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId)?.name
  }]))
})

const currentName = Effect.map(currentUserSpan, Option.map((span) => span.name))

describe("propagation audit", () => {
  it.effect("sibling fibers of one lineage taking turns: each sees its own user span, never the one the other opened last", () =>
    Effect.gen(function*() {
      const opened = yield* Deferred.make<void>()
      const seen = yield* Deferred.make<void>()
      let seenBySibling: Option.Option<string> = Option.none()
      yield* Effect.gen(function*() {
        // Both forks share the root's lineage. The first opens another tenant's root and is the last
        // to write a current span when the second runs.
        const other = yield* Effect.fork(
          Effect.zipRight(Deferred.succeed(opened, undefined), Deferred.await(seen)).pipe(
            withUserTrace("root-B", tenant("B"))
          )
        )
        const sibling = yield* Effect.fork(Effect.gen(function*() {
          yield* Deferred.await(opened)
          seenBySibling = yield* currentName
          yield* Effect.void.pipe(withUserSpan("sibling-span"))
          yield* Deferred.succeed(seen, undefined)
        }))
        yield* Fiber.join(sibling)
        yield* Fiber.join(other)
      }).pipe(withUserTrace("root-A", tenant("A")))
      const spans = yield* spansByName
      expect(seenBySibling).toEqual(Option.some("root-A"))
      expect(spans.get("sibling-span")).toEqual({ tenant: "A", parent: "root-A" })
      expect(spans.get("root-B")).toEqual({ tenant: "B", parent: undefined })
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("a worker restoring the FiberRefs of a producer that had no user trace has no user span", () =>
    Effect.gen(function*() {
      // Tenant C's producer never opened a user region: its refs do not hold the user span at all.
      const fromC = yield* Effect.getFiberRefs
      const fromB = yield* Effect.getFiberRefs.pipe(withUserTrace("producer-B", tenant("B")))
      let headersOfC: Record<string, string> | undefined
      yield* Effect.gen(function*() {
        yield* Effect.setFiberRefs(fromB)
        yield* Effect.void.pipe(withUserSpan("handle-B"))
        yield* Effect.setFiberRefs(fromC)
        yield* Effect.void.pipe(withUserSpan("handle-C"))
        headersOfC = yield* userTraceHeaders
      }).pipe(Effect.fork, Effect.flatMap(Fiber.join))
      const spans = yield* spansByName
      expect(spans.get("handle-B")).toEqual({ tenant: "B", parent: "producer-B" })
      expect(spans.has("handle-C")).toBe(false)
      expect(headersOfC).toEqual({})
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("a context replaced wholesale (mapInputContext) hides the user span, as it does Effect's", () =>
    Effect.gen(function*() {
      const seen = yield* Effect.gen(function*() {
        const inside = yield* Effect.all([currentName, Effect.option(Effect.currentSpan)]).pipe(
          Effect.mapInputContext((_: Context.Context<never>) => Context.empty())
        )
        const after = yield* currentName
        return { inside, after }
      }).pipe(withUserTrace("request", tenant("A")), Effect.withSpan("request"))
      expect(seen.inside).toEqual([Option.none(), Option.none()])
      expect(seen.after).toEqual(Option.some("request"))
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("an effect handed through a Queue runs in the worker's context: no user span there", () =>
    Effect.gen(function*() {
      const jobs = yield* Queue.unbounded<Effect.Effect<void>>()
      const worker = yield* Effect.fork(Effect.forever(Effect.flatten(Queue.take(jobs))))
      const done = yield* Deferred.make<Option.Option<string>>()
      yield* Queue.offer(jobs, Effect.flatMap(currentName, (name) => Deferred.succeed(done, name))).pipe(
        withUserTrace("request", tenant("A"))
      )
      expect(yield* Deferred.await(done)).toEqual(Option.none())
      yield* Fiber.interrupt(worker)
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("a daemon forked in tenant A's root stays in A's trace while its parent serves tenant B", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const daemon = yield* Effect.forkDaemon(
        Deferred.await(gate).pipe(Effect.zipRight(Effect.void.pipe(withUserSpan("late-A"))))
      ).pipe(withUserTrace("root-A", tenant("A")))
      yield* Effect.gen(function*() {
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(daemon)
        yield* Effect.void.pipe(withUserSpan("own-B"))
      }).pipe(withUserTrace("root-B", tenant("B")))
      const spans = yield* spansByName
      expect(spans.get("late-A")).toEqual({ tenant: "A", parent: "root-A" })
      expect(spans.get("own-B")).toEqual({ tenant: "B", parent: "root-B" })
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("joining a child that opened and closed a root of its own leaves the parent's span current", () =>
    Effect.gen(function*() {
      const after = yield* Effect.gen(function*() {
        const child = yield* Effect.fork(
          Effect.void.pipe(withUserSpan("child-work"), withUserTrace("job", tenant("jobs")))
        )
        yield* Fiber.join(child)
        return yield* currentName
      }).pipe(withUserTrace("request", tenant("A")))
      expect(after).toEqual(Option.some("request"))
      const spans = yield* spansByName
      expect(spans.get("child-work")).toEqual({ tenant: "jobs", parent: "job" })
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("Effect.cachedFunction shared by tenants: the computation is in the first caller's trace only", () =>
    Effect.gen(function*() {
      const lookup = yield* Effect.cachedFunction((key: string) =>
        Effect.as(Effect.void.pipe(withUserSpan(`compute-${key}`)), key)
      )
      for (const name of ["A", "B"]) {
        yield* lookup("shared").pipe(withUserSpan(`lookup-${name}`), withUserTrace(`root-${name}`, tenant(name)))
      }
      const spans = yield* spansByName
      expect(spans.get("compute-shared")).toEqual({ tenant: "A", parent: "lookup-A" })
      expect([...spans.values()].filter((span) => span.tenant === "B").length).toBe(2)
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("two forks of one fiber write their spans apart: neither sees the other's, nor the parent either", () =>
    Effect.gen(function*() {
      const seen = yield* Effect.gen(function*() {
        const inA = yield* Deferred.make<void>()
        const inB = yield* Deferred.make<void>()
        const fork = (name: string, mine: Deferred.Deferred<void>, theirs: Deferred.Deferred<void>) =>
          Effect.fork(
            Effect.gen(function*() {
              yield* Deferred.succeed(mine, undefined)
              yield* Deferred.await(theirs)
              return yield* currentName
            }).pipe(withUserSpan(name))
          )
        const a = yield* fork("fork-a", inA, inB)
        const b = yield* fork("fork-b", inB, inA)
        yield* Deferred.await(inA)
        yield* Deferred.await(inB)
        const parent = yield* currentName
        return [yield* Fiber.join(a), yield* Fiber.join(b), parent]
      }).pipe(withUserTrace("request", tenant("A")))
      expect(seen).toEqual([Option.some("fork-a"), Option.some("fork-b"), Option.some("request")])
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.live("a disconnected region interrupted by a timeout ends after its root, in its own trace", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      const finished = yield* Deferred.make<void>()
      yield* Deferred.succeed(entered, undefined).pipe(
        Effect.zipRight(Effect.never),
        Effect.ensuring(Effect.zipRight(Effect.sleep("5 millis"), Deferred.succeed(finished, undefined))),
        withUserSpan("slow"),
        Effect.disconnect,
        Effect.timeout("1 millis"),
        Effect.ignore,
        withUserTrace("request", tenant("A"))
      )
      yield* Effect.void.pipe(withUserSpan("next-B"), withUserTrace("other", tenant("B")))
      yield* Deferred.await(finished)
      const spans = yield* UserTracingTest.finishedSpans
      const byName = new Map(spans.map((span) => [span.name, span]))
      expect(byName.get("slow")!.parentSpanId).toBe(byName.get("request")!.spanId)
      expect(byName.get("slow")!.endTime).toBeGreaterThan(byName.get("request")!.endTime)
      expect(byName.get("next-B")!.parentSpanId).toBe(byName.get("other")!.spanId)
    }).pipe(Effect.provide(UserTracingTest.layer)))
})
