import { Data, Duration, Effect } from "effect"
import * as Net from "node:net"
import type { Output } from "../UserTracingSettings.js"
import { outputCommon } from "./settings.js"

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

/** @internal one parsed HTTP/1.1 response */
export interface Response {
  readonly status: number
  readonly retryAfter: string | undefined
  /** The start of the body, for the log. */
  readonly text: string
  /** The server will not take another request on this connection. */
  readonly close: boolean
}

const HEAD_END = Buffer.from("\r\n\r\n")
const CRLF = Buffer.from("\r\n")
const MAX_HEAD = 64 * 1024

const header = (head: string, name: string): string | undefined => {
  const match = new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*)`, "i").exec(head)
  return match === null ? undefined : match[1].trim()
}

/**
 * @internal
 * An incremental HTTP/1.1 response reader: `push` bytes as they arrive, then `end` at close.
 * Bodies by `Content-Length`, chunked, or until close; 1xx interim answers are skipped.
 */
export class ResponseReader {
  private buffered: Buffer = Buffer.alloc(0)
  private head:
    | {
      readonly status: number
      readonly text: string
      readonly mode: "length" | "chunked" | "close"
      readonly length: number
      readonly closing: boolean
    }
    | undefined
  private body: Array<Buffer> = []
  private bodySize = 0

  /** Returns the response once complete, `undefined` while more bytes are needed; throws on garbage. */
  push(chunk: Buffer): Response | undefined {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk])
    for (;;) {
      if (this.head === undefined) {
        const end = this.buffered.indexOf(HEAD_END)
        if (end < 0) {
          if (this.buffered.length > MAX_HEAD) throw new Error("response head too large")
          return undefined
        }
        const text = this.buffered.toString("latin1", 0, end)
        this.buffered = this.buffered.subarray(end + 4)
        const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(text)
        if (statusLine === null) throw new Error("malformed response status line")
        const status = Number(statusLine[2])
        if (status >= 100 && status < 200) continue
        const closing = statusLine[1] === "0" || /close/i.test(header(text, "connection") ?? "")
        const length = status === 204 || status === 304 ? "0" : header(text, "content-length")
        this.head = /chunked/i.test(header(text, "transfer-encoding") ?? "")
          ? { status, text, mode: "chunked", length: 0, closing }
          : length !== undefined
          ? { status, text, mode: "length", length: Number(length), closing }
          : { status, text, mode: "close", length: 0, closing: true }
      }
      const head = this.head
      if (head.mode === "length") {
        if (this.buffered.length < head.length) return undefined
        this.keep(this.buffered.subarray(0, head.length))
        this.buffered = this.buffered.subarray(head.length)
        return this.done()
      }
      if (head.mode === "close") {
        this.keep(this.buffered)
        this.buffered = Buffer.alloc(0)
        return undefined
      }
      // Chunked: size line, data, CRLF; a zero-size chunk then trailers end the body.
      const lineEnd = this.buffered.indexOf(CRLF)
      if (lineEnd < 0) return undefined
      const size = parseInt(this.buffered.toString("latin1", 0, lineEnd), 16)
      if (Number.isNaN(size)) throw new Error("malformed chunk size")
      if (size === 0) {
        const trailersEnd = this.buffered.indexOf(HEAD_END, lineEnd)
        if (trailersEnd < 0) return undefined
        this.buffered = this.buffered.subarray(trailersEnd + 4)
        return this.done()
      }
      if (this.buffered.length < lineEnd + 2 + size + 2) return undefined
      this.keep(this.buffered.subarray(lineEnd + 2, lineEnd + 2 + size))
      this.buffered = this.buffered.subarray(lineEnd + 2 + size + 2)
    }
  }

  /** The connection closed: completes a body read until close, else `undefined`. */
  end(): Response | undefined {
    return this.head?.mode === "close" ? this.done() : undefined
  }

  /** Bytes received after the response (none expected: HTTP/1.1 without pipelining). */
  get leftover(): number {
    return this.buffered.length
  }

  private keep(chunk: Buffer): void {
    // Only the start of the body is kept: it is read for the log line alone.
    if (this.bodySize < 1024) this.body.push(chunk)
    this.bodySize += chunk.length
  }

  private done(): Response {
    const head = this.head!
    const response: Response = {
      status: head.status,
      retryAfter: header(head.text, "retry-after"),
      text: Buffer.concat(this.body).toString("utf8", 0, 200),
      close: head.closing
    }
    this.head = undefined
    this.body = []
    this.bodySize = 0
    return response
  }
}

interface Connection {
  readonly socket: Net.Socket
  reader: ResponseReader
  /** Set while a request waits for its answer. */
  pending: ((result: Error | Response) => void) | undefined
}

/**
 * @internal
 * A minimal HTTP/1.1 client for one endpoint: kept-alive sockets, one request at a time each, the
 * request head built once per endpoint. node:http's agent and parser cost about as much per
 * request as encoding a few hundred spans (see `npm run bench`); this costs a fraction.
 */
export const make = (output: Output): Transport => {
  const common = outputCommon(output)
  let connect: () => Net.Socket
  let head: string
  if ("otlpUds" in output) {
    const path = output.otlpUds.socketPath
    connect = () => Net.createConnection({ path })
    head = "POST /v1/traces HTTP/1.1\r\nHost: localhost\r\n"
  } else {
    const url = new URL(output.otlpHttp.url)
    const port = Number(url.port || 80)
    const host = url.hostname.replace(/^\[|\]$/g, "")
    connect = () => Net.createConnection({ host, port })
    head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`
  }
  head += `Content-Type: application/x-protobuf\r\n${common.routingHeaderName}: `
  const timeout = Duration.toMillis(common.requestTimeout)
  const idle: Array<Connection> = []
  const open = new Set<Connection>()

  const retire = (connection: Connection) => {
    open.delete(connection)
    const index = idle.indexOf(connection)
    if (index >= 0) idle.splice(index, 1)
    connection.socket.destroy()
  }

  const connection = (): Connection => {
    const reused = idle.pop()
    if (reused !== undefined) return reused
    const socket = connect()
    socket.setNoDelay(true)
    const created: Connection = { socket, reader: new ResponseReader(), pending: undefined }
    open.add(created)
    const settle = (result: Error | Response) => {
      const pending = created.pending
      created.pending = undefined
      pending?.(result)
    }
    socket.on("error", (error: Error & { code?: string }) => {
      retire(created)
      settle(new Error(`${error.code ?? "error"}: ${error.message}`))
    })
    socket.on("close", () => {
      const response = created.reader.end()
      retire(created)
      settle(response ?? new Error("connection closed before the response"))
    })
    socket.on("data", (chunk: Buffer) => {
      let response: Response | undefined
      try {
        response = created.reader.push(chunk)
      } catch (error) {
        retire(created)
        return settle(error as Error)
      }
      if (response === undefined) return
      if (response.close || created.pending === undefined || created.reader.leftover > 0) retire(created)
      else idle.push(created)
      settle(response)
    })
    return created
  }

  const send = (routingHeaderValue: string, body: Uint8Array) =>
    Effect.async<void, ExportRequestError>((resume) => {
      const target = connection()
      // One timer bounds the whole request, connect included.
      const timer = setTimeout(() => {
        target.pending = undefined
        retire(target)
        resume(Effect.fail(new ExportRequestError({ reason: "timeout", message: `no answer within ${timeout} ms` })))
      }, timeout)
      target.pending = (result) => {
        clearTimeout(timer)
        if (result instanceof Error) {
          return resume(Effect.fail(new ExportRequestError({ reason: "transport", message: result.message })))
        }
        if (result.status >= 200 && result.status < 300) return resume(Effect.void)
        const retryAfterMillis = parseRetryAfter(result.retryAfter, Date.now())
        resume(Effect.fail(
          new ExportRequestError({
            reason: "status",
            status: result.status,
            message: `receiver answered ${result.status}${result.text.length > 0 ? `: ${result.text}` : ""}`,
            ...(retryAfterMillis === undefined ? {} : { retryAfterMillis })
          })
        ))
      }
      const socket = target.socket
      socket.cork()
      // The routing value was checked to be a legal header value, so latin1 writes it byte for byte.
      socket.write(`${head}${routingHeaderValue}\r\nContent-Length: ${body.byteLength}\r\n\r\n`, "latin1")
      socket.write(body)
      socket.uncork()
      return Effect.sync(() => {
        clearTimeout(timer)
        target.pending = undefined
        retire(target)
      })
    })

  return {
    send,
    close: () => {
      for (const connection of open) connection.socket.destroy()
      open.clear()
      idle.length = 0
    }
  }
}
