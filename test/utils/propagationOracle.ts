// The oracle for user span propagation: with `withDualSpan` at every level, the user span tree must
// equal Effect's own span tree (whose parent span lives in `currentContext`, a FiberRef), and at
// every point of the program the current user span must be Effect's current span when a user root
// encloses it, else none, whatever the program does with fibers, runtimes, FiberRefs snapshots,
// request batching and caching, streams, schedules and pools. A root may be deferred: it runs some
// ops, activates, then runs the rest; a dual span opened before the activation has no user half,
// and before the activation the root's own region has no current user span either.
import { expect } from "@effect/vitest"
import {
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  type FiberRefs,
  Layer,
  ManagedRuntime,
  Option,
  Pool,
  Request,
  RequestResolver,
  Runtime,
  Schedule,
  Stream,
  Tracer
} from "effect"
import * as fc from "fast-check"
import { RoutingMetadata, UserTracing, UserTracingTest } from "../../src/index.js"

/** One step of a generated program. Span names are unique within a program; no body runs twice. */
export type Op =
  | { readonly _tag: "span"; readonly name: string; readonly body: ReadonlyArray<Op> }
  /** Forked, joined at the end of the enclosing sequence. */
  | { readonly _tag: "fork"; readonly body: ReadonlyArray<Op> }
  /** Forked as a daemon, awaited only when the whole program ends: it outlives its region. */
  | { readonly _tag: "forkDaemon"; readonly body: ReadonlyArray<Op> }
  /** Forked, then interrupted once it has had a turn. */
  | { readonly _tag: "interrupt"; readonly body: ReadonlyArray<Op> }
  | {
    readonly _tag: "all"
    readonly bodies: ReadonlyArray<ReadonlyArray<Op>>
    readonly concurrency: 1 | "unbounded"
    /** `batching: true`: requests of the bodies are batched, their continuations resumed by this fiber's children. */
    readonly batching: boolean
  }
  | { readonly _tag: "race"; readonly left: ReadonlyArray<Op>; readonly right: ReadonlyArray<Op> }
  | { readonly _tag: "timeout"; readonly millis: number; readonly body: ReadonlyArray<Op> }
  | { readonly _tag: "sleep"; readonly millis: number }
  | { readonly _tag: "yieldNow" }
  | { readonly _tag: "log" }
  /** `Effect.request` of key `key` to the program's batched resolver, shared by every tenant. */
  | { readonly _tag: "request"; readonly key: number }
  /** `body` with request caching on (the program's own cache, shared by every tenant). */
  | { readonly _tag: "requestCaching"; readonly body: ReadonlyArray<Op> }
  /** `Effect.step` of `body`: a blocked continuation is resumed after its requests ran, in this fiber or a fork. */
  | { readonly _tag: "step"; readonly resumeInFork: boolean; readonly body: ReadonlyArray<Op> }
  /** `body` as a stream's only element, pulled by another fiber (`Stream.buffer`). */
  | { readonly _tag: "stream"; readonly body: ReadonlyArray<Op> }
  /** `body` after one failed attempt, retried by a `Schedule`. */
  | { readonly _tag: "retry"; readonly body: ReadonlyArray<Op> }
  /** Stores `Effect.cached(body)` in `slot`: the first to run it runs `body`, in its own context. */
  | { readonly _tag: "cachedMake"; readonly slot: number; readonly body: ReadonlyArray<Op> }
  | { readonly _tag: "cachedUse"; readonly slot: number }
  /** A fiber waits on a `Deferred` that this one completes, then runs `body`. */
  | { readonly _tag: "deferred"; readonly body: ReadonlyArray<Op> }
  /** A `Pool` of one item whose acquisition runs `body`, then one `get`. */
  | { readonly _tag: "pool"; readonly body: ReadonlyArray<Op> }
  /** A layer whose construction runs `body`, provided here. */
  | { readonly _tag: "layer"; readonly body: ReadonlyArray<Op> }
  /** A `ManagedRuntime` whose layer runs `body` when it is built (on first use, by its own fiber). */
  | { readonly _tag: "managedRuntime"; readonly body: ReadonlyArray<Op> }
  /** A finalizer added inside dual span `name`, run when its scope closes, after that span ended. */
  | { readonly _tag: "finalizer"; readonly name: string; readonly body: ReadonlyArray<Op> }
  | { readonly _tag: "captureRuntime"; readonly slot: number }
  /**
   * Runs `body` through the runtime captured in `slot` (if captured yet), awaiting it. Interrupting
   * the awaiting fiber leaves the run going, as with a callback; the program awaits it at its end.
   */
  | { readonly _tag: "runCaptured"; readonly slot: number; readonly body: ReadonlyArray<Op> }
  | { readonly _tag: "captureRefs"; readonly slot: number }
  /** A fresh fiber restores the FiberRefs captured in `slot` (if any), then runs `body`. */
  | { readonly _tag: "restoreRefs"; readonly slot: number; readonly body: ReadonlyArray<Op> }

