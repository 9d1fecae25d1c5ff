// A receiver that answers some requests before it has read their bodies: plain Node, no effect
// module, for either Effect line's tests.
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

/** A request as the raw receiver read it. */
export interface RawRequest {
  readonly routing: string
  readonly body: Buffer
}

export interface EarlyAnswerServer {
  readonly socketPath: string
  readonly requests: Array<RawRequest>
  /** Requests answered before their bodies were read. */
  readonly answeredEarly: () => number
  /** Reads on: the connections paused after an early answer, and every one from now on. */
  readonly release: () => void
  readonly close: () => Promise<void>
}

const OK = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"

/**
 * An HTTP/1.1 receiver on a raw Unix socket that answers each request once it has read its body,
 * but the requests `answersEarly` picks (by arrival) as soon as it has read their head: it then
 * reads nothing more on that connection until `release()`, so that the rest of the body stays
 * unwritten on the sender's side.
 */
export const startEarlyAnswerServer = (answersEarly: (request: number) => boolean): Promise<EarlyAnswerServer> =>
  new Promise((ready) => {
    const socketPath = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-early-")), "otlp.sock")
    const requests: Array<RawRequest> = []
    const paused: Array<Net.Socket> = []
    const sockets = new Set<Net.Socket>()
    let arrived = 0
    let early = 0
    let released = false
    const server = Net.createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      let pending = Buffer.alloc(0)
      let head: { readonly routing: string; readonly length: number; readonly answered: boolean } | undefined
      socket.on("data", (data: Buffer) => {
        pending = Buffer.concat([pending, data])
        while (true) {
          if (head === undefined) {
            const end = pending.indexOf("\r\n\r\n")
            if (end < 0) return
            const lines = pending.subarray(0, end).toString("latin1").split("\r\n")
            const field = (name: string) =>
              lines.find((line) => line.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim() ?? ""
            pending = pending.subarray(end + 4)
            const answerNow = answersEarly(arrived++)
            head = { routing: field("x-user-routing"), length: Number(field("content-length")), answered: answerNow }
            if (answerNow) {
              socket.write(OK)
              early++
              if (!released) {
                socket.pause()
                paused.push(socket)
                return
              }
            }
          }
          if (pending.length < head.length) return
          requests.push({ routing: head.routing, body: Buffer.from(pending.subarray(0, head.length)) })
          pending = pending.subarray(head.length)
          if (!head.answered) socket.write(OK)
          head = undefined
        }
      })
    })
    server.listen(socketPath, () =>
      ready({
        socketPath,
        requests,
        answeredEarly: () => early,
        release: () => {
          released = true
          for (const socket of paused.splice(0)) socket.resume()
        },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      }))
  })
