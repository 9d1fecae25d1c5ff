/**
 * @internal
 * The HTTP client of one output, in plain code (no effect module), shared by the Effect 3 and the
 * Effect 4 lines: an undici `Pool` over the Unix socket or to the URL's origin, the dispatch of one
 * request bounded by one timer, and what a failed dispatch means. Each line wraps `send` and
 * `gzip` in its own effects (`transport.ts`).
 */
import type { Socket } from "node:net"
import * as Zlib from "node:zlib"
import { buildConnector, type Dispatcher, Pool } from "undici"

/**
 * @internal
 * Why one export request got no usable answer. `transport`: no connection, or a reset before any
 * answer (worth another try); `timeout`: no complete answer in time on a connection; `malformed`:
 * an answer arrived but could not be parsed; `rejected`: the request or the TLS peer was refused
 * before sending (a setting, not a passing fault).
 */
export type FailureReason = "transport" | "timeout" | "malformed" | "rejected"

/** @internal a request that got no usable answer: why, and the error's text (not yet sanitized) */
export interface SendFailure {
  readonly reason: FailureReason
  readonly message: string
}

/** @internal the receiver's answer: status, the headers read here, and the start of the body */
export interface Answer {
  readonly status: number
  readonly contentType: string | undefined
  readonly retryAfter: string | undefined
  /** At most `MAX_ANSWER_BYTES`; `truncated` when the body was longer. */
  readonly body: Uint8Array
  readonly truncated: boolean
}

/** @internal what one request came to */
export type SendResult = { readonly answer: Answer } | { readonly failure: SendFailure }

/** @internal where and how one output sends, durations in milliseconds */
export interface TransportOptions {
  readonly target:
    | { readonly socketPath: string }
    | { readonly url: string; readonly headers?: { readonly [name: string]: string } | undefined }
  readonly routingHeaderName: string
  readonly numTasks: number
  readonly requestTimeoutMillis: number
  readonly compression: "none" | "gzip"
}

/** @internal */
export interface TransportCore {
  /** Whether bodies are sent gzip-compressed (`gzip` them once, before any retry). */
  readonly compressed: boolean
  /** Sends one body; `done` is called once, unless the returned cancel is called first. */
  readonly send: (routingHeaderValue: string, body: Uint8Array, done: (result: SendResult) => void) => () => void
  /**
   * Whether nothing here still reads `body`'s memory: every request it was sent in has ended in
   * undici (one cancelled while it waited for a connection ends only when undici dispatches and
   * aborts it), and every byte handed to a connection has been written out (to the kernel, or into
   * TLS): a receiver may answer a request before it has read the whole body.
   */
  readonly released: (body: Uint8Array) => boolean
  readonly close: () => void
}

/** @internal requests one export worker keeps in flight, each on its own kept-alive connection */
export const REQUESTS_PER_WORKER = 2

/** An OTLP answer is a few bytes; more is only read for the log line, so it is cut here. */
const MAX_ANSWER_BYTES = 64 * 1024

/**
 * @internal
 * A static header value as undici writes it: one byte per character (Latin-1), so the value's UTF-8
 * bytes are handed over as such characters and reach the wire as UTF-8. ASCII is unchanged.
 */
export const headerValueOnWire = (value: string): string =>
  /^[\x00-\x7f]*$/.test(value) ? value : Buffer.from(value, "utf8").toString("latin1")

const header = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" ? value : value?.[0]

const codeOf = (error: unknown): string => {
  const code = error instanceof Error ? (error as Error & { readonly code?: unknown }).code : undefined
  return typeof code === "string" ? code : ""
}

/**
 * Parser errors, a body cut short, oversized heads, and what undici calls a "bad response" (an
 * unsolicited `100 Continue`, which it does not read: nodejs/undici#197): the receiver answered,
 * and may have the data, but the answer cannot be read.
 */
const isMalformed = (error: unknown): boolean =>
  (error instanceof Error && error.name === "HTTPParserError") ||
  /^HPE_|^UND_ERR_RES_CONTENT_LENGTH_MISMATCH$|^UND_ERR_HEADERS_OVERFLOW$/.test(codeOf(error)) ||
  (codeOf(error) === "UND_ERR_SOCKET" && /^bad (response|upgrade)$/.test((error as Error).message))

/** Certificate and TLS setup failures do not pass with a retry; neither does a request undici refuses. */
const isRejected = (error: unknown): boolean =>
  /^UND_ERR_INVALID_ARG$|CERT|^UNABLE_TO_|^ERR_TLS_|^ERR_SSL_/.test(codeOf(error))

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
 * OpenTelemetry's undici instrumentation sees every undici request (through diagnostics_channel):
 * it would trace an export request in the application's internal pipeline and inject its
 * `traceparent`. Where an OpenTelemetry context manager is registered, requests are therefore
 * dispatched in a context with tracing suppressed, as OpenTelemetry's own exporters send theirs.
 */
const untraced = <A>(f: () => A): A => {
  const manager = (globalThis as { [OTEL_API]?: { context?: OtelContextManager } })[OTEL_API]?.context
  return manager === undefined ? f() : manager.with(manager.active().setValue(OTEL_SUPPRESS_TRACING, true), f)
}

/**
 * @internal
 * A body compressed off the event loop (libuv's pool): a 4 MiB body takes tens of milliseconds.
 * `done` gets the compressed body, or the error (a defect: gzip of bytes does not fail).
 */
export const gzip = (body: Uint8Array, done: (compressed: Uint8Array | undefined, error?: unknown) => void): void =>
  Zlib.gzip(body, (error, compressed) => (error === null ? done(compressed) : done(undefined, error)))

