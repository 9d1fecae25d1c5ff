import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as FiberStatus from "effect/FiberStatus"
import * as Option from "effect/Option"
import * as RuntimeFlags from "effect/RuntimeFlags"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import * as Tracestate from "../../Tracestate.js"
import { noop as noopHarness, UserHarness } from "../../UserHarness.js"
import type {
  AttributeValue,
  FinishCallback,
  UserSpan,
  UserSpanLink,
  UserSpanOptions,
  UserSpanStatus
} from "../../UserSpan.js"
import type { UserTraceOptions } from "../../UserTracing.js"
import { effectDual } from "./dual.js"
import { spanIdWords } from "./ids.js"
import { TraceContext, UserSpanRecord } from "./record.js"
import {
  currentSpan,
  type CurrentSpanSlot,
  fiberSlot,
  holderOf,
  lineageOf,
  type LineageToken,
  nowNanos,
  regionAttributes,
  regionAttributesUsed,
  runningFiber,
  setCurrentSpan,
  setSlotSpan,
  slotOf,
  type SpanHolder,
  spanOf,
  userTracingEnabled,
  withRunningFiber
} from "./slot.js"

const SAMPLED = 0x01
const RANDOM = 0x02

/** @internal a failure, not an interruption: the span's status becomes error */
export const failedExit = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)

/** @internal the options every span opener applies: region attributes, attributes, links */
export const initSpan = (
  span: UserSpanRecord,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  options: UserSpanOptions | undefined
): UserSpanRecord => {
  if (regionAttributesUsed.used) {
    const region = fiber.getFiberRef(regionAttributes)
    for (let i = 0; i < region.length; i++) span.attribute(region[i][0], region[i][1])
  }
  if (options === undefined) return span
  if (options.attributes !== undefined) span.attributesFrom(options.attributes)
  if (options.links !== undefined) { for (const link of options.links) span.addLink(link) }
  return span
}

/** @internal an active root, or `undefined` when no enabled harness is provided or tracing is off here */
export const makeRoot = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  name: string,
  options: UserTraceOptions
): UserSpanRecord | undefined => {
  const harness = Context.get(fiber.currentContext, UserHarness)
  if (!harness.enabled || !fiber.getFiberRef(userTracingEnabled)) return undefined
  const inbound = options.inbound
  let trace: TraceContext
  if (inbound === undefined) {
    trace = new TraceContext(undefined, SAMPLED | RANDOM, undefined, options.routing, harness)
  } else {
    const traceState = options.tracestate === undefined
      ? undefined
      : Option.getOrUndefined(Option.map(Tracestate.parse(options.tracestate), Tracestate.format))
    trace = new TraceContext(
      inbound.traceId,
      SAMPLED | (inbound.traceFlags & RANDOM),
      traceState,
      options.routing,
      harness
    )
  }
  const root = new UserSpanRecord(
    trace,
    name,
    options.kind ?? "internal",
    inbound === undefined ? undefined : spanIdWords(inbound.parentId),
    inbound !== undefined,
    options.startTime ?? nowNanos(fiber),
    undefined
  )
  return initSpan(root, fiber, options)
}

/** @internal a child of `parent`, which need not be current (or still open) */
export const makeChild = (
  parent: UserSpanRecord,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  name: string,
  options: UserSpanOptions | undefined
): UserSpanRecord =>
  initSpan(
    new UserSpanRecord(
      parent.trace,
      name,
      options?.kind ?? "internal",
      parent,
      false,
      options?.startTime ?? nowNanos(fiber),
      parent.finishCallback
    ),
    fiber,
    options
  )

/**
 * @internal
 * Makes `span` (of lineage `token`) current while `self` runs (like `Effect.locally`) and restores
 * the previous slot contents (`slot`'s, read by the caller in the same step) when it exits, ending
 * `span` too unless `ends` is false (a parent made current by `withParentUserSpan`). An undefined
 * span only hides the previous one.
 */
