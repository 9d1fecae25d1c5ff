// The Effect 3 line's export request (src/internal/export/request.ts) on effect 4.
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

const isTransientStatus = (status: number): boolean =>
  status === 429 || status === 502 || status === 503 || status === 504

/** Exponential backoff with jitter in [50%, 100%] of the step. */
const backoff = (attempt: number): number =>
  Math.min(BACKOFF_MAX_MILLIS, BACKOFF_BASE_MILLIS * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)

/**
 * Waits `millis` before the next attempt; `false` when there is no time left for one. Once the
 * layer is closing (`closing` holds the shutdown deadline, even if it completes mid-wait), the
 * wait ends by half the remaining budget, leaving the other half for the attempt itself: a long
 * `Retry-After` must not outlast the drain.
 */
const waitBeforeRetry = (millis: number, closing: Deferred.Deferred<number>): Effect.Effect<boolean> =>
  Effect.suspend(() => {
    const wakeAt = Date.now() + millis
    return Effect.race(Effect.as(Effect.sleep(millis), undefined), Deferred.await(closing)).pipe(
      Effect.flatMap((deadline) => {
        if (deadline === undefined) return Effect.succeed(true)
        const now = Date.now()
        const left = deadline - now
        if (left <= 0) return Effect.succeed(false)
        return Effect.as(Effect.sleep(Math.max(0, Math.min(wakeAt - now, left / 2))), true)
      })
    )
  })

type Attempt =
  | { readonly _tag: "Done"; readonly outcome: RequestOutcome }
  | { readonly _tag: "Retry"; readonly delayMillis: number | undefined; readonly message: string }

const done = (exported: number, failed: number, message?: string): Attempt => ({
  _tag: "Done",
  outcome: { exported, failed, message }
})

/** A 2xx: everything exported unless an OTLP `partial_success` says some spans were rejected. */
const accepted = (answer: Answer, spans: number): Effect.Effect<Attempt> => {
  if (answer.body.byteLength === 0) return Effect.succeed(done(spans, 0))
  const json = answer.contentType?.includes("json") === true
  if (!json && answer.contentType?.includes("protobuf") !== true) return Effect.succeed(done(spans, 0))
  // Loaded on the first non-empty answer only: most receivers answer a full success with no body.
  return Effect.promise(() => import("../../../../src/internal/sink/proto.js")).pipe(
    Effect.map(({ decodeTraceResponse }) => {
      let rejected: number
      let reason: string
      try {
        const response = decodeTraceResponse(answer.body, json)
        rejected = Math.min(spans, Math.max(0, response.rejectedSpans))
        reason = response.errorMessage
      } catch {
        // The receiver said 2xx: the spans are its, whatever the body.
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

const judge = (answer: Answer, body: Uint8Array, spans: number): Effect.Effect<Attempt> => {
  if (answer.status >= 200 && answer.status < 300) return accepted(answer, spans)
  return Effect.map(bodyText(answer), (text): Attempt => {
    const message = `user tracing: export of ${spans} spans failed: the receiver answered ${answer.status}${text}`
    if (isTransientStatus(answer.status)) {
      return { _tag: "Retry", delayMillis: parseRetryAfter(answer.retryAfter, Date.now()), message }
    }
    if (answer.status === 413) {
      return done(
        0,
        spans,
        `${message} (a body of ${body.byteLength} bytes is too large for it: lower output.*.maxBatchBytes)`
      )
    }
    return done(0, spans, message)
  })
}

const fromError = (error: ExportRequestError, spans: number): Attempt => {
  const message = `user tracing: export of ${spans} spans failed: ${
    error.reason === "malformed"
      ? `the receiver's answer could not be read: ${forLog(error.message)}`
      : forLog(error.message)
  }`
  // A timeout or an unreadable answer may follow a receiver that has the data: not retried.
  return error.reason === "transport" ? { _tag: "Retry", delayMillis: undefined, message } : done(0, spans, message)
}

/**
 * @internal
 * Exports one routing group's encoded spans: one POST, retried on transient failures (connect
 * errors, resets, 429, 502, 503, 504) up to `maxAttempts` with backoff and jitter or as
 * `Retry-After` says, never waiting past the shutdown budget once `closing` completes. Never fails:
 * the outcome counts the spans exported and failed, and carries what to log.
 */
export const exportRequest = (
  transport: Transport,
  output: OutputCommon,
  closing: Deferred.Deferred<number>,
  routingHeaderValue: string,
  body: Uint8Array,
  spans: number
): Effect.Effect<RequestOutcome> =>
  Effect.flatMap(transport.prepare(body), (prepared) => {
    const attempt = (n: number): Effect.Effect<RequestOutcome> =>
      transport.send(routingHeaderValue, prepared).pipe(
        Effect.matchEffect({
          onFailure: (error) => Effect.succeed(fromError(error, spans)),
          onSuccess: (answer) => judge(answer, prepared, spans)
        }),
        Effect.flatMap((result) => {
          if (result._tag === "Done") return Effect.succeed(result.outcome)
          const giveUp: RequestOutcome = { exported: 0, failed: spans, message: result.message }
          if (n >= output.maxAttempts) return Effect.succeed(giveUp)
          return Effect.flatMap(
            waitBeforeRetry(result.delayMillis ?? backoff(n), closing),
            (go) => go ? attempt(n + 1) : Effect.succeed(giveUp)
          )
        })
      )
    return attempt(1)
  })

/** @internal the shutdown deadline (epoch milliseconds) to hand to `exportRequest` once closing starts */
export const closingDeadline = (shutdownTimeout: Duration.Duration): number =>
  Date.now() + Duration.toMillis(shutdownTimeout)
