import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Option } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { RoutingMetadata, TestUserTracing, Traceparent, UserTracing, UserTracingTest } from "../../src/index.js"
import * as UserTraceSink from "../../src/UserTraceSink.js"
import { encodeTraceRequest } from "../utils/encodeRequest.js"
import { tempSocketPath } from "../utils/receiver.js"
import { chain, jsonRequest, protobufRequest, send, spanIdOf, traceIdOf } from "../utils/sinkClient.js"

const { withUserSpan, withUserTrace } = UserTracing

const root = fileURLToPath(new URL("../..", import.meta.url))
const routingHeaderName = "x-user-routing"
const inboundTraceId = "0af7651916cd43dd8448eb211c80319c"
const inbound = Option.getOrThrow(Traceparent.parse(`00-${inboundTraceId}-b7ad6b7169203331-01`))

/** The CLI as a subprocess (`node --import tsx`), its output so far, and its exit. */
const startCli = (args: ReadonlyArray<string>, extraEnv: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const env: Record<string, string | undefined> = { ...process.env }
      for (const name of Object.keys(env)) if (name.startsWith("USER_TRACING_")) delete env[name]
      Object.assign(env, extraEnv)
      const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", "src/bin/userTracingSink.ts", ...args], {
        cwd: root,
        env,
        stdio: ["ignore", "pipe", "pipe"]
      })
      const output = { stdout: "", stderr: "" }
      child.stdout.on("data", (chunk: Buffer) => (output.stdout += chunk.toString()))
      child.stderr.on("data", (chunk: Buffer) => (output.stderr += chunk.toString()))
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.on("close", (code, signal) => resolve({ code, signal }))
      )
      return { child, output, exited: Effect.promise(() => exited) }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

/** Polls `condition` every 20 ms until it holds, failing after `millis`. */
const waitFor = (what: string, condition: () => boolean, millis = 15_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + millis
    while (!condition()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("20 millis")
    }
  })

const isSocket = (path: string): boolean => {
  try {
    return Fs.statSync(path).isSocket()
  } catch {
    return false
  }
}

/** A trace sent with the live pipeline; closing the layer flushes it to the CLI before returning. */
const sendTrace = (socketPath: string) =>
  Effect.scoped(Effect.flatMap(
    Layer.build(UserTracing.layer({
      enabled: true,
      serviceName: "cli-test",
      output: { otlpUds: { socketPath, routingHeaderName } }
    })),
    (context) =>
      Effect.gen(function*() {
        yield* UserTracing.annotateUserSpan({ "http.route": "/orders/:id", count: 3 })
        yield* UserTracing.logUserSpan({ step: "start" })
        yield* Effect.sleep("2 millis").pipe(withUserSpan("load-order"), withUserSpan("db", { kind: "client" }))
        yield* Effect.exit(Effect.fail("declined").pipe(withUserSpan("charge-card")))
      }).pipe(
        withUserTrace("GET /orders/:id", {
          routing: RoutingMetadata.json({ tenant: "acme" }),
          inbound,
          kind: "server"
        }),
        Effect.provide(context)
      )
  ))

const stop = (cli: Effect.Effect.Success<ReturnType<typeof startCli>>, signal: NodeJS.Signals) =>
  Effect.gen(function*() {
    cli.child.kill(signal)
    return yield* cli.exited
  })