/** What the program saw at one point: Effect's current span and the current user span, by name. */
interface Observation {
  /** The deferred roots activated when the observation was made. */
  readonly activated: ReadonlyArray<string>
  readonly effect: string | undefined
  readonly user: string | undefined
  /** Whether `userTraceHeaders` had a `traceparent`, and whose span id it carried. */
  readonly traceparentSpanId: string | undefined
  readonly userSpanId: string | undefined
}

interface Get extends Request.Request<number> {
  readonly _tag: "Get"
  readonly key: number
}
const Get = Request.tagged<Get>("Get")

/** The state one program shares between its tenants. */
interface Program {
  readonly runtimes: Map<number, Runtime.Runtime<never>>
  readonly refs: Map<number, FiberRefs.FiberRefs>
  readonly cached: Map<number, Effect.Effect<void>>
  /** Fibers that outlive their region (daemons, runs through a captured runtime), awaited at the end. */
  readonly detached: Array<Fiber.RuntimeFiber<void>>
  readonly observations: Array<Observation>
  readonly resolver: RequestResolver.RequestResolver<Get>
  readonly cache: Request.Cache
  /** The deferred roots whose activation succeeded so far. */
  readonly activated: Set<string>
}

const observe = (program: Program): Effect.Effect<void> =>
  Effect.all([Effect.option(Effect.currentSpan), UserTracing.currentUserSpan, UserTracing.userTraceHeaders]).pipe(
    Effect.map(([effect, user, headers]) => {
      program.observations.push({
        activated: Array.from(program.activated),
        effect: Option.getOrUndefined(Option.map(effect, (span) => span.name)),
        user: Option.getOrUndefined(Option.map(user, (span) => span.name)),
        traceparentSpanId: headers.traceparent?.split("-")[2],
        userSpanId: Option.getOrUndefined(Option.map(user, (span) => span.spanId))
      })
    })
  )

/** Runs the ops in sequence, observing before and after each one. */
const runOps = (ops: ReadonlyArray<Op>, program: Program): Effect.Effect<void> =>
  Effect.suspend(() => {
    const joins: Array<Fiber.RuntimeFiber<void>> = []
    return observe(program).pipe(
      Effect.zipRight(Effect.forEach(ops, (op) => Effect.zipRight(runOp(op, program, joins), observe(program)), {
        discard: true
      })),
      Effect.zipRight(Effect.suspend(() => Effect.forEach(joins, Fiber.join, { discard: true })))
    )
  })

