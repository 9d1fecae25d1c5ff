import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
// The official OTLP definitions, as generated code inside @opentelemetry/otlp-transformer: wire
// output is checked by a decoder we did not write.
import otlpRoot from "otlp-transformer-0214/build/esm/generated/root.js"
import { checkStrictWire } from "../../../test/utils/strictWire.js"

const proto = (otlpRoot as any).opentelemetry.proto
/** The official `ExportTraceServiceRequest` type. */
export const ExportTraceServiceRequest = proto.collector.trace.v1.ExportTraceServiceRequest

/** What the test receiver saw of one request. */
export interface ReceivedRequest {
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  readonly decoded: any
}

/** The official decoding of a body whose every nested message is also read from exactly its own bytes. */
const strictlyDecoded = (body: Uint8Array): any => {
  checkStrictWire(body)
  return ExportTraceServiceRequest.decode(body)
}

/** A temporary socket path, unique per call. */
export const tempSocketPath = (): string => Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut4-")), "otlp.sock")

/** A counting OTLP receiver on a new Unix socket, answering 200; closed with the scope. */
export const makeReceiver = Effect.suspend(() => receiverAt(tempSocketPath()))

/** A counting OTLP receiver on the Unix socket at `socketPath`, answering 200; closed with the scope. */
export const receiverAt = (socketPath: string) =>
  Effect.acquireRelease(
    Effect.callback<{
      readonly socketPath: string
      readonly requests: Array<ReceivedRequest>
      readonly spans: () => Array<any>
      readonly close: () => Promise<void>
    }>((resume) => {
      const requests: Array<ReceivedRequest> = []
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          requests.push({
            url: req.url ?? "",
            headers: req.headers,
            decoded: strictlyDecoded(Buffer.concat(chunks))
          })
          res.writeHead(200, { "content-type": "application/x-protobuf" })
          res.end()
        })
      })
      server.listen(socketPath, () =>
        resume(Effect.succeed({
          socketPath,
          requests,
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
