/**
 * The transport's cost per request: 56 KB protobuf-sized POSTs over a Unix socket to a
 * node:http server in another process, one at a time, wall time per request. Compares plain
 * undici (a `Pool`, promise loop), the library's transport (undici inside an Effect loop, as the
 * exporter runs it) and `@effect/platform`'s `HttpClient` over the same kind of undici `Pool`.
 *
 *   npx tsx scratchpad/bench/transport-bench.ts [requests=4000] [rounds=5]
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Pool } from "undici"
import * as Transport from "../../src/internal/export/transport.js"
import { startPlainReceiver, transportOutput } from "./common.js"

const requests = Number(process.argv[2] ?? 4000)
const rounds = Number(process.argv[3] ?? 5)
const socketPath = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-transport-")), "otlp.sock")
const body = new Uint8Array(56 * 1024).map((_, i) => (i * 7919) & 0xff)
const routing = "{\"tenant\":\"acme\"}"

const server = await startPlainReceiver(socketPath)

const undiciPlain = async (n: number) => {
  const pool = new Pool("http://localhost", { socketPath, connections: 1 })
  for (let i = 0; i < n; i++) {
    const response = await pool.request({
      method: "POST",
      path: "/v1/traces",
      headers: { "content-type": "application/x-protobuf", "x-user-routing": routing },
      body
    })
    if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`)
    await response.body.dump()
  }
  await pool.close()
}

const ours = async (n: number) => {
  const transport = Transport.make(transportOutput(socketPath))
  await Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      const answer = yield* transport.send(routing, body)
      if (answer.status !== 200) throw new Error(`status ${answer.status}`)
    }
  }))
  transport.close()
}

const platform = async (n: number) => {
  const pool = new Pool("http://localhost", { socketPath, connections: 1 })
  const client = NodeHttpClient.makeUndici(pool)
  const request = HttpClientRequest.post("http://localhost/v1/traces").pipe(
    HttpClientRequest.setHeader("x-user-routing", routing),
    HttpClientRequest.bodyUint8Array(body, "application/x-protobuf")
  )
  await Effect.runPromise(
    Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        const response = yield* client.execute(request)
        if (response.status !== 200) throw new Error(`status ${response.status}`)
        yield* response.arrayBuffer
      }
    }).pipe(Effect.scoped, Effect.provideService(HttpClient.HttpClient, client))
  )
  await pool.close()
}

const undiciDispatch = async (n: number) => {
  const pool = new Pool("http://localhost", { socketPath, connections: 1 })
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) =>
      pool.dispatch({
        method: "POST",
        path: "/v1/traces",
        headers: { "content-type": "application/x-protobuf", "x-user-routing": routing },
        body
      }, { onRequestStart: () => {}, onResponseEnd: () => resolve(), onResponseError: (_, error) => reject(error) })
    )
  }
  await pool.close()
}

const undiciDispatchEffect = async (n: number) => {
  const pool = new Pool("http://localhost", { socketPath, connections: 1 })
  const send = Effect.async<void, Error>((resume) => {
    pool.dispatch({
      method: "POST",
      path: "/v1/traces",
      headers: { "content-type": "application/x-protobuf", "x-user-routing": routing },
      body
    }, {
      onRequestStart: () => {},
      onResponseEnd: () => resume(Effect.void),
      onResponseError: (_, error) => resume(Effect.fail(error))
    })
  })
  await Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* send
  }))
  await pool.close()
}

const variants = {
  "undici Pool (plain)": undiciPlain,
  "undici dispatch (plain)": undiciDispatch,
  "undici dispatch in Effect.async": undiciDispatchEffect,
  "ours (undici in Effect)": ours,
  "@effect/platform HttpClient": platform
}
// Wall time, and the client process's CPU time (steadier on a busy machine), per request.
const wall = new Map<string, Array<number>>(Object.keys(variants).map((name) => [name, []]))
const cpu = new Map<string, Array<number>>(Object.keys(variants).map((name) => [name, []]))
for (const run of Object.values(variants)) await run(500) // warm-up
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of Object.entries(variants)) {
    const started = process.hrtime.bigint()
    const cpuStarted = process.cpuUsage()
    await run(requests)
    const used = process.cpuUsage(cpuStarted)
    wall.get(name)!.push(Number(process.hrtime.bigint() - started) / 1000 / requests)
    cpu.get(name)!.push((used.user + used.system) / requests)
  }
}
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const baseWall = median(wall.get("undici Pool (plain)")!)
const baseCpu = median(cpu.get("undici Pool (plain)")!)
console.log(`${requests} POSTs of ${body.length} bytes over a Unix socket, one at a time, median of ${rounds} rounds`)
console.log(
  `${"".padEnd(30)} ${"wall us".padStart(8)} ${"vs plain".padStart(9)} ${"cpu us".padStart(8)} ${
    "vs plain".padStart(9)
  }`
)
const percent = (x: number, base: number) => `${((x / base - 1) * 100).toFixed(1)} %`.padStart(9)
for (const name of Object.keys(variants)) {
  const w = median(wall.get(name)!)
  const c = median(cpu.get(name)!)
  console.log(
    `${name.padEnd(30)} ${w.toFixed(1).padStart(8)} ${percent(w, baseWall)} ${c.toFixed(1).padStart(8)} ${
      percent(c, baseCpu)
    }`
  )
}
server.kill()