describe("user-tracing-sink CLI", () => {
  it.live("renders a waterfall; SIGINT prints pending traces, exits 0 and removes the socket", () =>
    Effect.gen(function*() {
      const socketPath = tempSocketPath()
      const cli = yield* startCli(["--socket", socketPath])
      yield* waitFor("the socket", () => isSocket(socketPath))
      yield* sendTrace(socketPath)
      const exit = yield* stop(cli, "SIGINT")
      expect(exit).toEqual({ code: 0, signal: null })
      expect(Fs.existsSync(socketPath)).toBe(false)
      const out = cli.output.stdout
      expect(out).toContain(`trace ${inboundTraceId}`)
      expect(out).toContain("continues remote parent b7ad6b7169203331")
      // Default: every non-standard header, so the routing header shows.
      expect(out).toContain(`${routingHeaderName}: {"tenant":"acme"}`)
      // The tree, one bar per span, durations, the error status.
      expect(out).toMatch(/^GET \/orders\/:id server {2,}█+ +[\d.]+ [nµm]?s$/m)
      expect(out).toMatch(/^├─ db client {2,}█+ +[\d.]+ [nµm]?s$/m)
      expect(out).toMatch(/^│ {2}└─ load-order {2,} *█+ +[\d.]+ [nµm]?s$/m)
      expect(out).toMatch(/^└─ charge-card {2,} *█+ +[\d.]+ [nµm]?s {2}✗ error$/m)
      expect(out).toContain("http.route=/orders/:id  count=3")
      expect(out).toContain("◆ Log entry")
      expect(out).toContain("step=start")
      // Not a terminal: no colour.
      expect(out).not.toContain("\u001b[")
      expect(cli.output.stderr).toContain(`listening on unix:${socketPath}`)
      expect(cli.output.stderr).toContain("stopped: 4 span(s)")
    }).pipe(Effect.scoped))

  it.live("shows a trace once it is quiet, without waiting for exit; SIGTERM exits 0", () =>
    Effect.gen(function*() {
      const socketPath = tempSocketPath()
      const cli = yield* startCli([
        "--socket",
        socketPath,
        "--routing-header",
        "X-User-Routing",
        "--quiet-period",
        "200"
      ])
      yield* waitFor("the socket", () => isSocket(socketPath))
      yield* sendTrace(socketPath)
      yield* waitFor("the waterfall", () => cli.output.stdout.includes("charge-card"))
      expect(cli.output.stdout).toContain(`${routingHeaderName}: {"tenant":"acme"}`)
      // Only the named header: not the library's own headers.
      expect(cli.output.stdout).not.toContain("content-type")
      const exit = yield* stop(cli, "SIGTERM")
      expect(exit).toEqual({ code: 0, signal: null })
      expect(Fs.existsSync(socketPath)).toBe(false)
    }).pipe(Effect.scoped))

  it.live("--json: one JSON object per span per line", () =>
    Effect.gen(function*() {
      const socketPath = tempSocketPath()
      const cli = yield* startCli(["--socket", socketPath, "--json", "--routing-header", routingHeaderName])
      yield* waitFor("the socket", () => isSocket(socketPath))
      yield* sendTrace(socketPath)
      const exit = yield* stop(cli, "SIGINT")
      expect(exit).toEqual({ code: 0, signal: null })
      const lines = cli.output.stdout.split("\n").filter((l) => l !== "")
      const spans = lines.map((l) => JSON.parse(l))
      expect(spans.map((s) => s.name).sort()).toEqual(["GET /orders/:id", "charge-card", "db", "load-order"])
      const byName = Object.fromEntries(spans.map((s) => [s.name, s]))
      const rootSpan = byName["GET /orders/:id"]
      expect(rootSpan).toMatchObject({
        traceId: inboundTraceId,
        parentSpanId: "b7ad6b7169203331",
        remoteParent: true,
        kind: "server",
        status: "unset",
        serviceName: "cli-test",
        routing: "{\"tenant\":\"acme\"}",
        attributes: { "http.route": "/orders/:id", count: 3 },
        events: [{ name: "Log entry", attributes: { step: "start" } }]
      })
      expect(rootSpan.startTimeUnixNano).toMatch(/^\d+$/)
      expect(BigInt(rootSpan.endTimeUnixNano) - BigInt(rootSpan.startTimeUnixNano)).toBe(BigInt(rootSpan.durationNanos))
      expect(byName["load-order"].parentSpanId).toBe(byName["db"].spanId)
      expect(byName["charge-card"].status).toBe("error")
      for (const span of spans) {
        expect(span.traceId).toMatch(/^[0-9a-f]{32}$/)
        expect(span.spanId).toMatch(/^[0-9a-f]{16}$/)
      }
    }).pipe(Effect.scoped))

  it.live("--port 0: listens on TCP, prints its URL, decodes a hand-encoded body", () =>
    Effect.gen(function*() {
      const cli = yield* startCli(["--port", "0", "--json"])
      yield* waitFor("the URL", () => /listening on http:\/\/127\.0\.0\.1:\d+\/v1\/traces/.test(cli.output.stderr))
      const url = new URL(/listening on (\S+)/.exec(cli.output.stderr)![1])
      const spans = yield* Effect.void.pipe(
        withUserSpan("child"),
        withUserTrace("hand", { routing: RoutingMetadata.json("t") }),
        Effect.zipRight(UserTracingTest.finishedSpans),
        Effect.provide(TestUserTracing)
      )
      const body = encodeTraceRequest({ serviceName: "hand" }, spans)
      const status = yield* Effect.async<number>((resume) => {
        const request = Http.request(url, {
          method: "POST",
          headers: { "content-type": "application/x-protobuf", "x-routing": "blue" }
        }, (response) => {
          response.resume()
          response.on("end", () => resume(Effect.succeed(response.statusCode ?? 0)))
        })
        request.end(body)
      })
      expect(status).toBe(200)
      yield* waitFor("two lines", () => cli.output.stdout.split("\n").length > 2)
      const exit = yield* stop(cli, "SIGINT")
      expect(exit.code).toBe(0)
      const lines = cli.output.stdout.trim().split("\n").map((l) => JSON.parse(l))
      expect(lines.map((l) => l.name)).toEqual(["child", "hand"])
      // No --routing-header: the only non-standard header is the routing value.
      expect(lines.map((l) => l.routing)).toEqual(["blue", "blue"])
      expect(lines[0].headers).toEqual({ "x-routing": "blue" })
    }).pipe(Effect.scoped))

  it.live("--help exits 0; bad arguments exit 2 with the usage", () =>
    Effect.gen(function*() {
      const [help, none, both, badPort] = yield* Effect.all([
        startCli(["--help"]),
        startCli([]),
        startCli(["--socket", "/tmp/x.sock", "--port", "1"]),
        startCli(["--port", "99999"])
      ])
      const badCap = yield* startCli(["--port", "0", "--max-spans-per-trace", "0"])
      const exits = yield* Effect.all([help.exited, none.exited, both.exited, badPort.exited, badCap.exited], {
        concurrency: "unbounded"
      })
      expect(exits.map((exit) => exit.code)).toEqual([0, 2, 2, 2, 2])
      expect(badCap.output.stderr).toContain("--max-spans-per-trace must be an integer from 1")
      expect(help.output.stdout).toContain("Usage: user-tracing-sink")
      // The help states the sink's own defaults.
      const defaults = [
        UserTraceSink.defaultMaxSpansPerTrace,
        UserTraceSink.defaultMaxPendingSpans,
        Duration.toMillis(UserTraceSink.defaultMaxTraceAge)
      ]
      for (const value of defaults) expect(help.output.stdout).toContain(`(default ${value})`)
      expect(none.output.stderr).toContain("give --socket PATH or --port N")
      expect(none.output.stderr).toContain("Usage: user-tracing-sink")
      expect(both.output.stderr).toContain("not both")
      expect(badPort.output.stderr).toContain("--port must be an integer from 0 to 65535")
    }).pipe(Effect.scoped))

  it.live("an empty --host, and a socket path the kernel would cut, are usage errors: nothing bound or left", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-"))
      const long = Path.join(dir, "s".repeat(200 - dir.length - 1))
      const [emptyHost, longSocket, longFromEnv, fits] = yield* Effect.all([
        startCli(["--port", "0", "--host", ""]),
        startCli(["--socket", long]),
        startCli([], { USER_TRACING_SOCKET_PATH: long }),
        startCli(["--socket", Path.join(dir, "s".repeat(107 - dir.length - 1))])
      ])
      const exits = yield* Effect.all([emptyHost.exited, longSocket.exited, longFromEnv.exited], {
        concurrency: "unbounded"
      })
      expect(exits.map((exit) => exit.code)).toEqual([2, 2, 2])
      expect(emptyHost.output.stderr).toContain("--host must be a non-empty address (default 127.0.0.1")
      expect(emptyHost.output.stderr).not.toContain("listening")
      const tooLong = "must be at most 107 bytes (the kernel cuts a longer Unix socket path); this one has 200"
      expect(longSocket.output.stderr).toContain(`--socket ${tooLong}`)
      expect(longFromEnv.output.stderr).toContain(`USER_TRACING_SOCKET_PATH ${tooLong}`)
      // A path of 107 bytes is whole: listened on, then removed at exit.
      yield* waitFor("the socket", () => fits.output.stderr.includes("listening"))
      expect(Fs.readdirSync(dir)).toEqual(["s".repeat(107 - dir.length - 1)])
      expect(yield* stop(fits, "SIGINT")).toEqual({ code: 0, signal: null })
      expect(Fs.readdirSync(dir)).toEqual([])
    }).pipe(Effect.scoped))

  it.live("a socket path it cannot listen on exits 1 with a message", () =>
    Effect.gen(function*() {
      const cli = yield* startCli(["--socket", "/nonexistent-dir/x.sock"])
      expect((yield* cli.exited).code).toBe(1)
      expect(cli.output.stderr).toContain("cannot listen on unix socket /nonexistent-dir/x.sock")
    }).pipe(Effect.scoped))
})

