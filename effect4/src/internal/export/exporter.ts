import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import { makeEnvelope } from "../../../../src/internal/export/encoding.js"
import { type Chunk, ExportQueue } from "../../../../src/internal/export/queue.js"
import type { Exporter } from "../../UserTraceExporter.js"
import type { OutputCommon, Settings } from "../../UserTracingSettings.js"
import * as Metrics from "./metrics.js"
import * as OtlpRequest from "./request.js"
import { REQUESTS_PER_WORKER, type Transport } from "./transport.js"

const LOG_INTERVAL_MILLIS = 10_000

/**
 * @internal
 * The batching exporter, as the Effect 3 line's (src/internal/export/exporter.ts) on effect 4 and
 * the same queue: finishing a span encodes it into its routing group's chunk (`ExportQueue`); each
 * new chunk is offered to an Effect `Queue`, taken by `numTasks` worker fibers forked in the
 * layer's scope, which send it as one request (up to `REQUESTS_PER_WORKER` in flight per worker).
 * A finalizer flushes everything before the layer closes.
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
  const chunks = yield* Queue.unbounded<Chunk>()
  const queue = new ExportQueue({
    envelope: makeEnvelope({ serviceName }),
    maxQueueSize: settings.maxQueueSize,
    maxQueueBytes: settings.maxQueueBytes,
    maxBatchSize: output.maxBatchSize,
    maxBatchBytes: output.maxBatchBytes,
    offer: (chunk) => {
      Queue.offerUnsafe(chunks, chunk)
    }
  })
  const counters = queue.counters
  const flushWaiters = new Set<{ readonly target: number; readonly resume: () => void }>()

  // Counted in plain numbers on the hot path, applied to the metrics after every chunk and flush.
  const syncMetrics = () => {
    if (counters.total > 0) Metrics.spansTotal.updateUnsafe(counters.total, context)
    if (counters.dropped > 0) Metrics.spansDropped.updateUnsafe(counters.dropped, context)
    if (counters.exported > 0) Metrics.spansExported.updateUnsafe(counters.exported, context)
    if (counters.failed > 0) Metrics.spansFailed.updateUnsafe(counters.failed, context)
    counters.total =
      counters.dropped =
      counters.exported =
      counters.failed =
        0
    Metrics.queueSize.updateUnsafe(queue.queuedSpans, context)
  }

  // Chunks are created in id order and `unsettled` keeps that order: its first is the oldest left.
  const isFlushed = (target: number): boolean => {
    const oldest = queue.unsettled.values().next()
    return oldest.done === true || oldest.value.id > target
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
      return Effect.logWarning(suppressed > 0 ? `${message} (${suppressed} similar failures not logged)` : message)
    })

  // A chunk emptied by the fair share was settled when it was; the worker skips it.
  const sendChunk = (chunk: Chunk): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (chunk.settled) return Effect.void
      queue.take(chunk)
      const spans = chunk.count
      const header = chunk.group.header
      if (header === undefined) {
        counters.failed += spans
        queue.settle(chunk)
        return logFailure(`user tracing: rejected ${spans} spans: routing header value is not a legal header value`)
      }
      const request = OtlpRequest.exportRequest(transport, output, closing, header, queue.body(chunk), spans)
      return Effect.flatMap(request, (outcome) => {
        counters.exported += outcome.exported
        counters.failed += outcome.failed
        queue.settle(chunk)
        return outcome.message === undefined ? Effect.void : logFailure(outcome.message)
      })
    }).pipe(
      Effect.onExit(() =>
        Effect.sync(() => {
          // Interrupted mid-export (shutdown timeout) or a defect: what was not settled is lost, and counted.
          if (!chunk.settled) {
            counters.failed += chunk.count
            queue.settle(chunk)
          }
          syncMetrics()
          notifyFlushWaiters()
        })
      ),
      // A defect in one request (a bug) costs that chunk, never the worker: export must go on.
      Effect.catchDefect((defect) => logFailure(`user tracing: export of a batch failed: ${String(defect)}`))
    )

  // A chunk taken while it is still filling gets one more turn of the event loop (the end of the
  // application's current stretch), so that a request carries more than one stretch's spans.
  const nextTurn = Effect.callback<void>((resume) => {
    const handle = setImmediate(() => resume(Effect.void))
    return Effect.sync(() => clearImmediate(handle))
  })
  const sendTaken = (chunk: Chunk) => chunk.sealed ? sendChunk(chunk) : Effect.andThen(nextTurn, sendChunk(chunk))
  // A worker keeps up to REQUESTS_PER_WORKER requests in flight: it takes the next chunk and sends
  // it while the previous request awaits its answer. The sends are the worker's children:
  // interrupting the worker interrupts them.
  const worker = Effect.flatMap(Semaphore.make(REQUESTS_PER_WORKER), (inFlight) =>
    Effect.forever(
      Semaphore.take(inFlight, 1).pipe(
        Effect.andThen(Queue.take(chunks)),
        Effect.flatMap((chunk) =>
          Effect.forkChild(Effect.ensuring(sendTaken(chunk), Semaphore.release(inFlight, 1)), {
            startImmediately: true
          })
        )
      )
    ))

  const forceFlush: Effect.Effect<void> = Effect.suspend(() => {
    const target = queue.lastChunkId
    if (isFlushed(target)) return Effect.void
    return Effect.callback<void>((resume) => {
      const waiter = { target, resume: () => resume(Effect.void) }
      flushWaiters.add(waiter)
      return Effect.sync(() => flushWaiters.delete(waiter))
    })
  }).pipe(Effect.ensuring(Effect.sync(syncMetrics)))

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

  // Added after the workers were forked, so it runs before they are interrupted.
  yield* Scope.addFinalizer(
    scope,
    isolate(
      Effect.suspend(() => Deferred.succeed(closing, OtlpRequest.closingDeadline(settings.shutdownTimeout))).pipe(
        // Finalizers run uninterruptibly: the flush is made interruptible so that the timeout ends it.
        Effect.andThen(Effect.interruptible(forceFlush)),
        Effect.timeoutOption(settings.shutdownTimeout),
        Effect.flatMap((flushed) => {
          let inFlight = 0
          for (const chunk of queue.unsettled) if (chunk.taken) inFlight++
          const lost = queue.close()
          syncMetrics()
          return Option.isNone(flushed)
            ? Effect.logWarning(
              `user tracing: shutdown timeout reached; ${lost} queued spans and ${inFlight} requests in flight lost`
            )
            : Effect.void
        })
      )
    )
  )

  const exporter: Exporter = { export: (span) => queue.add(span), forceFlush: isolate(forceFlush) }
  return exporter
})

/** The clock of a fiber that sees no `TestClock`: the exporter's timeouts and backoff are real time. */
const realClock: Clock.Clock = Clock.Clock.defaultValue()
