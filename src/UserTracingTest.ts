/**
 * Testing user tracing: an active harness writing to an in-memory sink, one per provided layer,
 * and views of what it recorded.
 *
 * @since 0.1.0
 */
import type { Effect, Layer } from "effect"
import * as internal from "./internal/testTracing.js"
import type { UserHarness } from "./UserHarness.js"
import type { TestSpans } from "./internal/testTracing.js"
import type { AttributeValue, FinishedUserSpan } from "./UserSpan.js"
import type { UserTraceExporter } from "./UserTraceExporter.js"

/** A finished span as a tree node; excluded fields are empty arrays. */
export interface TestTrace {
  readonly name: string
  readonly attributes: ReadonlyArray<readonly [string, AttributeValue]>
  readonly logs: ReadonlyArray<readonly [string, string]>
  readonly children: ReadonlyArray<TestTrace>
}

/** Which fields `userTraces` fills; both default to `false`. */
export interface TestTraceOptions {
  readonly includeAttributes?: boolean
  readonly includeLogs?: boolean
}

/** The in-memory sink's service (read by `finishedSpans` and `userTraces`). */
export { TestSpans } from "./internal/testTracing.js"

/** An active harness with an in-memory exporter; each build has its own sink. */
export const layer: Layer.Layer<UserHarness | UserTraceExporter | TestSpans> = internal.layer

/** The finished spans recorded so far, in finishing order, as raw records. */
export const finishedSpans: Effect.Effect<ReadonlyArray<FinishedUserSpan>> = internal.finishedSpans

/**
 * The recorded traces as trees: roots are spans whose parent is not in the sink (so an
 * inbound-continued root shows too), siblings in start order.
 */
export const userTraces: (options?: TestTraceOptions) => Effect.Effect<ReadonlyArray<TestTrace>> = internal.userTraces
