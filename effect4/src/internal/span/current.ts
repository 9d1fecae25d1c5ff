import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberModule from "effect/Fiber"
import * as Request from "effect/Request"
import * as RequestResolver from "effect/RequestResolver"
import type { UserSpanRecord } from "../../../../src/internal/span/record.js"
import type { AttributeValue } from "../../../../src/UserSpan.js"

// The current user span lives where Effect 4 keeps its own current span: in the fiber's
// `Context`, under a `Context.Reference`. A region adds it with `Context.add` (an overlay, not a
// copy of the services) and restores the previous context when it exits, as `Effect.provideService`
// does; so forks, captured contexts (`Effect.context()` then `Effect.runForkWith`), request entries
// and interruption carry the user span exactly where they carry Effect's.
//
// One place Effect 4 moves a context where the user span must not follow: a request batch runs its
// resolver in a fiber of its own, with the context of the request that created the batch, while
// it serves every request of the batch, other tenants' included. A user span there would record
// every tenant's work in the first tenant's trace. So a span is current only in the fiber that
// made it current, in the fibers forked from that one (`_parent`), and in any other fiber whose
// lineage did not start as a request batch (daemons, runs of a captured context).

/**
 * @internal
 * What a region makes current: a span record (its own `active` until it is discarded) or a
 * deferred root (`active` once activated). The region that made it current ends it when it exits.
 */
export interface SpanHolder {
  /** The span that counts as current where this holder is: `undefined` when none is active. */
  readonly active: UserSpanRecord | undefined
  end(endTime: bigint, failed: boolean): void
}

/**
 * @internal
 * What a region puts in the context: the holder, and the fiber that made it current (where reading
 * it needs no check). Forks and captured contexts share the holder: a deferred root activated in
 * one fiber of its region is active in all of them.
 */
export class Current {
  constructor(readonly holder: SpanHolder, readonly owner: Fiber.Fiber<unknown, unknown>) {}
}

/** @internal the current user span of a fiber (ended or not), or none */
export const CurrentUserSpan = Context.Reference<Current | undefined>("effect-user-tracing/CurrentUserSpan", {
  defaultValue: () => undefined
})

/** @internal attributes that every user span opened in the region starts with (`annotateUserSpans`) */
export const RegionAttributes = Context.Reference<ReadonlyArray<readonly [string, AttributeValue]>>(
  "effect-user-tracing/RegionAttributes",
  { defaultValue: () => [] }
)

/** @internal `false` inside `withUserTracingEnabled(false)`: roots there are inactive */
export const UserTracingEnabled = Context.Reference<boolean>("effect-user-tracing/UserTracingEnabled", {
  defaultValue: () => true
})

const currentKey = CurrentUserSpan.key

/** The fields of Effect 4's fiber that the batch check reads; the public `Fiber` type hides them. */
interface FiberInternals {
  readonly _parent: FiberInternals | undefined
  readonly _stack: ReadonlyArray<{ readonly onExit?: unknown } | undefined>
}

const internals = (fiber: Fiber.Fiber<unknown, unknown>): FiberInternals => fiber as unknown as FiberInternals

/** @internal what the batch check knows of this `effect` release */
export interface Runtime {
  /** Whether the self-check ran. */
  checked: boolean
  /** The source of the exit handler of a request batch's run, as this `effect` release writes it. */
  batchExitSource: string | undefined
  /** Whether the self-check passed: request batch fibers are recognised and `_parent` names a fork's parent. */
  recognisesBatches: boolean
  /** Frames already classified: a batch's run frame or not. */
  readonly frames: WeakMap<object, boolean>
}

/** @internal */
export const runtime: Runtime = ((globalThis as any)[Symbol.for("effect-user-tracing/effect4/Runtime")] ??= {
  checked: false,
  batchExitSource: undefined,
  recognisesBatches: false,
  frames: new WeakMap()
})

interface Probe extends Request.Request<void> {
  readonly _tag: "Probe"
}
const Probe = Request.tagged<Probe>("Probe")

