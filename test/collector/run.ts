/**
 * `npm run collector`: the documented deployment on one machine, to watch the whole path. It
 * builds the Collector (cached, as the tests do), starts `user-tracing-sink` on a local port as the
 * customer's gateway, and starts the Collector with docs/deployment.md's configuration, verbatim
 * except for endpoints: its receiver on a Unix socket, its exporter pointed at the sink. A service
 * pointed at the socket shows up in the sink as waterfalls, routing header included.
 *
 *   npm run collector [-- --socket PATH] [--port N] [--demo]
 *
 * `--demo` also sends a few traces of two tenants through it from this process. Ctrl-C stops the
 * Collector first (it drains to the sink), then the sink.
 */
import { Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { UserTracing } from "../../src/index.js"
import { freePort, scopedTempDirectory, startCollector } from "./collector.js"
import { buildCollector } from "./globalSetup.js"
import { jsonRouting, routingHeaderName } from "./load.js"

const { values } = parseArgs({
  options: {
    socket: { type: "string" },
    port: { type: "string" },
    demo: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false }
  }
})

if (values.help) {
  console.log(`Usage: npm run collector [-- --socket PATH] [--port N] [--demo]

Starts user-tracing-sink on 127.0.0.1:N (default: a free port) as the gateway, and the
OpenTelemetry Collector with docs/deployment.md's configuration, its receiver on the Unix socket
PATH (default: a new temporary directory's user-traces.sock). --demo sends a few traces through.`)
  process.exit(0)
}

const projectRoot = new URL("../../", import.meta.url).pathname
const sinkScript = Path.join(projectRoot, "src/bin/userTracingSink.ts")

const connects = (port: number) =>
  new Promise<boolean>((done) => {
    const socket = Net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      done(true)
    })
    socket.once("error", () => done(false))
  })

/** Sends SIGTERM and waits for the exit. */
const terminate = (child: ChildProcess) =>
  new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done()
    child.once("close", () => done())
    child.kill("SIGTERM")
  })

/** user-tracing-sink on `port`, in its own process group so Ctrl-C reaches only this script. */
const startSink = (port: number) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const sink = spawn(process.execPath, [
        "--import",
        "tsx",
        sinkScript,
        "--port",
        String(port),
        "--routing-header",
        routingHeaderName
      ], {
        cwd: projectRoot,
        stdio: ["ignore", "inherit", "inherit"],
        detached: true
      })
      let up = false
      while (!up) {
        if (sink.exitCode !== null) {
          return yield* Effect.die(new Error(`user-tracing-sink exited with ${sink.exitCode}`))
        }
        up = yield* Effect.promise(() => connects(port))
        if (!up) yield* Effect.sleep("50 millis")
      }
      return sink
    }),
    (sink) => Effect.promise(() => terminate(sink))
  )

/** A few traces of two tenants, through the Collector, from this process. */
const demo = (socketPath: string) =>
  Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(UserTracing.layer({
      enabled: true,
      serviceName: "collector-demo",
      output: { otlpUds: { socketPath, routingHeaderName } }
    }))
    yield* Effect.forEach(["acme", "globex", "acme"], (tenant, i) =>
      Effect.gen(function*() {
        yield* UserTracing.annotateUserSpan("tenant", tenant)
        yield* Effect.sleep("20 millis").pipe(UserTracing.withUserSpan("load-cart", { kind: "client" }))
        yield* UserTracing.logUserSpan({ step: "priced" })
        yield* Effect.sleep("10 millis").pipe(UserTracing.withUserSpan("charge-card"))
      }).pipe(UserTracing.withUserTrace(`checkout #${i + 1}`, { routing: jsonRouting(tenant), kind: "server" })), {
      discard: true
    }).pipe(
      Effect.provide(context)
    )
  }))

const program = Effect.gen(function*() {
  const binary = buildCollector()
  const port = values.port === undefined ? yield* Effect.promise(freePort) : Number(values.port)
  const socketPath = values.socket ?? Path.join(yield* scopedTempDirectory, "user-traces.sock")
  // A socket file left by an earlier run would stop the Collector from listening.
  if (Fs.existsSync(socketPath) && Fs.statSync(socketPath).isSocket()) Fs.rmSync(socketPath)
  yield* startSink(port)
  const collector = yield* startCollector({
    binary,
    endpoint: socketPath,
    gateways: { "otlp_http/user": `http://127.0.0.1:${port}` },
    echo: process.stderr,
    detached: true
  })
  console.error(`
collector: docs/deployment.md's configuration is running.
  service -> Unix socket ${collector.endpoint} -> Collector -> user-tracing-sink on http://127.0.0.1:${port}
Point a service at it:
  USER_TRACING_ENABLED=true USER_TRACING_SERVICE_NAME=my-app \\
  USER_TRACING_SOCKET_PATH=${collector.endpoint} USER_TRACING_ROUTING_HEADER_NAME=${routingHeaderName} \\
  node dist/main.js
Ctrl-C stops the Collector (it drains to the sink), then the sink.
`)
  if (values.demo) {
    yield* demo(collector.endpoint)
    console.error("collector: the demo's traces were sent; they show in the sink after its quiet period.")
  }
  yield* Effect.async<void>((resume) => {
    const stop = () => resume(Effect.void)
    process.once("SIGINT", stop)
    process.once("SIGTERM", stop)
  })
  console.error("collector: stopping")
  // The scope closes in reverse: the Collector first, so its last batch reaches the sink.
  yield* collector.stop()
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
