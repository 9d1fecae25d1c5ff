import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Zlib from "node:zlib"
import type { UserTracingSettings } from "../../../src/index.js"
import { parseRetryAfter } from "../../../src/internal/export/request.js"
import * as Transport from "../../../src/internal/export/transport.js"
import { tempSocketPath } from "../../utils/receiver.js"

describe("what the exporter reads from an answer", () => {
  it("parses Retry-After as seconds or an HTTP date, capped at a minute", () => {
    const now = Date.parse("2026-01-01T00:00:00Z")
    expect(parseRetryAfter("3", now)).toBe(3000)
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000)
    expect(parseRetryAfter("86400", now)).toBe(60_000)
    expect(parseRetryAfter("soon", now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
  })
})

const common: UserTracingSettings.OutputCommon = {
  routingHeaderName: "x-user-routing",
  numTasks: 1,
  maxBatchSize: 512,
  maxBatchBytes: 4 * 1024 * 1024,
  requestTimeout: Duration.seconds(5),
  maxAttempts: 1,
  compression: "none"
}

const output = (
  socketPath: string,
  extra?: Partial<UserTracingSettings.OtlpUdsOutput>
): UserTracingSettings.Output => ({
  otlpUds: { ...common, socketPath, ...extra }
})

/** A node:http server on a Unix socket (or TCP port 0 on 127.0.0.1); `handle` answers each request. */
const server = (handle: Http.RequestListener, tcp = false) =>
  Effect.acquireRelease(
    Effect.async<{ readonly address: string; readonly sockets: Set<Net.Socket> }>((resume) => {
      const sockets = new Set<Net.Socket>()
      const http = Http.createServer(handle)
      http.on("connection", (socket) => sockets.add(socket))
      const ready = () =>
        resume(Effect.succeed({
          address: tcp ? `http://127.0.0.1:${(http.address() as Net.AddressInfo).port}/otlp/v1/traces?x=1` : path,
          sockets,
          http
        }))
      const path = tempSocketPath()
      if (tcp) http.listen(0, "127.0.0.1", ready)
      else http.listen(path, ready)
    }),
    (s) =>
      Effect.promise(() =>
        new Promise<void>((done) => {
          const http = (s as unknown as { http: Http.Server }).http
          http.closeAllConnections()
          http.close(() => done())
        })
      )
  )

const readBody = (req: Http.IncomingMessage) =>
  new Promise<Buffer>((done) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk)).on("end", () => done(Buffer.concat(chunks)))
  })

const withTransport = <A, E, R>(
  settings: UserTracingSettings.Output,
  f: (t: Transport.Transport) => Effect.Effect<A, E, R>
) => Effect.acquireUseRelease(Effect.sync(() => Transport.make(settings)), f, (t) => Effect.sync(t.close))

describe("the transport (undici)", () => {
  it.live("sends Host, Content-Type, Content-Length, the routing value verbatim, and nothing of its own", () =>
    Effect.gen(function*() {
      const seen: Array<{ url: string; headers: Http.IncomingHttpHeaders; body: Buffer }> = []
      const receiver = yield* server(async (req, res) => {
        seen.push({ url: req.url ?? "", headers: req.headers, body: await readBody(req) })
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end()
      })
      const answer = yield* withTransport(
        output(receiver.address),
        (t) => t.send("{\"tenant\":\"acme\"}", Buffer.from("spans"))
      )
      expect(answer).toMatchObject({ status: 200, contentType: "application/x-protobuf", truncated: false })
      expect(seen).toHaveLength(1)
      expect(seen[0].url).toBe("/v1/traces")
      expect(seen[0].body.toString()).toBe("spans")
      expect(seen[0].headers).toMatchObject({
        host: "localhost",
        "content-type": "application/x-protobuf",
        "content-length": "5",
        "x-user-routing": "{\"tenant\":\"acme\"}"
      })
      expect(seen[0].headers.traceparent).toBeUndefined()
      expect(seen[0].headers["content-encoding"]).toBeUndefined()
    }).pipe(Effect.scoped))

  it.live("over TCP: the URL's path and query, its host, the static headers, and gzip bodies", () =>
    Effect.gen(function*() {
      const seen: Array<{ url: string; headers: Http.IncomingHttpHeaders; body: Buffer }> = []
      const receiver = yield* server(async (req, res) => {
        seen.push({ url: req.url ?? "", headers: req.headers, body: await readBody(req) })
        res.writeHead(200).end()
      }, true)
      const settings: UserTracingSettings.Output = {
        otlpHttp: {
          ...common,
          url: receiver.address,
          headers: { authorization: "Bearer token", "x-scope": "a b" },
          compression: "gzip"
        }
      }
      yield* withTransport(
        settings,
        (t) => Effect.flatMap(t.prepare(Buffer.from("spans ".repeat(100))), (body) => t.send("r", body))
      )
      expect(seen[0].url).toBe("/otlp/v1/traces?x=1")
      expect(seen[0].headers).toMatchObject({
        host: new URL(receiver.address).host,
        authorization: "Bearer token",
        "x-scope": "a b",
        "content-encoding": "gzip",
        "x-user-routing": "r"
      })
      expect(Zlib.gunzipSync(seen[0].body).toString()).toBe("spans ".repeat(100))
    }).pipe(Effect.scoped))

  it.live("keeps connections alive, at most one per request a worker keeps in flight, under concurrent sends", () =>
    Effect.gen(function*() {
      const receiver = yield* server(async (req, res) => {
        await readBody(req)
        setImmediate(() => res.writeHead(200).end())
      })
      yield* withTransport(
        output(receiver.address, { numTasks: 3 }),
        (t) => Effect.all(Array.from({ length: 30 }, () => t.send("r", Buffer.from("x"))), { concurrency: "unbounded" })
      )
      expect(receiver.sockets.size).toBe(3 * Transport.REQUESTS_PER_WORKER)
    }).pipe(Effect.scoped))

  it.live("keeps only the start of a long answer", () =>
    Effect.gen(function*() {
      const receiver = yield* server(async (req, res) => {
        await readBody(req)
        res.writeHead(500).end("e".repeat(1024 * 1024))
      })
      const answer = yield* withTransport(output(receiver.address), (t) => t.send("r", Buffer.from("x")))
      expect(answer.status).toBe(500)
      expect(answer.truncated).toBe(true)
      expect(answer.body.byteLength).toBe(64 * 1024)
    }).pipe(Effect.scoped))

  it.live("tells a refused connection (retried) from a timeout (not retried)", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.flip(withTransport(output(tempSocketPath()), (t) => t.send("r", Buffer.from("x"))))
      expect(refused.reason).toBe("transport")
      const silent = yield* server(() => {})
      const started = Date.now()
      const timedOut = yield* Effect.flip(
        withTransport(output(silent.address, { requestTimeout: Duration.millis(150) }), (t) =>
          t.send("r", Buffer.from("x")))
      )
      expect(timedOut).toMatchObject({ reason: "timeout", message: "no answer within 150 ms" })
      expect(Date.now() - started).toBeLessThan(1_000)
    }).pipe(Effect.scoped))
})
