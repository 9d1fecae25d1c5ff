/**
 * How many turns of a busy event loop one sequential export request costs: a producer
 * keeps the check phase busy (1 ms of work per `setImmediate`, as the benchmark's stretches of
 * spans do) while 1,000 POSTs of 80 KB go one after another over a Unix socket to a node:http
 * server in another process. Compares undici with `pipelining: 1` and `2`, the library's transport
 * (undici inside an Effect loop, as a worker runs it) and node:http's keep-alive agent.
 *
 *   npx tsx scratchpad/bench/event-loop-turns.ts
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { Pool } from "undici"
import * as Transport from "../../src/internal/export/transport.js"
import { startPlainReceiver, transportOutput } from "./common.js"

const socketPath = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-turns-")), "otlp.sock")
const body = new Uint8Array(80 * 1024).map((_, i) => (i * 7919) & 0xff)
const headers = { "content-type": "application/x-protobuf", "x-user-routing": "r" }
const server = await startPlainReceiver(socketPath)

let turns = 0
let producing = false
const producer = () => {
  if (!producing) return
  turns++
  const end = performance.now() + 1
  while (performance.now() < end) {
    // the application's work
  }
  setImmediate(producer)
}

const measure = async (name: string, run: (requests: number) => Promise<void>) => {
  const requests = 1000
  await run(50)
  producing = true
  turns = 0
  setImmediate(producer)
  const start = performance.now()
  await run(requests)
  producing = false
  const micros = (performance.now() - start) * 1000 / requests
  console.log(
    `${name.padEnd(34)} ${(turns / requests).toFixed(2).padStart(5)} turns ${
      micros.toFixed(0).padStart(6)
    } µs per request`
  )
  await new Promise((resolve) => setTimeout(resolve, 20))
}

for (const pipelining of [1, 2]) {
  const pool = new Pool("http://localhost", { socketPath, connections: 1, pipelining })
  await measure(`undici Pool, pipelining: ${pipelining}`, async (requests) => {
    for (let i = 0; i < requests; i++) {
      const response = await pool.request({ method: "POST", path: "/v1/traces", headers, body })
      await response.body.dump()
    }
  })
  await pool.close()
}
const transport = Transport.make(transportOutput(socketPath))
await measure(
  "this library's transport",
  (requests) => Effect.runPromise(Effect.asVoid(Effect.repeatN(transport.send("r", body), requests - 1)))
)
transport.close()
const agent = new Http.Agent({ keepAlive: true, maxSockets: 1 })
await measure("node:http keep-alive agent", async (requests) => {
  for (let i = 0; i < requests; i++) {
    await new Promise<void>((resolve, reject) => {
      const request = Http.request(
        {
          socketPath,
          method: "POST",
          path: "/v1/traces",
          headers: { ...headers, "content-length": body.length },
          agent
        },
        (response) => response.resume().on("end", resolve)
      )
      request.on("error", reject).end(body)
    })
  }
})
agent.destroy()
server.kill()