describe("user-tracing-sink CLI: what it prints from the wire", () => {
  it.live("credentials redacted, invisible characters escaped, 64-bit values exact: in the waterfall and --json", () =>
    Effect.gen(function*() {
      const [waterfallSocket, jsonSocket] = [tempSocketPath(), tempSocketPath()]
      const waterfall = yield* startCli(["--socket", waterfallSocket, "--quiet-period", "100"])
      const json = yield* startCli(["--socket", jsonSocket, "--json"])
      yield* waitFor("the sockets", () => isSocket(waterfallSocket) && isSocket(jsonSocket))
      const hidden = "pay\u200bme\ufeff\u{e0041}\u202e"
      const traceId = traceIdOf(400)
      const body = JSON.stringify({
        resourceSpans: [{
          resource: { attributes: [{ key: "service.name", value: { stringValue: `svc${hidden}` } }] },
          scopeSpans: [{
            spans: [{
              traceId,
              spanId: spanIdOf(0),
              name: hidden,
              startTimeUnixNano: "18446744073709551610",
              endTimeUnixNano: "18446744073709551615",
              attributes: [
                { key: "min", value: { intValue: "-9223372036854775808" } },
                { key: "max", value: { intValue: "9223372036854775807" } },
                { key: hidden, value: { stringValue: hidden } }
              ],
              events: [{ name: hidden, timeUnixNano: "18446744073709551612" }],
              status: { code: 2, message: hidden }
            }]
          }]
        }]
      })
      const headers = {
        "content-type": "application/json",
        "x-user-routing": "acme",
        "x-api-key": "APIKEY-SECRET",
        authorization: "Bearer TOKEN-SECRET"
      }
      for (const socketPath of [waterfallSocket, jsonSocket]) {
        expect((yield* send({ socketPath }, body, { headers })).status).toBe(200)
      }
      yield* waitFor("the waterfall", () => waterfall.output.stdout.includes(`trace ${traceId}`))
      yield* waitFor("the JSON line", () => json.output.stdout.includes("\n"))
      expect(yield* stop(waterfall, "SIGINT")).toEqual({ code: 0, signal: null })
      expect(yield* stop(json, "SIGINT")).toEqual({ code: 0, signal: null })
      const escaped = "pay\\u200bme\\ufeff\\u{e0041}\\u202e"
      for (const out of [waterfall.output.stdout, json.output.stdout]) {
        expect(out).not.toMatch(/SECRET|\p{Cf}/u)
      }
      const text = waterfall.output.stdout
      expect(text).toContain(`svc${escaped}`)
      expect(text).toContain("x-api-key: <redacted, 13 bytes>")
      expect(text).toContain("authorization: <redacted, 19 bytes>")
      expect(text).toContain("x-user-routing: acme")
      expect(text).toContain(`✗ error: ${escaped}`)
      expect(text).toContain("min=-9223372036854775808  max=9223372036854775807")
      expect(text).toMatch(/ 5 ns {2}✗ error/)
      expect(text).toContain(`◆ ${escaped} +2 ns`)
      const span = JSON.parse(json.output.stdout.trim())
      expect(span).toMatchObject({
        name: hidden,
        serviceName: `svc${hidden}`,
        startTimeUnixNano: "18446744073709551610",
        endTimeUnixNano: "18446744073709551615",
        durationNanos: "5",
        attributes: { min: "-9223372036854775808", max: "9223372036854775807", [hidden]: hidden },
        events: [{ name: hidden, timeUnixNano: "18446744073709551612" }],
        routing: "acme",
        headers: {
          "x-user-routing": "acme",
          "x-api-key": "<redacted, 13 bytes>",
          authorization: "<redacted, 19 bytes>"
        }
      })
    }).pipe(Effect.scoped))
})

