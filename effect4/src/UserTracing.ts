/**
 * The user tracing API: open a root per request, nest user spans through fibers, annotate them,
 * and propagate W3C `traceparent`/`tracestate`.
 *
 * Without an active root every function here is a no-op that costs next to nothing. The current
 * user span lives in the fiber's `Context`, beside Effect's own current span, and goes wherever
 * Effect 4 takes that context: forks, captured contexts, request entries; never into a request
 * batch's resolver, which serves several tenants at once.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import * as layers from "./internal/live.js"
import * as deferred from "./internal/span/deferred.js"
import * as userFn_ from "./internal/span/fn.js"
import * as handles from "./internal/span/handles.js"
import * as internal from "./internal/span/regions.js"
import type { RoutingMetadata } from "./RoutingMetadata.js"
import type { Traceparent } from "./Traceparent.js"
import type {
  AttributeValue,
  FinishCallback,
  UserSpan,
  UserSpanKind,
  UserSpanLink,
  UserSpanOptions,
  UserSpanStatus
} from "./UserSpan.js"
import type * as UserTracingSettings from "./UserTracingSettings.js"

export type {
  /**
   * `UserSpan.AttributeValue`, here too for convenience.
   *
   * @since 0.1.0
   * @category models
   */
  AttributeValue,
  /**
   * `UserSpan.UserSpan`, here too for convenience.
   *
   * @since 0.1.0
   * @category models
   */
  UserSpan,
  /**
   * `UserSpan.UserSpanKind`, here too for convenience.
   *
   * @since 0.1.0
   * @category models
   */
  UserSpanKind,
  /**
   * `UserSpan.UserSpanLink`, here too for convenience.
   *
   * @since 0.1.0
   * @category models
   */
  UserSpanLink,
  /**
   * `UserSpan.UserSpanOptions`, here too for convenience.
   *
   * @since 0.1.0
   * @category models
   */
  UserSpanOptions,
  /**
   * `UserSpan.UserSpanStatus`, here too for convenience.
   *
   * @since 0.1.0
   * @category models
   */
  UserSpanStatus
} from "./UserSpan.js"

/**
 * Options of a root: routing (required), an inbound `traceparent` to continue, its `tracestate`.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserTraceOptions extends UserSpanOptions {
  /** Fixed on the root and inherited by every descendant; decides the export request. */
  readonly routing: RoutingMetadata
  /** Continue this upstream trace: same trace id, the inbound parent id as parent. */
  readonly inbound?: Traceparent | undefined
  /** The raw inbound `tracestate` header(s); kept only when `inbound` is given. */
  readonly tracestate?: string | ReadonlyArray<string> | undefined
}

/**
 * Runs the effect inside a new root user span, ignoring any ambient user span. Active only when
 * an enabled harness (`UserTracingLive`, `UserTracing.layer`, `TestUserTracing`) is provided.
 *
 * @since 0.1.0
 * @category roots
 */
export const withUserTrace: {
  (name: string, options: UserTraceOptions): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options: UserTraceOptions): Effect.Effect<A, E, R>
} = internal.withUserTrace

/**
 * Options of `withDeferredUserTrace`: when the root will start, and what its activation uses when
 * it does not say otherwise (what was known when the region opened, e.g. an inbound request's
 * `traceparent`).
 *
 * @since 0.1.0
 * @category models
 */
export interface DeferredUserTraceOptions {
  /** Unix time in nanoseconds; defaults to now, from Effect's `Clock`. The activated root starts then. */
  readonly startTime?: bigint | undefined
  /** The upstream trace to continue, unless the activation gives its own. */
  readonly inbound?: Traceparent | undefined
  /** The raw `tracestate` header(s) that came with `inbound`. */
  readonly tracestate?: string | ReadonlyArray<string> | undefined
  /** The root's kind, unless the activation gives one; default `internal`. */
  readonly kind?: UserSpanKind | undefined
  /** Attributes the root starts with; the activation's own come after (a repeated key: the activation's). */
  readonly attributes?: Record<string, AttributeValue> | undefined
}

/**
 * Options of `activateUserTrace`: those of `withUserTrace` but the start time, which is the
 * deferred region's.
 *
 * @since 0.1.0
 * @category models
 */
