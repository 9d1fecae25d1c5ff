// The oracle for user span propagation on Effect 4: with `withDualSpan` at every level, the user
// span tree must equal Effect's own span tree (whose parent span lives in the fiber's `Context`),
// and at every point of the program the current user span must be Effect's current span when a
// user root encloses it, else none, whatever the program does with fibers, captured contexts,
// request batches, caches, streams, schedules and pools.
//
// A root may be deferred: it runs some ops, activates, then runs the rest; a dual span opened before
// the activation has no user half, and before the activation the root's own region has no current
// user span either.
//
// One deliberate difference from Effect: a request batch's resolver runs with the context of the
// request that created the batch (Effect's current span there is that request's), but it serves
// every tenant's requests at once, so it has no current user span and its spans are in no user
// tree.
import { expect } from "@effect/vitest"
import {
  type Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  ManagedRuntime,
  Option,
  Pool,
  Request,
  RequestResolver,
  Schedule,
  Stream,
  Tracer
} from "effect"
import * as fc from "fast-check"
import { RoutingMetadata, UserTracing, UserTracingTest } from "../../src/index.js"

/** One step of a generated program. Span names are unique within a program; no body runs twice. */
export type Op =
  | { readonly _tag: "span"; readonly name: string; readonly body: ReadonlyArray<Op> }
  /** `Effect.forkChild`, joined at the end of the enclosing sequence. */
  | { readonly _tag: "fork"; readonly body: ReadonlyArray<Op> }
  /** `Effect.forkDetach`, awaited only when the whole program ends: it outlives its region. */
  | { readonly _tag: "forkDaemon"; readonly body: ReadonlyArray<Op> }
  /** Forked, then interrupted once it has had a turn. */
  | { readonly _tag: "interrupt"; readonly body: ReadonlyArray<Op> }
  | {
    readonly _tag: "all"
    readonly bodies: ReadonlyArray<ReadonlyArray<Op>>
    readonly concurrency: 1 | "unbounded"
  }
  | { readonly _tag: "race"; readonly left: ReadonlyArray<Op>; readonly right: ReadonlyArray<Op> }
  | { readonly _tag: "timeout"; readonly millis: number; readonly body: ReadonlyArray<Op> }
  | { readonly _tag: "sleep"; readonly millis: number }
  | { readonly _tag: "yieldNow" }
  | { readonly _tag: "log" }
  /**
   * `Effect.request` of key `key` to one of the program's resolvers, shared by every tenant:
   * `batched` (one `runAll` per batch), `perEntry` (`fromEffect`: each entry in its caller's
   * context, forked by the batch) or `cached` (`withCache` over the batched one).
   */
  | { readonly _tag: "request"; readonly key: number; readonly resolver: "batched" | "perEntry" | "cached" }
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
  /** `Effect.context()` stored in `slot`. */
  | { readonly _tag: "captureContext"; readonly slot: number }
  /**
   * Runs `body` with `Effect.runForkWith` of the context captured in `slot` (if captured yet),
   * awaiting it. Interrupting the awaiting fiber leaves the run going, as with a callback; the
   * program awaits it at its end.
   */
  | { readonly _tag: "runCaptured"; readonly slot: number; readonly body: ReadonlyArray<Op> }
  /** A fresh fiber runs `body` with the context captured in `slot` (if any) provided over its own. */
  | { readonly _tag: "provideCaptured"; readonly slot: number; readonly body: ReadonlyArray<Op> }

/** What the program saw at one point: Effect's current span and the current user span, by name. */
interface Observation {
  readonly effect: string | undefined
  readonly user: string | undefined
  /** Inside a request batch's resolver (or a fiber it forked). */
  readonly inResolver: boolean
  /** The deferred roots activated when the observation was made. */
  readonly activated: ReadonlyArray<string>
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
  readonly contexts: Map<number, Context.Context<never>>
  readonly cached: Map<number, Effect.Effect<void>>
  /** Fibers that outlive their region (daemons, runs of a captured context), awaited at the end. */
  readonly detached: Array<Fiber.Fiber<void>>
  readonly observations: Array<Observation>
  readonly resolvers: Record<"batched" | "perEntry" | "cached", RequestResolver.RequestResolver<Get>>
  /** The deferred roots whose activation succeeded so far. */
  readonly activated: Set<string>
}

const observe = (program: Program, inResolver = false): Effect.Effect<void> =>
  Effect.all([Effect.option(Effect.currentSpan), UserTracing.currentUserSpan, UserTracing.userTraceHeaders]).pipe(
    Effect.map(([effect, user, headers]) => {
      program.observations.push({
        effect: Option.getOrUndefined(Option.map(effect, (span) => span.name)),
        user: Option.getOrUndefined(Option.map(user, (span) => span.name)),
        inResolver,
        activated: Array.from(program.activated),
        traceparentSpanId: headers.traceparent?.split("-")[2],
        userSpanId: Option.getOrUndefined(Option.map(user, (span) => span.spanId))
      })
    })
  )

