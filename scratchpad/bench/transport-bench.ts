/**
 * The transport's cost (issue 10): 56 KB protobuf-sized POSTs over a Unix socket to a node:http
 * server in another process, one at a time.
 *
 * 1. Per request on an idle event loop: wall time, and the client process's CPU time (steadier on
 *    a busy machine). Plain undici (`Pool.request`, `dispatch`), plain node:http (a kept-alive
 *    `Agent`), the library's transport (node:http inside an Effect loop, as the exporter runs it)
 *    and `@effect/platform`'s `HttpClient` over an undici `Pool`.
 * 2. Requests per event-loop turn while the application keeps the check phase busy (1.8 ms of work
 *    per `setImmediate`, like the benchmark's producer): undici reuses a kept-alive connection only
 *    after a check phase, so it falls behind there.
 *
 *   npx tsx scratchpad/bench/transport-bench.ts [requests=4000] [rounds=5]
 */
import { HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Duration, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { Pool } from "undici"
import * as Transport from "../../src/internal/otlpTransport.js"

const requests = Number(process.argv[2] ?? 4000)
const rounds = Number(process.argv[3] ?? 5)
const socketPath = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-transport-")), "otlp.sock")
const body = new Uint8Array(56 * 1024).map((_, i) => (i * 7919) & 0xff)
const routing = '{"tenant":"acme"}'
const headers = { "content-type": "application/x-protobuf", "x-user-routing": routing }

// The receiver: reads the whole body, answers 200 with an empty protobuf body, keeps alive.
const server = ChildProcess.spawn(process.execPath, [
  "-e",
  `require("node:http").createServer((req, res) => {
    req.on("data", () => {}).on("end", () => res.writeHead(200, { "content-type": "application/x-protobuf" }).end())
  }).listen(${JSON.stringify(socketPath)}, () => console.log("ready"))`
], { stdio: ["ignore", "pipe", "inherit"] })
await new Promise<void>((ready) => server.stdout!.once("data", () => ready()))

/** One way to send: `send` posts the body once; `close` releases the connection. */
interface Sender {
  readonly send: Effect.Effect<void>
  readonly close: () => Promise<unknown>
}

const undiciRequest = (): Sender => {
  const pool = new Pool("http://localhost", { socketPath, connections: 1 })
  return {
    send: Effect.promise(async () => {
      const response = await pool.request({ method: "POST", path: "/v1/traces", headers, body })
      await response.body.dump()
    }),
    close: () => pool.close()
  }
}

const undiciDispatch = (): Sender => {
  const pool = new Pool("http://localhost", { socketPath, connections: 1 })
  return {
    send: Effect.async<void>((resume) => {
      pool.dispatch({ method: "POST", path: "/v1/traces", headers, body }, {
        onRequestStart: () => {},
        onResponseEnd: () => resume(Effect.void),
        onResponseError: (_, error) => resume(Effect.die(error))
      })
    }),
    close: () => pool.close()
  }
}

const nodeHttp = (): Sender => {
  const agent = new Http.Agent({ keepAlive: true, maxSockets: 1 })
  return {
    send: Effect.async<void>((resume) => {
      Http.request({
        socketPath,
        path: "/v1/traces",
        method: "POST",
        agent,
        headers: { ...headers, "content-length": body.byteLength }
      }, (response) => response.resume().on("end", () => resume(Effect.void))).end(body)
    }),
    close: async () => agent.destroy()
  }
}

const ours = (): Sender => {
  const transport = Transport.make({
    otlpUds: {
      socketPath,
      routingHeaderName: "x-user-routing",
      numTasks: 1,
      maxBatchSize: 512,
      maxBatchBytes: 4 * 1024 * 1024,
      requestTimeout: Duration.seconds(10),
      maxAttempts: 1,
      compression: "none"
    }
  })
  return { send: Effect.orDie(transport.send(routing, body)), close: async () => transport.close() }
}

const platform = (): Sender => {
  const pool = new Pool("http://localhost", { socketPath, connections: 1 })
  const client = NodeHttpClient.makeUndici(pool)
  const request = HttpClientRequest.post("http://localhost/v1/traces").pipe(
    HttpClientRequest.setHeader("x-user-routing", routing),
    HttpClientRequest.bodyUint8Array(body, "application/x-protobuf")
  )
  return {
    send: client.execute(request).pipe(Effect.flatMap((response) => response.arrayBuffer), Effect.scoped, Effect.orDie),
    close: () => pool.close()
  }
}

const loop = (sender: Sender, n: number) =>
  Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* sender.send
  })).then(() => sender.close())

