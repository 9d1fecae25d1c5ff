/**
 * The W3C Trace Context `tracestate` header (Level 2): vendor key/value pairs carried beside
 * `traceparent`.
 *
 * @since 0.1.0
 */
import type * as Option from "effect/Option"
import * as internal from "./internal/w3c/tracestate.js"

/**
 * A parsed `tracestate`: its members in header order, each key once.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tracestate {
  readonly members: ReadonlyArray<readonly [key: string, value: string]>
}

/**
 * Parses one or more `tracestate` header values (several are combined in order, as if joined
 * by a comma).
 *
 * Members are separated by commas with optional spaces/tabs around them; empty members are
 * skipped. A key is `[a-z0-9][a-z0-9_*\/@-]{0,255}`, a value 1 to 256 printable ASCII
 * characters other than `,` and `=`. A repeated key keeps its first value. Any invalid member,
 * more than 32 members (counted as sent, duplicates included), or no member at all gives `None`.
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { Tracestate } from "effect-user-tracing"
 *
 * // Two headers combine in order; a repeated key keeps its first value.
 * const parsed = Tracestate.parse(["congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=later"])
 * assert.deepStrictEqual(Option.flatMap(parsed, Tracestate.get("rojo")), Option.some("00f067aa0ba902b7"))
 * assert.deepStrictEqual(Option.map(parsed, Tracestate.format), Option.some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"))
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse: (header: string | ReadonlyArray<string>) => Option.Option<Tracestate> = internal.parse

/**
 * Formats as `key=value` members joined by `,`, in order.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format: (self: Tracestate) => string = internal.format

/**
 * The value for `key`, if present.
 *
 * @since 0.1.0
 * @category getters
 */
export const get: {
  (key: string): (self: Tracestate) => Option.Option<string>
  (self: Tracestate, key: string): Option.Option<string>
} = internal.get
