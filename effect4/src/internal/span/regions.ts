import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import { effectDual } from "../../../../src/internal/span/dual.js"
import { spanIdWords } from "../../../../src/internal/span/ids.js"
import { TraceContext, UserSpanRecord } from "../../../../src/internal/span/record.js"
import * as Tracestate from "../../../../src/Tracestate.js"
import type {
  AttributeValue,
  FinishCallback,
  UserSpan,
  UserSpanLink,
  UserSpanOptions,
  UserSpanStatus
} from "../../../../src/UserSpan.js"
import { UserHarness } from "../../UserHarness.js"
import type { UserTraceOptions } from "../../UserTracing.js"
import {
  bind,
  Current,
  currentOf,
  currentSpan,
  CurrentUserSpan,
  nowNanos,
  RegionAttributes,
  type SpanHolder,
  UserTracingEnabled,
  withCurrent
} from "./current.js"

const SAMPLED = 0x01
const RANDOM = 0x02

/** @internal a failure, not an interruption: the span's status becomes error */
export const failedExit = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)

/** @internal the options every span opener applies: region attributes, attributes, links */
export const initSpan = (
  span: UserSpanRecord,
  fiber: Fiber.Fiber<unknown, unknown>,
  options: UserSpanOptions | undefined
): UserSpanRecord => {
  const region = fiber.getRef(RegionAttributes)
  for (let i = 0; i < region.length; i++) span.attribute(region[i][0], region[i][1])
  if (options === undefined) return span
  if (options.attributes !== undefined) span.attributesFrom(options.attributes)
  if (options.links !== undefined) { for (const link of options.links) span.addLink(link) }
  return span
}

/** @internal whether a root opened here would be active: an enabled harness, tracing not turned off */
export const rootsActive = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
  fiber.getRef(UserHarness).enabled && fiber.getRef(UserTracingEnabled)

/** @internal an active root, or `undefined` when no enabled harness is provided or tracing is off here */
export const makeRoot = (
  fiber: Fiber.Fiber<unknown, unknown>,
  name: string,
  options: UserTraceOptions
): UserSpanRecord | undefined => {
  if (!rootsActive(fiber)) return undefined
  const harness = fiber.getRef(UserHarness)
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
  fiber: Fiber.Fiber<unknown, unknown>,
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
 * Runs `self` with the span (or deferred root) that `open` makes current (like
 * `Effect.provideService`), restoring the previous context when it exits and ending it unless
 * `ends` is false (a parent made current by `withParentUserSpan`); `open` returning `undefined`
 * hides any current span.
 *
 * The exit frame is in place before the span is opened and the context changed: an interruption
 * between the two cannot leave a span open or the context changed.
 */
export const runIn = <A, E, R>(
  fiber: Fiber.Fiber<unknown, unknown>,
  open: () => SpanHolder | undefined,
  self: Effect.Effect<A, E, R>,
  ends = true
): Effect.Effect<A, E, R> => {
  let previous: (typeof fiber)["context"] | undefined
  let span: SpanHolder | undefined
  return Effect.onExitPrimitive(
    Effect.withFiber(() => {
      previous = fiber.context
      span = open()
      fiber.setContext(withCurrent(previous, span, fiber))
      return self
    }),
    (exit) => {
      if (previous === undefined) return undefined
      fiber.setContext(previous)
      if (ends && span !== undefined) span.end(nowNanos(fiber), failedExit(exit))
      return undefined
    }
  )
}

/** @internal */
export const withUserTrace = dual<
  (name: string, options: UserTraceOptions) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options: UserTraceOptions) => Effect.Effect<A, E, R>
>(3, (self, name, options) =>
  Effect.withFiber((fiber) =>
    // An inactive root still hides any ambient user span (or deferred root), so nothing nests under it.
    !rootsActive(fiber) && currentOf(fiber) === undefined
      ? self
      : runIn(fiber, () => makeRoot(fiber, name, options), self)
  ))

/** @internal the handle of a span that records nothing (no active root or parent) */
export const inactiveSpan: UserSpan = Object.freeze({
  traceId: "00000000000000000000000000000000",
  spanId: "0000000000000000",
  name: "",
  sampled: false
})

/**
 * @internal
 * The root is current for the rest of the scope, as `Effect.provideServiceScoped` makes a service:
 * the fiber's context changes with no frame to restore it, and closing the scope restores the
 * previous user span if the fiber's is still this root (a region that ended since has already
 * restored its own context).
 */
export const startUserTrace = (name: string, options: UserTraceOptions): Effect.Effect<UserSpan, never, Scope.Scope> =>
  Effect.uninterruptible(Effect.withFiber((fiber) => {
    const root = makeRoot(fiber, name, options)
    const previous = Context.getOrUndefined(fiber.context, CurrentUserSpan)
    const binding = root === undefined ? undefined : new Current(root, fiber)
    fiber.setContext(bind(fiber.context, binding))
    return Effect.as(
      Effect.addFinalizer((exit) =>
        Effect.withFiber((closing) => {
          if (Context.getOrUndefined(fiber.context, CurrentUserSpan) === binding) {
            fiber.setContext(bind(fiber.context, previous))
          }
          if (root !== undefined) root.end(nowNanos(closing), failedExit(exit))
          return Effect.void
        })
      ),
      root ?? inactiveSpan
    )
  }))

