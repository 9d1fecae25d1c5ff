import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { effectDual } from "../../../../src/internal/span/dual.js"
import type { UserSpanRecord } from "../../../../src/internal/span/record.js"
import type { ActivateUserTraceOptions, DeferredUserTraceOptions } from "../../UserTracing.js"
import { currentOf, currentSpan, nowNanos, type SpanHolder } from "./current.js"
import { hideCurrent, makeRoot, rootsActive, runIn } from "./regions.js"

// A deferred region puts this object in the context of the fiber that runs it; every fork and
// captured context of the region shares it. Activation writes its root into it in place, so every
// fiber of the region, whenever it forked or captured its context, sees the root from then on;
// before that, and once the region has exited, there is nothing to activate. The same rules as the
// Effect 3 line's (src/internal/span/deferred.ts).

const SAMPLED = 0x01

/** @internal a root that is opened when the region starts and activated later, at most once */
export class DeferredRoot implements SpanHolder {
  root: UserSpanRecord | undefined = undefined
  /** Set when the region exits: a fiber that outlives it (or a captured context) activates nothing. */
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
  activate(fiber: Fiber.Fiber<unknown, unknown>, name: string, options: ActivateUserTraceOptions): boolean {
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
  Effect.withFiber<A, E, R>((fiber) =>
    // No root could be activated here: the region only hides an ambient user span, as an inactive root does.
    !rootsActive(fiber)
      ? hideCurrent(fiber, self)
      : runIn(fiber, () => new DeferredRoot(options?.startTime ?? nowNanos(fiber), options), self)
  )
)

/** @internal */
export const activateUserTrace = (name: string, options: ActivateUserTraceOptions): Effect.Effect<boolean> =>
  Effect.withFiber((fiber) => {
    const holder = currentOf(fiber)?.holder
    return Effect.succeed(holder instanceof DeferredRoot && holder.activate(fiber, name, options))
  })

/** @internal */
export const discardUserSpan: Effect.Effect<void> = Effect.withFiber((fiber) => {
  currentSpan(fiber)?.discard()
  return Effect.void
})
