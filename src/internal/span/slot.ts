import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type * as FiberRefs from "effect/FiberRefs"
import { globalValue } from "effect/GlobalValue"
import * as Hash from "effect/Hash"
import type { AttributeValue } from "../../UserSpan.js"
import type { UserSpanRecord } from "./record.js"

// The current user span has FiberRef semantics: a fork inherits it, a snapshot of the fiber's
// FiberRefs (`Effect.runtime()`, `getFiberRefs`) keeps the span current when it was taken.
//
// Writing a FiberRef copies the fiber's whole FiberRefs map, too much for every span. So the
// FiberRef holds a mutable slot, and a region writes the slot in place when that is
// indistinguishable from a FiberRef write: when the fiber's FiberRefs object is still the one the
// slot was installed into (its `home`). Nothing outside the fiber can hold that object: the only
// way out is `FiberRuntime.getFiberRefs()`, which first writes `currentRuntimeFlags` and so hands
// out a *new* object (sharing the slot) and moves the fiber to it. Any snapshot, and any other
// FiberRef write, therefore makes the next region install a fresh slot, leaving the shared one as
// the snapshot saw it. A self-check verifies this and otherwise installs on every write.
//
// Effect keeps its own current span in the fiber's context, a FiberRef that every fiber and every
// snapshot carries; ours is absent from the FiberRefs of a fiber whose lineage never opened a user
// span. `Effect.setFiberRefs` with such a snapshot (a consumer restoring a producer's refs), or a
// context replaced wholesale (`Effect.provide(context)`, `Layer.toRuntime`), leaves Effect with
// no span but would leave our slot as it was. So a slot holds a *lineage token* that a root also
// puts in the fiber's context (once per lineage, inherited like Effect's span), and its span counts
// only while the fiber's context holds that same token: where Effect's context has moved
// elsewhere, the user span has too.

/** @internal the mark, in a fiber's context, of the lineage whose slot may be read */
export class LineageToken {}

/**
 * @internal
 * What a slot holds: a span record (its own `active` until it is discarded) or a deferred root
 * (`active` once activated). A region that made a holder current ends it when it exits.
 */
export interface SpanHolder {
  /** The span that counts as current where this holder is: `undefined` when none is active. */
  readonly active: UserSpanRecord | undefined
  end(endTime: bigint, failed: boolean): void
}

const LineageTag = Context.GenericTag<LineageToken>("effect-user-tracing/UserTraceLineage")
const lineageKey = LineageTag.key

/**
 * @internal
 * Equal by value, as Effect compares FiberRef values when it forks, joins and restores refs after a
 * finalizer: a slot installed anew with the same spans is no change.
 */
export class CurrentSpanSlot implements Equal.Equal {
  constructor(
    public span: SpanHolder | undefined,
    /** The lineage `span` belongs to: it is current only where the fiber's context holds this token. */
    public token: LineageToken | undefined,
    /** The fiber's FiberRefs object this slot was installed into; `undefined`: never write in place. */
    public home: FiberRefs.FiberRefs | undefined,
    /** The span when the fiber was forked: a join hands the child's span back only if it moved. */
    readonly forkSpan: SpanHolder | undefined
  ) {}
  [Equal.symbol](that: Equal.Equal): boolean {
    return that instanceof CurrentSpanSlot && that.span === this.span && that.token === this.token &&
      that.forkSpan === this.forkSpan
  }
  [Hash.symbol](): number {
    return 0
  }
}

/** @internal the current user span of each fiber */
export const currentSpanSlot: FiberRef.FiberRef<CurrentSpanSlot> = globalValue(
  Symbol.for("effect-user-tracing/CurrentSpan"),
  () =>
    FiberRef.unsafeMake(new CurrentSpanSlot(undefined, undefined, undefined, undefined), {
      fork: (parent) => new CurrentSpanSlot(parent.span, parent.token, undefined, parent.span),
      // Like Effect's own parent span (a patch of `currentContext`): the parent takes the child's
      // span only when the child changed it (e.g. by `setFiberRefs`); closed regions change nothing.
      join: (parent, child) =>
        child.span === child.forkSpan
          ? parent
          : new CurrentSpanSlot(child.span, child.token, undefined, parent.forkSpan)
    })
)

// The fields of `FiberRuntime` this module relies on; the public `RuntimeFiber` type hides them.
interface FiberInternals {
  readonly _fiberRefs: FiberRefs.FiberRefs | undefined
  setFiberRef<X>(fiberRef: FiberRef.FiberRef<X>, value: X): void
}

