import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { effectDual } from "../../../../src/internal/span/dual.js"
import { UserSpanRecord } from "../../../../src/internal/span/record.js"
import type { UserSpan, UserSpanOptions } from "../../../../src/UserSpan.js"
import { currentOf, currentSpan, nowNanos, UserTracingEnabled } from "./current.js"
import { failedExit, hideCurrent, inactiveSpan, makeChild, runIn, withoutUserTrace } from "./regions.js"

// Spans that outlive one effect, as Effect's `makeSpan` / `useSpan` / `makeSpanScoped` /
// `withSpanScoped` / `withParentSpan`. A handle is the span record itself, so a handle from
// `currentUserSpan` works the same; without an active parent a handle is `inactiveSpan`, which
// every operation here ignores.

/** @internal */
export const makeUserSpan = (name: string, options?: UserSpanOptions): Effect.Effect<UserSpan> =>
  Effect.withFiber((fiber) => {
    const parent = currentSpan(fiber)
    return Effect.succeed(parent === undefined ? inactiveSpan : makeChild(parent, fiber, name, options))
  })

/** @internal */
export const endUserSpan = (
  span: UserSpan,
  options?: { readonly exit?: Exit.Exit<unknown, unknown>; readonly endTime?: bigint }
): Effect.Effect<void> =>
  span instanceof UserSpanRecord
    ? Effect.withFiber((fiber) => {
      const exit = options?.exit
      span.end(options?.endTime ?? nowNanos(fiber), exit !== undefined && failedExit(exit))
      return Effect.void
    })
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
export const withParentUserSpan = dual<
  (span: UserSpan) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, span: UserSpan) => Effect.Effect<A, E, R>
>(2, (self, span) =>
  // A handle that is not a record (an inactive one) only hides the current span: decided once, here.
  span instanceof UserSpanRecord
    ? Effect.withFiber((fiber) => {
      // A discarded handle is inactive too.
      const parent = fiber.getRef(UserTracingEnabled) ? span.active : undefined
      if (parent === undefined) return hideCurrent(fiber, self)
      const current = currentOf(fiber)
      if (current?.holder === parent && current.owner === fiber) return self
      return runIn(fiber, () => parent, self, false)
    })
    : withoutUserTrace(self))

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
  (args) => Predicate.hasProperty(args[0], Stream.TypeId),
  <A, E, R>(self: Stream.Stream<A, E, R>, name: string, options?: UserSpanOptions) =>
    Stream.unwrap(Effect.map(makeUserSpanScoped(name, options), (span) =>
      span === inactiveSpan
        ? self
        // Current while the upstream produces each chunk, not while the consumer handles it.
        : Stream.transformPull(self, (pull) => Effect.succeed(withParentUserSpan(pull, span)))))
)
