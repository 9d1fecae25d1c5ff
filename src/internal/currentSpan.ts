import { Clock, Context, FiberRef } from "effect"
import type * as Fiber from "effect/Fiber"
import { globalValue } from "effect/GlobalValue"
import type { UserSpanRecord } from "./spanRecord.js"

// Writing a FiberRef copies the fiber's whole FiberRefs map (PERF-NOTES: `locally` ~4.3 us), too
// much for every span. So the FiberRef holds a mutable slot that a fiber writes in place, and the
// FiberRef itself is written at most once per fiber: each fork gets a fresh, claimable slot
// holding the parent's span, and joining never hands a child's slot back to its parent.
const NOT_CLAIMABLE: unique symbol = Symbol.for("effect-user-tracing/CurrentSpan/NotClaimable")

/** @internal */
export class CurrentSpanSlot {
  constructor(
    // The fiber allowed to write in place; `undefined` until a forked child claims it.
    public owner: Fiber.RuntimeFiber<unknown, unknown> | typeof NOT_CLAIMABLE | undefined,
    public span: UserSpanRecord | undefined
  ) {}
}

/** @internal the current user span of each fiber */
export const currentSpanSlot: FiberRef.FiberRef<CurrentSpanSlot> = globalValue(
  Symbol.for("effect-user-tracing/CurrentSpan"),
  () =>
    FiberRef.unsafeMake(new CurrentSpanSlot(NOT_CLAIMABLE, undefined), {
      fork: (slot) => new CurrentSpanSlot(undefined, slot.span),
      join: (parent) => parent
    })
)

/** @internal the current user span of the fiber, ended or not */
export const currentSpan = (fiber: Fiber.RuntimeFiber<unknown, unknown>): UserSpanRecord | undefined =>
  fiber.getFiberRef(currentSpanSlot).span

// Every runtime fiber is a FiberRuntime, which can write its own FiberRefs synchronously; the
// public RuntimeFiber type leaves the method out.
interface WritableFiber {
  setFiberRef<X>(fiberRef: FiberRef.FiberRef<X>, value: X): void
}

/** @internal a slot this fiber may write in place; written into the FiberRef only the first time */
export const ownSlot = (fiber: Fiber.RuntimeFiber<unknown, unknown>): CurrentSpanSlot => {
  const slot = fiber.getFiberRef(currentSpanSlot)
  if (slot.owner === fiber) return slot
  if (slot.owner === undefined) {
    slot.owner = fiber
    return slot
  }
  const own = new CurrentSpanSlot(fiber, slot.span)
  ;(fiber as unknown as WritableFiber).setFiberRef(currentSpanSlot, own)
  return own
}

/** @internal now, in unix nanoseconds, from the fiber's `Clock` (a `TestClock` under test) */
export const nowNanos = (fiber: Fiber.RuntimeFiber<unknown, unknown>): bigint =>
  Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeNanos()