const internals = (fiber: Fiber.RuntimeFiber<unknown, unknown>): FiberInternals => fiber as unknown as FiberInternals

/**
 * @internal
 * Whether this `effect` release hands out FiberRefs objects only as described above; checked once
 * per process, by a probe fiber.
 */
export const checkInPlaceWrites = (): boolean => {
  try {
    return Effect.runSync(Effect.withFiberRuntime((fiber) => {
      const probe = FiberRef.unsafeMake(0)
      const own = internals(fiber)
      own.setFiberRef(probe, 1)
      const installed = own._fiberRefs
      if (installed === undefined || fiber.getFiberRef(probe) !== 1) return Effect.succeed(false)
      own.setFiberRef(probe, 2)
      const written = own._fiberRefs
      if (written === installed) return Effect.succeed(false)
      return Effect.map(Effect.runtime<never>(), (runtime) => {
        const afterSnapshot = own._fiberRefs
        return runtime.fiberRefs !== written && afterSnapshot !== written && afterSnapshot !== undefined
      })
    }))
  } catch {
    return false
  }
}

/**
 * @internal
 * Whether regions may write the slot in place (else every write installs a new slot): checked on
 * first use, not when the module loads; `undefined` until then.
 */
export const inPlaceWrites: { enabled: boolean | undefined } = globalValue(
  Symbol.for("effect-user-tracing/CurrentSpan/InPlaceWrites"),
  () => ({ enabled: undefined })
)

/** @internal */
export const inPlaceWritesEnabled = (): boolean => inPlaceWrites.enabled ??= checkInPlaceWrites()

// `Fiber.getCurrentFiber()` reads this global, which the runtime sets to the fiber it is running.
const currentFiberKey = "effect/FiberCurrent"

/**
 * @internal
 * Whether the runtime names the running fiber in `Fiber.getCurrentFiber`'s global; checked once
 * per process.
 */
export const checkRunningFiber = (): boolean => {
  try {
    return Effect.runSync(
      Effect.withFiberRuntime((fiber) => Effect.succeed((globalThis as any)[currentFiberKey] === fiber))
    )
  } catch {
    return false
  }
}

// Checked on first use, like `inPlaceWrites`.
const runningFiberKnown: { enabled: boolean | undefined } = globalValue(
  Symbol.for("effect-user-tracing/CurrentSpan/RunningFiber"),
  () => ({ enabled: undefined })
)

const runningFiberNamed = (): boolean => runningFiberKnown.enabled ??= checkRunningFiber()

/**
 * @internal
 * The fiber running now (as `Fiber.getCurrentFiber()`, without the `Option`); `undefined` when the
 * runtime does not say, and the caller must ask with `Effect.withFiberRuntime`.
 */
export const runningFiber = (): Fiber.RuntimeFiber<unknown, unknown> | undefined =>
  runningFiberNamed() ? (globalThis as any)[currentFiberKey] : undefined

/**
 * @internal
 * `f` applied to the running fiber, as an effect: one `sync` op where the runtime names the running
 * fiber (no `FiberStatus` and no result effect to allocate), else `withFiberRuntime`. `orElse` is
 * the answer should no fiber be named while one runs (never seen: it is the runtime's own record).
 */
export const withRunningFiber = <A>(
  f: (fiber: Fiber.RuntimeFiber<unknown, unknown>) => A,
  orElse: A
): Effect.Effect<A> =>
  runningFiberNamed()
    ? Effect.sync(() => {
      const fiber = runningFiber()
      return fiber === undefined ? orElse : f(fiber)
    })
    : Effect.withFiberRuntime((fiber) => Effect.succeed(f(fiber)))

/**
 * @internal
 * The slot's active span if the fiber's context is still in the slot's lineage, ended or not
 * (none before a deferred root is activated, nor once the span is discarded).
 */
export const spanOf = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  slot: CurrentSpanSlot
): UserSpanRecord | undefined =>
  slot.span !== undefined && fiber.currentContext.unsafeMap.get(lineageKey) === slot.token
    ? slot.span.active
    : undefined

/**
 * @internal
 * The slot's holder if the fiber's context is still in the slot's lineage, active or not: what a
 * region that opens no span of its own must hide (a deferred root not yet activated included).
 */
export const holderOf = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  slot: CurrentSpanSlot
): SpanHolder | undefined =>
  slot.span !== undefined && fiber.currentContext.unsafeMap.get(lineageKey) === slot.token ? slot.span : undefined

/** @internal the current user span of the fiber, ended or not */
export const currentSpan = (fiber: Fiber.RuntimeFiber<unknown, unknown>): UserSpanRecord | undefined =>
  spanOf(fiber, fiberSlot(fiber))