/**
 * @internal
 * The HTTP client of one output: an undici `Pool` with one kept-alive connection per request in
 * flight (`REQUESTS_PER_WORKER` per worker), to the Unix socket or the URL's origin (`https:`
 * verifies with Node's CAs, which include `NODE_EXTRA_CA_CERTS`). The request headers are built
 * once; only the routing value varies.
 */
export const makeTransportCore = (options: TransportOptions): TransportCore => {
  const timeout = options.requestTimeoutMillis
  // Each connection's socket, while it is open, and the requests undici holds by their body's
  // memory, for `released`. The connector is the one the pool would build from the same options.
  const sockets = new Set<Socket>()
  const holding = new Map<ArrayBufferLike, number>()
  const hold = (memory: ArrayBufferLike) => holding.set(memory, (holding.get(memory) ?? 0) + 1)
  const letGo = (memory: ArrayBufferLike) => {
    const left = holding.get(memory)! - 1
    if (left === 0) holding.delete(memory)
    else holding.set(memory, left)
  }
  const connector = buildConnector({
    ...("socketPath" in options.target ? { socketPath: options.target.socketPath } : {}),
    timeout: 0
  })
  const connect: buildConnector.connector = (connectOptions, callback) =>
    connector(connectOptions, (...result) => {
      const socket = result[1]
      if (socket) {
        sockets.add(socket)
        socket.once("close", () => sockets.delete(socket))
      }
      callback(...result)
    })
  const poolOptions = {
    connections: options.numTasks * REQUESTS_PER_WORKER,
    // A POST is never pipelined (undici waits for the answer before the next one), so this sends
    // as `pipelining: 1` does, but with the event loop busy a request one after another on a
    // connection took 2.05 turns, against 3.0 with `pipelining: 1`
    // (scratchpad/bench/event-loop-turns.ts); hence also two requests in flight per worker.
    pipelining: 2,
    // One timer bounds each request (below): undici's own three are off (the connector's too).
    connect,
    headersTimeout: 0,
    bodyTimeout: 0
  }
  let pool: Pool
  let path: string
  const headers: Record<string, string> = { "content-type": "application/x-protobuf" }
  const target = options.target
  if ("socketPath" in target) {
    pool = new Pool("http://localhost", poolOptions)
    path = "/v1/traces"
  } else {
    const url = new URL(target.url)
    pool = new Pool(url.origin, poolOptions)
    path = `${url.pathname}${url.search}`
    for (const [name, value] of Object.entries(target.headers ?? {})) headers[name] = headerValueOnWire(value)
  }
  const compressed = options.compression === "gzip"
  if (compressed) headers["content-encoding"] = "gzip"

  const send = (routingHeaderValue: string, body: Uint8Array, done: (result: SendResult) => void): () => void => {
    // undici's own dispatch API: no AbortSignal or body stream per request.
    let controller: Dispatcher.DispatchController | undefined
    let settled = false
    let status = 0
    let contentType: string | undefined
    let retryAfter: string | undefined
    const chunks: Array<Buffer> = []
    let size = 0
    const settle = (result: SendResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      done(result)
    }
    const stop = (reason: string) => {
      if (controller !== undefined && !controller.aborted) controller.abort(new Error(reason))
    }
    const answer = (truncated: boolean) =>
      settle({
        answer: {
          status,
          contentType,
          retryAfter,
          body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
          truncated
        }
      })
    // One timer bounds the whole request, connect and the answer's body included. Until undici
    // starts writing the request, it has no connection: the receiver is not reachable (yet).
    const timer = setTimeout(() => {
      settle({
        failure: controller === undefined
          ? { reason: "transport", message: `no connection within ${timeout} ms` }
          : { reason: "timeout", message: `no answer within ${timeout} ms` }
      })
      stop("request timeout")
    }, timeout)
    // Until undici ends the request (its answer read, or an error, an abort included).
    const memory = body.buffer
    hold(memory)
    let held = true
    const end = () => {
      if (held) {
        held = false
        letGo(memory)
      }
    }
    untraced(() =>
      pool.dispatch({
        method: "POST",
        path,
        headers: { ...headers, [options.routingHeaderName]: routingHeaderValue },
        body
      }, {
        onRequestStart: (started) => {
          controller = started
          // Timed out or interrupted while it waited for a connection.
          if (settled) started.abort(new Error("request cancelled"))
        },
        onResponseStart: (_, statusCode, responseHeaders) => {
          // 1xx interim answers come here too; the final one follows.
          if (statusCode < 200) return
          status = statusCode
          contentType = header(responseHeaders["content-type"])
          retryAfter = header(responseHeaders["retry-after"])
        },
        onResponseData: (_, chunk) => {
          if (settled) return
          if (size + chunk.length > MAX_ANSWER_BYTES) {
            chunks.push(chunk.subarray(0, MAX_ANSWER_BYTES - size))
            answer(true)
            // The rest is not read: the connection is dropped rather than drained.
            return stop("answer too long")
          }
          chunks.push(chunk)
          size += chunk.length
        },
        onResponseEnd: () => {
          end()
          answer(false)
        },
        onResponseError: (_, error) => {
          end()
          settle({
            failure: {
              reason: status !== 0 || isMalformed(error)
                ? "malformed"
                : isRejected(error)
                ? "rejected"
                : "transport",
              message: describe(error)
            }
          })
        }
      })
    )
    return () => {
      settled = true
      clearTimeout(timer)
      stop("interrupted")
    }
  }

  return {
    compressed,
    send,
    released: (body) => {
      if (holding.has(body.buffer)) return false
      for (const socket of sockets) {
        if (socket.writableLength > 0) return false
      }
      return true
    },
    close: () => {
      pool.destroy().catch(() => {})
    }
  }
}