const runOp = (op: Op, program: Program, joins: Array<Fiber.RuntimeFiber<void>>): Effect.Effect<void> => {
  switch (op._tag) {
    case "span":
      return UserTracing.withDualSpan(runOps(op.body, program), op.name)
    case "fork":
      return Effect.map(Effect.fork(runOps(op.body, program)), (fiber) => {
        joins.push(fiber)
      })
    case "forkDaemon":
      return Effect.map(Effect.forkDaemon(runOps(op.body, program)), (fiber) => {
        program.detached.push(fiber)
      })
    case "interrupt":
      return Effect.fork(runOps(op.body, program)).pipe(
        Effect.zipLeft(Effect.yieldNow()),
        Effect.flatMap(Fiber.interrupt),
        Effect.asVoid
      )
    case "all":
      return Effect.all(op.bodies.map((body) => runOps(body, program)), {
        concurrency: op.concurrency,
        batching: op.batching,
        discard: true
      })
    case "race":
      return Effect.race(runOps(op.left, program), runOps(op.right, program))
    case "timeout":
      return Effect.ignore(Effect.timeout(runOps(op.body, program), Duration.millis(op.millis)))
    case "sleep":
      return Effect.sleep(Duration.millis(op.millis))
    case "yieldNow":
      return Effect.yieldNow()
    case "log":
      return Effect.logDebug("a log line snapshots the fiber's FiberRefs")
    case "request":
      // A shared (cached) request or effect whose first runner was interrupted ends interrupted
      // for every later caller too: that outcome is a value here, not the program's failure.
      return Effect.asVoid(Effect.exit(Effect.request(Get({ key: op.key }), program.resolver)))
    case "requestCaching":
      return runOps(op.body, program).pipe(Effect.withRequestCaching(true), Effect.withRequestCache(program.cache))
    case "step":
      return Effect.flatMap(Effect.step(runOps(op.body, program)), (result) => {
        if (Exit.isExit(result)) return Effect.asVoid(result)
        const resume = Effect.zipRight(
          Effect.runRequestBlock(result.effect_instruction_i0),
          result.effect_instruction_i1
        )
        return op.resumeInFork ? Effect.flatMap(Effect.fork(resume), Fiber.join) : resume
      })
    case "stream":
      return Stream.fromEffect(runOps(op.body, program)).pipe(Stream.buffer({ capacity: 1 }), Stream.runDrain)
    case "retry":
      return Effect.suspend(() => {
        let attempts = 0
        return Effect.retry(
          Effect.suspend(() => attempts++ === 0 ? Effect.fail("first attempt") : runOps(op.body, program)),
          Schedule.spaced(Duration.millis(0)).pipe(Schedule.intersect(Schedule.recurs(1)))
        )
      }).pipe(Effect.ignore)
    case "cachedMake":
      return Effect.map(Effect.cached(runOps(op.body, program)), (cached) => {
        program.cached.set(op.slot, cached)
      })
    case "cachedUse":
      // Run in a child: when the cached effect's first runner was interrupted, Effect interrupts
      // a later caller's fiber itself (which `Effect.exit` cannot catch), a plain Effect outcome
      // that is not the program's failure.
      return Effect.asVoid(
        Effect.flatMap(Effect.fork(Effect.suspend(() => program.cached.get(op.slot) ?? Effect.void)), Fiber.await)
      )
    case "deferred":
      return Effect.gen(function*() {
        const deferred = yield* Deferred.make<void>()
        const waiter = yield* Effect.fork(Effect.zipRight(Deferred.await(deferred), runOps(op.body, program)))
        yield* Deferred.succeed(deferred, undefined)
        yield* Fiber.join(waiter)
      })
    case "pool":
      return Effect.scoped(
        Effect.flatMap(Pool.make({ acquire: runOps(op.body, program), size: 1 }), (pool) => pool.get)
      )
    case "layer":
      return Effect.provide(Effect.void, Layer.effectDiscard(runOps(op.body, program)))
    case "managedRuntime":
      return Effect.promise(async () => {
        const managed = ManagedRuntime.make(Layer.effectDiscard(runOps(op.body, program)))
        await managed.runPromise(Effect.void)
        await managed.dispose()
      })
    case "finalizer":
      return Effect.scoped(UserTracing.withDualSpan(Effect.addFinalizer(() => runOps(op.body, program)), op.name))
    case "captureRuntime":
      return Effect.map(Effect.runtime<never>(), (runtime) => {
        program.runtimes.set(op.slot, runtime)
      })
    case "runCaptured":
      return Effect.suspend(() => {
        const runtime = program.runtimes.get(op.slot)
        if (runtime === undefined) return Effect.void
        const run = Runtime.runFork(runtime)(runOps(op.body, program))
        program.detached.push(run)
        return Effect.asVoid(Fiber.await(run))
      })
    case "captureRefs":
      return Effect.map(Effect.getFiberRefs, (refs) => {
        program.refs.set(op.slot, refs)
      })
    case "restoreRefs":
      return Effect.suspend(() => {
        const refs = program.refs.get(op.slot)
        if (refs === undefined) return Effect.void
        return Effect.fork(Effect.zipRight(Effect.setFiberRefs(refs), runOps(op.body, program))).pipe(
          Effect.flatMap(Fiber.await),
          Effect.asVoid
        )
      })
  }
}

