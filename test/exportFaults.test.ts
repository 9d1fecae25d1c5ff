import { describe, expect, it } from "@effect/vitest"
import { context as otelContext, propagation, SpanKind, trace } from "@opentelemetry/api"
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as DiagnosticsChannel from "node:diagnostics_channel"
import * as Fs from "node:fs"
import * as Https from "node:https"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import * as Zlib from "node:zlib"
import otlpRoot from "otlp-transformer-0214/build/esm/generated/root.js"
import { Pool } from "undici"
import { RoutingMetadata, UserTracing } from "../src/index.js"
import { routing } from "./utils/helpers.js"
import { observed, settingsFor, withPipeline } from "./utils/pipeline.js"
import { eventually, ExportTraceServiceRequest, tempSocketPath } from "./utils/receiver.js"

const { withUserSpan, withUserTrace } = UserTracing
const ExportTraceServiceResponse = (otlpRoot as any).opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse
const root = fileURLToPath(new URL("..", import.meta.url))

/** One request as a raw-socket receiver read it: head, headers (lowercase names) and body. */
interface RawRequest {
  readonly head: string
  readonly headers: Record<string, string>
  readonly body: Buffer
  /** The span names in the body, decoded (gunzipped if needed) with the official definitions. */
  readonly spans: ReadonlyArray<string>
}

/**
 * A receiver on a Unix socket that speaks HTTP by hand, so each test can answer in ways node:http
 * would not: `answer(request, n, socket)` writes whatever it likes for request number `n`.
 */
const rawReceiver = (answer: (request: RawRequest, n: number, socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.async<
      { readonly socketPath: string; readonly requests: Array<RawRequest>; readonly connections: () => number }
    >(
      (resume) => {
        const socketPath = tempSocketPath()
        const requests: Array<RawRequest> = []
        const sockets = new Set<Net.Socket>()
        let connections = 0
        const server = Net.createServer((socket) => {
          connections++
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          socket.on("error", () => {})
          let buffered = Buffer.alloc(0)
          socket.on("data", (chunk: Buffer) => {
            buffered = Buffer.concat([buffered, chunk])
            for (;;) {
              const end = buffered.indexOf("\r\n\r\n")
              if (end < 0) return
              const head = buffered.toString("latin1", 0, end)
              const headers: Record<string, string> = {}
              for (const line of head.split("\r\n").slice(1)) {
                const colon = line.indexOf(":")
                headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
              }
              const length = Number(headers["content-length"] ?? 0)
              if (buffered.length < end + 4 + length) return
              const body = buffered.subarray(end + 4, end + 4 + length)
              buffered = buffered.subarray(end + 4 + length)
              const plain = headers["content-encoding"] === "gzip" ? Zlib.gunzipSync(body) : body
              const decoded = ExportTraceServiceRequest.decode(plain)
              const spans = decoded.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans))
              const request = { head, headers, body, spans: spans.map((s: any) => s.name) }
              requests.push(request)
              answer(request, requests.length - 1, socket)
            }
          })
        })
        server.listen(socketPath, () =>
          resume(Effect.succeed({
            socketPath,
            requests,
            connections: () => connections,
            close: () => {
              for (const socket of sockets) socket.destroy()
              server.close()
            }
          })))
      }
    ),
    (receiver) => Effect.sync(() => (receiver as any).close())
  )

const ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

/** `n` traces of one span each, flushed one by one (each its own request). */
const tracesOneByOne = (n: number, between: (i: number) => Effect.Effect<void> = () => Effect.void) =>
  Effect.forEach(
    Array.from({ length: n }, (_, i) => i),
    (i) =>
      Effect.void.pipe(
        withUserTrace(`r-${i}`, { routing }),
        Effect.zipRight(UserTracing.forceFlush),
        Effect.zipRight(between(i))
      ),
    {
      discard: true
    }
  )

const names = (requests: ReadonlyArray<RawRequest>) => requests.flatMap((r) => r.spans)