describe("user-tracing-sink CLI: input that must not silence it", () => {
  it.live("a chain of 6,000 spans is shown, and the trace after it; a pending one at SIGINT too", () =>
    Effect.gen(function*() {
      const socketPath = tempSocketPath()
      const cli = yield* startCli(["--socket", socketPath, "--quiet-period", "200"])
      yield* waitFor("the socket", () => isSocket(socketPath))
      const long = traceIdOf(100)
      expect((yield* send({ socketPath }, protobufRequest(chain(long, 6_000)))).status).toBe(200)
      expect((yield* send({ socketPath }, protobufRequest(chain(traceIdOf(101), 2, "after")))).status).toBe(200)
      yield* waitFor("both traces", () => cli.output.stdout.includes("after-1"))
      expect(cli.output.stdout).toContain(`trace ${long}  sink-test · 6000 spans`)
      expect(cli.output.stdout).toMatch(/^\[5999\] .*└─ step-5999 /m)
      // Rootless, so pending (5 s orphan timeout) when the signal comes.
      const orphan = chain(traceIdOf(102), 3_000, "orphan").slice(1)
      expect((yield* send({ socketPath }, protobufRequest(orphan))).status).toBe(200)
      expect(yield* stop(cli, "SIGINT")).toEqual({ code: 0, signal: null })
      expect(cli.output.stdout).toContain(`trace ${traceIdOf(102)}  sink-test · 2999 spans`)
      expect(cli.output.stdout).toContain("orphan-2999")
      expect(Fs.existsSync(socketPath)).toBe(false)
      expect(cli.output.stderr).not.toMatch(/could not|Error/)
    }).pipe(Effect.scoped))

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it.live(`an unrooted trace that keeps growing: shown incomplete at --max-trace-age, drops counted; ${signal} while it grows exits 0`, () =>
      Effect.gen(function*() {
        const socketPath = tempSocketPath()
        const cli = yield* startCli([
          "--socket",
          socketPath,
          "--max-trace-age",
          "400",
          "--max-spans-per-trace",
          "40",
          "--max-pending-spans",
          "1000"
        ])
        yield* waitFor("the socket", () => isSocket(socketPath))
        const growing = traceIdOf(200)
        let sent = 0
        let answered = 0
        const feeding = yield* Effect.fork(Effect.forever(Effect.suspend(() => {
          const batch = Array.from(
            { length: 10 },
            () => ({ traceId: growing, spanId: spanIdOf(++sent), parentSpanId: spanIdOf(0), name: "leaf" })
          )
          return send({ socketPath }, protobufRequest(batch)).pipe(
            Effect.andThen(() => answered++),
            Effect.ignore,
            Effect.zipRight(Effect.sleep("20 millis"))
          )
        })))
        yield* waitFor("an incomplete trace", () => cli.output.stdout.includes("incomplete: still receiving spans"))
        expect(cli.output.stdout).toMatch(/more span\(s\) received and not kept \(over the spans-per-trace cap\)/)
        const before = cli.output.stdout.split("\n").filter((line) => line.startsWith(`trace ${growing}`)).length
        // Spans that came after what is shown: pending when the signal comes (or shown since).
        const answeredBefore = answered
        yield* waitFor("more spans", () => answered > answeredBefore)
        const exit = yield* stop(cli, signal)
        yield* Fiber.interrupt(feeding)
        expect(exit).toEqual({ code: 0, signal: null })
        expect(Fs.existsSync(socketPath)).toBe(false)
        // The trace still pending at the signal is shown too.
        const after = cli.output.stdout.split("\n").filter((line) => line.startsWith(`trace ${growing}`)).length
        expect(after).toBeGreaterThan(before)
        expect(cli.output.stderr).toMatch(
          /stopped: \d+ span\(s\) in \d+ request\(s\), \d+ trace\(s\) shown incomplete, \d+ span\(s\) over the per-trace cap not kept/
        )
      }).pipe(Effect.scoped))
  }

  it.live("--json escapes C1 and bidi controls and U+2028/U+2029; bad JSON bodies get 400 and the next span is shown", () =>
    Effect.gen(function*() {
      const socketPath = tempSocketPath()
      const cli = yield* startCli(["--socket", socketPath, "--json"])
      yield* waitFor("the socket", () => isSocket(socketPath))
      const json = { headers: { "content-type": "application/json" } }
      const hostile = "pay\u009b2J\u202eevil\u2028line\u2029para\u200f\u061c\u2066"
      expect((yield* send({ socketPath }, "[".repeat(100_000), json)).status).toBe(400)
      expect((yield* send({ socketPath }, JSON.stringify({ resourceSpans: [[]] }), json)).status).toBe(400)
      const body = jsonRequest([{ ...chain(traceIdOf(300), 1, hostile)[0], attributes: { [hostile]: hostile } }])
      expect((yield* send({ socketPath }, body, json)).status).toBe(200)
      yield* waitFor("the span", () => cli.output.stdout.includes("\n"))
      expect(yield* stop(cli, "SIGINT")).toEqual({ code: 0, signal: null })
      const line = cli.output.stdout.trim()
      expect(line).not.toMatch(/[\u0080-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/)
      expect(line).toContain("pay\\u009b2J\\u202eevil\\u2028line\\u2029para\\u200f\\u061c\\u2066-0")
      const span = JSON.parse(line)
      expect(span.name).toBe(`${hostile}-0`)
      expect(span.attributes).toEqual({ [hostile]: hostile })
      expect(cli.output.stderr).toContain("2 request(s) rejected")
    }).pipe(Effect.scoped))
})
