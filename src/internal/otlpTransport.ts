import { Data, Duration, Effect } from "effect"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Zlib from "node:zlib"
import type { Output } from "../UserTracingSettings.js"
import { outputCommon } from "./settings.js"

/** @internal why one export request got no usable answer */
export class ExportRequestError extends Data.TaggedError("ExportRequestError")<{
  /**
   * `transport`: connect errors and resets (worth another try); `timeout`: no complete answer in
   * time; `malformed`: an answer arrived but could not be parsed; `rejected`: the request or the
   * TLS peer was refused before sending (a setting, not a passing fault).
   */
  readonly reason: "transport" | "timeout" | "malformed" | "rejected"
  readonly message: string
}> {}

/** @internal the receiver's answer: status, the headers read here, and the start of the body */
export interface Answer {
  readonly status: number
  readonly contentType: string | undefined
  readonly retryAfter: string | undefined
  /** At most `MAX_ANSWER_BYTES`; `truncated` when the body was longer. */
  readonly body: Uint8Array
  readonly truncated: boolean
}

/** @internal */
export interface Transport {
  /** The request body as sent: gzip-compressed when the output says so (done once, before any retry). */
  readonly prepare: (body: Uint8Array) => Effect.Effect<Uint8Array>
  readonly send: (routingHeaderValue: string, body: Uint8Array) => Effect.Effect<Answer, ExportRequestError>
  readonly close: () => void
}

/** An OTLP answer is a few bytes; more is only read for the log line, so it is cut here. */
const MAX_ANSWER_BYTES = 64 * 1024
const EMPTY = new Uint8Array(0)

const header = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]

const codeOf = (error: unknown): string => {
  const code = error instanceof Error ? (error as Error & { readonly code?: unknown }).code : undefined
  return typeof code === "string" ? code : ""
}

/** llhttp's parse errors: the receiver answered, and may have the data, but not in HTTP. */
const isMalformed = (error: unknown): boolean => /^HPE_/.test(codeOf(error))

/** Certificate and TLS setup failures do not pass with a retry; neither does a request Node refuses to write. */
const isRejected = (error: unknown): boolean =>
  /CERT|^UNABLE_TO_|^ERR_TLS_|^ERR_SSL_|^ERR_INVALID_CHAR$|^ERR_INVALID_HTTP_TOKEN$/.test(codeOf(error))

const describe = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const code = codeOf(error)
  return code !== "" && !error.message.includes(code) ? `${code}: ${error.message}` : error.message
}

/** Where `@opentelemetry/api` 1.x keeps its registered globals, and the key of `suppressTracing`. */
const OTEL_API = Symbol.for("opentelemetry.js.api.1")
const OTEL_SUPPRESS_TRACING = Symbol.for("OpenTelemetry SDK Context Key SUPPRESS_TRACING")

interface OtelContext {
  setValue(key: symbol, value: unknown): OtelContext
}
interface OtelContextManager {
  active(): OtelContext
  with<A>(context: OtelContext, f: () => A): A
}

/**
 * OpenTelemetry's HTTP instrumentations (of node:http, of undici) see every request: they would
 * trace an export request in the application's internal pipeline and inject its `traceparent`.
 * Where an OpenTelemetry context manager is registered, requests are therefore started in a
 * context with tracing suppressed, as OpenTelemetry's own exporters send theirs.
 */
const untraced = <A>(f: () => A): A => {
  const manager = (globalThis as { [OTEL_API]?: { context?: OtelContextManager } })[OTEL_API]?.context
  return manager === undefined ? f() : manager.with(manager.active().setValue(OTEL_SUPPRESS_TRACING, true), f)
}

const gzip = (body: Uint8Array) =>
  Effect.async<Uint8Array>((resume) => {
    // Off the event loop (libuv's pool): a 4 MiB body takes tens of milliseconds to compress.
    Zlib.gzip(body, (error, compressed) => resume(error === null ? Effect.succeed(compressed) : Effect.die(error)))
  })