describe("answers a maintained client must read right", () => {
  it.live("a receiver that closes kept-alive connections a few ms after each answer: retried, nothing lost", () =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, __, socket) => {
        socket.write(ok)
        // Closes if nothing more arrived within 3 ms: the next request races the close.
        const answered = socket.bytesRead
        setTimeout(() => socket.bytesRead === answered && socket.destroy(), 3)
      })
      const { delta } = yield* observed(withPipeline(
        settingsFor(receiver.socketPath),
        tracesOneByOne(60, (i) => Effect.sleep(`${i % 6} millis`))
      ))
      expect(delta).toEqual({ total: 60, exported: 60, dropped: 0, failed: 0 })
      expect(new Set(names(receiver.requests)).size).toBe(60)
      expect(receiver.connections()).toBeGreaterThan(1)
    }).pipe(Effect.scoped))

  it.live("Connection: close on every answer: a new connection each time, all exported", () =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, __, socket) =>
        socket.end(
          "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        )
      )
      const { delta } = yield* observed(withPipeline(settingsFor(receiver.socketPath), tracesOneByOne(20)))
      expect(delta).toEqual({ total: 20, exported: 20, dropped: 0, failed: 0 })
      expect(names(receiver.requests)).toHaveLength(20)
      expect(receiver.connections()).toBe(20)
    }).pipe(Effect.scoped))

  it.live("HTTP/1.0 answers, with a length or delimited by the close", () =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, n, socket) =>
        socket.end(
          n % 2 === 0
            ? "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"
            : "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"partialSuccess\":{}}"
        )
      )
      const { delta } = yield* observed(withPipeline(settingsFor(receiver.socketPath), tracesOneByOne(6)))
      expect(delta).toEqual({ total: 6, exported: 6, dropped: 0, failed: 0 })
      expect(names(receiver.requests)).toHaveLength(6)
    }).pipe(Effect.scoped))

  it.live("chunked answers with trailers, kept alive", () =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, __, socket) =>
        socket.write(
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n" +
            "1\r\n{\r\n1\r\n}\r\n0\r\nx-checksum: 1\r\n\r\n"
        )
      )
      const { delta } = yield* observed(withPipeline(settingsFor(receiver.socketPath), tracesOneByOne(10)))
      expect(delta).toEqual({ total: 10, exported: 10, dropped: 0, failed: 0 })
      expect(receiver.connections()).toBe(1)
    }).pipe(Effect.scoped))

  it.live("an interim 103 Early Hints before the answer is skipped", () =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, __, socket) =>
        socket.write(`HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n${ok}`)
      )
      const { delta } = yield* observed(withPipeline(settingsFor(receiver.socketPath), tracesOneByOne(5)))
      expect(delta).toEqual({ total: 5, exported: 5, dropped: 0, failed: 0 })
      expect(receiver.requests).toHaveLength(5)
    }).pipe(Effect.scoped))

  it.live("an unsolicited 100 Continue (undici does not read one, nodejs/undici#197): failed once, not retried", () =>
    Effect.gen(function*() {
      // The exporter never sends `Expect: 100-continue`, so no receiver that follows HTTP sends this.
      const receiver = yield* rawReceiver((_, __, socket) => socket.write(`HTTP/1.1 100 Continue\r\n\r\n${ok}`))
      const { delta, logs, millis } = yield* observed(withPipeline(settingsFor(receiver.socketPath), tracesOneByOne(2)))
      expect(delta).toEqual({ total: 2, exported: 0, dropped: 0, failed: 2 })
      expect(receiver.requests).toHaveLength(2)
      expect(millis).toBeLessThan(2_000)
      expect(logs.join("\n")).toContain("answer could not be read")
    }).pipe(Effect.scoped))
})

