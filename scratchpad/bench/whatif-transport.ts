/**
 * Stand-in for `src/internal/otlpTransport.ts` in the what-if bundle (`whatif.ts transport`): the
 * same `make(output, numTasks)`, but each request is one pre-built HTTP/1.1 head plus the body,
 * written to a kept-alive `net.Socket` (corked), and the answer parsed by hand (status line,
 * `content-length`, `retry-after`). No `http.Agent`, `ClientRequest` or HTTP parser objects.
 * Unix socket only; a prototype to size suggestion 2, never imported by the library.
 */
import { Duration, Effect } from "effect"
import * as Net from "node:net"
import { ExportRequestError, parseRetryAfter, type Transport } from "../../src/internal/otlpTransport.js"
import type { Output } from "../../src/UserTracingSettings.js"

export { ExportRequestError, parseRetryAfter, type Transport }

interface Connection {
  readonly socket: Net.Socket
  /** Set while a request waits for its answer. */
  pending: ((error: Error | undefined, status: number, retryAfter: string | undefined) => void) | undefined
  buffered: Buffer
}

const HEADER_END = Buffer.from("\r\n\r\n")

export const make = (output: Output, numTasks: number): Transport => {
  if (!("otlpUds" in output)) throw new Error("what-if transport: otlpUds only")
  const { socketPath, routingHeaderName, requestTimeout } = output.otlpUds
  const timeout = Duration.toMillis(requestTimeout)
  const head = `POST /v1/traces HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-protobuf\r\n${routingHeaderName}: `
  const idle: Array<Connection> = []
  const all = new Set<Connection>()

  const open = (): Connection => {
    const socket = Net.createConnection({ path: socketPath })
    const connection: Connection = { socket, pending: undefined, buffered: Buffer.alloc(0) }
    all.add(connection)
    const fail = (error: Error) => {
      all.delete(connection)
      const index = idle.indexOf(connection)
      if (index >= 0) idle.splice(index, 1)
      const pending = connection.pending
      connection.pending = undefined
      pending?.(error, 0, undefined)
    }
    socket.on("error", fail)
    socket.on("close", () => fail(new Error("socket closed")))
    socket.on("data", (chunk: Buffer) => {
      connection.buffered = connection.buffered.length === 0 ? chunk : Buffer.concat([connection.buffered, chunk])
      const end = connection.buffered.indexOf(HEADER_END)
      if (end < 0) return
      const text = connection.buffered.toString("latin1", 0, end)
      const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(text)
      const bodyLength = lengthMatch === null ? 0 : Number(lengthMatch[1])
      if (connection.buffered.length < end + 4 + bodyLength) return
      connection.buffered = connection.buffered.subarray(end + 4 + bodyLength)
      const status = Number(text.slice(9, 12))
      const retryAfter = /\r\nretry-after:\s*([^\r]*)/i.exec(text)?.[1]
      const pending = connection.pending
      connection.pending = undefined
      if (/\r\nconnection:\s*close/i.test(text)) socket.destroy()
      else idle.push(connection)
      pending?.(undefined, status, retryAfter)
    })
    return connection
  }

  const send = (routingHeaderValue: string, body: Uint8Array) =>
    Effect.async<void, ExportRequestError>((resume) => {
      const connection = idle.pop() ?? open()
      let done = false
      const finish = (effect: Effect.Effect<void, ExportRequestError>) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(effect)
      }
      const timer = setTimeout(() => {
        connection.socket.destroy()
        finish(Effect.fail(new ExportRequestError({ reason: "timeout", message: `no answer within ${timeout} ms` })))
      }, timeout)
      connection.pending = (error, status, retryAfter) => {
        if (error !== undefined) {
          return finish(Effect.fail(new ExportRequestError({ reason: "transport", message: error.message })))
        }
        if (status >= 200 && status < 300) return finish(Effect.void)
        const retryAfterMillis = parseRetryAfter(retryAfter, Date.now())
        finish(Effect.fail(
          new ExportRequestError({
            reason: "status",
            status,
            message: `receiver answered ${status}`,
            ...(retryAfterMillis === undefined ? {} : { retryAfterMillis })
          })
        ))
      }
      const socket = connection.socket
      socket.cork()
      socket.write(`${head}${routingHeaderValue}\r\nContent-Length: ${body.byteLength}\r\n\r\n`, "latin1")
      socket.write(body)
      socket.uncork()
      return Effect.sync(() => {
        done = true
        clearTimeout(timer)
        connection.pending = undefined
        socket.destroy()
      })
    })

  void numTasks
  return {
    send,
    close: () => {
      for (const connection of all) connection.socket.destroy()
    }
  }
}
