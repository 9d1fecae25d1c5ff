/**
 * The user tracing API: open a root per request, nest user spans through fibers, annotate them,
 * and propagate W3C `traceparent`/`tracestate`.
 *
 * Without an active root every function here is a no-op that costs next to nothing.
 *
 * @since 0.1.0
 */
import type { Config, ConfigError, Effect, Layer, Option, Scope } from "effect"
import type * as Tracer from "effect/Tracer"
import type { YieldWrap } from "effect/Utils"
import * as layers from "./internal/layers.js"
import * as internal from "./internal/userTracing.js"
import type { RoutingMetadata } from "./RoutingMetadata.js"
import type { Traceparent } from "./Traceparent.js"
import type * as UserHarness from "./UserHarness.js"
import type { AttributeValue, FinishCallback, UserSpan, UserSpanOptions } from "./UserSpan.js"
import type * as UserTracingSettings from "./UserTracingSettings.js"

export type { AttributeValue, UserSpan, UserSpanKind, UserSpanOptions } from "./UserSpan.js"

/** Options of a root: routing (required), an inbound `traceparent` to continue, its `tracestate`. */
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
 */
export const withUserTrace: {
  (name: string, options: UserTraceOptions): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options: UserTraceOptions): Effect.Effect<A, E, R>
} = internal.withUserTrace

/** Opens a root for the rest of the scope; it ends when the scope closes. */
export const startUserTrace: (name: string, options: UserTraceOptions) => Effect.Effect<UserSpan, never, Scope.Scope> =
  internal.startUserTrace

/** Runs the effect in a child of the current user span; with none (or an inactive one), records nothing. */
export const withUserSpan: {
  (name: string, options?: UserSpanOptions): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: UserSpanOptions): Effect.Effect<A, E, R>
} = internal.withUserSpan

/**
 * `Effect.withSpan(name, options)` always, plus a user child of the same name when a user span is
 * current. Only `kind` reaches the user span: the internal span's attributes stay internal.
 */
export const withDualSpan: {
  (name: string, options?: Tracer.SpanOptions): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: Tracer.SpanOptions): Effect.Effect<A, E, R>
} = internal.withDualSpan

/** Like `Effect.fn(name)`: each call of the generator function runs in `withDualSpan(name)`. */
export const fn: (name: string, options?: Tracer.SpanOptions) => <
  Eff extends YieldWrap<Effect.Effect<any, any, any>>,
  AEff,
  Args extends Array<any>
>(
  body: (...args: Args) => Generator<Eff, AEff, never>
) => (...args: Args) => Effect.Effect<
  AEff,
  [Eff] extends [never] ? never : [Eff] extends [YieldWrap<Effect.Effect<infer _A, infer E, infer _R>>] ? E : never,
  [Eff] extends [never] ? never : [Eff] extends [YieldWrap<Effect.Effect<infer _A, infer _E, infer R>>] ? R : never
> = internal.fn

/** Sets attributes on the current user span; a key already present is replaced and moves to the end. */
export const annotateUserSpan: {
  (key: string, value: AttributeValue): Effect.Effect<void>
  (attributes: Record<string, AttributeValue>): Effect.Effect<void>
} = internal.annotateUserSpan

/** Adds one `Log entry` event, timestamped now, with the fields as string attributes sorted by key. */
export const logUserSpan: (fields: Record<string, string>) => Effect.Effect<void> = internal.logUserSpan

/** Runs `callback` once when the current user span ends; children created after inherit it. */
export const setUserSpanFinishCallback: (callback: FinishCallback | undefined) => Effect.Effect<void> =
  internal.setUserSpanFinishCallback

/** The current active user span, if any. */
export const currentUserSpan: Effect.Effect<Option.Option<UserSpan>> = internal.currentUserSpan

/** `00-<trace id>-<current user span id>-<flags>` for an active current user span. */
export const userTraceparent: Effect.Effect<Option.Option<string>> = internal.userTraceparent

/** `traceparent` and, when the trace carries one, `tracestate`; empty when inactive. */
export const userTraceHeaders: Effect.Effect<Record<string, string>> = internal.userTraceHeaders

/** Completes when every user span finished before the call is exported or has failed. */
export const forceFlush: Effect.Effect<void> = internal.forceFlush

/**
 * The live pipeline from settings: settings >> OTLP exporter >> harness. Bad settings fail the
 * layer with a `UserTracingSettingsError` naming the field; closing it drains the queue.
 */
export const layer: (
  settings: UserTracingSettings.SettingsInput
) => Layer.Layer<UserHarness.UserHarness, UserTracingSettings.UserTracingSettingsError> = layers.layer

/** The live pipeline with settings read from `Config` (by default the `USER_TRACING_*` variables). */
export const layerConfig: (
  config?: Config.Config<UserTracingSettings.SettingsInput>
) => Layer.Layer<
  UserHarness.UserHarness,
  UserTracingSettings.UserTracingSettingsError | ConfigError.ConfigError
> = layers.layerConfig