/**
 * @internal
 * The lineage token of the fiber's context, put there first if it has none (a write of the
 * context, once per lineage: forks and snapshots inherit it).
 */
export const lineageOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): LineageToken => {
  const context = fiber.currentContext
  const token: LineageToken | undefined = context.unsafeMap.get(lineageKey)
  if (token !== undefined) return token
  const fresh = new LineageToken()
  internals(fiber).setFiberRef(FiberRef.currentContext, Context.add(context, LineageTag, fresh))
  return fresh
}

/** @internal makes `span` (of lineage `token`) the fiber's current user span, in place when nothing can tell */
export const setCurrentSpan = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  span: SpanHolder | undefined,
  token: LineageToken | undefined
): void => {
  setSlotSpan(fiber, fiberSlot(fiber), span, token)
}

/**
 * @internal
 * `setCurrentSpan` given the fiber's slot, read since the fiber last changed a FiberRef; returns
 * the fiber's slot after the write.
 */
export const setSlotSpan = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  current: CurrentSpanSlot,
  span: SpanHolder | undefined,
  token: LineageToken | undefined
): CurrentSpanSlot => {
  const own = internals(fiber)
  if (current.span === span && current.token === token) return recentSlot = current
  if (current.home !== undefined && current.home === own._fiberRefs) {
    current.span = span
    current.token = token
    return recentSlot = current
  }
  const fresh = new CurrentSpanSlot(span, token, undefined, current.forkSpan)
  own.setFiberRef(currentSpanSlot, fresh)
  // The object just written is the only one holding `fresh`, and only this fiber sees it.
  if (inPlaceWritesEnabled()) fresh.home = own._fiberRefs
  return recentSlot = fresh
}

// The slot last written or read: a fiber opening spans one inside another finds its slot here.
// It counts only while its home is the asking fiber's FiberRefs object, which then holds it (see
// `slotOf`); held otherwise, it is never read.
let recentSlot: CurrentSpanSlot = new CurrentSpanSlot(undefined, undefined, undefined, undefined)

/** @internal the fiber's slot */
export const fiberSlot = (fiber: Fiber.RuntimeFiber<unknown, unknown>): CurrentSpanSlot => {
  const recent = recentSlot
  if (recent.home !== undefined && recent.home === internals(fiber)._fiberRefs) return recent
  return recentSlot = fiber.getFiberRef(currentSpanSlot)
}

/**
 * @internal
 * The fiber's slot, given one it may still hold: a slot written in place is the fiber's as long
 * as the fiber's FiberRefs object is its home (FiberRefs objects are immutable, and no other fiber
 * holds that one), which is read without a lookup.
 */
export const slotOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>, known: CurrentSpanSlot): CurrentSpanSlot =>
  known.home !== undefined && known.home === internals(fiber)._fiberRefs ? known : fiberSlot(fiber)

// The clock of the last default services seen: a fiber's services seldom change, and a `Context`
// never does, so the lookup is made once per services object instead of twice per span.
let clockServices: Context.Context<never> | undefined
let clock: Clock.Clock | undefined

/** @internal now, in unix nanoseconds, from the fiber's `Clock` (a `TestClock` under test) */
export const nowNanos = (fiber: Fiber.RuntimeFiber<unknown, unknown>): bigint => {
  const services = fiber.currentDefaultServices
  if (services !== clockServices) {
    clock = Context.get(services, Clock.Clock)
    clockServices = services
  }
  return clock!.unsafeCurrentTimeNanos()
}

/** @internal attributes that every user span opened in the region starts with (`annotateUserSpans`) */
export const regionAttributes: FiberRef.FiberRef<ReadonlyArray<readonly [string, AttributeValue]>> = globalValue(
  Symbol.for("effect-user-tracing/RegionAttributes"),
  () => FiberRef.unsafeMake<ReadonlyArray<readonly [string, AttributeValue]>>([])
)

/**
 * @internal
 * Whether `regionAttributes` was ever set in this process (by any copy of this module): until
 * then, opening a span does not look it up.
 */
export const regionAttributesUsed: { used: boolean } = globalValue(
  Symbol.for("effect-user-tracing/RegionAttributesUsed"),
  () => ({ used: false })
)

/** @internal `false` inside `withUserTracingEnabled(false)`: roots there are inactive */
export const userTracingEnabled: FiberRef.FiberRef<boolean> = globalValue(
  Symbol.for("effect-user-tracing/UserTracingEnabled"),
  () => FiberRef.unsafeMake(true)
)
