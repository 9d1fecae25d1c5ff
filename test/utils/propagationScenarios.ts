// The propagation scenarios, run with in-place slot writes (propagation.test.ts) and without
// them (propagation.fallback.test.ts, the mode a failed start-up self-check selects).
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, ManagedRuntime, Runtime } from "effect"
import * as fc from "fast-check"
import { RoutingMetadata, UserTracing, UserTracingTest } from "../../src/index.js"
import { arbitraryProgram, checkProgram, expectTreesEqual, recordEffectTree } from "./propagationOracle.js"

const { withDualSpan, withUserSpan, withUserTrace } = UserTracing
const tenant = (name: string) => ({ routing: RoutingMetadata.json({ tenant: name }) })

/** The finished spans by name, with the tenant each one's routing names. */
const spansByName = Effect.map(UserTracingTest.finishedSpans, (spans) => {
  const byId = new Map(spans.map((span) => [span.spanId, span]))
  return new Map(spans.map((span) => [span.name, {
    span,
    tenant: JSON.parse(span.routing.encode()).tenant as string,
    parent: span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId)?.name
  }]))
})

/** Runs `self` and checks the user tree against Effect's own span tree. */
const oracle = <A, E>(self: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const [, effectTree] = yield* recordEffectTree(self)
    yield* expectTreesEqual(effectTree)
  })