export const runIn = <A, E, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  status: FiberStatus.Running,
  slot: CurrentSpanSlot,
  span: SpanHolder | undefined,
  token: LineageToken | undefined,
  self: Effect.Effect<A, E, R>,
  ends = true
): Effect.Effect<A, E, R> => {
  const previous = slot.span
  const previousToken = slot.token
  const handlers = new RegionExit<A, E>(previous, previousToken, span, ends, setSlotSpan(fiber, slot, span, token))
  // `Effect.uninterruptibleMask`'s mask, told from the flags the fiber runs with: one op and one
  // closure fewer. Inside an uninterruptible region there is nothing to mask.
  return RuntimeFlags.interruption(status.runtimeFlags)
    ? Effect.uninterruptible(Effect.matchCauseEffect(Effect.interruptible(self), handlers))
    : Effect.matchCauseEffect(self, handlers)
}

/**
 * `Effect.onExit` with the exit handled in place: no `Exit` to build and no cleanup effect to run.
 * The exit acts on the fiber that runs it, which need not be the one that entered the region: a
 * blocked request's continuation is resumed by whichever fiber runs the batch.
 * A class, not an object literal: V8 pretenured the literal's allocation site, sending every
 * short-lived handler to old space (`scratchpad/bench/README.md`).
 */
class RegionExit<A, E> {
  constructor(
    readonly previous: SpanHolder | undefined,
    readonly previousToken: LineageToken | undefined,
    readonly span: SpanHolder | undefined,
    readonly ends: boolean,
    /** The slot the region wrote: most often still the exiting fiber's, found then without a lookup. */
    readonly slot: CurrentSpanSlot
  ) {}
  exit(fiber: Fiber.RuntimeFiber<unknown, unknown>, failed: boolean): void {
    setSlotSpan(fiber, slotOf(fiber, this.slot), this.previous, this.previousToken)
    if (this.ends && this.span !== undefined) this.span.end(nowNanos(fiber), failed)
  }
  readonly onFailure = (cause: Cause.Cause<E>): Effect.Effect<never, E> => {
    const fiber = runningFiber()
    if (fiber === undefined) {
      return Effect.withFiberRuntime((fiber) => {
        this.exit(fiber, !Cause.isInterruptedOnly(cause))
        return Effect.failCause(cause)
      })
    }
    this.exit(fiber, !Cause.isInterruptedOnly(cause))
    return Effect.failCause(cause)
  }
  readonly onSuccess = (value: A): Effect.Effect<A> => {
    const fiber = runningFiber()
    if (fiber === undefined) {
      return Effect.withFiberRuntime((fiber) => {
        this.exit(fiber, false)
        return Effect.succeed(value)
      })
    }
    this.exit(fiber, false)
    return value === undefined ? Effect.void as Effect.Effect<A> : Effect.succeed(value)
  }
}

// Said once per process (however many copies of this module are loaded).
const noHarnessSaid: { said: boolean } = ((globalThis as Record<symbol, unknown>)[
  Symbol.for("effect-user-tracing/span/noHarnessSaid")
] ??= { said: false }) as { said: boolean }

/**
 * @internal
 * `self`, after one info line the first time a root is opened where no user tracing layer is
 * provided at all (not a disabled one, which says so when it starts): tracing would otherwise be
 * off without a word.
 */
export const sayIfNoHarness = <A, E, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  if (noHarnessSaid.said || Context.get(fiber.currentContext, UserHarness) !== noopHarness) return self
  noHarnessSaid.said = true
  return Effect.zipRight(
    Effect.logInfo(
      "user tracing: a user trace was opened, but no user tracing layer is provided (UserTracingLive, " +
        "UserTracing.layer or TestUserTracing): nothing is recorded"
    ),
    self
  )
}

/** @internal */
export const withUserTrace = effectDual<
  (name: string, options: UserTraceOptions) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options: UserTraceOptions) => Effect.Effect<A, E, R>
>(<A, E, R>(self: Effect.Effect<A, E, R>, name: string, options: UserTraceOptions) =>
  Effect.withFiberRuntime<A, E, R>((fiber, status) => {
    const root = makeRoot(fiber, name, options)
    // Read after the lineage is established: that may write the context, moving the fiber's FiberRefs.
    const token = root === undefined ? undefined : lineageOf(fiber)
    const slot = fiberSlot(fiber)
    // An inactive root still hides any ambient user span (or deferred root), so nothing nests under it.
    return root === undefined && holderOf(fiber, slot) === undefined
      ? sayIfNoHarness(fiber, self)
      : runIn(fiber, status, slot, root, token, self)
  })
)

