/**
 * The user span: what `withUserTrace`/`withUserSpan` create, what a finish callback may still
 * change, and the frozen record an exporter receives.
 *
 * @since 0.1.0
 */
import type { RoutingMetadata } from "./RoutingMetadata.js"
import type { Traceparent } from "./Traceparent.js"

/**
 * A user span attribute value: a scalar or a homogeneous-looking array of scalars.
 *
 * @since 0.1.0
 * @category models
 */
export type AttributeValue =
  | string
  | number
  | bigint
  | boolean
  | ReadonlyArray<string | number | bigint | boolean>

/**
 * The OTLP span kind, in W3C/OpenTelemetry words; `internal` when not given.
 *
 * @since 0.1.0
 * @category models
 */
export type UserSpanKind = "internal" | "server" | "client" | "producer" | "consumer"

/**
 * Options of `withUserTrace`, `withUserSpan`, `makeUserSpan` and the other span openers.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserSpanOptions {
  readonly attributes?: Record<string, AttributeValue>
  readonly kind?: UserSpanKind
  /** Other spans this one relates to, e.g. the traces whose messages a batch consumer handles. */
  readonly links?: ReadonlyArray<UserSpanLink>
  /** Unix time in nanoseconds; defaults to now, from Effect's `Clock`. */
  readonly startTime?: bigint
}

/**
 * A link to a user span (a handle) or to a span of another service (an inbound `Traceparent`).
 *
 * @since 0.1.0
 * @category models
 */
export interface UserSpanLink {
  readonly span: UserSpan | Traceparent
  readonly attributes?: Record<string, AttributeValue>
  /** The `tracestate` header(s) that came with a `Traceparent`; a handle's comes from its trace. */
  readonly tracestate?: string | ReadonlyArray<string>
}

/**
 * A status the application sets: `ok` is final; a message goes with `error` only.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserSpanStatus {
  readonly code: "unset" | "ok" | "error"
  readonly message?: string
}

/**
 * A link as recorded (and as `finishedSpans` shows it).
 *
 * @since 0.1.0
 * @category models
 */
export interface UserSpanLinkRecord {
  readonly traceId: string
  readonly spanId: string
  readonly traceState: string | undefined
  /** W3C trace flags of the linked span. */
  readonly traceFlags: number
  /** True when the linked span belongs to another service (a `Traceparent`). */
  readonly remote: boolean
  readonly attributes: ReadonlyArray<readonly [string, AttributeValue]>
  /** Attributes cut by `limits.maxLinkAttributes`. */
  readonly droppedAttributesCount: number
}

/**
 * A live user span, as `currentUserSpan` and `startUserTrace` show it (ids in lowercase hex).
 *
 * @since 0.1.0
 * @category models
 */
export interface UserSpan {
  readonly traceId: string
  readonly spanId: string
  readonly name: string
  /** `false` for an inactive handle (nothing recorded) and for a discarded span (`UserTracing.discardUserSpan`). */
  readonly sampled: boolean
}

/**
 * An event on a user span; `logUserSpan` makes one named `Log entry`.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserSpanEvent {
  readonly name: string
  /** Unix time in nanoseconds, from Effect's `Clock`. */
  readonly time: bigint
  readonly attributes: ReadonlyArray<readonly [string, AttributeValue]>
  /** Attributes cut by `limits.maxEventAttributes`. */
  readonly droppedAttributesCount: number
}

/**
 * A finished user span: the record handed to the exporter (and to `UserTracingTest.finishedSpans`).
 *
 * @since 0.1.0
 * @category models
 */
export interface FinishedUserSpan {
  readonly traceId: string
  readonly spanId: string
  /** `undefined` for a fresh root; the inbound parent id for a continued root. */
  readonly parentSpanId: string | undefined
  /** True when the parent is an inbound (remote) span. */
  readonly remoteParent: boolean
  /** W3C trace flags sent outbound (sampled, plus random when known). */
  readonly traceFlags: number
  /** The inbound `tracestate`, formatted, when the trace carries one. */
  readonly traceState: string | undefined
  readonly routing: RoutingMetadata
  readonly name: string
  readonly kind: UserSpanKind
  /** Unix time in nanoseconds. */
  readonly startTime: bigint
  /** Unix time in nanoseconds, never before `startTime`. */
  readonly endTime: bigint
  /** In insertion order; a replaced key moved to the end. */
  readonly attributes: ReadonlyMap<string, AttributeValue>
  readonly events: ReadonlyArray<UserSpanEvent>
  readonly links: ReadonlyArray<UserSpanLinkRecord>
  /**
   * `ok` when the application set it (final); else `error` when it set `error`, the region failed
   * (not interrupted) or an attribute named `error` is set; else `unset`.
   */
  readonly status: "unset" | "ok" | "error"
  /** The application's message for an `error` status; empty otherwise (never an internal cause). */
  readonly statusMessage: string
  readonly droppedAttributesCount: number
  readonly droppedEventsCount: number
  readonly droppedLinksCount: number
}

/**
 * What a finish callback receives (`UserSpan.Finishing`): the span just before it is frozen and exported.
 *
 * @since 0.1.0
 * @category models
 */
export interface Finishing extends UserSpan {
  name: string
  /** Sets an attribute, with the rules of `annotateUserSpan`. */
  attribute(key: string, value: AttributeValue): void
  /** Adds an event timestamped with the span's end time. */
  event(name: string, attributes?: Record<string, AttributeValue>): void
  /** Sets the status, with the rules of `setUserSpanStatus`. */
  setStatus(status: UserSpanStatus): void
}

/**
 * A finish callback, run once when its span ends.
 *
 * @since 0.1.0
 * @category models
 */
export type FinishCallback = (span: Finishing) => void