/** Runs the ops in sequence, observing before and after each one. */
const runOps = (ops: ReadonlyArray<Op>, program: Program): Effect.Effect<void> =>
  Effect.suspend(() => {
    const joins: Array<Fiber.Fiber<void>> = []
    return observe(program).pipe(
      Effect.andThen(Effect.forEach(ops, (op) => Effect.andThen(runOp(op, program, joins), observe(program)), {
        discard: true
      })),
      Effect.andThen(Effect.suspend(() => Effect.forEach(joins, Fiber.join, { discard: true })))
    )
  })

const runOp = (op: Op, program: Program, joins: Array<Fiber.Fiber<void>>): Effect.Effect<void> => {
  switch (op._tag) {
    case "span":
      return UserTracing.withDualSpan(runOps(op.body, program), op.name)
    case "fork":
      return Effect.map(Effect.forkChild(runOps(op.body, program)), (fiber) => {
        joins.push(fiber)
      })
    case "forkDaemon":
      return Effect.map(Effect.forkDetach(runOps(op.body, program)), (fiber) => {
        program.detached.push(fiber)
      })
    case "interrupt":
      return Effect.forkChild(runOps(op.body, program)).pipe(
        Effect.tap(Effect.yieldNow),
        Effect.flatMap(Fiber.interrupt),
        Effect.asVoid
      )
    case "all":
      return Effect.all(op.bodies.map((body) => runOps(body, program)), {
        concurrency: op.concurrency,
        discard: true
      })
    case "race":
      return Effect.race(runOps(op.left, program), runOps(op.right, program))
    case "timeout":
      return Effect.ignore(Effect.timeout(runOps(op.body, program), Duration.millis(op.millis)))
    case "sleep":
      return Effect.sleep(Duration.millis(op.millis))
    case "yieldNow":
      return Effect.yieldNow
    case "log":
      return Effect.logDebug("a log line")
    case "request":
      // A shared (cached) request whose first runner was interrupted ends interrupted for every
      // later caller too: that outcome is a value here, not the program's failure.
      return Effect.asVoid(Effect.exit(Effect.request(Get({ key: op.key }), program.resolvers[op.resolver])))
    case "stream":
      return Stream.fromEffect(runOps(op.body, program)).pipe(Stream.buffer({ capacity: 1 }), Stream.runDrain)
    case "retry":
      return Effect.suspend(() => {
        let attempts = 0
        return Effect.retry(
          Effect.suspend(() => attempts++ === 0 ? Effect.fail("first attempt") : runOps(op.body, program)),
          Schedule.recurs(1)
        )
      }).pipe(Effect.ignore)
    case "cachedMake":
      return Effect.map(Effect.cached(runOps(op.body, program)), (cached) => {
        program.cached.set(op.slot, cached)
      })
    case "cachedUse":
      return Effect.asVoid(Effect.exit(Effect.suspend(() => program.cached.get(op.slot) ?? Effect.void)))
    case "deferred":
      return Effect.gen(function*() {
        const deferred = yield* Deferred.make<void>()
        const waiter = yield* Effect.forkChild(Effect.andThen(Deferred.await(deferred), runOps(op.body, program)))
        yield* Deferred.succeed(deferred, undefined)
        yield* Fiber.join(waiter)
      })
    case "pool":
      return Effect.scoped(
        Effect.flatMap(Pool.make({ acquire: runOps(op.body, program), size: 1 }), (pool) => Pool.get(pool))
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
    case "captureContext":
      return Effect.map(Effect.context<never>(), (context) => {
        program.contexts.set(op.slot, context)
      })
    case "runCaptured":
      return Effect.suspend(() => {
        const context = program.contexts.get(op.slot)
        if (context === undefined) return Effect.void
        const run = Effect.runForkWith(context)(runOps(op.body, program))
        program.detached.push(run)
        return Effect.asVoid(Fiber.await(run))
      })
    case "provideCaptured":
      return Effect.suspend(() => {
        const context = program.contexts.get(op.slot)
        if (context === undefined) return Effect.void
        return Effect.forkChild(Effect.provideContext(runOps(op.body, program), context)).pipe(
          Effect.flatMap(Fiber.await),
          Effect.asVoid
        )
      })
  }
}

/**
 * The resolvers every tenant's requests go to: each batch runs in a dual span of its own, observed
 * (marked as the resolver's), so whatever the runtime makes current there is checked too.
 */
const makeResolvers = (program: () => Program) => {
  let batches = 0
  const batched = RequestResolver.make<Get>((entries) =>
    Effect.sync(() => {
      for (const entry of entries) entry.completeUnsafe(Exit.succeed(entry.request.key))
    }).pipe(
      Effect.andThen(observe(program(), true)),
      UserTracing.withDualSpan(`resolve-${batches++}`)
    )
  )
  const perEntry = RequestResolver.fromEffect<Get>((entry) =>
    observe(program(), true).pipe(
      UserTracing.withDualSpan(`resolve-${batches++}`),
      Effect.as(entry.request.key)
    )
  )
  return Effect.map(RequestResolver.withCache(batched, { capacity: 100 }), (cached) => ({ batched, perEntry, cached }))
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
    let program: Program | undefined = undefined
    const resolvers = yield* makeResolvers(() => program!)
    program = { contexts: new Map(), cached: new Map(), detached: [], observations: [], resolvers, activated }
    const shared = program
    const root = (name: string, ops: ReadonlyArray<Op>, before: ReadonlyArray<Op> | undefined) => {
      const routing = RoutingMetadata.json({ tenant: name })
      if (before === undefined) {
        return runOps(ops, shared).pipe(UserTracing.withUserTrace(name, { routing }), Effect.withSpan(name))
      }
      return runOps(before, shared).pipe(
        Effect.andThen(UserTracing.activateUserTrace(name, { routing })),
        Effect.flatMap((done) =>
          Effect.sync(() => {
            expect(done, `${name} activated`).toBe(true)
            shared.activated.add(name)
          })
        ),
        Effect.andThen(runOps(ops, shared)),
        UserTracing.withDeferredUserTrace(),
        Effect.withSpan(name)
      )
    }
    yield* Effect.all([root("root-A", a, deferral?.a), root("root-B", b, deferral?.b)], {
      concurrency: "unbounded",
      discard: true
    })
    // Outside both roots: no user span, whatever ran before.
    yield* observe(shared)
    // A detached fiber may detach more while it is awaited.
    yield* Effect.whileLoop({
      while: () => shared.detached.length > 0,
      body: () => Fiber.await(shared.detached.shift()!),
      step: () => {}
    })
    return shared.observations
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
  Effect.suspend(() => {
    const native = Tracer.nativeTracer
    const seen = new Map<string, EffectSpanSeen>()
    const recording = Tracer.make({
      span: (options) => {
        const span = native.span(options)
        const name = options.name
        const parentName = Option.getOrUndefined(
          Option.map(options.parent, (p) => (p._tag === "Span" ? p.name : p.spanId))
        )
        const root = name.startsWith("root-") ? name : parentName === undefined ? undefined : seen.get(parentName)?.root
        const entry: EffectSpanSeen = {
          parent: parentName,
          root,
          // A root's own user half is decided by its activation, not by when it opened.
          userHalf: root === undefined || root === name || active(root),
          ended: false,
          interrupted: false
        }
        seen.set(options.name, entry)
        const end = span.end.bind(span)
        span.end = (endTime, exit) => {
          entry.ended = true
          entry.interrupted = Exit.hasInterrupts(exit)
          end(endTime, exit)
        }
        return span
      }
    })
    return Effect.map(Effect.withTracer(self, recording), (a) => [a, seen] as const)
  })

/** Whether Effect's span `name` has a user root (a span named `root-…`) among its ancestors or is one. */
const underRoot = (effectTree: ReadonlyMap<string, EffectSpanSeen>, name: string | undefined): boolean => {
  for (let at = name; at !== undefined; at = effectTree.get(at)?.parent) {
    if (at.startsWith("resolve-")) return false
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
 * Asserts that the user tree equals Effect's tree under the user roots (a resolver's spans and
 * theirs excepted), that every user span is in its parent's trace and routing, and that each was
 * recorded once.
 */
export const expectTreesEqual = Effect.fnUntraced(function*(
  effectTree: ReadonlyMap<string, EffectSpanSeen>,
  deferred: ReadonlySet<string> = new Set(),
  activated: ReadonlyArray<string> = [],
  subset = false
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
    // A dual span interrupted between its internal and its user half has no user half.
    if ((seen.interrupted || !seen.ended) && !user.has(name)) continue
    expected.set(name, seen.parent)
  }
  if (!subset) return expect(Object.fromEntries(user)).toEqual(Object.fromEntries(expected))
  // Recording less is allowed; recording anything else is not: each user span is one of the
  // expected, under the expected parent.
  for (const [name, parent] of user) {
    expect(expected.has(name), `user span ${name} is in no user tree of Effect's`).toBe(true)
    expect(parent, `the parent of user span ${name}`).toBe(expected.get(name))
  }
})

/**
 * Asserts that at every observed point the current user span was Effect's current span when a
 * user root enclosed it (outside resolvers), and none otherwise, with `userTraceHeaders` naming
 * that span or empty.
 */
export const expectObservationsFollowEffect = (
  effectTree: ReadonlyMap<string, EffectSpanSeen>,
  observations: ReadonlyArray<Observation>,
  deferred: ReadonlySet<string> = new Set(),
  subset = false
): void => {
  for (const seen of observations) {
    const expected = !seen.inResolver && seen.effect !== undefined && underRoot(effectTree, seen.effect) &&
        hasUserHalf(effectTree, deferred, seen.activated, seen.effect)
      ? seen.effect
      : undefined
    // Subset: none where a span is expected is allowed (less recorded), another span is not.
    const user = subset && seen.user === undefined ? expected : seen.user
    expect({ user, effect: seen.effect, inResolver: seen.inResolver }).toEqual({
      user: expected,
      effect: seen.effect,
      inResolver: seen.inResolver
    })
    expect(seen.traceparentSpanId).toBe(seen.userSpanId)
  }
}

/** Generated programs: nested spans and every operator of `Op`, bounded in size; roots deferred or not. */
export const arbitraryProgram: fc.Arbitrary<readonly [ReadonlyArray<Op>, ReadonlyArray<Op>, Deferral]> = (() => {
  const slot = fc.integer({ min: 0, max: 2 })
  const millis = fc.integer({ min: 0, max: 1 })
  const request = fc.record({
    _tag: fc.constant("request" as const),
    key: fc.integer({ min: 0, max: 3 }),
    resolver: fc.constantFrom("batched" as const, "perEntry" as const, "cached" as const)
  })
  const tree = fc.letrec<{ ops: ReadonlyArray<Op>; op: Op }>((tie) => ({
    ops: fc.array(tie("op"), { maxLength: 3 }),
    op: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constant<Op>({ _tag: "log" }),
      fc.constant<Op>({ _tag: "yieldNow" }),
      fc.record({ _tag: fc.constant("sleep" as const), millis }),
      request,
      request,
      fc.record({ _tag: fc.constant("captureContext" as const), slot }),
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
        concurrency: fc.constantFrom(1 as const, "unbounded" as const)
      }),
      fc.record({ _tag: fc.constant("race" as const), left: tie("ops"), right: tie("ops") }),
      fc.record({ _tag: fc.constant("timeout" as const), millis, body: tie("ops") }),
      fc.record({ _tag: fc.constant("stream" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("retry" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("cachedMake" as const), slot, body: tie("ops") }),
      fc.record({ _tag: fc.constant("deferred" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("pool" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("layer" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("managedRuntime" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("finalizer" as const), name: fc.constant(""), body: tie("ops") }),
      fc.record({ _tag: fc.constant("runCaptured" as const), slot, body: tie("ops") }),
      fc.record({ _tag: fc.constant("provideCaptured" as const), slot, body: tie("ops") })
    ) as fc.Arbitrary<Op>
  }))
  // A cached effect's body uses no cached effect (it could be waiting for itself) and makes no
  // request (a caller awaiting the cached effect while its first run waits on a batch with that
  // caller's own request in it waits forever, in Effect itself).
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
  // Before its activation a deferred root lets nothing of its region outlive what it runs, nor run
  // where another fiber could open spans of it while it activates (a daemon, a captured context, a
  // cached effect, whose body may hold either): which spans have a user half is then decided by the
  // order of events in this one fiber, as the oracle records it.
  const beforeActivation = (ops: ReadonlyArray<Op>): ReadonlyArray<Op> =>
    (["forkDaemon", "captureContext", "cachedMake", "cachedUse"] as const).reduce(
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
          case "finalizer":
            return { ...op, name: `s${next++}`, body: name(op.body) }
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

/**
 * Runs one generated program and checks it against the oracle; `subset`: the user pipeline may
 * record less than Effect (the mode a failed runtime check selects), never anything else.
 */
export const checkProgram = (
  a: ReadonlyArray<Op>,
  b: ReadonlyArray<Op>,
  deferral: Deferral = {},
  subset = false
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
      Effect.timeoutOrElse({
        duration: "5 seconds",
        orElse: () => Effect.fail(new Error("the program did not end within 5 s"))
      })
    )
    yield* expectTreesEqual(effectTree, deferred, Array.from(activated), subset)
    expectObservationsFollowEffect(effectTree, observations, deferred, subset)
  }).pipe(Effect.provide(UserTracingTest.layer))