/** @internal the handle of a span that records nothing (no active root or parent) */
export const inactiveSpan: UserSpan = Object.freeze({
  traceId: "00000000000000000000000000000000",
  spanId: "0000000000000000",
  name: "",
  sampled: false
})

/** @internal */
export const startUserTrace = (name: string, options: UserTraceOptions): Effect.Effect<UserSpan, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.withFiberRuntime<
      readonly [readonly [SpanHolder | undefined, LineageToken | undefined], UserSpanRecord | undefined]
    >(
      (fiber) => {
        const root = makeRoot(fiber, name, options)
        const token = root === undefined ? undefined : lineageOf(fiber)
        const previous = fiberSlot(fiber)
        const restore = [previous.span, previous.token] as const
        setSlotSpan(fiber, previous, root, token)
        return Effect.succeed([restore, root] as const)
      }
    ),
    ([[previous, previousToken], root], exit) =>
      Effect.withFiberRuntime((fiber) => {
        setCurrentSpan(fiber, previous, previousToken)
        if (root !== undefined) root.end(nowNanos(fiber), failedExit(exit))
        return Effect.void
      })
  ).pipe(Effect.map(([, root]): UserSpan => root ?? inactiveSpan))

/** @internal */
export const withUserSpan = effectDual<
  (name: string, options?: UserSpanOptions) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: UserSpanOptions) => Effect.Effect<A, E, R>
>(<A, E, R>(self: Effect.Effect<A, E, R>, name: string, options: UserSpanOptions | undefined) =>
  Effect.withFiberRuntime<A, E, R>((fiber, status) => {
    const slot = fiberSlot(fiber)
    const parent = spanOf(fiber, slot)
    if (parent === undefined) return self
    return runIn(fiber, status, slot, makeChild(parent, fiber, name, options), slot.token, self)
  })
)

/** @internal */
export const withDualSpan = effectDual<
  (name: string, options?: Tracer.SpanOptions) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: Tracer.SpanOptions) => Effect.Effect<A, E, R>
>(<A, E, R>(self: Effect.Effect<A, E, R>, name: string, options: Tracer.SpanOptions | undefined) => {
  // Only the kind crosses over: the internal span's attributes and links stay internal.
  const userOptions: UserSpanOptions | undefined = options?.kind === undefined ? undefined : { kind: options.kind }
  return Effect.withSpan(withUserSpan(self, name, userOptions), name, options)
})

const withCurrent = (
  f: (span: UserSpanRecord, fiber: Fiber.RuntimeFiber<unknown, unknown>) => void
): Effect.Effect<void> =>
  withRunningFiber((fiber) => {
    const span = currentSpan(fiber)
    if (span !== undefined) f(span, fiber)
  }, undefined)

/** @internal */
export const annotateUserSpan: {
  (key: string, value: AttributeValue): Effect.Effect<void>
  (attributes: Record<string, AttributeValue>): Effect.Effect<void>
} = (keyOrRecord: string | Record<string, AttributeValue>, value?: AttributeValue): Effect.Effect<void> =>
  withCurrent((span) => {
    if (typeof keyOrRecord === "string") span.attribute(keyOrRecord, value!)
    else span.attributesFrom(keyOrRecord)
  })

/** @internal */
export const logUserSpan = (fields: Record<string, string>): Effect.Effect<void> =>
  withCurrent((span, fiber) => {
    const entries = Object.keys(fields).sort().map((key) => [key, String(fields[key])] as const)
    span.addEvent("Log entry", nowNanos(fiber), entries)
  })

/** @internal */
export const setUserSpanFinishCallback = (callback: FinishCallback | undefined): Effect.Effect<void> =>
  withCurrent((span) => {
    span.finishCallback = callback
  })

/** @internal */
export const setUserSpanStatus = (status: UserSpanStatus): Effect.Effect<void> =>
  withCurrent((span) => {
    span.setStatus(status)
  })

