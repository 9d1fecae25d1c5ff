/**
 * The user span: what `withUserTrace`/`withUserSpan` create, what a finish callback may still
 * change, and the frozen record an exporter receives.
 *
 * @since 0.1.0
 */
import type { RoutingMetadata } from "./RoutingMetadata.js"

/** A user span attribute value: a scalar or a homogeneous-looking array of scalars. */
export type AttributeValue =
  | string
  | number
  | bigint
  | boolean
  | ReadonlyArray<string | number | bigint | boolean>

/** The OTLP span kind, in W3C/OpenTelemetry words; `internal` when not given. */
export type UserSpanKind = "internal" | "server" | "client" | "producer" | "consumer"

/** Options of `withUserTrace`, `withUserSpan` and `startUserTrace`. */
export interface UserSpanOptions {
  readonly attributes?: Record<string, AttributeValue>
  readonly kind?: UserSpanKind
}

/** A live user span, as `currentUserSpan` and `startUserTrace` show it (ids in lowercase hex). */
export interface UserSpan {
  readonly traceId: string
  readonly spanId: string
  readonly name: string
  readonly sampled: boolean
}

/** An event on a user span; `logUserSpan` makes one named `Log entry`. */
export interface UserSpanEvent {
  readonly name: string
  /** Unix time in nanoseconds, from Effect's `Clock`. */
  readonly time: bigint
  readonly attributes: ReadonlyArray<readonly [string, AttributeValue]>
  /** Attributes cut by `limits.maxEventAttributes`. */
  readonly droppedAttributesCount: number
}

/** A finished user span: the record handed to the exporter (and to `UserTracingTest.finishedSpans`). */
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
  /** `error` when the region failed (not interrupted) or an attribute named `error` is set. */
  readonly status: "unset" | "error"
  readonly droppedAttributesCount: number
  readonly droppedEventsCount: number
}

/** What a finish callback receives (`UserSpan.Finishing`): the span just before it is frozen and exported. */
export interface Finishing extends UserSpan {
  name: string
  /** Sets an attribute, with the rules of `annotateUserSpan`. */
  attribute(key: string, value: AttributeValue): void
  /** Adds an event timestamped with the span's end time. */
  event(name: string, attributes?: Record<string, AttributeValue>): void
}

/** A finish callback, run once when its span ends. */
export type FinishCallback = (span: Finishing) => void