/**
 * The batched resolver every tenant's requests go to: each batch runs in a dual span of its own,
 * observed, so whatever the runtime makes current there is checked too.
 */
const makeResolver = (program: () => Program): RequestResolver.RequestResolver<Get> => {
  let batches = 0
  return RequestResolver.makeBatched((requests: ReadonlyArray<Get>) =>
    Effect.forEach(requests, (request) => Request.succeed(request, request.key), { discard: true }).pipe(
      Effect.zipRight(observe(program())),
      UserTracing.withDualSpan(`resolve-${batches++}`)
    )
  )
}

/** The ops a deferred root runs before its activation, if it is one. */
export interface Deferral {
  readonly a?: ReadonlyArray<Op> | undefined
  readonly b?: ReadonlyArray<Op> | undefined
}

/**
 * The program: two concurrent roots (tenants A and B) sharing state, then the detached fibers
 * awaited. A deferred root runs its `deferral` ops, activates, then runs its ops.
 */
export const runProgram = (
  a: ReadonlyArray<Op>,
  b: ReadonlyArray<Op>,
  deferral?: Deferral,
  activated: Set<string> = new Set()
): Effect.Effect<ReadonlyArray<Observation>> =>
  Effect.gen(function*() {
    const cache = yield* Request.makeCache({ capacity: 100, timeToLive: Duration.minutes(1) })
    const program: Program = {
      runtimes: new Map(),
      refs: new Map(),
      cached: new Map(),
      detached: [],
      observations: [],
      resolver: makeResolver(() => program),
      cache,
      activated
    }
    const root = (name: string, ops: ReadonlyArray<Op>, before: ReadonlyArray<Op> | undefined) => {
      const routing = RoutingMetadata.json({ tenant: name })
      if (before === undefined) {
        return runOps(ops, program).pipe(UserTracing.withUserTrace(name, { routing }), Effect.withSpan(name))
      }
      return runOps(before, program).pipe(
        Effect.zipRight(UserTracing.activateUserTrace(name, { routing })),
        Effect.flatMap((done) =>
          Effect.sync(() => {
            expect(done, `${name} activated`).toBe(true)
            program.activated.add(name)
          })
        ),
        Effect.zipRight(runOps(ops, program)),
        UserTracing.withDeferredUserTrace(),
        Effect.withSpan(name)
      )
    }
    yield* Effect.all([root("root-A", a, deferral?.a), root("root-B", b, deferral?.b)], {
      concurrency: "unbounded",
      discard: true
    })
    // Outside both roots: no user span, whatever ran before.
    yield* observe(program)
    // A detached fiber may detach more while it is awaited.
    yield* Effect.whileLoop({
      while: () => program.detached.length > 0,
      body: () => Fiber.await(program.detached.shift()!),
      step: () => {}
    })
    return program.observations
  })