describe("answers that fail, bounded in time and counted", () => {
  it.live("an answer dripped byte by byte past requestTimeout: failed once, not retried, the layer closes", () =>
    Effect.gen(function*() {
      const timers: Array<NodeJS.Timeout> = []
      const receiver = yield* rawReceiver((_, __, socket) => {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        timers.push(setInterval(() => socket.writable && socket.write("x"), 20))
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => timers.forEach(clearInterval)))
      const { delta, logs, millis } = yield* observed(withPipeline(
        settingsFor(receiver.socketPath, { requestTimeout: 300 }),
        Effect.void.pipe(withUserTrace("slow", { routing }))
      ))
      expect(delta).toEqual({ total: 1, exported: 0, dropped: 0, failed: 1 })
      expect(receiver.requests).toHaveLength(1)
      expect(millis).toBeLessThan(2_000)
      expect(logs.join("\n")).toContain("no answer within 300 ms")
    }).pipe(Effect.scoped))

  it.live.each([
    ["garbage instead of a status line", "SSH-2.0-OpenSSH_9.6\r\n\r\n"],
    ["a Content-Length of -5", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"],
    ["a Content-Length of abc", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n"]
  ])("%s: an answer that cannot be read is not retried, counted failed", ([, answer]) =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, __, socket) => socket.write(answer))
      const { delta, logs, millis } = yield* observed(withPipeline(
        settingsFor(receiver.socketPath, { requestTimeout: 5_000 }),
        Effect.void.pipe(withUserTrace("r", { routing }))
      ))
      expect(delta).toEqual({ total: 1, exported: 0, dropped: 0, failed: 1 })
      expect(receiver.requests).toHaveLength(1)
      expect(millis).toBeLessThan(2_000)
      expect(logs.join("\n")).toContain("answer could not be read")
    }).pipe(Effect.scoped))

  it.live("413: not retried, counted failed, logged with a hint to lower maxBatchBytes", () =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, __, socket) =>
        socket.write("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n")
      )
      const { delta, logs } = yield* observed(withPipeline(
        settingsFor(receiver.socketPath),
        Effect.void.pipe(withUserSpan("c"), withUserTrace("r", { routing }))
      ))
      expect(delta).toEqual({ total: 2, exported: 0, dropped: 0, failed: 2 })
      expect(receiver.requests).toHaveLength(1)
      expect(logs.join("\n")).toMatch(/413.*maxBatchBytes/)
    }).pipe(Effect.scoped))

  it.live("the receiver's answer reaches the log escaped and short", () =>
    Effect.gen(function*() {
      const evil = `\x1b[2J\x1b[31mowned\r\nlevel=ERROR fake line\x00\x07${"z".repeat(5_000)}`
      const receiver = yield* rawReceiver((_, __, socket) =>
        socket.write(`HTTP/1.1 500 Oops\r\nContent-Length: ${Buffer.byteLength(evil)}\r\n\r\n${evil}`)
      )
      const { logs } = yield* observed(
        withPipeline(settingsFor(receiver.socketPath), Effect.void.pipe(withUserTrace("r", { routing })))
      )
      const line = logs.find((l) => l.includes("500"))!
      expect(line).toContain("\\u001b[2J")
      expect(line).not.toMatch(/[\x00-\x1f\x7f]/)
      expect(line.length).toBeLessThan(400)
    }).pipe(Effect.scoped))

  it.live("503 with a long Retry-After while the layer closes: the retry fits in shutdownTimeout, nothing lost", () =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, n, socket) =>
        socket.write(n === 0 ? "HTTP/1.1 503 Busy\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n" : ok)
      )
      const { delta, millis } = yield* observed(withPipeline(
        settingsFor(receiver.socketPath, {}, { shutdownTimeout: "3 seconds" }),
        Effect.forEach(
          Array.from({ length: 1_000 }, (_, i) => i),
          (i) => Effect.void.pipe(withUserTrace(`r-${i}`, { routing })),
          {
            discard: true
          }
        )
      ))
      expect(delta).toEqual({ total: 1_000, exported: 1_000, dropped: 0, failed: 0 })
      expect(millis).toBeLessThan(3_000)
      expect(new Set(names(receiver.requests)).size).toBe(1_000)
    }).pipe(Effect.scoped))
})

