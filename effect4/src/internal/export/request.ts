// The Effect 3 line's export request (src/internal/export/request.ts) on effect 4: the same
// verdicts and retry policy; the retries are a loop here, effect 4's `Schedule` having no
// `union`, `reduce` or jitter bounds to say them with.
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { forLog } from "../../../../src/internal/shared/text.js"
import type { OutputCommon } from "../../UserTracingSettings.js"
import type { Answer, ExportRequestError, Transport } from "./transport.js"

/** @internal what became of one request's spans, and what to log about it (already sanitized) */
export interface RequestOutcome {
  readonly exported: number
  readonly failed: number
  readonly message: string | undefined
}

const BACKOFF_BASE_MILLIS = 100
const BACKOFF_MAX_MILLIS = 5_000
const MAX_RETRY_AFTER_MILLIS = 60_000

/** @internal `Retry-After` as delay-seconds or an HTTP date, capped at a minute */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  const millis = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now
  return Number.isFinite(millis) ? Math.min(Math.max(millis, 0), MAX_RETRY_AFTER_MILLIS) : undefined
}

/**
 * The answer's text for the log: the message of the `google.rpc.Status` an OTLP receiver answers a
 * failure with (protobuf or JSON), else the body as text.
 */
const bodyText = (answer: Answer): Effect.Effect<string> => {
  if (answer.body.byteLength === 0) return Effect.succeed("")
  const raw = () => `: ${forLog(Buffer.from(answer.body).toString("utf8"))}`
  const json = answer.contentType?.includes("json") === true
  if (!json && answer.contentType?.includes("protobuf") !== true) return Effect.succeed(raw())
  return Effect.promise(() => import("../../../../src/internal/sink/proto.js")).pipe(
    Effect.map(({ decodeStatusMessage }) => {
      try {
        const message = decodeStatusMessage(answer.body, json)
        return message === "" ? raw() : `: ${forLog(message)}`
      } catch {
        return raw()
      }
    })
  )
}

/**
 * @internal
 * Why one attempt did not deliver, when another may: connect errors and resets before an answer
 * (`connection`: the receiver is not there, or not yet), 429, 502, 503 and 504.
 */
export class RetryableFailure extends Data.TaggedError("RetryableFailure")<{
  /** What to log if it is the last one. */
  readonly message: string
  /** What went wrong, sanitized. */
  readonly detail: string
  readonly connection: boolean
  readonly retryAfterMillis: number | undefined
}> {}

const isTransientStatus = (status: number): boolean =>
  status === 429 || status === 502 || status === 503 || status === 504

const done = (exported: number, failed: number, message?: string): RequestOutcome => ({ exported, failed, message })

const isOtlpContentType = (contentType: string | undefined): "json" | "protobuf" | undefined =>
  contentType?.includes("json") === true
    ? "json"
    : contentType?.includes("protobuf") === true
    ? "protobuf"
    : undefined

/**
 * A 2xx: everything exported unless an OTLP `partial_success` says some spans were rejected. A
 * body that is neither protobuf nor JSON is not an OTLP receiver's (a proxy's page, say): failed.
 */
const accepted = (answer: Answer, spans: number): Effect.Effect<RequestOutcome> => {
  if (answer.body.byteLength === 0) return Effect.succeed(done(spans, 0))
  const format = isOtlpContentType(answer.contentType)
  if (format === undefined) {
    return Effect.succeed(done(
      0,
      spans,
      `user tracing: export of ${spans} spans failed: the receiver answered ${answer.status} with content type ${
        answer.contentType === undefined ? "(none)" : forLog(answer.contentType)
      }, which is not an OTLP answer (is a proxy or another server listening there?)`
    ))
  }
  // Loaded on the first non-empty answer only: most receivers answer a full success with no body.
  return Effect.promise(() => import("../../../../src/internal/sink/proto.js")).pipe(
    Effect.map(({ decodeTraceResponse }) => {
      let rejected: number
      let reason: string
      try {
        const response = decodeTraceResponse(answer.body, format === "json")
        rejected = Math.min(spans, Math.max(0, response.rejectedSpans))
        reason = response.errorMessage
      } catch {
        // The receiver said 2xx in an OTLP content type: the spans are its, whatever the body.
        return done(spans, 0)
      }
      if (rejected === 0) return done(spans, 0)
      return done(
        spans - rejected,
        rejected,
        `user tracing: the receiver rejected ${rejected} of ${spans} spans${reason === "" ? "" : `: ${forLog(reason)}`}`
      )
    })
  )
}

