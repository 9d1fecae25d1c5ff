/**
 * Testing user tracing: an active harness writing to an in-memory sink, one per provided layer,
 * and views of what it recorded.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as internal from "./internal/testing/testTracing.js"
import type { AttributeValue, FinishedUserSpan } from "./UserSpan.js"
import type { UserTraceExporter } from "./UserTraceExporter.js"

/**
 * A finished span as a tree node; excluded `attributes` and `logs` are empty arrays, and
 * `status`, `events` and `links` are present only when asked for.
 */
export interface TestTrace {
  readonly name: string
  readonly attributes: ReadonlyArray<readonly [string, AttributeValue]>
  readonly logs: ReadonlyArray<readonly [string, string]>
  readonly children: ReadonlyArray<TestTrace>
  /** The status, with the application's message for `error` (`includeStatus`). */
  readonly status?: { readonly code: "unset" | "ok" | "error"; readonly message: string }
  /** Every event but `Log entry` (those are `logs`), with typed attributes (`includeEvents`). */
  readonly events?: ReadonlyArray<
    { readonly name: string; readonly attributes: ReadonlyArray<readonly [string, AttributeValue]> }
  >
  /** The links, by the linked span's name when it is in the sink, else `<trace id>/<span id>` (`includeLinks`). */
  readonly links?: ReadonlyArray<
    { readonly to: string; readonly attributes: ReadonlyArray<readonly [string, AttributeValue]> }
  >
}

/** Which fields `userTraces` fills; all default to `false`. */
export interface TestTraceOptions {
  readonly includeAttributes?: boolean
  readonly includeLogs?: boolean
  readonly includeStatus?: boolean
  readonly includeEvents?: boolean
  readonly includeLinks?: boolean
}

/** The in-memory sink's service (read by `finishedSpans` and `userTraces`). */
export { TestSpans } from "./internal/testing/testTracing.js"

/** An active harness with an in-memory exporter; each build has its own sink. */
export const layer: Layer.Layer<UserTraceExporter> = internal.layer

/** The finished spans recorded so far, in finishing order, as raw records. */
export const finishedSpans: Effect.Effect<ReadonlyArray<FinishedUserSpan>> = internal.finishedSpans

/**
 * The recorded traces as trees: roots are spans whose parent is not in the sink (so an
 * inbound-continued root shows too), siblings in start order.
 */
export const userTraces: (options?: TestTraceOptions) => Effect.Effect<ReadonlyArray<TestTrace>> = internal.userTraces
