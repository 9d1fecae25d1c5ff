import { Effect, Layer } from "effect"
import * as Net from "node:net"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { RoutingMetadata, UserTracing } from "../../src/index.js"
const socketPath = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-")), "otlp.sock")
const sockets = new Set<Net.Socket>()
const server = Net.createServer((s) => { s.pause(); s.on("error", () => {}); sockets.add(s) })
await new Promise<void>((r) => server.listen(socketPath, r))
const t0 = Date.now()
const log = (...a: any[]) => console.log(Date.now() - t0, ...a)
const program = Effect.gen(function*() {
  const ctx = yield* Layer.build(UserTracing.layer({ enabled: true, serviceName: "s", maxQueueBytes: 4 << 20, shutdownTimeout: 200, output: { otlpUds: { socketPath, routingHeaderName: "x-r", maxBatchBytes: 256 << 10 } } } as any))
  log("built")
  yield* Effect.forEach(Array.from({ length: 2000 }, (_, i) => i), (i) => Effect.void.pipe(UserTracing.withUserTrace(`b${i}`, { routing: RoutingMetadata.json({ t: "busy" }), attributes: { pad: "p".repeat(1000) } })), { discard: true }).pipe(Effect.provide(ctx))
  log("busy done")
  yield* Effect.forEach(Array.from({ length: 2000 }, (_, i) => i), (i) => Effect.void.pipe(UserTracing.withUserTrace(`r`, { routing: RoutingMetadata.json({ t: `s${i}` }) })), { discard: true }).pipe(Effect.provide(ctx))
  log("small done")
}).pipe(Effect.scoped)
await Effect.runPromise(program)
log("closed")
for (const s of sockets) s.destroy()
server.close()
log("end")
