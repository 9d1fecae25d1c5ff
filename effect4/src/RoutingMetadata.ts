/**
 * Per-trace routing metadata: fixed on the root, inherited by every descendant, sent verbatim as
 * the routing header of the export request that carries the trace's spans. The same module as the
 * Effect 3 line's.
 *
 * @since 0.1.0
 */
export * from "../../src/RoutingMetadata.js"