/**
 * @internal
 * The HTTP client of one output: Node's own (node:http, node:https), with a kept-alive `Agent`
 * holding one connection per worker, to the Unix socket or the URL's host (`https:` verifies with
 * Node's CAs, which include `NODE_EXTRA_CA_CERTS`). The request headers are built once; only the
 * routing value and the length vary. Not undici: it reuses a kept-alive connection only after the
 * event loop's next check phase, so while an application keeps that phase busy (work split with
 * `setImmediate`), a worker sends a third as many requests (see the README).
 */
export const make = (output: Output): Transport => {
  const common = outputCommon(output)
  const timeout = Duration.toMillis(common.requestTimeout)
  const agentOptions = { keepAlive: true, maxSockets: common.numTasks, maxFreeSockets: common.numTasks }
  const headers: Record<string, string> = { "content-type": "application/x-protobuf" }
  let request: typeof Http.request
  let agent: Http.Agent
  let target: Http.RequestOptions
  if ("otlpUds" in output) {
    agent = new Http.Agent(agentOptions)
    request = Http.request
    target = { socketPath: output.otlpUds.socketPath, path: "/v1/traces" }
  } else {
    const url = new URL(output.otlpHttp.url)
    const https = url.protocol === "https:"
    agent = https ? new Https.Agent(agentOptions) : new Http.Agent(agentOptions)
    request = https ? Https.request : Http.request
    target = {
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port === "" ? (https ? 443 : 80) : Number(url.port),
      // The Host header as the URL spells it (Node would drop a default port the same way).
      setHost: false,
      path: `${url.pathname}${url.search}`
    }
    headers.host = url.host
    Object.assign(headers, output.otlpHttp.headers)
  }
  const compressed = common.compression === "gzip"
  if (compressed) headers["content-encoding"] = "gzip"

  const send = (routingHeaderValue: string, body: Uint8Array) =>
    Effect.async<Answer, ExportRequestError>((resume) => {
      let settled = false
      let status = 0
      const settle = (result: Effect.Effect<Answer, ExportRequestError>) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(result)
      }
      const fail = (error: unknown) =>
        settle(Effect.fail(
          new ExportRequestError({
            reason: status !== 0 || isMalformed(error) ? "malformed" : isRejected(error) ? "rejected" : "transport",
            message: describe(error)
          })
        ))
      // One timer bounds the whole request, connect and the answer's body included.
      const timer = setTimeout(() => {
        settle(Effect.fail(new ExportRequestError({ reason: "timeout", message: `no answer within ${timeout} ms` })))
        outgoing?.destroy()
      }, timeout)
      let outgoing: Http.ClientRequest | undefined
      try {
        outgoing = untraced(() =>
          request({
            ...target,
            agent,
            method: "POST",
            headers: { ...headers, [common.routingHeaderName]: routingHeaderValue, "content-length": body.byteLength }
          })
        )
      } catch (error) {
        // A header Node will not write (the settings and the routing check should have caught it).
        fail(error)
        return
      }
      outgoing.on("error", fail)
      outgoing.on("response", (response) => {
        // Interim 1xx answers are read by Node ("information"); this is the final one.
        status = response.statusCode ?? 0
        const chunks: Array<Buffer> = []
        let size = 0
        const answer = (truncated: boolean) =>
          settle(Effect.succeed({
            status,
            contentType: header(response.headers["content-type"]),
            retryAfter: header(response.headers["retry-after"]),
            body: chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
            truncated
          }))
        response.on("data", (chunk: Buffer) => {
          if (settled) return
          if (size + chunk.length > MAX_ANSWER_BYTES) {
            chunks.push(chunk.subarray(0, MAX_ANSWER_BYTES - size))
            answer(true)
            // The rest is not read: the connection is dropped rather than drained.
            return response.destroy()
          }
          chunks.push(chunk)
          size += chunk.length
        })
        response.on("end", () => answer(false))
        response.on("error", fail)
      })
      outgoing.end(body)
      return Effect.sync(() => {
        settled = true
        clearTimeout(timer)
        outgoing?.destroy()
      })
    })

  return {
    prepare: compressed ? gzip : Effect.succeed,
    send,
    close: () => agent.destroy()
  }
}