describe("OTLP partial success", () => {
  it.live("a 200 whose body rejects spans: those are failed, the rest exported, the message logged escaped, no retry", () =>
    Effect.gen(function*() {
      const response = ExportTraceServiceResponse.encode(
        ExportTraceServiceResponse.fromObject({
          partialSuccess: { rejectedSpans: 2, errorMessage: "\x1b[31mspans too old" }
        })
      ).finish() as Uint8Array
      const receiver = yield* rawReceiver((_, __, socket) => {
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${response.length}\r\n\r\n`
        )
        socket.write(response)
      })
      const { delta, logs } = yield* observed(withPipeline(
        settingsFor(receiver.socketPath),
        Effect.void.pipe(withUserSpan("a"), withUserSpan("b"), withUserTrace("r", { routing }))
      ))
      expect(delta).toEqual({ total: 3, exported: 1, dropped: 0, failed: 2 })
      expect(receiver.requests).toHaveLength(1)
      expect(logs.join("\n")).toContain("rejected 2 of 3 spans: \\u001b[31mspans too old")
    }).pipe(Effect.scoped))

  it.live("the same in OTLP/JSON; an empty partial_success is a full success", () =>
    Effect.gen(function*() {
      const bodies = [
        "{\"partialSuccess\":{\"rejectedSpans\":\"1\",\"errorMessage\":\"quota\"}}",
        "{\"partialSuccess\":{}}"
      ]
      const receiver = yield* rawReceiver((_, n, socket) =>
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${bodies[n % 2].length}\r\n\r\n${
            bodies[n % 2]
          }`
        )
      )
      const { delta } = yield* observed(withPipeline(settingsFor(receiver.socketPath), tracesOneByOne(2)))
      expect(delta).toEqual({ total: 2, exported: 1, dropped: 0, failed: 1 })
    }).pipe(Effect.scoped))
})

