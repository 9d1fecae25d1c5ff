import { Context, type Effect } from "effect"
import type { FinishedUserSpan } from "../../UserSpan.js"

/** @internal */
export interface Exporter {
  readonly export: (span: FinishedUserSpan) => void
  readonly forceFlush: Effect.Effect<void>
}

/** @internal */
export class UserTraceExporter extends Context.Tag("effect-user-tracing/UserTraceExporter")<
  UserTraceExporter,
  Exporter
>() {}
