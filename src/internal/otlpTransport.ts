import { Data, Duration, Effect } from "effect"
import * as Http from "node:http"
import type { Output } from "../UserTracingSettings.js"

/** @internal why one export request did not succeed */
export class ExportRequestError extends Data.TaggedError("ExportRequestError")<{
  readonly reason: "transport" | "timeout" | "status"
  readonly message: string
  readonly status?: number
  /** From `Retry-After`, when the receiver sent one. */
  readonly retryAfterMillis?: number
}> {
  /** Connect errors, resets and 429/502/503/504 are worth another try; timeouts are not (the receiver may have the data). */
  get transient(): boolean {
    if (this.reason === "transport") return true
    if (this.reason === "timeout") return false
    return this.status === 429 || this.status === 502 || this.status === 503 || this.status === 504
  }
}

/** @internal */
export interface Transport {
  readonly send: (routingHeaderValue: string, body: Uint8Array) => Effect.Effect<void, ExportRequestError>
  readonly close: () => void
}

const MAX_RETRY_AFTER_MILLIS = 60_000

/** @internal `Retry-After` as delay-seconds or an HTTP date */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  const millis = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now
  return Number.isFinite(millis) ? Math.min(Math.max(millis, 0), MAX_RETRY_AFTER_MILLIS) : undefined
}

/** @internal a kept-alive HTTP/1.1 client that POSTs OTLP protobuf bodies to one endpoint */
export const make = (output: Output, numTasks: number): Transport => {
  const common = "otlpUds" in output ? output.otlpUds : output.otlpHttp
  const agent = new Http.Agent({ keepAlive: true, maxSockets: numTasks })
  let target: Http.RequestOptions
  if ("otlpUds" in output) {
    target = { socketPath: output.otlpUds.socketPath, path: "/v1/traces", host: "localhost" }
  } else {
    const url = new URL(output.otlpHttp.url)
    target = { hostname: url.hostname, port: url.port, path: url.pathname + url.search }
  }
  const host = "otlpUds" in output ? "localhost" : new URL(output.otlpHttp.url).host
  const headerName = common.routingHeaderName
  const timeout = Duration.toMillis(common.requestTimeout)

  const send = (routingHeaderValue: string, body: Uint8Array) =>
    Effect.async<void, ExportRequestError>((resume) => {
      let done = false
      // One timer bounds the whole request, connect included (a socket idle timeout would not).
      const timer = setTimeout(() => {
        request.destroy()
        finish(Effect.fail(new ExportRequestError({ reason: "timeout", message: `no answer within ${timeout} ms` })))
      }, timeout)
      const finish = (effect: Effect.Effect<void, ExportRequestError>) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(effect)
      }
      const request = Http.request({
        ...target,
        agent,
        method: "POST",
        headers: {
          "Host": host,
          "Content-Type": "application/x-protobuf",
          "Content-Length": body.byteLength,
          [headerName]: routingHeaderValue
        }
      }, (response) => {
        const chunks: Array<Buffer> = []
        let size = 0
        response.on("data", (chunk: Buffer) => {
          // Drained in full so the connection can be reused; only the start is kept for the log.
          if (size < 1024) chunks.push(chunk)
          size += chunk.length
        })
        response.on("error", (error) => finish(Effect.fail(transportError(error))))
        response.on("end", () => {
          const status = response.statusCode ?? 0
          if (status >= 200 && status < 300) return finish(Effect.void)
          const retryAfterMillis = parseRetryAfter(response.headers["retry-after"], Date.now())
          const text = Buffer.concat(chunks).toString("utf8", 0, 200)
          finish(Effect.fail(
            new ExportRequestError({
              reason: "status",
              status,
              message: `receiver answered ${status}${text.length > 0 ? `: ${text}` : ""}`,
              ...(retryAfterMillis === undefined ? {} : { retryAfterMillis })
            })
          ))
        })
      })
      request.on("error", (error) => finish(Effect.fail(transportError(error))))
      request.end(body)
      return Effect.sync(() => {
        done = true
        clearTimeout(timer)
        request.destroy()
      })
    })

  return { send, close: () => agent.destroy() }
}

const transportError = (error: Error & { code?: string }) =>
  new ExportRequestError({ reason: "transport", message: `${error.code ?? "error"}: ${error.message}` })
