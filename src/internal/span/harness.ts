import { Effect } from "effect"
import { defaultLimits } from "../settings/schema.js"
import type { SpanSink } from "./record.js"

/** @internal the harness: creates active roots when enabled, hands finished spans on */
export interface Harness extends SpanSink {
  readonly enabled: boolean
  readonly forceFlush: Effect.Effect<void>
}

/** @internal what a program that provides no layer gets: roots are inactive, nothing recorded */
export const noopHarness: Harness = {
  enabled: false,
  limits: defaultLimits,
  export: () => {},
  forceFlush: Effect.void
}