/** @internal */
export const addUserSpanEvent = (
  name: string,
  attributes?: Record<string, AttributeValue>,
  options?: { readonly time?: bigint }
): Effect.Effect<void> =>
  withCurrent((span, fiber) => {
    span.addEvent(name, options?.time ?? nowNanos(fiber), attributes === undefined ? [] : Object.entries(attributes))
  })

/** @internal */
export const linkUserSpans = (links: UserSpanLink | ReadonlyArray<UserSpanLink>): Effect.Effect<void> =>
  withCurrent((span) => {
    if (Array.isArray(links)) { for (const link of links) span.addLink(link) }
    else span.addLink(links as UserSpanLink)
  })

/** @internal */
export const annotateUserSpans: {
  (key: string, value: AttributeValue): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  (attributes: Record<string, AttributeValue>): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, key: string, value: AttributeValue): Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, attributes: Record<string, AttributeValue>): Effect.Effect<A, E, R>
} = effectDual(
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    keyOrRecord: string | Record<string, AttributeValue>,
    value?: AttributeValue
  ): Effect.Effect<A, E, R> =>
    Effect.withFiberRuntime((fiber) => {
      // A FiberRef write costs microseconds: only where a user span can be opened in the region.
      if (currentSpan(fiber) === undefined && !Context.get(fiber.currentContext, UserHarness).enabled) return self
      const added = typeof keyOrRecord === "string"
        ? [[keyOrRecord, value!] as const]
        : Object.entries(keyOrRecord)
      regionAttributesUsed.used = true
      return Effect.locallyWith(self, regionAttributes, (outer) => [...outer, ...added])
    })
)

/** @internal */
export const withUserTracingEnabled = effectDual<
  (enabled: boolean) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, enabled: boolean) => Effect.Effect<A, E, R>
>(<A, E, R>(self: Effect.Effect<A, E, R>, enabled: boolean) =>
  Effect.withFiberRuntime<A, E, R>((fiber, status) => {
    const slot = fiberSlot(fiber)
    const region = Effect.locally(self, userTracingEnabled, enabled)
    // Off: the current span is hidden too, so that nothing nests under it.
    return enabled || holderOf(fiber, slot) === undefined
      ? region
      : runIn(fiber, status, slot, undefined, undefined, region)
  })
)

/** @internal runs `self` with no current user span (nor deferred root), as `withoutUserTrace` */
export const hideCurrent = <A, E, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  status: FiberStatus.Running,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const slot = fiberSlot(fiber)
  return holderOf(fiber, slot) === undefined ? self : runIn(fiber, status, slot, undefined, undefined, self)
}

/** @internal */
export const withoutUserTrace = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber, status) => hideCurrent(fiber, status, self))

/** @internal */
export const currentUserSpan: Effect.Effect<Option.Option<UserSpan>> = withRunningFiber(
  (fiber) => Option.fromNullable<UserSpan | undefined>(currentSpan(fiber)),
  Option.none()
)

const hex2 = (n: number): string => (n < 16 ? "0" : "") + n.toString(16)

/** @internal */
export const formatTraceparent = (span: UserSpanRecord): string =>
  `00-${span.trace.traceId}-${span.spanId}-${hex2(span.trace.traceFlags)}`

/** @internal */
export const userTraceparent: Effect.Effect<Option.Option<string>> = withRunningFiber((fiber) => {
  const span = currentSpan(fiber)
  return span === undefined ? Option.none() : Option.some(formatTraceparent(span))
}, Option.none())

/** @internal */
export const userTraceHeaders: Effect.Effect<Record<string, string>> = withRunningFiber(
  (fiber): Record<string, string> => {
    const span = currentSpan(fiber)
    if (span === undefined) return {}
    const headers: Record<string, string> = { traceparent: formatTraceparent(span) }
    if (span.trace.traceState !== undefined) headers.tracestate = span.trace.traceState
    return headers
  },
  Object.freeze({})
)

/** @internal */
export const forceFlush: Effect.Effect<void> = Effect.flatMap(UserHarness, (harness) => harness.forceFlush)