interface EffectSpanSeen {
  readonly parent: string | undefined
  /** The user root (a span named `root-…`) among its ancestors, or itself. */
  readonly root: string | undefined
  /** Whether it has a user half: opened when its root was active (not deferred, or activated). */
  readonly userHalf: boolean
  ended: boolean
  interrupted: boolean
}

/**
 * Runs `self` under a tracer that records Effect's own span tree (name -> parent name), and which
 * spans were opened while their root was `active` (by default: always).
 */
export const recordEffectTree = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  active: (root: string) => boolean = () => true
) =>
  Effect.flatMap(Effect.tracer, (native) => {
    const seen = new Map<string, EffectSpanSeen>()
    const recording = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        const span = native.span(name, parent, context, links, startTime, kind, options)
        const parentName = Option.getOrUndefined(Option.map(parent, (p) => (p._tag === "Span" ? p.name : p.spanId)))
        const root = name.startsWith("root-") ? name : parentName === undefined ? undefined : seen.get(parentName)?.root
        const entry: EffectSpanSeen = {
          parent: parentName,
          root,
          // A root's own user half is decided by its activation, not by when it opened.
          userHalf: root === undefined || root === name || active(root),
          ended: false,
          interrupted: false
        }
        seen.set(name, entry)
        const end = span.end.bind(span)
        span.end = (endTime, exit) => {
          entry.ended = true
          entry.interrupted = Exit.isInterrupted(exit)
          end(endTime, exit)
        }
        return span
      },
      context: (f, fiber) => native.context(f, fiber)
    })
    return Effect.map(Effect.withTracer(self, recording), (a) => [a, seen] as const)
  })

/** Whether Effect's span `name` has a user root (a span named `root-…`) among its ancestors or is one. */
const underRoot = (effectTree: ReadonlyMap<string, EffectSpanSeen>, name: string | undefined): boolean => {
  for (let at = name; at !== undefined; at = effectTree.get(at)?.parent) {
    if (at.startsWith("root-")) return true
  }
  return false
}

/**
 * Whether Effect's span `name` has a user half where `activated` roots are active: a root when it
 * is not deferred or is activated, another span when it was opened while its root was active.
 */
const hasUserHalf = (
  effectTree: ReadonlyMap<string, EffectSpanSeen>,
  deferred: ReadonlySet<string>,
  activated: ReadonlyArray<string>,
  name: string
): boolean => {
  if (name.startsWith("root-")) return !deferred.has(name) || activated.includes(name)
  return effectTree.get(name)?.userHalf ?? true
}

/**
 * Asserts that the user tree equals Effect's tree under the user roots, that every user span is
 * in its parent's trace and routing, and that each was recorded once.
 */
export const expectTreesEqual = Effect.fnUntraced(function*(
  effectTree: ReadonlyMap<string, EffectSpanSeen>,
  deferred: ReadonlySet<string> = new Set(),
  activated: ReadonlyArray<string> = []
) {
  const spans = yield* UserTracingTest.finishedSpans
  const byId = new Map(spans.map((span) => [span.spanId, span]))
  const user = new Map<string, string | undefined>()
  for (const span of spans) {
    expect(user.has(span.name), `user span ${span.name} recorded twice`).toBe(false)
    const parent = span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId)
    if (span.parentSpanId !== undefined) {
      expect(parent, `parent of ${span.name} is not in the sink`).toBeDefined()
      expect(span.traceId, `${span.name} is not in its parent's trace`).toBe(parent!.traceId)
      expect(span.routing, `${span.name} does not carry its parent's routing`).toBe(parent!.routing)
    }
    user.set(span.name, parent?.name)
  }
  const expected = new Map<string, string | undefined>()
  for (const [name, seen] of effectTree) {
    if (!underRoot(effectTree, name) || !hasUserHalf(effectTree, deferred, activated, name)) continue
    // A dual span interrupted between its internal and its user half has no user half; a region
    // whose frames never ran to their end (a blocked continuation dropped by an interruption, in
    // `Effect.step`) ends neither half.
    if ((seen.interrupted || !seen.ended) && !user.has(name)) continue
    expected.set(name, seen.parent)
  }
  expect(Object.fromEntries(user)).toEqual(Object.fromEntries(expected))
})

