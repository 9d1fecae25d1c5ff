import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { UserHarness } from "../../UserHarness.js"
import type { ActivateUserTraceOptions, DeferredUserTraceOptions } from "../../UserTracing.js"
import { effectDual } from "./dual.js"
import type { UserSpanRecord } from "./record.js"
import { makeRoot, runIn, sayIfNoHarness } from "./regions.js"
import {
  currentSpan,
  fiberSlot,
  holderOf,
  lineageOf,
  nowNanos,
  type SpanHolder,
  userTracingEnabled,
  withRunningFiber
} from "./slot.js"

// A deferred region holds this object in the current-span slot of every fiber that runs in it
// (forks and snapshots share it). Activation writes its root into it in place, so every fiber of
// the region, whenever it forked or snapshotted, sees the root from then on; before that, and
// once the region has exited, there is nothing to activate.

const SAMPLED = 0x01

/** @internal a root that is opened when the region starts and activated later, at most once */
export class DeferredRoot implements SpanHolder {
  root: UserSpanRecord | undefined = undefined
  /** Set when the region exits: a fiber that outlives it (or a snapshot) activates nothing. */
  closed = false
  constructor(
    readonly startTime: bigint,
    readonly defaults: DeferredUserTraceOptions | undefined
  ) {}

  get active(): UserSpanRecord | undefined {
    const root = this.root
    return root === undefined ? undefined : root.active
  }

  end(endTime: bigint, failed: boolean): void {
    this.closed = true
    if (this.root !== undefined) this.root.end(endTime, failed)
  }

  /** Opens the root in place; `false` when the region has exited, is active already, or nothing may be recorded. */
  activate(fiber: Fiber.RuntimeFiber<unknown, unknown>, name: string, options: ActivateUserTraceOptions): boolean {
    if (this.closed || this.root !== undefined) return false
    const defaults = this.defaults
    // The inbound context and its tracestate go together: the activation's, else the region's.
    const inbound = options.inbound ?? defaults?.inbound
    const tracestate = options.inbound !== undefined ? options.tracestate : defaults?.tracestate
    // An unsampled inbound parent is not continued (as upstream): the request stays untraced.
    if (inbound !== undefined && (inbound.traceFlags & SAMPLED) === 0) return false
    const root = makeRoot(fiber, name, {
      routing: options.routing,
      inbound,
      tracestate,
      kind: options.kind ?? defaults?.kind ?? "internal",
      startTime: this.startTime,
      ...(defaults?.attributes !== undefined ? { attributes: defaults.attributes } : {}),
      ...(options.links !== undefined ? { links: options.links } : {})
    })
    if (root === undefined) return false
    if (options.attributes !== undefined) root.attributesFrom(options.attributes)
    this.root = root
    return true
  }
}

/** @internal */
export const withDeferredUserTrace = effectDual<
  (options?: DeferredUserTraceOptions) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, options?: DeferredUserTraceOptions) => Effect.Effect<A, E, R>
>(<A, E, R>(self: Effect.Effect<A, E, R>, options: DeferredUserTraceOptions | undefined) =>
  Effect.withFiberRuntime<A, E, R>((fiber, status) => {
    if (!Context.get(fiber.currentContext, UserHarness).enabled || !fiber.getFiberRef(userTracingEnabled)) {
      // No root could be activated here: the region only hides an ambient user span, as an inactive root does.
      const slot = fiberSlot(fiber)
      return holderOf(fiber, slot) === undefined
        ? sayIfNoHarness(fiber, self)
        : runIn(fiber, status, slot, undefined, undefined, self)
    }
    const deferred = new DeferredRoot(options?.startTime ?? nowNanos(fiber), options)
    const token = lineageOf(fiber)
    // Read after the lineage is established: that may write the context, moving the fiber's FiberRefs.
    return runIn(fiber, status, fiberSlot(fiber), deferred, token, self)
  })
)

/** @internal */
export const activateUserTrace = (name: string, options: ActivateUserTraceOptions): Effect.Effect<boolean> =>
  withRunningFiber((fiber) => {
    const holder = holderOf(fiber, fiberSlot(fiber))
    return holder instanceof DeferredRoot && holder.activate(fiber, name, options)
  }, false)

/** @internal */
export const discardUserSpan: Effect.Effect<void> = withRunningFiber((fiber) => {
  const span = currentSpan(fiber)
  if (span !== undefined) span.discard()
}, undefined)