describe("a 2xx that is not an OTLP answer", () => {
  it.live("200 text/html (a proxy's page): failed, not retried, logged with its content type", () =>
    Effect.gen(function*() {
      const page = "<html><body>Welcome to nginx!</body></html>"
      const receiver = yield* rawReceiver((_, __, socket) =>
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\n\r\n${page}`)
      )
      const { delta, logs } = yield* observed(withPipeline(
        settingsFor(receiver.socketPath),
        Effect.void.pipe(withUserSpan("c"), withUserTrace("r", { routing }))
      ))
      expect(delta).toEqual({ total: 2, exported: 0, dropped: 0, failed: 2 })
      expect(receiver.requests).toHaveLength(1)
      const lines = logs.filter((line) => line.includes("text/html"))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain("not an OTLP answer")
    }).pipe(Effect.scoped))

  it.live("a 2xx with an empty body, whatever its content type, is a success", () =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, __, socket) =>
        socket.write("HTTP/1.1 202 Accepted\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n")
      )
      const { delta } = yield* observed(withPipeline(settingsFor(receiver.socketPath), tracesOneByOne(3)))
      expect(delta).toEqual({ total: 3, exported: 3, dropped: 0, failed: 0 })
    }).pipe(Effect.scoped))
})

describe("what closing says", () => {
  it.live("spans lost to a missing socket: one line at close with the totals", () =>
    Effect.gen(function*() {
      const { delta, logs, millis } = yield* observed(withPipeline(
        settingsFor(tempSocketPath(), {}, { shutdownTimeout: 500 }),
        Effect.forEach(
          Array.from({ length: 27 }, (_, i) => i),
          (i) => Effect.void.pipe(withUserTrace(`r-${i}`, { routing })),
          { discard: true }
        )
      ))
      expect(delta).toEqual({ total: 27, exported: 0, dropped: 0, failed: 27 })
      expect(millis).toBeLessThan(2_000)
      const closing = logs.filter((line) => line.includes("lost since start"))
      expect(closing).toHaveLength(1)
      expect(closing[0]).toContain("closed with 27 of 27 spans lost since start: 0 dropped")
      expect(closing[0]).toContain("27 failed")
    }).pipe(Effect.scoped))

  it.live("failure lines the rate limit suppressed are counted in it", () =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, __, socket) =>
        socket.write("HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
      )
      const { delta, logs } = yield* observed(withPipeline(settingsFor(receiver.socketPath), tracesOneByOne(5)))
      expect(delta).toEqual({ total: 5, exported: 0, dropped: 0, failed: 5 })
      // The first failure is logged; the next four, within the log interval, are not.
      expect(logs.filter((line) => line.includes("answered 500"))).toHaveLength(1)
      const closing = logs.filter((line) => line.includes("lost since start"))
      expect(closing).toHaveLength(1)
      expect(closing[0]).toContain("5 failed")
      expect(closing[0]).toContain("4 failure log lines were suppressed")
    }).pipe(Effect.scoped))

  it.live("nothing lost: nothing said at close", () =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, __, socket) => socket.write(ok))
      const { delta, logs } = yield* observed(withPipeline(settingsFor(receiver.socketPath), tracesOneByOne(3)))
      expect(delta).toEqual({ total: 3, exported: 3, dropped: 0, failed: 0 })
      // The start-up line only.
      expect(logs).toHaveLength(1)
      expect(logs[0]).toMatch(/^user tracing is enabled/)
    }).pipe(Effect.scoped))
})

describe("what goes on the wire", () => {
  it.live("gzip: Content-Encoding: gzip, and the body inflates to the official ExportTraceServiceRequest", () =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, __, socket) => socket.write(ok))
      const { delta } = yield* observed(withPipeline(
        settingsFor(receiver.socketPath, { compression: "gzip" }),
        Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => Effect.void.pipe(withUserSpan("child"), withUserTrace(`r-${i}`, { routing })),
          { discard: true }
        )
      ))
      expect(delta).toMatchObject({ exported: 400, failed: 0 })
      expect(names(receiver.requests)).toHaveLength(400)
      for (const request of receiver.requests) {
        expect(request.headers["content-encoding"]).toBe("gzip")
        expect(Number(request.headers["content-length"])).toBe(request.body.length)
        expect(request.body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]))
      }
    }).pipe(Effect.scoped))

  it.live("RoutingMetadata.json with non-ASCII text: an ASCII header that parses back to the same value", () =>
    Effect.gen(function*() {
      const receiver = yield* rawReceiver((_, __, socket) => socket.write(ok))
      const tenants = ["東京", "café", "😀"]
      const { delta } = yield* observed(withPipeline(
        settingsFor(receiver.socketPath),
        Effect.forEach(
          tenants,
          (tenant) => Effect.void.pipe(withUserTrace(tenant, { routing: RoutingMetadata.json({ tenant }) })),
          { discard: true }
        )
      ))
      expect(delta).toMatchObject({ exported: 3, failed: 0 })
      const received = receiver.requests.map((r) => r.headers["x-user-routing"])
      for (const header of received) expect(header).toMatch(/^[\x20-\x7e]*$/)
      expect(received.map((h) => JSON.parse(h).tenant).sort()).toEqual([...tenants].sort())
    }).pipe(Effect.scoped))
})

describe("https", () => {
  const tls = {
    cert: Fs.readFileSync(`${root}test/utils/fixtures/tls/cert.pem`),
    key: Fs.readFileSync(`${root}test/utils/fixtures/tls/key.pem`)
  }

  /** A local https receiver with the test's self-signed certificate. */
  const httpsReceiver = Effect.acquireRelease(
    Effect.async<
      {
        readonly url: string
        readonly requests: Array<{ headers: any; spans: Array<string> }>
        readonly server: Https.Server
      }
    >(
      (resume) => {
        const requests: Array<{ headers: any; spans: Array<string> }> = []
        const server = Https.createServer(tls, (req, res) => {
          const chunks: Array<Buffer> = []
          req.on("data", (chunk: Buffer) => chunks.push(chunk))
          req.on("end", () => {
            const decoded = ExportTraceServiceRequest.decode(Buffer.concat(chunks))
            requests.push({
              headers: req.headers,
              spans: decoded.resourceSpans[0].scopeSpans[0].spans.map((s: any) => s.name)
            })
            res.writeHead(200).end()
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const { port } = server.address() as Net.AddressInfo
          resume(Effect.succeed({ url: `https://localhost:${port}/v1/traces`, requests, server }))
        })
      }
    ),
    ({ server }) =>
      Effect.promise(() =>
        new Promise<void>((done) => {
          server.closeAllConnections()
          server.close(() => done())
        })
      )
  )

  it.live("a certificate the process does not trust: failed, not retried, nothing sent", () =>
    Effect.gen(function*() {
      const receiver = yield* httpsReceiver
      const { delta, logs } = yield* observed(withPipeline(
        {
          enabled: true,
          serviceName: "checkout",
          output: { otlpHttp: { url: receiver.url, routingHeaderName: "x-user-routing" } }
        },
        Effect.void.pipe(withUserTrace("r", { routing }))
      ))
      expect(delta).toEqual({ total: 1, exported: 0, dropped: 0, failed: 1 })
      expect(receiver.requests).toHaveLength(0)
      expect(logs.join("\n")).toMatch(/certificate/i)
    }).pipe(Effect.scoped))

  it.live("trusted through NODE_EXTRA_CA_CERTS: exported over TLS with the static headers", () =>
    Effect.gen(function*() {
      const receiver = yield* httpsReceiver
      const env: Record<string, string | undefined> = { ...process.env }
      for (const name of Object.keys(env)) if (name.startsWith("USER_TRACING_")) delete env[name]
      const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", "test/utils/fixtures/exportOnce.ts"], {
        cwd: root,
        env: { ...env, NODE_EXTRA_CA_CERTS: `${root}test/utils/fixtures/tls/cert.pem`, EXPORT_URL: receiver.url },
        stdio: ["ignore", "pipe", "pipe"]
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL")))
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      const code = yield* Effect.async<number | null>((resume) => {
        child.on("close", (exit) => resume(Effect.succeed(exit)))
      })
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" })
      expect(JSON.parse(stdout)).toEqual({ exported: 2, failed: 0 })
      yield* eventually(() => receiver.requests.length === 1)
      expect(receiver.requests[0].spans.sort()).toEqual(["child", "request"])
      expect(receiver.requests[0].headers.authorization).toBe("Bearer child")
      expect(receiver.requests[0].headers.host).toBe(new URL(receiver.url).host)
    }).pipe(Effect.scoped))
})