/**
 * Asserts that at every observed point the current user span was Effect's current span when a
 * user root enclosed it, and none otherwise, with `userTraceHeaders` naming that span or empty.
 */
export const expectObservationsFollowEffect = (
  effectTree: ReadonlyMap<string, EffectSpanSeen>,
  observations: ReadonlyArray<Observation>,
  deferred: ReadonlySet<string> = new Set()
): void => {
  for (const seen of observations) {
    const expected = seen.effect !== undefined && underRoot(effectTree, seen.effect) &&
        hasUserHalf(effectTree, deferred, seen.activated, seen.effect)
      ? seen.effect
      : undefined
    expect({ user: seen.user, effect: seen.effect }).toEqual({ user: expected, effect: seen.effect })
    expect(seen.traceparentSpanId).toBe(seen.userSpanId)
  }
}

/** Generated programs: nested spans and every operator of `Op`, bounded in size; roots deferred or not. */
export const arbitraryProgram: fc.Arbitrary<readonly [ReadonlyArray<Op>, ReadonlyArray<Op>, Deferral]> = (() => {
  const slot = fc.integer({ min: 0, max: 2 })
  const millis = fc.integer({ min: 0, max: 1 })
  const tree = fc.letrec<{ ops: ReadonlyArray<Op>; op: Op }>((tie) => ({
    ops: fc.array(tie("op"), { maxLength: 3 }),
    op: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constant<Op>({ _tag: "log" }),
      fc.constant<Op>({ _tag: "yieldNow" }),
      fc.record({ _tag: fc.constant("sleep" as const), millis }),
      fc.record({ _tag: fc.constant("request" as const), key: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ _tag: fc.constant("request" as const), key: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ _tag: fc.constant("captureRuntime" as const), slot }),
      fc.record({ _tag: fc.constant("captureRefs" as const), slot }),
      fc.record({ _tag: fc.constant("cachedUse" as const), slot }),
      fc.record({ _tag: fc.constant("span" as const), name: fc.constant(""), body: tie("ops") }),
      fc.record({ _tag: fc.constant("span" as const), name: fc.constant(""), body: tie("ops") }),
      fc.record({ _tag: fc.constant("span" as const), name: fc.constant(""), body: tie("ops") }),
      fc.record({ _tag: fc.constant("fork" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("forkDaemon" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("interrupt" as const), body: tie("ops") }),
      fc.record({
        _tag: fc.constant("all" as const),
        bodies: fc.array(tie("ops"), { maxLength: 3 }),
        concurrency: fc.constantFrom(1 as const, "unbounded" as const),
        batching: fc.boolean()
      }),
      fc.record({
        _tag: fc.constant("all" as const),
        bodies: fc.array(tie("ops"), { maxLength: 3 }),
        concurrency: fc.constantFrom(1 as const, "unbounded" as const),
        batching: fc.constant(true)
      }),
      fc.record({ _tag: fc.constant("race" as const), left: tie("ops"), right: tie("ops") }),
      fc.record({ _tag: fc.constant("timeout" as const), millis, body: tie("ops") }),
      fc.record({ _tag: fc.constant("requestCaching" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("step" as const), resumeInFork: fc.boolean(), body: tie("ops") }),
      fc.record({ _tag: fc.constant("stream" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("retry" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("cachedMake" as const), slot, body: tie("ops") }),
      fc.record({ _tag: fc.constant("deferred" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("pool" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("layer" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("managedRuntime" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("finalizer" as const), name: fc.constant(""), body: tie("ops") }),
      fc.record({ _tag: fc.constant("runCaptured" as const), slot, body: tie("ops") }),
      fc.record({ _tag: fc.constant("restoreRefs" as const), slot, body: tie("ops") })
    ) as fc.Arbitrary<Op>
  }))
  // A finalizer's body makes no request: Effect restores a finalizer's FiberRefs on the fiber that
  // began it, so a continuation resumed by another fiber keeps the finalizer's refs, in both
  // pipelines alike (the test "a batched request inside a finalizer" states it).
  // A cached effect's body uses no cached effect: it could be waiting for itself.
  const without = (tag: Op["_tag"]) => {
    const strip = (ops: ReadonlyArray<Op>): ReadonlyArray<Op> =>
      ops.flatMap((op): ReadonlyArray<Op> => {
        if (op._tag === tag) return []
        if (op._tag === "all") return [{ ...op, bodies: op.bodies.map(strip) }]
        if (op._tag === "race") return [{ ...op, left: strip(op.left), right: strip(op.right) }]
        return "body" in op ? [{ ...op, body: strip(op.body) } as Op] : [op]
      })
    return strip
  }
  const withoutRequests = without("request")
  const withoutCachedUse = without("cachedUse")
  // Nor a request: under batching, a caller awaiting the cached effect while its first run is
  // blocked on a request in the same batch waits forever (in Effect itself).
  // Before its activation a deferred root lets nothing of its region outlive what it runs, nor run
  // where another fiber could open spans of it while it activates (a daemon, a snapshot, a cached
  // effect, whose body may hold either): which spans have a user half is then decided by the order
  // of events in this one fiber, as the oracle records it.
  const beforeActivation = (ops: ReadonlyArray<Op>): ReadonlyArray<Op> =>
    (["forkDaemon", "captureRuntime", "captureRefs", "cachedMake", "cachedUse"] as const).reduce(
      (kept, tag) => without(tag)(kept),
      ops
    )
  const deferral = fc.option(tree.ops, { nil: undefined })
  return fc.tuple(tree.ops, tree.ops, deferral, deferral).map(([a, b, beforeA, beforeB]) => {
    let next = 0
    const name = (ops: ReadonlyArray<Op>): ReadonlyArray<Op> =>
      ops.map((op): Op => {
        switch (op._tag) {
          case "span":
            return { ...op, name: `s${next++}`, body: name(op.body) }
          case "finalizer":
            return { ...op, name: `s${next++}`, body: name(withoutRequests(op.body)) }
          case "cachedMake":
            return { ...op, body: name(withoutRequests(withoutCachedUse(op.body))) }
          case "all":
            return { ...op, bodies: op.bodies.map(name) }
          case "race":
            return { ...op, left: name(op.left), right: name(op.right) }
          default:
            return "body" in op ? { ...op, body: name(op.body) } as Op : op
        }
      })
    const deferred: Deferral = {
      a: beforeA === undefined ? undefined : name(beforeActivation(beforeA)),
      b: beforeB === undefined ? undefined : name(beforeActivation(beforeB))
    }
    return [name(a), name(b), deferred] as const
  })
})()

/** Runs one generated program and checks it against the oracle. */
export const checkProgram = (
  a: ReadonlyArray<Op>,
  b: ReadonlyArray<Op>,
  deferral: Deferral = {}
): Effect.Effect<void, Error> =>
  Effect.gen(function*() {
    const activated = new Set<string>()
    const deferred = new Set<string>()
    if (deferral.a !== undefined) deferred.add("root-A")
    if (deferral.b !== undefined) deferred.add("root-B")
    const [observations, effectTree] = yield* recordEffectTree(
      runProgram(a, b, deferral, activated),
      (root) => !deferred.has(root) || activated.has(root)
    ).pipe(
      // A program that never ends is a finding too: shrunk and reported like any other.
      Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("the program did not end within 5 s") })
    )
    yield* expectTreesEqual(effectTree, deferred, Array.from(activated))
    expectObservationsFollowEffect(effectTree, observations, deferred)
  }).pipe(Effect.provide(UserTracingTest.layer))
