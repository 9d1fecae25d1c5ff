/**
 * @internal
 * The Effect 4 line's transport: the shared HTTP client (src/internal/export/transportCore.ts) with
 * each request an interruptible effect.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import {
  type Answer,
  type FailureReason,
  gzip,
  makeTransportCore,
  type SendResult
} from "../../../../src/internal/export/transportCore.js"
import type { Output } from "../../UserTracingSettings.js"
import { outputCommon } from "./layer.js"

export type { Answer } from "../../../../src/internal/export/transportCore.js"
export { REQUESTS_PER_WORKER } from "../../../../src/internal/export/transportCore.js"

/** @internal why one export request got no usable answer (`FailureReason` says what each reason means) */
export class ExportRequestError extends Data.TaggedError("ExportRequestError")<{
  readonly reason: FailureReason
  readonly message: string
}> {}

/** @internal */
export interface Transport {
  /** The request body as sent: gzip-compressed when the output says so (done once, before any retry). */
  readonly prepare: (body: Uint8Array) => Effect.Effect<Uint8Array>
  readonly send: (routingHeaderValue: string, body: Uint8Array) => Effect.Effect<Answer, ExportRequestError>
  /** Whether nothing the transport was handed still reads `body`'s memory (see `TransportCore.released`). */
  readonly released: (body: Uint8Array) => boolean
  readonly close: () => void
}

const compress = (body: Uint8Array) =>
  Effect.callback<Uint8Array>((resume) =>
    gzip(body, (compressed, error) => resume(compressed === undefined ? Effect.die(error) : Effect.succeed(compressed)))
  )

const fromResult = (result: SendResult): Effect.Effect<Answer, ExportRequestError> =>
  "answer" in result ? Effect.succeed(result.answer) : Effect.fail(new ExportRequestError(result.failure))

/** @internal the HTTP client of one output (see `makeTransportCore`) */
export const make = (output: Output): Transport => {
  const common = outputCommon(output)
  const core = makeTransportCore({
    target: "otlpUds" in output ? output.otlpUds : output.otlpHttp,
    routingHeaderName: common.routingHeaderName,
    numTasks: common.numTasks,
    requestTimeoutMillis: Duration.toMillis(common.requestTimeout),
    compression: common.compression
  })
  return {
    prepare: core.compressed ? compress : Effect.succeed,
    send: (routingHeaderValue, body) =>
      Effect.callback<Answer, ExportRequestError>((resume) => {
        const cancel = core.send(routingHeaderValue, body, (result) => resume(fromResult(result)))
        return Effect.sync(cancel)
      }),
    released: core.released,
    close: core.close
  }
}