export interface ActivateUserTraceOptions {
  /** Fixed on the root and inherited by every descendant; decides the export request. */
  readonly routing: RoutingMetadata
  /** Continue this upstream trace (with its `tracestate`); default: the region's, if it has one. */
  readonly inbound?: Traceparent | undefined
  /** The raw `tracestate` header(s) that came with `inbound`. */
  readonly tracestate?: string | ReadonlyArray<string> | undefined
  readonly attributes?: Record<string, AttributeValue> | undefined
  readonly kind?: UserSpanKind | undefined
  readonly links?: ReadonlyArray<UserSpanLink> | undefined
}

/**
 * Runs the effect in a deferred root: its start time is taken now, but nothing is active yet (every
 * user API is a no-op, `currentUserSpan` is `None`, no `traceparent` is sent) until
 * `activateUserTrace` opens the root, once routing is known. The activated root starts when the
 * region started, is current for the rest of the region (in every fiber running in it, forked before
 * or after the activation) and ends when the region exits. Never activated, it records nothing: the
 * way to drop a whole request. Like `withUserTrace`, it ignores any ambient user span.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { RoutingMetadata, UserTracing } from "effect-user-tracing/effect4"
 *
 * declare const authenticate: Effect.Effect<{ readonly tenant: string }>
 * declare const handle: Effect.Effect<void>
 *
 * const request = Effect.gen(function*() {
 *   const { tenant } = yield* authenticate // not traced: no customer known yet
 *   yield* UserTracing.activateUserTrace("GET /orders", { routing: RoutingMetadata.json({ tenant }) })
 *   yield* handle // in the root, which started when the request did
 * }).pipe(UserTracing.withDeferredUserTrace())
 * ```
 *
 * @since 0.1.0
 * @category roots
 */
export const withDeferredUserTrace: {
  (options?: DeferredUserTraceOptions): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, options?: DeferredUserTraceOptions): Effect.Effect<A, E, R>
} = deferred.withDeferredUserTrace

/**
 * Activates the deferred root of the enclosing `withDeferredUserTrace` region: `true` when this call
 * opened it. `false`, doing nothing, outside a deferred region (or inside a root or span opened within
 * it), once it is active, once the region has exited, when no enabled harness is provided (or user
 * tracing is off here), and when the inbound parent is unsampled (its sampled flag is 0): that request
 * stays untraced.
 *
 * @since 0.1.0
 * @category roots
 */
export const activateUserTrace: (name: string, options: ActivateUserTraceOptions) => Effect.Effect<boolean> =
  deferred.activateUserTrace

/**
 * Discards the current user span: when it ends it is neither exported, nor counted, nor shown by the
 * test layer, and from now on it records nothing and opens no child (it is current nowhere). Spans
 * that exist already are unaffected: its children that ended before were exported, those still open
 * are exported when they end (their parent missing from the trace). To drop a whole request, open a
 * deferred root and never activate it. A no-op with no active user span.
 *
 * @since 0.1.0
 * @category spans
 */
export const discardUserSpan: Effect.Effect<void> = deferred.discardUserSpan

/**
 * Opens a root for the rest of the scope; it ends when the scope closes.
 *
 * @since 0.1.0
 * @category roots
 */
export const startUserTrace: (name: string, options: UserTraceOptions) => Effect.Effect<UserSpan, never, Scope.Scope> =
  internal.startUserTrace

/**
 * Runs the effect in a child of the current user span; with none (or an inactive one), records nothing.
 *
 * @since 0.1.0
 * @category spans
 */
export const withUserSpan: {
  (name: string, options?: UserSpanOptions): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: UserSpanOptions): Effect.Effect<A, E, R>
} = internal.withUserSpan

/**
 * `Effect.withSpan(name, options)` always, plus a user child of the same name when a user span is
 * current. Only `kind` reaches the user span: the internal span's attributes stay internal.
 *
 * @since 0.1.0
 * @category spans
 */
export const withDualSpan: {
  (name: string, options?: Tracer.SpanOptions): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: Tracer.SpanOptions): Effect.Effect<A, E, R>
} = internal.withDualSpan

/**
 * Like `Effect.fn(name, options)`: wraps a generator or plain function body (and pipeables) so that
 * each call runs in `withDualSpan(name)`; the internal span records the definition and call sites.
 *
 * @since 0.1.0
 * @category spans
 */
