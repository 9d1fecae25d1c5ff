import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
// The official OTLP definitions, as generated code inside @opentelemetry/otlp-transformer: wire
// output is checked by a decoder we did not write.
import otlpRoot from "otlp-transformer-0214/build/esm/generated/root.js"
import { checkStrictWire } from "./strictWire.js"

const proto = (otlpRoot as any).opentelemetry.proto
/** The official `ExportTraceServiceRequest` type. */
export const ExportTraceServiceRequest = proto.collector.trace.v1.ExportTraceServiceRequest

/** What the test receiver saw of one request. */
export interface ReceivedRequest {
  readonly method: string
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  readonly rawHeaders: ReadonlyArray<string>
  readonly body: Buffer
  readonly decoded: any
}

/** How the receiver answers request number `n` (0-based): a status, silence, or a reset. */
export type Behaviour = (n: number) =>
  | { readonly status: number; readonly headers?: Record<string, string> }
  | "never"
  | "reset"

/** The official decoding of a body whose every nested message is also read from exactly its own bytes. */
const strictlyDecoded = (body: Uint8Array): any => {
  checkStrictWire(body)
  return ExportTraceServiceRequest.decode(body)
}

/** A temporary socket path, unique per call. */
export const tempSocketPath = (): string => Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-")), "otlp.sock")

/** A counting OTLP receiver on a Unix socket; closed with the scope. */
export const makeReceiver = (options?: { readonly socketPath?: string; readonly behaviour?: Behaviour }) =>
  Effect.acquireRelease(
    Effect.async<{
      readonly socketPath: string
      readonly requests: Array<ReceivedRequest>
      readonly spans: () => Array<any>
      /** Requests that reached the handler, answered or not. */
      readonly received: () => number
      readonly close: () => Promise<void>
    }>((resume) => {
      const socketPath = options?.socketPath ?? tempSocketPath()
      const requests: Array<ReceivedRequest> = []
      let count = 0
      const server = Http.createServer((req, res) => {
        const n = count++
        const answer = options?.behaviour?.(n) ?? { status: 200 }
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          if (answer === "never") return
          if (answer === "reset") return req.socket.destroy()
          const body = Buffer.concat(chunks)
          if (answer.status === 200) {
            requests.push({
              method: req.method ?? "",
              url: req.url ?? "",
              headers: req.headers,
              rawHeaders: req.rawHeaders,
              body,
              decoded: strictlyDecoded(body)
            })
          }
          res.writeHead(answer.status, { "content-type": "application/x-protobuf", ...answer.headers })
          res.end()
        })
      })
      server.listen(socketPath, () =>
        resume(Effect.succeed({
          socketPath,
          requests,
          received: () => count,
          spans: () => requests.flatMap((r) => r.decoded.resourceSpans[0].scopeSpans[0].spans),
          close: () =>
            new Promise<void>((done) => {
              server.closeAllConnections()
              server.close(() => done())
            })
        })))
    }),
    (receiver) => Effect.promise(receiver.close)
  )

/** Polls `condition` every 10 ms until it holds or `millis` pass (then fails the test). */
export const eventually = (condition: () => boolean, millis = 10_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + millis
    while (!condition()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error("condition not met in time"))
      yield* Effect.sleep("10 millis")
    }
  })