/** Registers the propagation scenarios. */
export const propagationSuite = (): void => {
  describe("a snapshot keeps the span current when it was taken", () => {
    it.effect("a runtime captured in tenant A's trace, used while the fiber serves tenant B, stays in A", () =>
      Effect.gen(function*() {
        let runtime: Runtime.Runtime<never> | undefined
        yield* Effect.gen(function*() {
          runtime = yield* Effect.runtime<never>()
        }).pipe(withUserTrace("job-A", tenant("A")))
        yield* Effect.sync(() =>
          Runtime.runSync(runtime!)(
            UserTracing.annotateUserSpan("secret-of-A", "x").pipe(withUserSpan("callback-from-A"))
          )
        ).pipe(withUserTrace("job-B", tenant("B")))
        const spans = yield* spansByName
        expect(spans.get("callback-from-A")).toMatchObject({ tenant: "A", parent: "job-A" })
        expect(spans.get("callback-from-A")!.span.traceId).toBe(spans.get("job-A")!.span.traceId)
        expect(spans.get("job-B")!.span.attributes.size).toBe(0)
      }).pipe(Effect.provide(UserTracingTest.layer)))

    it.effect("getFiberRefs in a producer, setFiberRefs in a consumer serving another tenant", () =>
      Effect.gen(function*() {
        const refs = yield* Effect.getFiberRefs.pipe(withUserSpan("enqueue"), withUserTrace("producer", tenant("A")))
        yield* Effect.setFiberRefs(refs).pipe(
          Effect.zipRight(Effect.void.pipe(withUserSpan("handle"))),
          withUserTrace("consumer", tenant("B"))
        )
        const spans = yield* spansByName
        expect(spans.get("handle")).toMatchObject({ tenant: "A", parent: "enqueue" })
      }).pipe(Effect.provide(UserTracingTest.layer)))

    it.effect("a runtime captured in one child span and used during a later sibling parents to the first", () =>
      Effect.gen(function*() {
        yield* Effect.gen(function*() {
          const runtime = yield* Effect.runtime<never>().pipe(withUserSpan("first"))
          yield* Effect.sync(() => Runtime.runSync(runtime)(Effect.void.pipe(withUserSpan("callback")))).pipe(
            withUserSpan("second")
          )
        }).pipe(withUserTrace("request", tenant("A")))
        const spans = yield* spansByName
        expect(spans.get("callback")!.parent).toBe("first")
      }).pipe(Effect.provide(UserTracingTest.layer)))

    it.effect("inheritFiberRefs and Fiber.inheritAll follow Effect: a joined child hands back a span it changed", () =>
      oracle(Effect.gen(function*() {
        const refs = yield* Effect.getFiberRefs.pipe(
          withDualSpan("snapshot"),
          withUserTrace("root-A", tenant("A")),
          Effect.withSpan("root-A")
        )
        yield* Effect.gen(function*() {
          yield* Effect.inheritFiberRefs(refs)
          yield* withDualSpan(Effect.void, "after-inherit")
        }).pipe(withUserTrace("root-B", tenant("B")), Effect.withSpan("root-B"))
        yield* Effect.gen(function*() {
          const child = yield* Effect.fork(Effect.setFiberRefs(refs))
          yield* Fiber.await(child)
          yield* Fiber.inheritAll(child)
          yield* withDualSpan(Effect.void, "after-inheritAll")
        }).pipe(withUserTrace("root-C", tenant("C")), Effect.withSpan("root-C"))
        const spans = yield* spansByName
        // A foreign snapshot's values are no change made by a child of this fiber: nothing moves.
        expect(spans.get("after-inherit")).toMatchObject({ tenant: "B", parent: "root-B" })
        // A joined child that restored tenant A's refs hands A's span back, as Effect does its own.
        expect(spans.get("after-inheritAll")).toMatchObject({ tenant: "A", parent: "snapshot" })
      })).pipe(Effect.provide(UserTracingTest.layer)))
  })

  describe("the user tree equals Effect's own span tree (withDualSpan at every level)", () => {
    const root = (name: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
      self.pipe(withUserTrace(name, tenant(name)), Effect.withSpan(name))

    it.effect("fork, join, forkDaemon, Effect.all with concurrency, race, interruption", () =>
      oracle(Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const daemon = yield* Effect.gen(function*() {
          const fiber = yield* Effect.fork(Effect.void.pipe(withDualSpan("forked")))
          yield* Effect.all([withDualSpan(Effect.void, "all-1"), withDualSpan(Effect.yieldNow(), "all-2")], {
            concurrency: "unbounded"
          })
          yield* Effect.race(withDualSpan(Deferred.await(gate), "race-loser"), withDualSpan(Effect.void, "race-winner"))
          const interrupted = yield* Effect.fork(withDualSpan(Effect.never, "interrupted"))
          yield* Effect.yieldNow()
          yield* Fiber.interrupt(interrupted)
          yield* Fiber.join(fiber)
          return yield* Effect.forkDaemon(Deferred.await(gate).pipe(Effect.zipRight(withDualSpan(Effect.void, "late"))))
        }).pipe(withDualSpan("region"), root("root-A"))
        yield* Deferred.succeed(gate, void 0)
        yield* Fiber.join(daemon)
      })).pipe(Effect.provide(UserTracingTest.layer)))

    it.effect("runtimes and FiberRefs snapshots taken in one trace and used in another", () =>
      oracle(Effect.gen(function*() {
        let runtime: Runtime.Runtime<never> | undefined
        const refs = yield* Effect.gen(function*() {
          runtime = yield* Effect.runtime<never>()
          return yield* Effect.getFiberRefs
        }).pipe(withDualSpan("captured-in"), root("root-A"))
        yield* Effect.gen(function*() {
          yield* Effect.promise(() => Runtime.runPromise(runtime!)(withDualSpan(Effect.void, "via-runtime")))
          yield* Effect.sync(() => Runtime.runFork(runtime!)(withDualSpan(Effect.void, "via-runFork"))).pipe(
            Effect.flatMap(Fiber.await)
          )
          yield* Effect.fork(Effect.setFiberRefs(refs).pipe(Effect.zipRight(withDualSpan(Effect.void, "via-refs"))))
            .pipe(
              Effect.flatMap(Fiber.await)
            )
          yield* withDualSpan(Effect.void, "own")
        }).pipe(withDualSpan("other-region"), root("root-B"))
      })).pipe(Effect.provide(UserTracingTest.layer)))

    it.effect("layers and ManagedRuntimes built inside a span", () =>
      oracle(Effect.gen(function*() {
        class Callback extends Context.Tag("test/Callback")<Callback, { readonly fire: () => Promise<void> }>() {}
        const capturing = (built: string) =>
          Layer.effect(
            Callback,
            Effect.map(Effect.runtime<never>(), (runtime) => ({
              fire: () => Runtime.runPromise(runtime)(withDualSpan(Effect.void, `callback-of-${built}`))
            }))
          ).pipe(Layer.tap(() => withDualSpan(Effect.void, `build-of-${built}`)))
        const fire = yield* Effect.map(Callback, (callback) => callback.fire).pipe(
          Effect.provide(capturing("layer")),
          withDualSpan("builds-layer"),
          root("root-A")
        )
        yield* Effect.gen(function*() {
          yield* Effect.promise(fire)
          // Built by its own fiber on first use: like Effect's spans, its spans have no parent here.
          const managed = ManagedRuntime.make(capturing("managed-runtime"))
          yield* Effect.promise(() =>
            managed.runPromise(Effect.flatMap(Callback, (callback) => Effect.promise(callback.fire)))
          )
          yield* Effect.promise(() => managed.dispose())
        }).pipe(withDualSpan("builds-managed"), root("root-B"))
      })).pipe(Effect.provide(UserTracingTest.layer)))

    it.effect("Layer.toRuntime inside a span: its context is the layer's output, so neither pipeline has a span there", () =>
      Effect.gen(function*() {
        // Effect keeps its own parent span in the context, which such a runtime replaces by the
        // layer's output: there its internal spans have no parent, and no user span is current.
        yield* oracle(Effect.scoped(Effect.gen(function*() {
          const runtime = yield* Layer.toRuntime(Layer.empty).pipe(withDualSpan("builds-runtime"), root("root-A"))
          yield* Effect.promise(() => Runtime.runPromise(runtime)(withDualSpan(Effect.void, "via-runtime"))).pipe(
            root("root-B")
          )
        })))
        const spans = yield* spansByName
        expect(spans.has("via-runtime")).toBe(false)
      }).pipe(Effect.provide(UserTracingTest.layer)))

    it.live("a cached effect whose first runner, a finalizer's fork, is interrupted while the other tenant awaits it", () =>
      // Found by the generated programs: Effect then interrupts the waiting fiber itself.
      checkProgram(
        [{ _tag: "cachedUse", slot: 2 }],
        [
          { _tag: "cachedMake", slot: 2, body: [{ _tag: "managedRuntime", body: [] }] },
          { _tag: "finalizer", name: "s0", body: [{ _tag: "interrupt", body: [{ _tag: "cachedUse", slot: 2 }] }] }
        ],
        { a: [{ _tag: "timeout", millis: 0, body: [] }] }
      ))

    // PROPAGATION_RUNS=20000 for a longer hunt.
    const runs = Number(process.env.PROPAGATION_RUNS ?? 300)
    it.live(
      "generated programs: spans, forks, races, batched and cached requests, streams, retries, pools, snapshots, deferred roots",
      () =>
        Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(arbitraryProgram, ([a, b, deferral]) => Effect.runPromise(checkProgram(a, b, deferral))),
            // A program stuck where its own 5 s guard cannot interrupt it is reported (and shrunk)
            // as a counterexample, not as the whole test's time-out.
            { numRuns: runs, timeout: 10_000 }
          )
        ),
      // Room for a machine busy with other test files: the programs' timers then fire late.
      Math.max(180_000, runs * 200)
    )
  })
}
