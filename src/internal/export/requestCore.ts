/**
 * @internal
 * What one export attempt came to, in plain code (no effect module), shared by the Effect 3 and
 * the Effect 4 lines: the verdict on an answer or a failed send (done, with what to log, or worth
 * another attempt, after what delay), and the parameters of the retry policy. Each line's
 * `request.ts` says the retries with its own `Schedule` and effects.
 */
import { forLog } from "../shared/text.js"
import type * as Proto from "../sink/proto.js"
import type { Answer, SendFailure } from "./transportCore.js"

/** @internal what became of one request's spans, and what to log about it (already sanitized) */
export interface RequestOutcome {
  readonly exported: number
  readonly failed: number
  readonly message: string | undefined
}

/**
 * @internal
 * Why one attempt did not deliver, when another may: connect errors and resets before an answer
 * (`connection`: the receiver is not there, or not yet), 429, 502, 503 and 504.
 */
export interface RetryableFailureFields {
  /** What to log if it is the last one. */
  readonly message: string
  /** What went wrong, sanitized. */
  readonly detail: string
  readonly connection: boolean
  /** The delay the receiver asked for (`Retry-After`), capped. */
  readonly retryAfterMillis: number | undefined
}

/** @internal the outcome, or a failure worth another attempt */
export type Verdict = { readonly outcome: RequestOutcome } | { readonly retry: RetryableFailureFields }

/** @internal the first wait between attempts, before jitter; each next one doubles */
export const BACKOFF_BASE_MILLIS = 100
/** @internal the longest wait between attempts, before jitter */
export const BACKOFF_MAX_MILLIS = 5_000
/** @internal each wait is jittered to this share of its step */
export const BACKOFF_JITTER = { min: 0.5, max: 1 } as const
/** @internal less time than this left before the shutdown deadline (after the wait) is not worth an attempt */
export const MIN_ATTEMPT_MILLIS = 10

const MAX_RETRY_AFTER_MILLIS = 60_000

/** @internal `Retry-After` as delay-seconds or an HTTP date, capped at a minute */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  const millis = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now
  return Number.isFinite(millis) ? Math.min(Math.max(millis, 0), MAX_RETRY_AFTER_MILLIS) : undefined
}

/**
 * @internal
 * Whether a retryable failure gets another attempt: a connection failure always (a receiver that
 * starts after the service loses nothing; the shutdown deadline bounds it), an answered one while
 * the answered attempts, this one included, are fewer than `maxAttempts`.
 */
export const mayRetry = (failure: RetryableFailureFields, answeredBefore: number, maxAttempts: number): boolean =>
  failure.connection || answeredBefore + 1 < maxAttempts

/** @internal whether an attempt fits before the shutdown `deadline`: the wait takes at most half the time left */
export const attemptFits = (deadline: number, now: number): boolean => (deadline - now) / 2 >= MIN_ATTEMPT_MILLIS

/**
 * @internal
 * What is left of a wait meant to end at `wakeAt` once the layer is closing: it ends by half the
 * time left before the `deadline`, leaving the other half for the attempt itself (a long
 * `Retry-After` must not outlast the drain).
 */
export const waitWhileClosing = (wakeAt: number, deadline: number, now: number): number =>
  Math.max(0, Math.min(wakeAt - now, (deadline - now) / 2))

/** @internal the receiver's decoders of answers, loaded when an answer has a body to read */
export interface AnswerDecoders {
  readonly decodeStatusMessage: typeof Proto.decodeStatusMessage
  readonly decodeTraceResponse: typeof Proto.decodeTraceResponse
}

/** @internal loads the decoders; most receivers answer a full success with no body, so most runs never do */
export const loadDecoders = (): Promise<AnswerDecoders> => import("../sink/proto.js")

const otlpFormat = (contentType: string | undefined): "json" | "protobuf" | undefined =>
  contentType?.includes("json") === true
    ? "json"
    : contentType?.includes("protobuf") === true
    ? "protobuf"
    : undefined

