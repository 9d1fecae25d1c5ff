// The oracle for user span propagation: with `withDualSpan` at every level, the user span tree must
// equal Effect's own span tree (whose parent span lives in `currentContext`, a FiberRef), whatever
// the program does with fibers, runtimes and FiberRefs snapshots.
import { expect } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, type FiberRefs, Option, Runtime, Tracer } from "effect"
import * as fc from "fast-check"
import { RoutingMetadata, UserTracing, UserTracingTest } from "../src/index.js"

/** One step of a generated program. Span names are unique within a program. */
export type Op =
  | { readonly _tag: "span"; readonly name: string; readonly body: ReadonlyArray<Op> }
  /** Forked, joined at the end of the enclosing sequence. */
  | { readonly _tag: "fork"; readonly body: ReadonlyArray<Op> }
  /** Forked as a daemon, awaited only when the whole program ends: it outlives its region. */
  | { readonly _tag: "forkDaemon"; readonly body: ReadonlyArray<Op> }
  | { readonly _tag: "all"; readonly bodies: ReadonlyArray<ReadonlyArray<Op>> }
  | { readonly _tag: "race"; readonly left: ReadonlyArray<Op>; readonly right: ReadonlyArray<Op> }
  | { readonly _tag: "sleep"; readonly millis: number }
  | { readonly _tag: "log" }
  | { readonly _tag: "captureRuntime"; readonly slot: number }
  /**
   * Runs `body` through the runtime captured in `slot` (if captured yet), awaiting it. Interrupting
   * the awaiting fiber leaves the run going, as with a callback; the program awaits it at its end.
   */
  | { readonly _tag: "runCaptured"; readonly slot: number; readonly body: ReadonlyArray<Op> }
  | { readonly _tag: "captureRefs"; readonly slot: number }
  /** A fresh fiber restores the FiberRefs captured in `slot` (if any), then runs `body`. */
  | { readonly _tag: "restoreRefs"; readonly slot: number; readonly body: ReadonlyArray<Op> }

interface Captures {
  readonly runtimes: Map<number, Runtime.Runtime<never>>
  readonly refs: Map<number, FiberRefs.FiberRefs>
  /** Fibers that outlive their region (daemons, runs through a captured runtime), awaited at the end. */
  readonly detached: Array<Fiber.RuntimeFiber<void>>
}

const runOps = (ops: ReadonlyArray<Op>, captures: Captures): Effect.Effect<void> =>
  Effect.suspend(() => {
    const joins: Array<Fiber.RuntimeFiber<void>> = []
    return Effect.forEach(ops, (op) => runOp(op, captures, joins), { discard: true }).pipe(
      Effect.zipRight(Effect.suspend(() => Effect.forEach(joins, Fiber.join, { discard: true })))
    )
  })

const runOp = (op: Op, captures: Captures, joins: Array<Fiber.RuntimeFiber<void>>): Effect.Effect<void> => {
  switch (op._tag) {
    case "span":
      return UserTracing.withDualSpan(runOps(op.body, captures), op.name)
    case "fork":
      return Effect.map(Effect.fork(runOps(op.body, captures)), (fiber) => {
        joins.push(fiber)
      })
    case "forkDaemon":
      return Effect.map(Effect.forkDaemon(runOps(op.body, captures)), (fiber) => {
        captures.detached.push(fiber)
      })
    case "all":
      return Effect.all(op.bodies.map((body) => runOps(body, captures)), { concurrency: "unbounded", discard: true })
    case "race":
      return Effect.race(runOps(op.left, captures), runOps(op.right, captures))
    case "sleep":
      return Effect.sleep(Duration.millis(op.millis))
    case "log":
      return Effect.logDebug("a log line snapshots the fiber's FiberRefs")
    case "captureRuntime":
      return Effect.map(Effect.runtime<never>(), (runtime) => {
        captures.runtimes.set(op.slot, runtime)
      })
    case "runCaptured":
      return Effect.suspend(() => {
        const runtime = captures.runtimes.get(op.slot)
        if (runtime === undefined) return Effect.void
        const run = Runtime.runFork(runtime)(runOps(op.body, captures))
        captures.detached.push(run)
        return Effect.asVoid(Fiber.await(run))
      })
    case "captureRefs":
      return Effect.map(Effect.getFiberRefs, (refs) => {
        captures.refs.set(op.slot, refs)
      })
    case "restoreRefs":
      return Effect.suspend(() => {
        const refs = captures.refs.get(op.slot)
        if (refs === undefined) return Effect.void
        return Effect.fork(Effect.zipRight(Effect.setFiberRefs(refs), runOps(op.body, captures))).pipe(
          Effect.flatMap(Fiber.await),
          Effect.asVoid
        )
      })
  }
}