describe("the exporter's I/O under OpenTelemetry instrumentation", () => {
  it.live("an undici instrumentation that traces and injects traceparent sees no export request", () =>
    Effect.gen(function*() {
      const spans = new InMemorySpanExporter()
      const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
      provider.register()
      const tracer = provider.getTracer("app")
      // What @opentelemetry/instrumentation-undici does on each request it sees: a client span
      // under the active context, and its traceparent injected into the request.
      const instrument = ({ request }: any) => {
        const span = tracer.startSpan("POST", { kind: SpanKind.CLIENT }, otelContext.active())
        const carrier: Record<string, string> = {}
        propagation.inject(trace.setSpan(otelContext.active(), span), carrier)
        for (const [name, value] of Object.entries(carrier)) request.addHeader(name, value)
        span.end()
      }
      DiagnosticsChannel.subscribe("undici:request:create", instrument)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          DiagnosticsChannel.unsubscribe("undici:request:create", instrument)
          trace.disable()
          otelContext.disable()
          propagation.disable()
        })
      )
      const receiver = yield* rawReceiver((_, __, socket) => socket.write(ok))
      // The application's internal span is active while it runs the pipeline.
      yield* Effect.promise(() =>
        tracer.startActiveSpan(
          "app",
          (app) =>
            Effect.runPromise(withPipeline(settingsFor(receiver.socketPath), tracesOneByOne(3))).finally(() =>
              app.end()
            )
        )
      )
      expect(names(receiver.requests)).toHaveLength(3)
      expect(receiver.requests.every((r) => r.headers.traceparent === undefined)).toBe(true)
      expect(spans.getFinishedSpans().map((s) => s.name)).toEqual(["app"])

      // The same instrumentation on an undici request of the application's own: traced, injected.
      const pool = new Pool("http://localhost", { socketPath: receiver.socketPath })
      yield* Effect.promise(() =>
        tracer.startActiveSpan(
          "app-call",
          (call) =>
            pool.request({ method: "POST", path: "/v1/traces", body: Buffer.alloc(0) })
              .then((response) => response.body.dump())
              .finally(() => call.end())
        )
      )
      yield* Effect.promise(() => pool.close())
      expect(receiver.requests.at(-1)!.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
      expect(spans.getFinishedSpans().map((s) => s.name)).toEqual(["app", "POST", "app-call"])
    }).pipe(Effect.scoped))
})
