/**
 * Per-trace routing metadata: fixed on the root, inherited by every descendant, sent verbatim as
 * the routing header of the export request that carries the trace's spans.
 *
 * @since 0.1.0
 */
import * as internal from "./internal/span/routing.js"

/**
 * `groupKey` batches spans into one request and must differ whenever `encode` differs;
 * `encode()` is sent verbatim as the routing header value.
 */
export interface RoutingMetadata {
  groupKey(): string
  encode(): string
}

/**
 * Routing from a JSON value: canonical JSON (object keys sorted, ASCII only: other characters as
 * `\uXXXX` escapes) serves as both key and header.
 */
export const json: (value: unknown) => RoutingMetadata = internal.json
