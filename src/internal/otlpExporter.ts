import { Clock, Deferred, Effect, Option, Scope } from "effect"
import type { RoutingMetadata } from "../RoutingMetadata.js"
import type { FinishedUserSpan } from "../UserSpan.js"
import type { Exporter } from "./exporter.js"
import type { OutputCommon, Settings } from "../UserTracingSettings.js"
import { isHeaderValue } from "./httpSyntax.js"
import * as Metrics from "./metrics.js"
import { encodeTraceRequest } from "./otlpEncoding.js"
import * as OtlpRequest from "./otlpRequest.js"
import type * as Transport from "./otlpTransport.js"

interface Batch {
  readonly spans: ReadonlyArray<FinishedUserSpan>
  /** Sequence number of its first span: spans are numbered 1, 2, ... as the queue accepts them. */
  readonly firstSeq: number
  settled: number
}


const LOG_INTERVAL_MILLIS = 10_000

/**
 * @internal
 * The batching exporter: a bounded in-memory queue that never blocks the caller, `numTasks`
 * worker fibers that take 1..maxBatchSize spans, group them by routing, and POST one request per
 * group with retries, and a finalizer that drains everything before the layer closes.
 */
export const make = Effect.fnUntraced(function*(
  settings: Settings,
  serviceName: string,
  output: OutputCommon,
  transport: Transport.Transport
) {
  const scope = yield* Effect.scope
  const capacity = settings.maxQueueSize ?? Number.POSITIVE_INFINITY
  // Completed with the shutdown deadline when the layer starts closing: retries never wait past it.
  const closing = yield* Deferred.make<number>()

  // The queue: `queue[head..]` waits; taking advances `head`, compacting now and then.
  let queue: Array<FinishedUserSpan> = []
  let head = 0
  let accepted = 0
  let taken = 0
  let closed = false
  const inFlight = new Set<Batch>()
  const idleWorkers: Array<() => void> = []
  const flushWaiters = new Set<{ readonly target: number; readonly resume: () => void }>()

  // Counted in plain numbers on the hot path, applied to the metrics by the workers and flushes.
  let total = 0
  let dropped = 0
  let exported = 0
  let failed = 0
  const syncMetrics = () => {
    if (total > 0) Metrics.spansTotal.unsafeUpdate(total, [])
    if (dropped > 0) Metrics.spansDropped.unsafeUpdate(dropped, [])
    if (exported > 0) Metrics.spansExported.unsafeUpdate(exported, [])
    if (failed > 0) Metrics.spansFailed.unsafeUpdate(failed, [])
    total = dropped = exported = failed = 0
    Metrics.queueSize.unsafeUpdate(queue.length - head, [])
  }

  const exportSpan = (span: FinishedUserSpan): void => {
    total++
    if (closed || queue.length - head >= capacity) {
      dropped++
      return
    }
    queue.push(span)
    accepted++
    idleWorkers.pop()?.()
  }

  const takeBatch = (): Batch => {
    const end = Math.min(queue.length, head + output.maxBatchSize)
    const spans = queue.slice(head, end)
    const batch: Batch = { spans, firstSeq: taken + 1, settled: 0 }
    taken += spans.length
    head = end
    if (head === queue.length) {
      queue = []
      head = 0
    } else if (head > 4096 && head * 2 > queue.length) {
      queue = queue.slice(head)
      head = 0
    }
    inFlight.add(batch)
    return batch
  }

  const isFlushed = (target: number): boolean => {
    if (taken < target) return false
    for (const batch of inFlight) if (batch.firstSeq <= target) return false
    return true
  }
  const notifyFlushWaiters = () => {
    for (const waiter of flushWaiters) {
      if (isFlushed(waiter.target)) {
        flushWaiters.delete(waiter)
        waiter.resume()
      }
    }
  }

  let lastLogAt = Number.NEGATIVE_INFINITY
  let suppressedLogs = 0
  const logFailure = (message: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const now = Date.now()
      if (now - lastLogAt < LOG_INTERVAL_MILLIS) {
        suppressedLogs++
        return Effect.void
      }
      lastLogAt = now
      const suppressed = suppressedLogs
      suppressedLogs = 0
      return Effect.logWarning(
        suppressed > 0 ? `${message} (${suppressed} similar failures not logged)` : message
      )
    })

  const exportGroup = (batch: Batch, routing: RoutingMetadata, spans: ReadonlyArray<FinishedUserSpan>) =>
    Effect.suspend(() => {
      let header: string
      try {
        header = routing.encode()
      } catch {
        header = "\n"
      }
      if (!isHeaderValue(header)) {
        batch.settled += spans.length
        failed += spans.length
        return logFailure(`user tracing: rejected ${spans.length} spans: routing header value is not a legal header value`)
      }
      const body = encodeTraceRequest({ serviceName }, spans)
      return OtlpRequest.exportRequest(transport, output, closing, header, body, spans.length).pipe(
        Effect.flatMap((outcome) => {
          batch.settled += spans.length
          exported += outcome.exported
          failed += outcome.failed
          return outcome.message === undefined ? Effect.void : logFailure(outcome.message)
        })
      )
    })

  const exportBatch = (batch: Batch) =>
    Effect.suspend(() => {
      const groups = new Map<string, { routing: RoutingMetadata; spans: Array<FinishedUserSpan> }>()
      for (const span of batch.spans) {
        let key: string
        try {
          key = span.routing.groupKey()
        } catch {
          key = "\n"
        }
        const group = groups.get(key)
        if (group === undefined) groups.set(key, { routing: span.routing, spans: [span] })
        else group.spans.push(span)
      }
      return Effect.forEach(groups.values(), (group) => exportGroup(batch, group.routing, group.spans), {
        discard: true
      })
    }).pipe(
      Effect.onExit(() =>
        Effect.sync(() => {
          // Interrupted mid-export (shutdown timeout): what was not settled is lost, and counted.
          failed += batch.spans.length - batch.settled
          inFlight.delete(batch)
          syncMetrics()
          notifyFlushWaiters()
        })
      )
    )

  const waitForSpans = Effect.async<void>((resume) => {
    const wake = () => resume(Effect.void)
    idleWorkers.push(wake)
    return Effect.sync(() => {
      const index = idleWorkers.indexOf(wake)
      if (index >= 0) idleWorkers.splice(index, 1)
    })
  })

  // A defect in one batch (a bug) costs that batch, never the worker: export must go on.
  const exportNextBatch = Effect.suspend(() => exportBatch(takeBatch())).pipe(
    Effect.catchAllDefect((defect) => logFailure(`user tracing: export of a batch failed: ${String(defect)}`))
  )

  const worker = Effect.suspend(() => queue.length - head > 0 ? exportNextBatch : waitForSpans).pipe(
    Effect.forever
  )

  const forceFlush: Effect.Effect<void> = Effect.suspend(() => {
    const target = accepted
    if (isFlushed(target)) return Effect.void
    return Effect.async<void>((resume) => {
      const waiter = { target, resume: () => resume(Effect.void) }
      flushWaiters.add(waiter)
      return Effect.sync(() => flushWaiters.delete(waiter))
    })
  }).pipe(Effect.ensuring(Effect.sync(syncMetrics)))

  // The exporter's own work runs on the real clock, with no tracer (no span in either pipeline).
  const isolate = <A, E, R>(self: Effect.Effect<A, E, R>) =>
    self.pipe(
      Effect.withTracerEnabled(false),
      Effect.withClock(Clock.make()),
      Effect.annotateLogs({ package: "effect-user-tracing", module: "UserTraceExporter" })
    )

  for (let i = 0; i < output.numTasks; i++) {
    yield* Effect.forkIn(isolate(worker), scope)
  }

  // Added after the workers were forked, so it runs before they are interrupted.
  yield* Scope.addFinalizer(
    scope,
    isolate(
      Effect.suspend(() => Deferred.succeed(closing, OtlpRequest.closingDeadline(settings.shutdownTimeout))).pipe(
        Effect.zipRight(forceFlush),
        Effect.timeoutOption(settings.shutdownTimeout),
        Effect.flatMap((flushed) => {
          closed = true
          const lost = queue.length - head
          queue = []
          head = 0
          failed += lost
          syncMetrics()
          return Option.isNone(flushed)
            ? Effect.logWarning(
              `user tracing: shutdown timeout reached; ${lost} queued spans and ${inFlight.size} requests in flight lost`
            )
            : Effect.void
        })
      )
    )
  )

  const exporter: Exporter = { export: exportSpan, forceFlush: isolate(forceFlush) }
  return exporter
})