const idle = {
  "undici Pool.request (plain)": undiciRequest,
  "undici dispatch in Effect.async": undiciDispatch,
  "node:http Agent in Effect.async": nodeHttp,
  "ours (node:http)": ours,
  "@effect/platform HttpClient": platform
}
const wall = new Map<string, Array<number>>(Object.keys(idle).map((name) => [name, []]))
const cpu = new Map<string, Array<number>>(Object.keys(idle).map((name) => [name, []]))
for (const make of Object.values(idle)) await loop(make(), 500) // warm-up
for (let round = 0; round < rounds; round++) {
  for (const [name, make] of Object.entries(idle)) {
    const started = process.hrtime.bigint()
    const cpuStarted = process.cpuUsage()
    await loop(make(), requests)
    const used = process.cpuUsage(cpuStarted)
    wall.get(name)!.push(Number(process.hrtime.bigint() - started) / 1000 / requests)
    cpu.get(name)!.push((used.user + used.system) / requests)
  }
}
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const baseWall = median(wall.get("undici Pool.request (plain)")!)
const baseCpu = median(cpu.get("undici Pool.request (plain)")!)
const percent = (x: number, base: number) => `${((x / base - 1) * 100).toFixed(1)} %`.padStart(9)
console.log(`1. ${requests} POSTs of ${body.length} bytes over a Unix socket, one at a time, idle loop, median of ${rounds} rounds`)
console.log(`${"".padEnd(34)} ${"wall us".padStart(8)} ${"vs undici".padStart(9)} ${"cpu us".padStart(8)} ${"vs undici".padStart(9)}`)
for (const name of Object.keys(idle)) {
  const w = median(wall.get(name)!)
  const c = median(cpu.get(name)!)
  console.log(`${name.padEnd(34)} ${w.toFixed(1).padStart(8)} ${percent(w, baseWall)} ${c.toFixed(1).padStart(8)} ${percent(c, baseCpu)}`)
}

/** Sends back to back for `millis` while the check phase burns 1.8 ms per turn; requests per turn. */
const busy = async (sender: Sender, millis: number): Promise<number> => {
  let stop = false
  let turns = 0
  let sent = 0
  const burn = () => {
    if (stop) return
    const end = performance.now() + 1.8
    while (performance.now() < end) {
      // The application's work.
    }
    turns++
    setImmediate(burn)
  }
  setImmediate(burn)
  const sending = Effect.runPromise(Effect.gen(function*() {
    while (!stop) {
      yield* sender.send
      sent++
    }
  }))
  await new Promise((done) => setTimeout(done, millis))
  stop = true
  await sending
  await sender.close()
  return sent / turns
}

const busyVariants = {
  "undici dispatch in Effect.async": undiciDispatch,
  "node:http Agent in Effect.async": nodeHttp,
  "ours (node:http)": ours
}
console.log(`\n2. Requests per event-loop turn, the check phase busy 1.8 ms per turn (3 s each, median of ${rounds})`)
const perTurn = new Map<string, Array<number>>(Object.keys(busyVariants).map((name) => [name, []]))
for (let round = 0; round < rounds; round++) {
  for (const [name, make] of Object.entries(busyVariants)) perTurn.get(name)!.push(await busy(make(), 3000))
}
for (const [name, xs] of perTurn) console.log(`${name.padEnd(34)} ${median(xs).toFixed(2).padStart(8)} requests/turn`)
server.kill()
