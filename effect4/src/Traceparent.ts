/**
 * The W3C Trace Context `traceparent` header (Level 2): parse an inbound header, format an
 * outbound one. The same module as the Effect 3 line's; its `Option` is the application's effect's.
 *
 * @since 0.1.0
 */
export * from "../../src/Traceparent.js"