/**
 * @internal
 * Checks, once per process, that this `effect` release runs a request batch as described above
 * (the batch's run at the bottom of its fiber's stack) and names a forked child's parent; records
 * what a batch's run frame looks like. When a check fails, fibers outside the owner's lineage see no
 * user span at all (daemons and captured-context runs record nothing: never a leak).
 */
export const checkRuntime = (): boolean => {
  try {
    let frame: { readonly onExit?: unknown } | undefined
    const resolver: RequestResolver.RequestResolver<Probe> = RequestResolver.makeWith({
      batchKey: () => resolver,
      delay: Effect.void,
      collectWhile: () => true,
      runAll: (entries) =>
        Effect.withFiber((fiber) => {
          frame = internals(fiber)._stack[0]
          for (const entry of entries) entry.completeUnsafe(Exit.void)
          return Effect.void
        })
    })
    Effect.runSync(Effect.request(Probe(), resolver))
    if (frame === undefined || typeof frame.onExit !== "function") return false
    runtime.batchExitSource = String(frame.onExit)
    const parentNamed = Effect.runSync(Effect.withFiber((parent) =>
      Effect.forkChild(
        Effect.withFiber((child) => Effect.succeed(internals(child)._parent === internals(parent))),
        { startImmediately: true }
      ).pipe(Effect.flatMap(FiberModule.join))
    ))
    return parentNamed && isBatchFrame(frame)
  } catch {
    return false
  }
}

const isBatchFrame = (frame: { readonly onExit?: unknown } | undefined): boolean => {
  if (frame === undefined || typeof frame.onExit !== "function") return false
  let known = runtime.frames.get(frame)
  if (known === undefined) {
    known = String(frame.onExit) === runtime.batchExitSource
    runtime.frames.set(frame, known)
  }
  return known
}

/**
 * @internal
 * Whether `current`, found in `fiber`'s context, is current there: always in the fiber that made it
 * current and in its forks; elsewhere unless the fiber's lineage began as a request batch.
 */
export const visibleIn = (fiber: Fiber.Fiber<unknown, unknown>, current: Current): boolean => {
  const owner = current.owner as unknown
  if (owner === fiber) return true
  let top = internals(fiber)
  for (let at = top._parent; at !== undefined; at = at._parent) {
    if (at === owner) return true
    top = at
  }
  if (!runtime.checked) {
    runtime.checked = true
    runtime.recognisesBatches = checkRuntime()
  }
  return runtime.recognisesBatches && !isBatchFrame(top._stack[0])
}

/** @internal the binding of the fiber's context, if its holder is current in this fiber (active or not) */
export const currentOf = (fiber: Fiber.Fiber<unknown, unknown>): Current | undefined => {
  const current = Context.getOrUndefined(fiber.context, CurrentUserSpan)
  return current === undefined || visibleIn(fiber, current) ? current : undefined
}

/**
 * @internal
 * The current user span of the fiber, ended or not (none before a deferred root is activated, nor
 * once the span is discarded).
 */
export const currentSpan = (fiber: Fiber.Fiber<unknown, unknown>): UserSpanRecord | undefined =>
  currentOf(fiber)?.holder.active

/**
 * @internal
 * `context` with `holder` current, made so by `fiber` (an overlay: the services are not copied);
 * `undefined` hides any span or deferred root.
 */
export const withCurrent = (
  context: Context.Context<never>,
  holder: SpanHolder | undefined,
  fiber: Fiber.Fiber<unknown, unknown>
): Context.Context<never> => bind(context, holder === undefined ? undefined : new Current(holder, fiber))

/** @internal `context` with `current` as its binding of the current user span (`undefined`: none) */
export const bind = (context: Context.Context<never>, current: Current | undefined): Context.Context<never> =>
  Context.addUnsafe(context, currentKey, current)

/** @internal now, in unix nanoseconds, from the fiber's `Clock` (a `TestClock` under test) */
export const nowNanos = (fiber: Fiber.Fiber<unknown, unknown>): bigint =>
  fiber.getRef(Clock.Clock).currentTimeNanosUnsafe()
