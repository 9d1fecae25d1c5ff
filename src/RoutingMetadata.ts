/**
 * Per-trace routing metadata: fixed on the root, inherited by every descendant, sent verbatim as
 * the routing header of the export request that carries the trace's spans.
 *
 * @since 0.1.0
 */
import * as internal from "./internal/span/routing.js"

/**
 * Where a trace's spans go. `groupKey` batches spans into one request and must differ whenever
 * `encode` differs; `encode()` is sent verbatim as the routing header value. A value that is not
 * a legal header value (CR, LF, other control characters), or a method that throws, gets that
 * group's spans rejected and counted; other groups go on.
 *
 * @since 0.1.0
 * @category models
 */
export interface RoutingMetadata {
  groupKey(): string
  encode(): string
}

/**
 * Routing from a JSON value: canonical JSON (object keys sorted, ASCII only: other characters as
 * `\uXXXX` escapes) serves as both key and header.
 *
 * @example
 * ```ts
 * import { RoutingMetadata } from "effect-user-tracing"
 *
 * const routing = RoutingMetadata.json({ tenant: "東京", account: 42 })
 * assert.strictEqual(routing.encode(), `{"account":42,"tenant":"\\u6771\\u4eac"}`)
 * assert.strictEqual(routing.groupKey(), routing.encode())
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const json: (value: unknown) => RoutingMetadata = internal.json
