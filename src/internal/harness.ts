import { Effect } from "effect"
import type { SpanLimits, SpanSink } from "./spanRecord.js"

/** @internal the harness: creates active roots when enabled, hands finished spans on */
export interface Harness extends SpanSink {
  readonly enabled: boolean
  readonly forceFlush: Effect.Effect<void>
}

/** @internal the spec's defaults (SPEC section 2) */
export const defaultLimits: SpanLimits = {
  maxAttributes: 128,
  maxEvents: 128,
  maxEventAttributes: 128,
  maxLinks: 128,
  maxLinkAttributes: 128,
  maxAttributeValueLength: 4096
}

/** @internal what a program that provides no layer gets: roots are inactive, nothing recorded */
export const noopHarness: Harness = {
  enabled: false,
  limits: defaultLimits,
  export: () => {},
  forceFlush: Effect.void
}