/** @internal */
export const withUserSpan = effectDual<
  (name: string, options?: UserSpanOptions) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: UserSpanOptions) => Effect.Effect<A, E, R>
>(<A, E, R>(self: Effect.Effect<A, E, R>, name: string, options: UserSpanOptions | undefined) =>
  Effect.withFiber<A, E, R>((fiber) => {
    const parent = currentOf(fiber)
    if (parent === undefined) return self
    const span = parent.holder.active
    return span === undefined ? self : runIn(fiber, () => makeChild(span, fiber, name, options), self)
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

const withCurrentSpan = (
  f: (span: UserSpanRecord, fiber: Fiber.Fiber<unknown, unknown>) => void
): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    const span = currentSpan(fiber)
    if (span !== undefined) f(span, fiber)
    return Effect.void
  })

/** @internal */
export const annotateUserSpan: {
  (key: string, value: AttributeValue): Effect.Effect<void>
  (attributes: Record<string, AttributeValue>): Effect.Effect<void>
} = (keyOrRecord: string | Record<string, AttributeValue>, value?: AttributeValue): Effect.Effect<void> =>
  withCurrentSpan((span) => {
    if (typeof keyOrRecord === "string") span.attribute(keyOrRecord, value!)
    else span.attributesFrom(keyOrRecord)
  })

/** @internal */
export const logUserSpan = (fields: Record<string, string>): Effect.Effect<void> =>
  withCurrentSpan((span, fiber) => {
    const entries = Object.keys(fields).sort().map((key) => [key, String(fields[key])] as const)
    span.addEvent("Log entry", nowNanos(fiber), entries)
  })

/** @internal */
export const setUserSpanFinishCallback = (callback: FinishCallback | undefined): Effect.Effect<void> =>
  withCurrentSpan((span) => {
    span.finishCallback = callback
  })

/** @internal */
export const setUserSpanStatus = (status: UserSpanStatus): Effect.Effect<void> =>
  withCurrentSpan((span) => {
    span.setStatus(status)
  })

/** @internal */
export const addUserSpanEvent = (
  name: string,
  attributes?: Record<string, AttributeValue>,
  options?: { readonly time?: bigint }
): Effect.Effect<void> =>
  withCurrentSpan((span, fiber) => {
    span.addEvent(name, options?.time ?? nowNanos(fiber), attributes === undefined ? [] : Object.entries(attributes))
  })

/** @internal */
export const linkUserSpans = (links: UserSpanLink | ReadonlyArray<UserSpanLink>): Effect.Effect<void> =>
  withCurrentSpan((span) => {
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
    Effect.withFiber((fiber) => {
      // Only where a user span can be opened in the region.
      if (currentOf(fiber) === undefined && !fiber.getRef(UserHarness).enabled) return self
      const added = typeof keyOrRecord === "string"
        ? [[keyOrRecord, value!] as const]
        : Object.entries(keyOrRecord)
      return Effect.updateService(self, RegionAttributes, (outer) => [...outer, ...added])
    })
)

/** @internal */
export const withUserTracingEnabled = dual<
  (enabled: boolean) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, enabled: boolean) => Effect.Effect<A, E, R>
>(2, (self, enabled) =>
  Effect.withFiber((fiber) => {
    const region = Effect.provideService(self, UserTracingEnabled, enabled)
    // Off: the current span is hidden too, so that nothing nests under it.
    return enabled || currentOf(fiber) === undefined ? region : runIn(fiber, () => undefined, region)
  }))

/** @internal runs `self` with no current user span (nor deferred root), as `withoutUserTrace` */
export const hideCurrent = <A, E, R>(
  fiber: Fiber.Fiber<unknown, unknown>,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => currentOf(fiber) === undefined ? self : runIn(fiber, () => undefined, self)

/** @internal */
export const withoutUserTrace = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => hideCurrent(fiber, self))

/** @internal */
export const currentUserSpan: Effect.Effect<Option.Option<UserSpan>> = Effect.withFiber((fiber) =>
  Effect.succeed(Option.fromUndefinedOr(currentSpan(fiber) as UserSpan | undefined))
)

const hex2 = (n: number): string => (n < 16 ? "0" : "") + n.toString(16)

/** @internal */
export const formatTraceparent = (span: UserSpanRecord): string =>
  `00-${span.trace.traceId}-${span.spanId}-${hex2(span.trace.traceFlags)}`

/** @internal */
export const userTraceparent: Effect.Effect<Option.Option<string>> = Effect.withFiber((fiber) => {
  const span = currentSpan(fiber)
  return Effect.succeed(span === undefined ? Option.none() : Option.some(formatTraceparent(span)))
})

/** @internal */
export const userTraceHeaders: Effect.Effect<Record<string, string>> = Effect.withFiber((fiber) => {
  const span = currentSpan(fiber)
  if (span === undefined) return Effect.succeed({})
  const headers: Record<string, string> = { traceparent: formatTraceparent(span) }
  if (span.trace.traceState !== undefined) headers.tracestate = span.trace.traceState
  return Effect.succeed(headers)
})

/** @internal */
export const forceFlush: Effect.Effect<void> = Effect.flatMap(UserHarness, (harness) => harness.forceFlush)