export const fn: (name: string, options?: Tracer.SpanOptionsNoTrace) => Effect.fn.Traced = userFn_.fn

/**
 * Like `fn`, with a user span only: no internal span.
 *
 * @since 0.1.0
 * @category spans
 */
export const userFn: (name: string, options?: UserSpanOptions) => Effect.fn.Traced = userFn_.userFn

/**
 * A child of the current user span that is not made current and does not end by itself: end it
 * with `endUserSpan`. With no active user span it is an inactive handle that records nothing.
 *
 * @since 0.1.0
 * @category handles
 */
export const makeUserSpan: (name: string, options?: UserSpanOptions) => Effect.Effect<UserSpan> = handles.makeUserSpan

/**
 * Ends a handle once (later calls do nothing): now, or at `endTime`; a failed `exit` gives error.
 *
 * @since 0.1.0
 * @category handles
 */
export const endUserSpan: (
  span: UserSpan,
  options?: { readonly exit?: Exit.Exit<unknown, unknown>; readonly endTime?: bigint }
) => Effect.Effect<void> = handles.endUserSpan

/**
 * Makes a handle, runs `evaluate` with it (the span is not made current) and ends it on exit.
 *
 * @since 0.1.0
 * @category handles
 */
export const useUserSpan: {
  <A, E, R>(name: string, evaluate: (span: UserSpan) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R>
  <A, E, R>(
    name: string,
    options: UserSpanOptions,
    evaluate: (span: UserSpan) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R>
} = handles.useUserSpan

/**
 * A handle ended when the scope closes (error status when the scope closes with a failure).
 *
 * @since 0.1.0
 * @category handles
 */
export const makeUserSpanScoped: (
  name: string,
  options?: UserSpanOptions
) => Effect.Effect<UserSpan, never, Scope.Scope> = handles.makeUserSpanScoped

/**
 * Runs the effect in a new child span that stays current for it and ends when the scope closes.
 *
 * @since 0.1.0
 * @category spans
 */
export const withUserSpanScoped: {
  (
    name: string,
    options?: UserSpanOptions
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | Scope.Scope>
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: UserSpanOptions): Effect.Effect<A, E, R | Scope.Scope>
} = handles.withUserSpanScoped

/**
 * Runs the effect with `span` current: the user spans it opens are children of `span`, in its trace
 * and routing, whatever was current. `span` is not ended; an inactive handle hides the current span.
 *
 * @since 0.1.0
 * @category handles
 */
export const withParentUserSpan: {
  (span: UserSpan): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, span: UserSpan): Effect.Effect<A, E, R>
} = handles.withParentUserSpan

/**
 * A child span around the stream's consumption: current while the stream produces, ended when it ends.
 *
 * @since 0.1.0
 * @category spans
 */
export const withUserSpanStream: {
  (name: string, options?: UserSpanOptions): <A, E, R>(self: Stream.Stream<A, E, R>) => Stream.Stream<A, E, R>
  <A, E, R>(self: Stream.Stream<A, E, R>, name: string, options?: UserSpanOptions): Stream.Stream<A, E, R>
} = handles.withUserSpanStream

/**
 * Attributes that every user span opened in the region starts with (like `Effect.annotateSpans`).
 *
 * @since 0.1.0
 * @category annotations
 */
export const annotateUserSpans: {
  (key: string, value: AttributeValue): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  (attributes: Record<string, AttributeValue>): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, key: string, value: AttributeValue): Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, attributes: Record<string, AttributeValue>): Effect.Effect<A, E, R>
} = internal.annotateUserSpans

/**
 * `false`: the region records no user span (its roots are inactive, the current span is hidden),
 * like `Effect.withTracerEnabled`; `true` lets roots be active again inside such a region.
 *
 * @since 0.1.0
 * @category regions
 */
export const withUserTracingEnabled: {
  (enabled: boolean): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, enabled: boolean): Effect.Effect<A, E, R>
} = internal.withUserTracingEnabled

