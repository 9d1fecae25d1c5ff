import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { UserSpan, UserSpanOptions } from "../../UserSpan.js"
import { effectDual } from "./dual.js"
import { UserSpanRecord } from "./record.js"
import { failedExit, hideCurrent, inactiveSpan, makeChild, runIn, withoutUserTrace } from "./regions.js"
import { currentSpan, fiberSlot, lineageOf, nowNanos, spanOf, userTracingEnabled, withRunningFiber } from "./slot.js"

// Spans that outlive one effect, as Effect's `makeSpan` / `useSpan` / `makeSpanScoped` /
// `withSpanScoped` / `withParentSpan`. A handle is the span record itself, so a handle from
// `currentUserSpan` works the same; without an active parent a handle is `inactiveSpan`, which
// every operation here ignores.

/** @internal */
export const makeUserSpan = (name: string, options?: UserSpanOptions): Effect.Effect<UserSpan> =>
  withRunningFiber((fiber): UserSpan => {
    const parent = currentSpan(fiber)
    return parent === undefined ? inactiveSpan : makeChild(parent, fiber, name, options)
  }, inactiveSpan)

/** @internal */
export const endUserSpan = (
  span: UserSpan,
  options?: { readonly exit?: Exit.Exit<unknown, unknown>; readonly endTime?: bigint }
): Effect.Effect<void> =>
  span instanceof UserSpanRecord
    ? withRunningFiber((fiber) => {
      const exit = options?.exit
      span.end(options?.endTime ?? nowNanos(fiber), exit !== undefined && failedExit(exit))
    }, undefined)
    : Effect.void

/** @internal */
export const useUserSpan: {
  <A, E, R>(name: string, evaluate: (span: UserSpan) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
  <A, E, R>(
    name: string,
    options: UserSpanOptions,
    evaluate: (span: UserSpan) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R>
} = <A, E, R>(
  name: string,
  ...args: [(span: UserSpan) => Effect.Effect<A, E, R>] | [UserSpanOptions, (span: UserSpan) => Effect.Effect<A, E, R>]
): Effect.Effect<A, E, R> => {
  const [options, evaluate] = args.length === 1 ? [undefined, args[0]] : args
  return Effect.flatMap(makeUserSpan(name, options), (span) =>
    span === inactiveSpan
      ? evaluate(span)
      : Effect.onExit(evaluate(span), (exit) => endUserSpan(span, { exit })))
}

/** @internal */
export const makeUserSpanScoped = (
  name: string,
  options?: UserSpanOptions
): Effect.Effect<UserSpan, never, Scope.Scope> =>
  Effect.acquireRelease(makeUserSpan(name, options), (span, exit) => endUserSpan(span, { exit }))

/** @internal */
export const withParentUserSpan = effectDual<
  (span: UserSpan) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, span: UserSpan) => Effect.Effect<A, E, R>
>(<A, E, R>(self: Effect.Effect<A, E, R>, span: UserSpan): Effect.Effect<A, E, R> =>
  // A handle that is not a record (an inactive one) only hides the current span: decided once, here.
  span instanceof UserSpanRecord
    ? Effect.withFiberRuntime((fiber, status) => {
      // A discarded handle is inactive too.
      const parent = fiber.getFiberRef(userTracingEnabled) ? span.active : undefined
      if (parent === undefined) return hideCurrent(fiber, status, self)
      const token = lineageOf(fiber)
      const slot = fiberSlot(fiber)
      if (parent === spanOf(fiber, slot)) return self
      return runIn(fiber, status, slot, parent, token, self, false)
    })
    : withoutUserTrace(self)
)

/** @internal */
export const withUserSpanScoped = effectDual<
  (
    name: string,
    options?: UserSpanOptions
  ) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | Scope.Scope>,
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    name: string,
    options?: UserSpanOptions
  ) => Effect.Effect<A, E, R | Scope.Scope>
>(<A, E, R>(self: Effect.Effect<A, E, R>, name: string, options: UserSpanOptions | undefined) =>
  Effect.flatMap(makeUserSpanScoped(name, options), (span) => withParentUserSpan(self, span))
)

/** @internal */
export const withUserSpanStream = dual<
  (name: string, options?: UserSpanOptions) => <A, E, R>(self: Stream.Stream<A, E, R>) => Stream.Stream<A, E, R>,
  <A, E, R>(self: Stream.Stream<A, E, R>, name: string, options?: UserSpanOptions) => Stream.Stream<A, E, R>
>(
  (args) => Predicate.hasProperty(args[0], Stream.StreamTypeId),
  <A, E, R>(self: Stream.Stream<A, E, R>, name: string, options?: UserSpanOptions) =>
    Stream.unwrapScoped(Effect.flatMap(makeUserSpanScoped(name, options), (span) => {
      if (span === inactiveSpan) return Effect.succeed(self)
      // Current while the upstream produces each chunk, not while the consumer handles it.
      return Effect.map(
        withParentUserSpan(Stream.toPull(self), span),
        (pull) => Stream.repeatEffectChunkOption(withParentUserSpan(pull, span))
      )
    }))
)
