/**
 * The W3C Trace Context `traceparent` header (Level 2): parse an inbound header, format an
 * outbound one.
 *
 * @since 0.1.0
 */
import type * as Option from "effect/Option"
import * as internal from "./internal/w3c/traceparent.js"

/**
 * A parsed `traceparent`: version and flags as bytes, ids as lowercase hex.
 *
 * @since 0.1.0
 * @category models
 */
export interface Traceparent {
  readonly version: number
  readonly traceId: string
  readonly parentId: string
  readonly traceFlags: number
}

/**
 * Parses a `traceparent` header value (string or raw UTF-8 bytes); `None` when it is invalid.
 *
 * Follows W3C Trace Context: version `00` is exactly `vv-<32 hex>-<16 hex>-<2 hex>`, a higher
 * version (`01`..`fe`) is read by the future-version rule (first four fields, then `-` or the
 * end), version `ff` and all-zero ids are invalid. Hex may be in either case, surrounding spaces
 * and tabs are ignored, and a comma (a header sent twice) makes it invalid. Never throws.
 *
 * @example
 * ```ts
 * import { Option } from "effect"
 * import { Traceparent } from "effect-user-tracing"
 *
 * const parsed = Traceparent.parse("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01")
 * assert.deepStrictEqual(
 *   Option.map(parsed, Traceparent.format),
 *   Option.some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
 * )
 * assert.deepStrictEqual(Traceparent.parse("00-00000000000000000000000000000000-b7ad6b7169203331-01"), Option.none())
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse: (header: string | Uint8Array) => Option.Option<Traceparent> = internal.parse

/**
 * Formats as `vv-<trace id>-<parent id>-<flags>` in lowercase hex, keeping every flag bit.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format: (self: Traceparent) => string = internal.format

/**
 * Whether the `sampled` flag (bit 0 of the trace flags) is set.
 *
 * @since 0.1.0
 * @category getters
 */
export const isSampled: (self: Traceparent) => boolean = internal.isSampled

/**
 * Builds a `Traceparent` from trusted fields (ids lowercased; version and flags default to 0).
 * It does not validate: use `parse` for anything that comes off the wire.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (fields: {
  readonly traceId: string
  readonly parentId: string
  readonly traceFlags?: number | undefined
  readonly version?: number | undefined
}) => Traceparent = internal.make
