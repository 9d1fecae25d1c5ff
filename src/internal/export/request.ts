/**
 * @internal
 * The Effect 3 line's export request: the verdicts of the shared core (`requestCore.ts`), retried
 * with a `Schedule`.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { OutputCommon } from "../../UserTracingSettings.js"
import * as Core from "./requestCore.js"
import type { RequestOutcome, RetryableFailureFields } from "./requestCore.js"
import type { Answer, Transport } from "./transport.js"

export type { RequestOutcome } from "./requestCore.js"
export { parseRetryAfter } from "./requestCore.js"

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
      fromVerdict(Core.judgeAnswer(answer, body.byteLength, spans, clock.unsafeCurrentTimeMillis(), undefined))
    )

/** Exponential from the base step, at most the longest, each wait jittered. */
const backoff = Schedule.exponential(Core.BACKOFF_BASE_MILLIS).pipe(
  Schedule.union(Schedule.spaced(Core.BACKOFF_MAX_MILLIS)),
  Schedule.jitteredWith(Core.BACKOFF_JITTER)
)

/** Whether another attempt fits before the deadline: the wait takes at most half the time left. */
const beforeDeadline = (closing: Deferred.Deferred<number>): Effect.Effect<boolean> =>
  Effect.flatMap(Deferred.poll(closing), (deadline) =>
    Option.match(deadline, {
      onNone: () => Effect.succeed(true),
      onSome: (deadline) =>
        Effect.map(Effect.zip(deadline, Clock.currentTimeMillis), ([at, now]) => Core.attemptFits(at, now))
    }))

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
): Schedule.Schedule<unknown, RetryableFailure> =>
  Schedule.identity<RetryableFailure>().pipe(
    // The answered failures before this one, beside this one.
    Schedule.intersect(
      Schedule.reduce(
        Schedule.identity<RetryableFailure>(),
        0,
        (answered, failure) => failure.connection ? answered : answered + 1
      )
    ),
    Schedule.whileOutput(([failure, answeredBefore]) => Core.mayRetry(failure, answeredBefore, maxAttempts)),
    Schedule.intersect(backoff),
    Schedule.modifyDelay(([[failure]], delay) =>
      failure.retryAfterMillis === undefined ? delay : Duration.millis(failure.retryAfterMillis)
    ),
    Schedule.checkEffect(() => beforeDeadline(closing))
  )

/**
 * The clock of the waits between attempts: once the layer is closing (`closing` holds the
 * shutdown deadline, even if it completes mid-wait), a wait ends by half the time left, leaving
 * the other half for the attempt itself: a long `Retry-After` must not outlast the drain.
 */
const untilClosing = (clock: Clock.Clock, closing: Deferred.Deferred<number>): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => clock.unsafeCurrentTimeMillis(),
  unsafeCurrentTimeNanos: () => clock.unsafeCurrentTimeNanos(),
  currentTimeMillis: clock.currentTimeMillis,
  currentTimeNanos: clock.currentTimeNanos,
  sleep: (duration) =>
    Effect.suspend(() => {
      const wakeAt = clock.unsafeCurrentTimeMillis() + Duration.toMillis(duration)
      return Effect.raceFirst(
        clock.sleep(duration),
        Effect.flatMap(Deferred.await(closing), (deadline) => {
          const now = clock.unsafeCurrentTimeMillis()
          return clock.sleep(Duration.millis(Core.waitWhileClosing(wakeAt, deadline, now)))
        })
      )
    })
})

/**
 * @internal
 * Exports one routing group's encoded spans: one POST, retried by `retrySchedule`; `onRetry` hears
 * of each connection failure that is retried. Never fails: the outcome counts the spans exported
 * and failed, and carries what to log (already sanitized).
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
      })
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
      const schedule = retrySchedule(output.maxAttempts, closing).pipe(Schedule.tapInput(onRetry))
      return Effect.clockWith((clock) =>
        Effect.retry(again, schedule).pipe(Effect.withClock(untilClosing(clock, closing)))
      ).pipe(
        Effect.catchAll((failure) => Effect.succeed(Core.givenUp(spans, failure.message)))
      )
    }
    return Effect.catchAll(attempt, retried)
  })
