import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import { makeEnvelope } from "../../../../src/internal/export/encoding.js"
import { makeFailureLog } from "../../../../src/internal/export/failureLog.js"
import { type Chunk, ExportQueue, type Leftover, NOTICES } from "../../../../src/internal/export/queue.js"
import type { Exporter } from "../../UserTraceExporter.js"
import type { OutputCommon, Settings } from "../../UserTracingSettings.js"
import * as Metrics from "./metrics.js"
import * as OtlpRequest from "./request.js"
import { REQUESTS_PER_WORKER, type Transport } from "./transport.js"

const METRICS_REFRESH_MILLIS = 1_000

/**
 * @internal
 * The Effect 3 line's batching exporter (src/internal/export/exporter.ts) on effect 4, over the
 * same queue: finishing a span encodes it into its routing group's chunk
 * (`ExportQueue`, which owns every count), and each new chunk is handed to an Effect `Queue`;
 * `numTasks` worker fibers forked in the layer's scope take from it, send each chunk as one
 * request (up to `REQUESTS_PER_WORKER` in flight per worker) and report what became of it. A finalizer flushes everything before the layer closes.
 */
export const make = Effect.fnUntraced(function*(
  settings: Settings,
  serviceName: string,
  output: OutputCommon,
  transport: Transport
) {
  const scope = yield* Effect.scope
  // The metrics go to the registry of the context the layer was built in.
  const context: Context.Context<never> = yield* Effect.context<never>()
  // Completed with the shutdown deadline when the layer starts closing: retries never wait past it.
  const closing = yield* Deferred.make<number>()
  const flushWaiters = new Set<{ readonly epoch: number; readonly resume: () => void }>()
  // The hand-off to the workers: each new chunk (it keeps filling until a worker begins it), and
  // notices to log. The queue keeps every count; this only says what there is to take.
  const work = yield* Queue.unbounded<Chunk | typeof NOTICES>()
  yield* Scope.addFinalizer(scope, Queue.shutdown(work))
  const queue: ExportQueue = new ExportQueue({
    envelope: makeEnvelope({ serviceName }),
    maxQueueSize: settings.maxQueueSize,
    maxQueueBytes: settings.maxQueueBytes,
    maxBatchSize: output.maxBatchSize,
    maxBatchBytes: output.maxBatchBytes,
    maxRoutingValueBytes: settings.maxRoutingValueBytes,
    handOff: (item) => {
      Queue.offerUnsafe(work, item)
    },
    onFlushed: () => {
      for (const waiter of flushWaiters) {
        if (queue.isFlushedThrough(waiter.epoch)) {
          flushWaiters.delete(waiter)
          waiter.resume()
        }
      }
    }
  })
  const failures = makeFailureLog()

  // Counted in plain numbers on the hot path, applied to the metrics after every request and flush.
  const syncMetrics = () => {
    const counters = queue.drainCounters()
    if (counters.total > 0) Metrics.spansTotal.updateUnsafe(counters.total, context)
    if (counters.dropped > 0) Metrics.spansDropped.updateUnsafe(counters.dropped, context)
    if (counters.exported > 0) Metrics.spansExported.updateUnsafe(counters.exported, context)
    if (counters.failed > 0) Metrics.spansFailed.updateUnsafe(counters.failed, context)
    Metrics.queueSize.updateUnsafe(queue.queuedSpans, context)
  }

  const logNotices = Effect.suspend(() =>
    Effect.forEach(
      queue.takeNotices(),
      (notice) => notice.isFailure ? failures.log(notice.message) : Effect.logWarning(notice.message),
      { discard: true }
    )
  )

  // A receiver that is not there (yet) is said at most once per log interval, while it is retried.
  const onRetry = (failure: OtlpRequest.RetryableFailure) =>
    failure.connection
      ? failures.log(`user tracing: the receiver is not reachable (${failure.detail}); retrying until it answers`)
      : Effect.void

  const send = (chunk: Chunk): Effect.Effect<void> =>
    Effect.suspend(() =>
      OtlpRequest.exportRequest(
        transport,
        output,
        closing,
        chunk.group.header,
        queue.body(chunk),
        chunk.count,
        onRetry
      )
    ).pipe(
      Effect.flatMap((outcome) => {
        // Answered: the chunk's buffer is kept for another chunk once nothing the transport holds reads it.
        queue.finish(chunk, outcome.exported, outcome.failed, transport.released(chunk.buf))
        return outcome.message === undefined ? Effect.void : failures.log(outcome.message)
      }),
      // Interrupted mid-export (shutdown timeout) or a defect: what was not finished is lost, and counted.
      Effect.onExit(() =>
        Effect.sync(() => {
          queue.finish(chunk, 0, chunk.count)
          syncMetrics()
        })
      ),
      // A defect in one request (a bug) costs that chunk, never the worker: export must go on.
      Effect.catchDefect((defect) => failures.log(`user tracing: export of a batch failed: ${String(defect)}`))
    )

  // A chunk still filling gets one more turn of the event loop (the end of the application's
  // current stretch) before it is begun, so that a request carries more than one stretch's spans.
  const nextTurn = Effect.callback<void>((resume) => {
    const handle = setImmediate(() => resume(Effect.void))
    return Effect.sync(() => clearImmediate(handle))
  })
  const begin = (chunk: Chunk): Effect.Effect<boolean> => Effect.sync(() => queue.begin(chunk))
  // The next chunk to send: one handed off and still queued (a chunk dropped to make room for
  // another group's spans is skipped); notices handed off on the way are logged.
  const nextChunk: Effect.Effect<Chunk> = Effect.flatMap(Queue.take(work), (item): Effect.Effect<Chunk> => {
    if (item === NOTICES) return Effect.andThen(logNotices, nextChunk)
    const started = item.sealed ? begin(item) : Effect.andThen(nextTurn, begin(item))
    return Effect.flatMap(started, (begun) => begun ? Effect.succeed(item) : nextChunk)
  })
  // A worker keeps up to REQUESTS_PER_WORKER requests in flight (one at a time, it would wait for
  // the event loop between an answer and the next request: undici checks a reused connection a
  // turn later). Each of its lanes takes the next chunk and sends it, one after another: the lanes
  // are the worker's children, forked once (interrupting the worker interrupts them), so that a
  // request makes no fiber of its own.
  const lane = Effect.forever(Effect.flatMap(nextChunk, send))
  const worker = Effect.all(Array.from({ length: REQUESTS_PER_WORKER }, () => lane), {
    concurrency: "unbounded",
    discard: true
  })

  const forceFlush: Effect.Effect<void> = Effect.suspend(() => {
    const epoch = queue.flushPoint()
    if (epoch === undefined) return Effect.void
    return Effect.callback<void>((resume) => {
      if (queue.isFlushedThrough(epoch)) return resume(Effect.void)
      const waiter = { epoch, resume: () => resume(Effect.void) }
      flushWaiters.add(waiter)
      return Effect.sync(() => flushWaiters.delete(waiter))
    })
  }).pipe(Effect.ensuring(Effect.sync(syncMetrics)))

  /** One line at close when spans were lost since start: the totals, and the failure lines not logged. */
  const closingReport = (timedOut: boolean, leftover: Leftover) =>
    Effect.suspend(() => {
      const totals = queue.lifetime()
      const lost = totals.dropped + totals.failed
      const suppressed = failures.takeSuppressed()
      if (lost === 0) return Effect.void
      const parts = [
        `user tracing: closed with ${lost} of ${totals.total} spans lost since start: ${totals.dropped} dropped ` +
        `(a queue bound reached), ${totals.failed} failed`
      ]
      if (timedOut) {
        parts.push(
          `the shutdown timeout was reached with ${leftover.queuedSpans} spans queued and ` +
            `${leftover.inFlightRequests} requests (${leftover.inFlightSpans} spans) in flight`
        )
      }
      if (suppressed > 0) parts.push(`${suppressed} failure log lines were suppressed by the rate limit`)
      return Effect.logWarning(parts.join("; "))
    })

  // The exporter's own work runs on the real clock, with no tracer (no span in either pipeline).
  const isolate = <A, E, R>(self: Effect.Effect<A, E, R>) =>
    self.pipe(
      Effect.withTracerEnabled(false),
      Effect.provideService(Clock.Clock, realClock),
      Effect.annotateLogs({ package: "effect-user-tracing", module: "UserTraceExporter" })
    )

  for (let i = 0; i < output.numTasks; i++) {
    yield* Effect.forkIn(isolate(worker), scope)
  }
  // While no request ends (the receiver away or stalled), the metrics still follow the queue. A
  // Node timer, unreferenced: it never keeps the process alive.
  const refresh = setInterval(syncMetrics, METRICS_REFRESH_MILLIS)
  refresh.unref()
  yield* Scope.addFinalizer(scope, Effect.sync(() => clearInterval(refresh)))

  // Added after the workers were forked, so it runs before they are interrupted.
  yield* Scope.addFinalizer(
    scope,
    isolate(
      Clock.currentTimeMillis.pipe(
        Effect.flatMap((now) => Deferred.succeed(closing, now + Duration.toMillis(settings.shutdownTimeout))),
        // Finalizers run uninterruptibly: the flush is made interruptible so that the timeout ends it.
        Effect.andThen(Effect.interruptible(forceFlush)),
        Effect.timeoutOption(settings.shutdownTimeout),
        Effect.flatMap((flushed) => {
          const leftover = queue.close()
          syncMetrics()
          return Effect.andThen(logNotices, closingReport(Option.isNone(flushed), leftover))
        })
      )
    )
  )

  const exporter: Exporter = { export: (span) => queue.add(span), forceFlush: isolate(forceFlush) }
  return exporter
})

/** The clock of a fiber that sees no `TestClock`: the exporter's timeouts and backoff are real time. */
const realClock: Clock.Clock = Clock.Clock.defaultValue()
