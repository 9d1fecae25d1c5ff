/**
 * @internal
 * The Effect 4 line's export request: the verdicts and the retry policy's parameters of the shared
 * core (src/internal/export/requestCore.ts); the retries are a loop here, effect 4's `Schedule`
 * having no `union`, `reduce` or jitter bounds to say them with.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
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
  Effect.flatMap(
    Effect.zip(
      Core.needsDecoders(answer) ? Effect.promise(Core.loadDecoders) : Effect.succeed(undefined),
      Clock.currentTimeMillis
    ),
    ([decoders, now]) => fromVerdict(Core.judgeAnswer(answer, body.byteLength, spans, now, decoders))
  )

/** Exponential from the base step, at most the longest, each wait jittered (`n` from 1). */
const backoff = (n: number): number =>
  Math.min(Core.BACKOFF_MAX_MILLIS, Core.BACKOFF_BASE_MILLIS * 2 ** (n - 1)) *
  (Core.BACKOFF_JITTER.min + Math.random() * (Core.BACKOFF_JITTER.max - Core.BACKOFF_JITTER.min))

/**
 * Waits `millis` before the next attempt; `false` when no attempt fits before the shutdown
 * deadline. Once the layer is closing (`closing` holds the deadline, even if it completes
 * mid-wait), the wait ends by half the time left, leaving the other half for the attempt itself:
 * a long `Retry-After` must not outlast the drain.
 */
const waitBeforeRetry = (millis: number, closing: Deferred.Deferred<number>): Effect.Effect<boolean> =>
  Effect.flatMap(Clock.currentTimeMillis, (start) => {
    // Closing already: no attempt unless half the time left is worth one; the wait takes at most that half.
    if (Deferred.isDoneUnsafe(closing)) {
      return Effect.flatMap(Deferred.await(closing), (deadline) => {
        return !Core.attemptFits(deadline, start)
          ? Effect.succeed(false)
          : Effect.as(Effect.sleep(Duration.millis(Core.waitWhileClosing(start + millis, deadline, start))), true)
      })
    }
    const wakeAt = start + millis
    return Effect.raceFirst(
      Effect.as(Effect.sleep(Duration.millis(millis)), true),
      Effect.flatMap(
        Deferred.await(closing),
        (deadline) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            !Core.attemptFits(deadline, now)
              ? Effect.succeed(false)
              : Effect.as(Effect.sleep(Duration.millis(Core.waitWhileClosing(wakeAt, deadline, now))), true))
      )
    )
  })

/**
 * @internal
 * Exports one routing group's encoded spans: one POST, tried again after a `RetryableFailure` with
 * backoff or after the receiver's `Retry-After`. Answers the receiver gave (429, 502, 503, 504)
 * use up `maxAttempts`, the first attempt included; connection failures do not (a receiver that
 * starts after the service loses nothing): they are retried until the shutdown deadline. No
 * attempt starts past that deadline. `onRetry` hears of each failure that is retried. Never fails:
 * the outcome counts the spans exported and failed, and carries what to log (already sanitized).
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
    // `failures`: every retryable failure so far (the backoff step); `answered`: those the receiver gave.
    const loop = (failures: number, answered: number): Effect.Effect<RequestOutcome> =>
      Effect.catch(attempt, (failure) => {
        const answeredNow = failure.connection ? answered : answered + 1
        const giveUp = Effect.succeed(Core.givenUp(spans, failure.message))
        if (!Core.mayRetry(failure, answered, output.maxAttempts)) return giveUp
        return Effect.andThen(
          onRetry(failure),
          Effect.flatMap(
            waitBeforeRetry(failure.retryAfterMillis ?? backoff(failures + 1), closing),
            (go) => go ? loop(failures + 1, answeredNow) : giveUp
          )
        )
      })
    return loop(0, 0)
  })