/** The receiver's answer: the outcome, or a failure worth another attempt. */
const judge = (answer: Answer, body: Uint8Array, spans: number): Effect.Effect<RequestOutcome, RetryableFailure> => {
  if (answer.status >= 200 && answer.status < 300) return accepted(answer, spans)
  return Effect.flatMap(Effect.zip(bodyText(answer), Clock.currentTimeMillis), ([text, now]) => {
    const detail = `the receiver answered ${answer.status}${text}`
    const message = `user tracing: export of ${spans} spans failed: ${detail}`
    if (isTransientStatus(answer.status)) {
      return Effect.fail(
        new RetryableFailure({
          message,
          detail,
          connection: false,
          retryAfterMillis: parseRetryAfter(answer.retryAfter, now)
        })
      )
    }
    if (answer.status === 413) {
      return Effect.succeed(done(
        0,
        spans,
        `${message} (a body of ${body.byteLength} bytes is too large for it: lower output.*.maxBatchBytes)`
      ))
    }
    return Effect.succeed(done(0, spans, message))
  })
}

/** No usable answer: a connection failure is worth another attempt; the rest may have reached the receiver. */
const fromError = (error: ExportRequestError, spans: number): Effect.Effect<RequestOutcome, RetryableFailure> => {
  const detail = error.reason === "malformed"
    ? `the receiver's answer could not be read: ${forLog(error.message)}`
    : forLog(error.message)
  const message = `user tracing: export of ${spans} spans failed: ${detail}`
  return error.reason === "transport"
    ? Effect.fail(new RetryableFailure({ message, detail, connection: true, retryAfterMillis: undefined }))
    : Effect.succeed(done(0, spans, message))
}

/** Exponential from 100 ms, at most 5 s, each wait jittered to 50-100% of its step (`n` from 1). */
const backoff = (n: number): number =>
  Math.min(BACKOFF_MAX_MILLIS, BACKOFF_BASE_MILLIS * 2 ** (n - 1)) * (0.5 + Math.random() / 2)

/** Less time than this left before the shutdown deadline (after the wait) is not worth an attempt. */
const MIN_ATTEMPT_MILLIS = 10

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
        const half = (deadline - start) / 2
        return half < MIN_ATTEMPT_MILLIS
          ? Effect.succeed(false)
          : Effect.as(Effect.sleep(Duration.millis(Math.min(millis, half))), true)
      })
    }
    const wakeAt = start + millis
    return Effect.raceFirst(
      Effect.as(Effect.sleep(Duration.millis(millis)), true),
      Effect.flatMap(Deferred.await(closing), (deadline) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const half = (deadline - now) / 2
          return half < MIN_ATTEMPT_MILLIS
            ? Effect.succeed(false)
            : Effect.as(Effect.sleep(Duration.millis(Math.max(0, Math.min(wakeAt - now, half)))), true)
        }))
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
        onFailure: (error) => fromError(error, spans),
        onSuccess: (answer) => judge(answer, prepared, spans)
      })
    )
    // `failures`: every retryable failure so far (the backoff step); `answered`: those the receiver gave.
    const loop = (failures: number, answered: number): Effect.Effect<RequestOutcome> =>
      Effect.catch(attempt, (failure) => {
        const answeredNow = failure.connection ? answered : answered + 1
        const giveUp = Effect.succeed(done(0, spans, failure.message))
        if (!failure.connection && answeredNow >= output.maxAttempts) return giveUp
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
