import { Cause, Context, Effect, Exit, Option } from "effect"
import type * as Fiber from "effect/Fiber"
import { dual } from "effect/Function"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import type { YieldWrap } from "effect/Utils"
import * as Tracestate from "../Tracestate.js"
import { UserHarness } from "../UserHarness.js"
import type { UserTraceOptions } from "../UserTracing.js"
import type { AttributeValue, FinishCallback, UserSpan, UserSpanOptions } from "../UserSpan.js"
import { currentSpan, nowNanos, setCurrentSpan } from "./currentSpan.js"
import type { Harness } from "./harness.js"
import { generateTraceId } from "./ids.js"
import { TraceContext, UserSpanRecord } from "./spanRecord.js"

const SAMPLED = 0x01
const RANDOM = 0x02

const failedExit = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)

const makeRoot = (
  harness: Harness,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  name: string,
  options: UserTraceOptions
): UserSpanRecord => {
  const inbound = options.inbound
  let trace: TraceContext
  if (inbound === undefined) {
    trace = new TraceContext(generateTraceId(), SAMPLED | RANDOM, undefined, options.routing, harness)
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
    inbound?.parentId,
    inbound !== undefined,
    nowNanos(fiber),
    undefined
  )
  if (options.attributes !== undefined) root.attributesFrom(options.attributes)
  return root
}

const makeChild = (
  parent: UserSpanRecord,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  name: string,
  options: UserSpanOptions | undefined
): UserSpanRecord => {
  const span = new UserSpanRecord(
    parent.trace,
    name,
    options?.kind ?? "internal",
    parent.spanId,
    false,
    nowNanos(fiber),
    parent.finishCallback
  )
  if (options?.attributes !== undefined) span.attributesFrom(options.attributes)
  return span
}

// Makes `span` current while `self` runs (like `Effect.locally`); restores the previous span and
// ends `span` (an undefined span: only hides the previous one) when `self` exits.
const runIn = <A, E, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  previous: UserSpanRecord | undefined,
  span: UserSpanRecord | undefined,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  setCurrentSpan(fiber, span)
  return Effect.onExit(self, (exit) => {
    setCurrentSpan(fiber, previous)
    if (span !== undefined) span.end(nowNanos(fiber), failedExit(exit))
    return Effect.void
  })
}

/** @internal */
export const withUserTrace = dual<
  (name: string, options: UserTraceOptions) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options: UserTraceOptions) => Effect.Effect<A, E, R>
>(3, (self, name, options) =>
  Effect.withFiberRuntime((fiber) => {
    const harness = Context.get(fiber.currentContext, UserHarness)
    const previous = currentSpan(fiber)
    if (!harness.enabled) {
      // Inactive root: it still hides any ambient user span, so nothing nests under it.
      return previous === undefined ? self : runIn(fiber, previous, undefined, self)
    }
    return runIn(fiber, previous, makeRoot(harness, fiber, name, options), self)
  }))

/** What `startUserTrace` returns when no active harness is provided. */
const inactiveSpan = (name: string): UserSpan => ({
  traceId: "00000000000000000000000000000000",
  spanId: "0000000000000000",
  name,
  sampled: false
})

/** @internal */
export const startUserTrace = (name: string, options: UserTraceOptions): Effect.Effect<UserSpan, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.withFiberRuntime<readonly [UserSpanRecord | undefined, UserSpanRecord | undefined]>(
      (fiber) => {
        const harness = Context.get(fiber.currentContext, UserHarness)
        const previous = currentSpan(fiber)
        const root = harness.enabled ? makeRoot(harness, fiber, name, options) : undefined
        setCurrentSpan(fiber, root)
        return Effect.succeed([previous, root] as const)
      }
    ),
    ([previous, root], exit) =>
      Effect.withFiberRuntime((fiber) => {
        setCurrentSpan(fiber, previous)
        if (root !== undefined) root.end(nowNanos(fiber), failedExit(exit))
        return Effect.void
      })
  ).pipe(Effect.map(([, root]): UserSpan => root ?? inactiveSpan(name)))

/** @internal */
export const withUserSpan = dual<
  (name: string, options?: UserSpanOptions) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: UserSpanOptions) => Effect.Effect<A, E, R>
>((args) => Effect.isEffect(args[0]), (self, name, options) =>
  Effect.withFiberRuntime((fiber) => {
    const parent = currentSpan(fiber)
    if (parent === undefined) return self
    return runIn(fiber, parent, makeChild(parent, fiber, name, options), self)
  }))

/** @internal */
export const withDualSpan = dual<
  (name: string, options?: Tracer.SpanOptions) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: Tracer.SpanOptions) => Effect.Effect<A, E, R>
>((args) => Effect.isEffect(args[0]), (self, name, options) => {
  // Only the kind crosses over: the internal span's attributes and links stay internal.
  const userOptions: UserSpanOptions | undefined = options?.kind === undefined ? undefined : { kind: options.kind }
  return Effect.withSpan(withUserSpan(self, name, userOptions), name, options)
})

/** @internal */
export const fn = (name: string, options?: Tracer.SpanOptions) =>
<Eff extends YieldWrap<Effect.Effect<any, any, any>>, AEff, Args extends Array<any>>(
  body: (...args: Args) => Generator<Eff, AEff, never>
): (...args: Args) => Effect.Effect<
  AEff,
  [Eff] extends [never] ? never : [Eff] extends [YieldWrap<Effect.Effect<infer _A, infer E, infer _R>>] ? E : never,
  [Eff] extends [never] ? never : [Eff] extends [YieldWrap<Effect.Effect<infer _A, infer _E, infer R>>] ? R : never
> =>
  function(this: unknown, ...args: Args) {
    return withDualSpan(Effect.gen(() => body.apply(this, args)), name, options)
  }

const withCurrent = (f: (span: UserSpanRecord, fiber: Fiber.RuntimeFiber<unknown, unknown>) => void): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const span = currentSpan(fiber)
    if (span !== undefined) f(span, fiber)
    return Effect.void
  })

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
export const currentUserSpan: Effect.Effect<Option.Option<UserSpan>> = Effect.withFiberRuntime((fiber) =>
  Effect.succeed(Option.fromNullable<UserSpan | undefined>(currentSpan(fiber)))
)

const hex2 = (n: number): string => (n < 16 ? "0" : "") + n.toString(16)

/** @internal */
export const formatTraceparent = (span: UserSpanRecord): string =>
  `00-${span.trace.traceId}-${span.spanId}-${hex2(span.trace.traceFlags)}`

/** @internal */
export const userTraceparent: Effect.Effect<Option.Option<string>> = Effect.withFiberRuntime((fiber) => {
  const span = currentSpan(fiber)
  return Effect.succeed(span === undefined ? Option.none() : Option.some(formatTraceparent(span)))
})

/** @internal */
export const userTraceHeaders: Effect.Effect<Record<string, string>> = Effect.withFiberRuntime((fiber) => {
  const span = currentSpan(fiber)
  if (span === undefined) return Effect.succeed({})
  const headers: Record<string, string> = { traceparent: formatTraceparent(span) }
  if (span.trace.traceState !== undefined) headers.tracestate = span.trace.traceState
  return Effect.succeed(headers)
})

/** @internal */
export const forceFlush: Effect.Effect<void> = Effect.flatMap(UserHarness, (harness) => harness.forceFlush)
