import { Effect, Layer } from "effect"
import * as Http from "node:http"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { RoutingMetadata, UserTracing } from "../src/index.js"

const socketPath = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-")), "otlp.sock")
const server = Http.createServer((req, res) => { req.resume(); req.on("end", () => { res.writeHead(200); res.end() }) })
await new Promise<void>((r) => server.listen(socketPath, r))
const gc = (globalThis as any).gc as () => void
const mem = () => { gc(); gc(); const m = process.memoryUsage(); return { heap: m.heapUsed / 1e6, ab: m.arrayBuffers / 1e6 } }
const program = Effect.gen(function*() {
  const ctx = yield* Layer.build(UserTracing.layer({ enabled: true, serviceName: "s", output: { otlpUds: { socketPath, routingHeaderName: "x-r" } } }))
  let n = 0
  for (let wave = 0; wave < 10; wave++) {
    yield* Effect.forEach(Array.from({ length: 10_000 }, () => n++), (i) =>
      Effect.void.pipe(UserTracing.withUserSpan("a"), UserTracing.withUserSpan("b"), UserTracing.withUserTrace("r", { routing: RoutingMetadata.json({ tenant: `t${i}` }) })), { discard: true, concurrency: 50 }).pipe(Effect.provide(ctx))
    yield* UserTracing.forceFlush.pipe(Effect.provide(ctx))
    const m = mem()
    console.log(wave, m.heap.toFixed(1), m.ab.toFixed(1))
  }
}).pipe(Effect.scoped)
await Effect.runPromise(program)
server.close()
