/**
 * The user span: what `withUserTrace`/`withUserSpan` create, what a finish callback may still
 * change, and the frozen record an exporter receives. The same types as the Effect 3 line.
 *
 * @since 0.1.0
 */
export type * from "../../src/UserSpan.js"