/** The program: two concurrent roots (tenants A and B) sharing captures, then the detached fibers awaited. */
export const runProgram = (a: ReadonlyArray<Op>, b: ReadonlyArray<Op>): Effect.Effect<void> =>
  Effect.suspend(() => {
    const captures: Captures = { runtimes: new Map(), refs: new Map(), detached: [] }
    const root = (name: string, ops: ReadonlyArray<Op>) =>
      runOps(ops, captures).pipe(
        UserTracing.withUserTrace(name, { routing: RoutingMetadata.json({ tenant: name }) }),
        Effect.withSpan(name)
      )
    return Effect.all([root("root-A", a), root("root-B", b)], { concurrency: "unbounded", discard: true }).pipe(
      // A detached fiber may detach more while it is awaited.
      Effect.zipRight(Effect.whileLoop({
        while: () => captures.detached.length > 0,
        body: () => Fiber.await(captures.detached.shift()!),
        step: () => {}
      }))
    )
  })

interface EffectSpanSeen {
  readonly parent: string | undefined
  interrupted: boolean
}

/** Runs `self` under a tracer that records Effect's own span tree (name -> parent name). */
export const recordEffectTree = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.tracer, (native) => {
    const seen = new Map<string, EffectSpanSeen>()
    const recording = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        const span = native.span(name, parent, context, links, startTime, kind, options)
        const entry: EffectSpanSeen = {
          parent: Option.getOrUndefined(Option.map(parent, (p) => (p._tag === "Span" ? p.name : p.spanId))),
          interrupted: false
        }
        seen.set(name, entry)
        const end = span.end.bind(span)
        span.end = (endTime, exit) => {
          entry.interrupted = Exit.isInterrupted(exit)
          end(endTime, exit)
        }
        return span
      },
      context: (f, fiber) => native.context(f, fiber)
    })
    return Effect.map(Effect.withTracer(self, recording), (a) => [a, seen] as const)
  })

/**
 * Asserts that the user tree equals Effect's tree under the user roots, that every user span is
 * in its parent's trace and routing, and that each was recorded once.
 */
export const expectTreesEqual = Effect.fnUntraced(function*(effectTree: ReadonlyMap<string, EffectSpanSeen>) {
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
  const underRoot = (name: string): boolean => {
    for (let at: string | undefined = name; at !== undefined; at = effectTree.get(at)?.parent) {
      if (at.startsWith("root-")) return true
    }
    return false
  }
  const expected = new Map<string, string | undefined>()
  for (const [name, seen] of effectTree) {
    if (!underRoot(name)) continue
    // A dual span interrupted between its internal and its user half has no user half.
    if (seen.interrupted && !user.has(name)) continue
    expected.set(name, seen.parent)
  }
  expect(Object.fromEntries(user)).toEqual(Object.fromEntries(expected))
})

/** Generated programs: nested spans and every operator of `Op`, bounded in size. */
export const arbitraryProgram: fc.Arbitrary<readonly [ReadonlyArray<Op>, ReadonlyArray<Op>]> = (() => {
  const slot = fc.integer({ min: 0, max: 2 })
  const tree = fc.letrec<{ ops: ReadonlyArray<Op>; op: Op }>((tie) => ({
    ops: fc.array(tie("op"), { maxLength: 3 }),
    op: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constant<Op>({ _tag: "log" }),
      fc.record({ _tag: fc.constant("sleep" as const), millis: fc.integer({ min: 0, max: 1 }) }),
      fc.record({ _tag: fc.constant("captureRuntime" as const), slot }),
      fc.record({ _tag: fc.constant("captureRefs" as const), slot }),
      fc.record({ _tag: fc.constant("span" as const), name: fc.constant(""), body: tie("ops") }),
      fc.record({ _tag: fc.constant("span" as const), name: fc.constant(""), body: tie("ops") }),
      fc.record({ _tag: fc.constant("fork" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("forkDaemon" as const), body: tie("ops") }),
      fc.record({ _tag: fc.constant("all" as const), bodies: fc.array(tie("ops"), { maxLength: 3 }) }),
      fc.record({ _tag: fc.constant("race" as const), left: tie("ops"), right: tie("ops") }),
      fc.record({ _tag: fc.constant("runCaptured" as const), slot, body: tie("ops") }),
      fc.record({ _tag: fc.constant("restoreRefs" as const), slot, body: tie("ops") })
    ) as fc.Arbitrary<Op>
  }))
  return fc.tuple(tree.ops, tree.ops).map(([a, b]) => {
    let next = 0
    const name = (ops: ReadonlyArray<Op>): ReadonlyArray<Op> =>
      ops.map((op): Op => {
        switch (op._tag) {
          case "span":
            return { ...op, name: `s${next++}`, body: name(op.body) }
          case "fork":
          case "forkDaemon":
          case "runCaptured":
          case "restoreRefs":
            return { ...op, body: name(op.body) }
          case "all":
            return { ...op, bodies: op.bodies.map(name) }
          case "race":
            return { ...op, left: name(op.left), right: name(op.right) }
          default:
            return op
        }
      })
    return [name(a), name(b)] as const
  })
})()

/** Runs one generated program and checks it against the oracle. */
export const checkProgram = (a: ReadonlyArray<Op>, b: ReadonlyArray<Op>): Effect.Effect<void> =>
  Effect.gen(function*() {
    const [, effectTree] = yield* recordEffectTree(runProgram(a, b))
    yield* expectTreesEqual(effectTree)
  }).pipe(Effect.provide(UserTracingTest.layer))
