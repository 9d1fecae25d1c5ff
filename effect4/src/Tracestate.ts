/**
 * The W3C Trace Context `tracestate` header (Level 2): vendor key/value pairs carried beside
 * `traceparent`. The same module as the Effect 3 line's; its `Option` is the application's effect's.
 *
 * @since 0.1.0
 */
export * from "../../src/Tracestate.js"
