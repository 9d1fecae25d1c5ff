/**
 * @internal
 * The Effect 4 line's export request: the verdicts and the retry policy's rules of the shared core
 * (src/internal/export/requestCore.ts), retried with an effect 4 `Schedule`.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as Core from "../../../../src/internal/export/requestCore.js"
import type { RequestOutcome, RetryableFailureFields } from "../../../../src/internal/export/requestCore.js"
import type { OutputCommon } from "../../UserTracingSettings.js"
import type { Answer, Transport } from "./transport.js"

export type { RequestOutcome } from "../../../../src/internal/export/requestCore.js"

/** @internal why one attempt did not deliver, when another may (`RetryableFailureFields`) */
export class RetryableFailure extends Data.TaggedError("RetryableFailure")<RetryableFailureFields> {}

const fromVerdict = (verdict: Core.Verdict): Effect.Effect<RequestOutcome, RetryableFailure> =>
  "outcome" in verdict ? Effect.succeed(verdict.outcome) : Effect.fail(new RetryableFailure(verdict.retry))

/** The receiver's answer: the outcome, or a failure worth another attempt. */
const judge = (answer: Answer, body: Uint8Array, spans: number): Effect.Effect<RequestOutcome, RetryableFailure> =>
  Core.needsDecoders(answer)
    ? Effect.flatMap(
      Effect.zip(Effect.promise(Core.loadDecoders), Clock.currentTimeMillis),
      ([decoders, now]) => fromVerdict(Core.judgeAnswer(answer, body.byteLength, spans, now, decoders))
    )
    : Effect.clockWith((clock) =>
      fromVerdict(Core.judgeAnswer(answer, body.byteLength, spans, clock.currentTimeMillisUnsafe(), undefined))
    )

/**
 * Each failure's count of answered failures before it: the receiver's answers use up `maxAttempts`,
 * connection failures do not. A count per run of the schedule.
 */
const answeredBefore: Schedule.Schedule<number, RetryableFailure> = Schedule.fromStep(Effect.sync(() => {
  let answered = 0
  return (_now: number, failure: RetryableFailure) => {
    const before = answered
    if (!failure.connection) answered++
    return Effect.succeed([before, Duration.zero] as [number, Duration.Duration])
  }
}))

/** Exponential from the base step, at most the longest, each wait jittered. */
const backoff: Schedule.Schedule<Duration.Duration, RetryableFailure> = Schedule.min([
  Schedule.exponential(Core.BACKOFF_BASE_MILLIS),
  Schedule.spaced(Core.BACKOFF_MAX_MILLIS)
]).pipe(
  Schedule.modifyDelay(({ duration }) =>
    Effect.map(
      Random.nextBetween(Core.BACKOFF_JITTER.min, Core.BACKOFF_JITTER.max),
      (share) => Duration.times(duration, share)
    )
  )
)

/** Whether another attempt fits before the deadline: the wait takes at most half the time left. */
const beforeDeadline = (closing: Deferred.Deferred<number>): Effect.Effect<boolean> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    if (!Deferred.isDoneUnsafe(closing)) return Effect.succeed(true)
    return Effect.map(Deferred.await(closing), (deadline) => Core.attemptFits(deadline, now))
  })

/**
 * @internal
 * When to try a request again: with backoff, or after the receiver's `Retry-After`. Answers the
 * receiver gave (429, 502, 503, 504) use up `maxAttempts`, the first attempt included; connection
 * failures do not (a receiver that starts after the service loses nothing): they are retried
 * until the shutdown deadline. No attempt starts past that deadline.
 */
export const retrySchedule = (
  maxAttempts: number,
  closing: Deferred.Deferred<number>
): Schedule.Schedule<Duration.Duration, RetryableFailure> =>
  Schedule.max([
    answeredBefore.pipe(Schedule.while(({ input, output }) => Core.mayRetry(input, output, maxAttempts))),
    backoff
  ]).pipe(
    Schedule.modifyDelay(({ duration, input }) =>
      Effect.succeed(input.retryAfterMillis === undefined ? duration : Duration.millis(input.retryAfterMillis))
    ),
    Schedule.while(() => beforeDeadline(closing))
  )

/**
 * The clock of the waits between attempts: once the layer is closing (`closing` holds the
 * shutdown deadline, even if it completes mid-wait), a wait ends by half the time left, leaving
 * the other half for the attempt itself: a long `Retry-After` must not outlast the drain.
 */
const untilClosing = (clock: Clock.Clock, closing: Deferred.Deferred<number>): Clock.Clock => ({
  currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe(),
  currentTimeMillis: clock.currentTimeMillis,
  currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe(),
  currentTimeNanos: clock.currentTimeNanos,
  monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
  monotonicTimeNanos: clock.monotonicTimeNanos,
  sleep: (duration) =>
    Effect.suspend(() => {
      const wakeAt = clock.currentTimeMillisUnsafe() + Duration.toMillis(duration)
      return Effect.raceFirst(
        clock.sleep(duration),
        Effect.flatMap(Deferred.await(closing), (deadline) => {
          const now = clock.currentTimeMillisUnsafe()
          return clock.sleep(Duration.millis(Core.waitWhileClosing(wakeAt, deadline, now)))
        })
      )
    })
})

/**
 * @internal
 * Exports one routing group's encoded spans: one POST, retried by `retrySchedule`; `onRetry` hears
 * of each retryable failure. Never fails: the outcome counts the spans exported and failed, and
 * carries what to log (already sanitized).
 */
export const exportRequest = (
  transport: Transport,
  output: OutputCommon,
  closing: Deferred.Deferred<number>,
  routingHeaderValue: string,
  body: Uint8Array,
  spans: number,
  onRetry: (failure: RetryableFailure) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<RequestOutcome> =>
  Effect.flatMap(transport.prepare(body), (prepared) => {
    const attempt = transport.send(routingHeaderValue, prepared).pipe(
      Effect.matchEffect({
        onFailure: (error) => fromVerdict(Core.judgeFailure(error, spans)),
        onSuccess: (answer) => judge(answer, prepared, spans)
      }),
      Effect.tapError(onRetry)
    )
    // The retries are set up only once an attempt has failed: a request answered at once (the
    // common case) builds no schedule and changes no clock. The schedule then hears that first
    // failure as its first input, as `Effect.retry` around the first attempt would.
    const retried = (first: RetryableFailure): Effect.Effect<RequestOutcome> => {
      let replayed = false
      const again = Effect.suspend(() => {
        if (replayed) return attempt
        replayed = true
        return Effect.fail(first)
      })
      return Effect.clockWith((clock) =>
        Effect.retry(again, retrySchedule(output.maxAttempts, closing)).pipe(
          Effect.provideService(Clock.Clock, untilClosing(clock, closing))
        )
      ).pipe(
        Effect.catch((failure) => Effect.succeed(Core.givenUp(spans, failure.message)))
      )
    }
    return Effect.catch(attempt, retried)
  })