/** @internal whether judging `answer` reads its body with the decoders */
export const needsDecoders = (answer: Answer): boolean =>
  answer.body.byteLength > 0 && otlpFormat(answer.contentType) !== undefined

const done = (exported: number, failed: number, message?: string): Verdict => ({
  outcome: { exported, failed, message }
})

/** @internal the outcome of a request whose spans are given up: every one failed, with the last failure's line */
export const givenUp = (spans: number, message: string): RequestOutcome => ({ exported: 0, failed: spans, message })

/**
 * The answer's text for the log: the message of the `google.rpc.Status` an OTLP receiver answers a
 * failure with (protobuf or JSON), else the body as text.
 */
const bodyText = (answer: Answer, decoders: AnswerDecoders | undefined): string => {
  if (answer.body.byteLength === 0) return ""
  const raw = () => `: ${forLog(Buffer.from(answer.body).toString("utf8"))}`
  const format = otlpFormat(answer.contentType)
  if (format === undefined || decoders === undefined) return raw()
  try {
    const message = decoders.decodeStatusMessage(answer.body, format === "json")
    return message === "" ? raw() : `: ${forLog(message)}`
  } catch {
    return raw()
  }
}

/**
 * A 2xx: everything exported unless an OTLP `partial_success` says some spans were rejected. A
 * body that is neither protobuf nor JSON is not an OTLP receiver's (a proxy's page, say): failed.
 */
const accepted = (answer: Answer, spans: number, decoders: AnswerDecoders | undefined): Verdict => {
  if (answer.body.byteLength === 0) return done(spans, 0)
  const format = otlpFormat(answer.contentType)
  if (format === undefined || decoders === undefined) {
    return done(
      0,
      spans,
      `user tracing: export of ${spans} spans failed: the receiver answered ${answer.status} with content type ${
        answer.contentType === undefined ? "(none)" : forLog(answer.contentType)
      }, which is not an OTLP answer (is a proxy or another server listening there?)`
    )
  }
  let rejected: number
  let reason: string
  try {
    const response = decoders.decodeTraceResponse(answer.body, format === "json")
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
}

const isTransientStatus = (status: number): boolean =>
  status === 429 || status === 502 || status === 503 || status === 504

/**
 * @internal
 * The verdict on the receiver's answer to a body of `sentBytes` holding `spans` spans, at `now`;
 * `decoders` must be loaded when `needsDecoders(answer)`.
 */
export const judgeAnswer = (
  answer: Answer,
  sentBytes: number,
  spans: number,
  now: number,
  decoders: AnswerDecoders | undefined
): Verdict => {
  if (answer.status >= 200 && answer.status < 300) return accepted(answer, spans, decoders)
  const detail = `the receiver answered ${answer.status}${bodyText(answer, decoders)}`
  const message = `user tracing: export of ${spans} spans failed: ${detail}`
  if (isTransientStatus(answer.status)) {
    return { retry: { message, detail, connection: false, retryAfterMillis: parseRetryAfter(answer.retryAfter, now) } }
  }
  if (answer.status === 413) {
    return done(
      0,
      spans,
      `${message} (a body of ${sentBytes} bytes is too large for it: lower output.*.maxBatchBytes)`
    )
  }
  return done(0, spans, message)
}

/** @internal no usable answer: a connection failure is worth another attempt; the rest may have reached the receiver */
export const judgeFailure = (failure: SendFailure, spans: number): Verdict => {
  const detail = failure.reason === "malformed"
    ? `the receiver's answer could not be read: ${forLog(failure.message)}`
    : forLog(failure.message)
  const message = `user tracing: export of ${spans} spans failed: ${detail}`
  return failure.reason === "transport"
    ? { retry: { message, detail, connection: true, retryAfterMillis: undefined } }
    : done(0, spans, message)
}
