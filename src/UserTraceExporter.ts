/**
 * The exporter: where finished user spans go. The live one batches them onto the wire; the test
 * one keeps them in memory.
 *
 * @since 0.1.0
 */
import { Context, type Effect } from "effect"
import type { FinishedUserSpan } from "./UserSpan.js"

/** An exporter takes finished spans without blocking or throwing, and can flush. */
export interface Exporter {
  /** Accepts a finished span; must return at once and never throw. */
  readonly export: (span: FinishedUserSpan) => void
  /** Completes when every span accepted before the call is exported or has failed. */
  readonly forceFlush: Effect.Effect<void>
}

/** The exporter the harness writes to. */
export class UserTraceExporter extends Context.Tag("effect-user-tracing/UserTraceExporter")<
  UserTraceExporter,
  Exporter
>() {}
