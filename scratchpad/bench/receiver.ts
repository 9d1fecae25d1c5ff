/**
 * The benchmark's OTLP/HTTP receiver: a separate process listening on a Unix socket, counting the
 * spans it decodes and answering 200 with an empty `ExportTraceServiceResponse` (zero bytes).
 *
 * Counting walks the protobuf with protobufjs's `Reader` (ExportTraceServiceRequest.resource_spans
 * > ResourceSpans.scope_spans > ScopeSpans.spans), so the receiver never becomes the bottleneck.
 * The first request after each reset is also decoded in full by the official OTLP definitions
 * (generated code in @opentelemetry/otlp-transformer) and its span count compared: a mismatch or a
 * decode error is reported as `verifyErrors`.
 *
 * Driven over IPC: `{ cmd: "reset" }`, `{ cmd: "count" }`, `{ cmd: "mode", mode: "ok" | "stall" }`,
 * each answered with `{ type: "state", ... }`. Started with the socket path as its argument;
 * sends `{ type: "ready" }` once listening.
 */
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Zlib from "node:zlib"
import otlpRoot from "otlp-transformer-0214/build/esm/generated/root.js"
import protobuf from "protobufjs/minimal.js"

const ExportTraceServiceRequest = (otlpRoot as any).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest

const socketPath = process.argv[2]
if (socketPath === undefined) throw new Error("usage: receiver.ts <socket path>")

/** Spans in an ExportTraceServiceRequest, by walking its length-delimited fields. */
export const countSpans = (body: Uint8Array): number => {
  const r = protobuf.Reader.create(body)
  let spans = 0
  while (r.pos < r.len) {
    const tag = r.uint32()
    if (tag !== (1 << 3 | 2)) {
      r.skipType(tag & 7)
      continue
    }
    const resourceEnd = r.uint32() + r.pos
    while (r.pos < resourceEnd) {
      const tag2 = r.uint32()
      if (tag2 !== (2 << 3 | 2)) {
        r.skipType(tag2 & 7)
        continue
      }
      const scopeEnd = r.uint32() + r.pos
      while (r.pos < scopeEnd) {
        const tag3 = r.uint32()
        if (tag3 === (2 << 3 | 2)) {
          const length = r.uint32()
          r.skip(length)
          spans++
        } else {
          r.skipType(tag3 & 7)
        }
      }
    }
  }
  return spans
}

const fullCount = (body: Uint8Array): number => {
  const decoded = ExportTraceServiceRequest.decode(body)
  let n = 0
  for (const rs of decoded.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length
  return n
}

let mode: "ok" | "stall" = "ok"
let spans = 0
let requests = 0
let stalledSpans = 0
let verified = false
let verifyErrors = 0
let badRequests = 0
const stalled = new Set<Http.ServerResponse>()

const server = Http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    let body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
    if (req.headers["content-encoding"] === "gzip") body = Zlib.gunzipSync(body)
    let n: number
    try {
      n = countSpans(body)
      if (!verified) {
        verified = true
        if (fullCount(body) !== n) verifyErrors++
      }
    } catch {
      badRequests++
      res.writeHead(400).end()
      return
    }
    if (mode === "stall") {
      stalledSpans += n
      stalled.add(res)
      return
    }
    spans += n
    requests++
    // An empty ExportTraceServiceResponse encodes to zero bytes.
    res.writeHead(200, { "content-type": "application/x-protobuf", "content-length": 0 }).end()
  })
})

const state = () => ({ type: "state", spans, requests, stalledSpans, verifyErrors, badRequests, mode })

process.on("message", (message: { cmd: string; mode?: "ok" | "stall" }) => {
  switch (message.cmd) {
    case "reset":
      spans =
        requests =
        stalledSpans =
        verifyErrors =
        badRequests =
          0
      verified = false
      break
    case "mode":
      mode = message.mode ?? "ok"
      if (mode === "ok") {
        // Requests left unanswered in the stall: cut them, so their clients see an error.
        for (const res of stalled) res.socket?.destroy()
        stalled.clear()
      }
      break
  }
  process.send!(state())
})

process.on("disconnect", () => process.exit(0))

try {
  Fs.unlinkSync(socketPath)
} catch {
  // not there
}
server.listen(socketPath, () => process.send!({ type: "ready" }))