/**
 * Runs the effect outside every user trace: no user span is current in it, so nothing it does, nor
 * any fiber it forks, joins the caller's trace, and roots opened inside start traces of their own.
 * Build shared resources with it (a loader, a cache, a pool, a daemon) when the first request that
 * needs them builds them lazily: a fiber forked there would otherwise stay in that request's trace
 * and record every later tenant's work in it.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { UserTracing } from "effect-user-tracing/effect4"
 *
 * const makeLoader = Effect.succeed((id: string) => Effect.succeed(`user ${id}`))
 * // Built by whichever request needs it first, shared by every tenant after.
 * const loader = Effect.cached(UserTracing.withoutUserTrace(makeLoader))
 * ```
 *
 * @since 0.1.0
 * @category regions
 */
export const withoutUserTrace: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =
  internal.withoutUserTrace

/**
 * Sets the current span's status: `ok` is final; `error` may carry a message; `unset` is ignored.
 *
 * @since 0.1.0
 * @category annotations
 */
export const setUserSpanStatus: (status: UserSpanStatus) => Effect.Effect<void> = internal.setUserSpanStatus

/**
 * Adds an event with typed attributes (cut by the span limits), timestamped now or at `time`.
 *
 * @since 0.1.0
 * @category annotations
 */
export const addUserSpanEvent: (
  name: string,
  attributes?: Record<string, AttributeValue>,
  options?: { readonly time?: bigint }
) => Effect.Effect<void> = internal.addUserSpanEvent

/**
 * Links the current user span to other spans (handles or inbound `Traceparent`s).
 *
 * @since 0.1.0
 * @category annotations
 */
export const linkUserSpans: (links: UserSpanLink | ReadonlyArray<UserSpanLink>) => Effect.Effect<void> =
  internal.linkUserSpans

/**
 * Sets attributes on the current user span; a key already present is replaced and moves to the end.
 *
 * @since 0.1.0
 * @category annotations
 */
export const annotateUserSpan: {
  (key: string, value: AttributeValue): Effect.Effect<void>
  (attributes: Record<string, AttributeValue>): Effect.Effect<void>
} = internal.annotateUserSpan

/**
 * Adds one `Log entry` event, timestamped now, with the fields as string attributes sorted by key.
 *
 * @since 0.1.0
 * @category annotations
 */
export const logUserSpan: (fields: Record<string, string>) => Effect.Effect<void> = internal.logUserSpan

/**
 * Runs `callback` once when the current user span ends; children created after inherit it.
 *
 * @since 0.1.0
 * @category annotations
 */
export const setUserSpanFinishCallback: (callback: FinishCallback | undefined) => Effect.Effect<void> =
  internal.setUserSpanFinishCallback

/**
 * The current active user span, if any.
 *
 * @since 0.1.0
 * @category propagation
 */
export const currentUserSpan: Effect.Effect<Option.Option<UserSpan>> = internal.currentUserSpan

/**
 * `00-<trace id>-<current user span id>-<flags>` for an active current user span.
 *
 * @since 0.1.0
 * @category propagation
 */
export const userTraceparent: Effect.Effect<Option.Option<string>> = internal.userTraceparent

/**
 * `traceparent` and, when the trace carries one, `tracestate`; empty when inactive.
 *
 * @since 0.1.0
 * @category propagation
 */
export const userTraceHeaders: Effect.Effect<Record<string, string>> = internal.userTraceHeaders

/**
 * Completes when every user span finished before the call is exported or has failed.
 *
 * @since 0.1.0
 * @category export
 */
export const forceFlush: Effect.Effect<void> = internal.forceFlush

/**
 * The live pipeline from settings: settings >> OTLP exporter >> harness. Bad settings fail the
 * layer with a `UserTracingSettingsError` naming the field; closing it drains the queue. When it
 * starts, it logs one info line: enabled (service, output, routing header) or disabled and why.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  settings: UserTracingSettings.SettingsInput
) => Layer.Layer<never, UserTracingSettings.UserTracingSettingsError> = layers.layer

/**
 * The live pipeline with settings read from `Config` (by default the `USER_TRACING_*` variables,
 * through the current `ConfigProvider`), and the start-up line of `layer`. From the variables, a
 * bad value fails with a `UserTracingSettingsError` naming the variable, and a warning is logged
 * for each `USER_TRACING_*` name that is not a setting (with the closest one) and for variables
 * set while `USER_TRACING_ENABLED` is not.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  config?: Config.Config<UserTracingSettings.SettingsInput>
) => Layer.Layer<never, UserTracingSettings.UserTracingSettingsError | Config.ConfigError> = layers.layerConfig
