/**
 * @internal
 * The traces `completedTraces` holds until they look complete: spans grouped by trace id, within
 * bounds (spans per trace, spans across traces, age), so that no input makes them grow without
 * end. Synchronous and given the time by its caller, so its rules are tested without a clock. No
 * effect module: shared by both lines.
 */
import type { IncompleteReason, ReceivedSpan, ReceivedTrace } from "../../UserTraceSink.js"
import { isRootLike, toTrace } from "./decode.js"

/** @internal */
export const defaultMaxSpansPerTrace = 10_000

/** @internal */
export const defaultMaxPendingSpans = 50_000

/** @internal */
export const defaultMaxTraceAgeMillis = 60_000

/** @internal when pending traces go, in milliseconds and spans */
export interface PendingLimits {
  /** A trace with its root goes after this long without a new span. */
  readonly quietMillis: number
  /** A trace without its root goes after this long without a new span. */
  readonly orphanMillis: number
  /** A trace goes this long after its first span, complete or not. */
  readonly maxAgeMillis: number
  readonly maxSpansPerTrace: number
  readonly maxPendingSpans: number
}

/** @internal `completedTraces`' options, their durations in the line's own input type */
export interface PendingOptions<D> {
  readonly quietPeriod?: D | undefined
  readonly orphanTimeout?: D | undefined
  readonly maxTraceAge?: D | undefined
  readonly maxSpansPerTrace?: number | undefined
  readonly maxPendingSpans?: number | undefined
}

/**
 * @internal
 * The limits of `completedTraces`' options, their defaults filled in (`millis` reads a duration the
 * line's way), or what is wrong with them: a bad one is a defect.
 */
export const pendingLimitsOf = <D>(
  options: PendingOptions<D> | undefined,
  millis: (duration: D) => number
): PendingLimits | { readonly problem: string } => {
  const given = (duration: D | undefined, orElse: number) => duration === undefined ? orElse : millis(duration)
  const limits: PendingLimits = {
    quietMillis: given(options?.quietPeriod, 500),
    orphanMillis: given(options?.orphanTimeout, 5_000),
    maxAgeMillis: given(options?.maxTraceAge, defaultMaxTraceAgeMillis),
    maxSpansPerTrace: options?.maxSpansPerTrace ?? defaultMaxSpansPerTrace,
    maxPendingSpans: options?.maxPendingSpans ?? defaultMaxPendingSpans
  }
  for (const name of ["maxSpansPerTrace", "maxPendingSpans"] as const) {
    const value = limits[name]
    if (!Number.isSafeInteger(value) || value < 1) {
      return { problem: `completedTraces: ${name} must be a positive integer, got ${value}` }
    }
  }
  return limits
}

/**
 * Removes one span to make room for a root: the latest to arrive that no kept span names as its
 * parent (so no other span loses its place in the tree), else the latest. Runs at most once per
 * trace: only for the first root of a full trace.
 */
const dropForRoot = (spans: Array<ReceivedSpan>): void => {
  const parents = new Set<string>()
  for (const span of spans) if (span.parentSpanId !== undefined) parents.add(span.parentSpanId)
  let victim = spans.length - 1
  for (let i = spans.length - 1; i >= 0; i--) {
    if (!parents.has(spans[i].spanId)) {
      victim = i
      break
    }
  }
  spans.splice(victim, 1)
}

interface Pending {
  readonly spans: Array<ReceivedSpan>
  readonly ids: Set<string>
  /** When its first span came. */
  readonly opened: number
  /** When its latest span came (kept or not). */
  last: number
  hasRoot: boolean
  /** Spans not kept, over `maxSpansPerTrace`. */
  dropped: number
}

/** @internal */
export class PendingTraces {
  // In insertion order: the first entry is the oldest trace.
  private readonly pending = new Map<string, Pending>()
  private held = 0

  constructor(
    private readonly limits: PendingLimits,
    private readonly emit: (trace: ReceivedTrace) => void,
    /** A trace whose tree could not be built: it is emitted flat, and the error reported here. */
    private readonly report: (traceId: string, error: unknown) => void
  ) {}

  /** Spans held across pending traces. */
  get size(): number {
    return this.held
  }

  add(span: ReceivedSpan, now: number): void {
    const current = this.pending.get(span.traceId)
    if (current !== undefined) {
      current.last = now
      if (current.ids.has(span.spanId)) return
      if (current.spans.length >= this.limits.maxSpansPerTrace) {
        current.dropped++
        // The first root of a full trace takes the place of another span: without it the tree has no top.
        if (current.hasRoot || !isRootLike(span)) return
        dropForRoot(current.spans)
        current.spans.push(span)
        current.hasRoot = true
        return
      }
    }
    while (this.held >= this.limits.maxPendingSpans) {
      const [oldest] = this.pending.keys()
      this.release(oldest, "maxPendingSpans")
    }
    let entry = this.pending.get(span.traceId)
    if (entry === undefined) {
      entry = { spans: [], ids: new Set(), opened: now, last: now, hasRoot: false, dropped: 0 }
      this.pending.set(span.traceId, entry)
    }
    entry.ids.add(span.spanId)
    entry.spans.push(span)
    this.held++
    if (isRootLike(span)) entry.hasRoot = true
  }

  /** Emits the traces that look complete, and those open past the maximum age. */
  sweep(now: number): void {
    for (const [traceId, entry] of this.pending) {
      if (now - entry.opened >= this.limits.maxAgeMillis) this.release(traceId, "maxTraceAge")
      else if (now - entry.last >= (entry.hasRoot ? this.limits.quietMillis : this.limits.orphanMillis)) {
        this.release(traceId, undefined)
      }
    }
  }

  /** Emits every pending trace, oldest first. */
  flush(): void {
    for (const traceId of Array.from(this.pending.keys())) this.release(traceId, undefined)
  }

  private release(traceId: string, incomplete: IncompleteReason | undefined): void {
    const entry = this.pending.get(traceId)!
    this.pending.delete(traceId)
    this.held -= entry.spans.length
    let trace: ReceivedTrace
    try {
      trace = toTrace(traceId, entry.spans)
    } catch (error) {
      this.report(traceId, error)
      trace = { traceId, spans: entry.spans, roots: entry.spans.map((span) => ({ span, children: [] })) }
    }
    this.emit({
      ...trace,
      ...(incomplete === undefined ? {} : { incomplete }),
      ...(entry.dropped === 0 ? {} : { droppedSpans: entry.dropped })
    })
  }
}
