/**
 * Testing user tracing: an active harness writing to an in-memory sink, one per provided layer,
 * and views of what it recorded.
 *
 * Provide `TestUserTracing` (this module's `layer`) to each test's effect. Use `it.live` (or
 * `it.scopedLive`) for a service that sleeps or does I/O: `it.effect` runs on the `TestClock`,
 * where a sleep waits until the test adjusts the clock.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RoutingMetadata, TestUserTracing, UserTracing, UserTracingTest } from "effect-user-tracing/effect4"
 *
 * const handled = Effect.sleep("1 millis").pipe(
 *   UserTracing.withUserSpan("load order"),
 *   UserTracing.withUserTrace("GET /orders/:id", { routing: RoutingMetadata.json({ tenant: "acme" }) })
 * )
 *
 * // In a test: it.live("records the tree", () => ...), with the layer provided to each test.
 * const recorded = Effect.zipRight(handled, UserTracingTest.userTraces()).pipe(Effect.provide(TestUserTracing))
 *
 * Effect.runPromise(recorded).then((traces) =>
 *   assert.deepStrictEqual(traces, [{
 *     name: "GET /orders/:id",
 *     attributes: [],
 *     logs: [],
 *     children: [{ name: "load order", attributes: [], logs: [], children: [] }]
 *   }])
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as internal from "./internal/testing/testTracing.js"
import type { TestSpans } from "./internal/testing/testTracing.js"
import type { AttributeValue, FinishedUserSpan } from "./UserSpan.js"
import type { UserTraceExporter } from "./UserTraceExporter.js"

/**
 * A finished span as a tree node; excluded `attributes` and `logs` are empty arrays, and
 * `status`, `events` and `links` are present only when asked for.
 *
 * @since 0.1.0
 * @category models
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

/**
 * Which fields `userTraces` fills; all default to `false`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestTraceOptions {
  readonly includeAttributes?: boolean
  readonly includeLogs?: boolean
  readonly includeStatus?: boolean
  readonly includeEvents?: boolean
  readonly includeLinks?: boolean
}

export {
  /**
   * The in-memory sink's service (read by `finishedSpans` and `userTraces`), provided by `layer`.
   *
   * @since 0.1.0
   * @category tags
   */
  TestSpans
} from "./internal/testing/testTracing.js"

/**
 * An active harness with an in-memory exporter; each build has its own sink, so tests that
 * provide it to their own effect run in parallel without seeing each other's spans.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<UserTraceExporter | TestSpans> = internal.layer

/**
 * The finished spans recorded so far, in finishing order, as plain objects with the fields of
 * `FinishedUserSpan` (`routing` shows as its encoded value). Dies when no `layer` is provided:
 * an empty answer would let a test that recorded nothing pass.
 *
 * @since 0.1.0
 * @category getters
 */
export const finishedSpans: Effect.Effect<ReadonlyArray<FinishedUserSpan>> = internal.finishedSpans

/**
 * The recorded traces as trees: roots are spans whose parent is not in the sink (so an
 * inbound-continued root shows too), siblings in start order. Dies when no `layer` is provided.
 *
 * @since 0.1.0
 * @category getters
 */
export const userTraces: (options?: TestTraceOptions) => Effect.Effect<ReadonlyArray<TestTrace>> = internal.userTraces
