// Memory the export queue holds, measured as the process sees it (ArrayBuffers and heap after a
// full GC): the byte bound holds by allocation, and nothing stays per routing value once sent.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import { RoutingMetadata, UserTracing } from "../../../src/index.js"
import { counted, settingsFor, withPipeline } from "../../utils/pipeline.js"
import { tempSocketPath } from "../../utils/receiver.js"

const { withUserSpan, withUserTrace } = UserTracing

V8.setFlagsFromString("--expose-gc")
const gc: () => void = Vm.runInNewContext("gc")

const KiB = 1024
const MiB = 1024 * KiB
/** What the process holds besides the queue and the requests in flight: scratch buffers, pools, sockets. */
const SLACK = 1 * MiB

/** Memory after full collections (ArrayBuffers are freed by the GC, sometimes a turn later). */
const memory = Effect.promise(async () => {
  gc()
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  const { arrayBuffers, heapUsed } = process.memoryUsage()
  return { arrayBuffers, heapUsed }
})

/** A receiver that accepts connections and never reads from them: every request stays in flight. */
const stalledReceiver = Effect.acquireRelease(
  Effect.async<{ readonly socketPath: string; readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>(
    (resume) => {
      const socketPath = tempSocketPath()
      const sockets = new Set<Net.Socket>()
      const server = Net.createServer((socket) => {
        socket.pause()
        socket.on("error", () => {})
        sockets.add(socket)
      })
      server.listen(socketPath, () => resume(Effect.succeed({ socketPath, server, sockets })))
    }
  ),
  ({ server, sockets }) =>
    Effect.sync(() => {
      for (const socket of sockets) socket.destroy()
      server.close()
    })
)

/**
 * A receiver that reads every body, keeps none, and answers 200 with no body: in a process of its
 * own, so that its work and buffers are not this process's.
 */
const discardingReceiver = Effect.acquireRelease(
  Effect.async<{ readonly socketPath: string; readonly child: ChildProcess.ChildProcess }>((resume) => {
    const socketPath = tempSocketPath()
    const child = ChildProcess.spawn(process.execPath, [
      "-e",
      `require("node:http").createServer((req, res) => { req.resume(); req.on("end", () => res.writeHead(200).end()) })
        .listen(process.argv[1], () => process.stdout.write("ready"))`,
      socketPath
    ], { stdio: ["ignore", "pipe", "inherit"] })
    child.stdout.once("data", () => resume(Effect.succeed({ socketPath, child })))
  }),
  ({ child }) => Effect.sync(() => child.kill())
)

const tenant = (name: string) => RoutingMetadata.json({ tenant: name })

/** `count` root spans of about 1 KB each for one tenant. */
const busyTenant = (count: number) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => i),
    (i) =>
      Effect.void.pipe(withUserTrace(`busy-${i}`, { routing: tenant("busy"), attributes: { pad: "p".repeat(1_000) } })),
    { discard: true }
  )

/** One root span (about 100 bytes encoded) for each of `count` tenants never seen before. */
const oneSpanTenants = (prefix: string, count: number) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => i),
    (i) => Effect.void.pipe(withUserTrace("r", { routing: tenant(`${prefix}-${i}`) })),
    { discard: true }
  )

describe("maxQueueBytes bounds the memory allocated for queued spans", () => {
  const bound = (maxQueueBytes: number, maxBatchBytes: number) =>
    // numTasks x 2 requests in flight, each at most maxBatchBytes.
    maxQueueBytes + 1 * 2 * maxBatchBytes + SLACK

  it.live("a busy tenant, then 2,000 tenants with one span each (receiver stalled)", () =>
    Effect.gen(function*() {
      const receiver = yield* stalledReceiver
      const maxQueueBytes = 4 * MiB
      const maxBatchBytes = 256 * KiB
      const [growth, delta] = yield* counted(withPipeline(
        settingsFor(receiver.socketPath, { maxBatchBytes }, { maxQueueBytes, shutdownTimeout: 200 }),
        Effect.gen(function*() {
          const before = yield* memory
          yield* busyTenant(2_000)
          yield* oneSpanTenants("small", 2_000)
          const after = yield* memory
          if (process.env.QUEUE_MEMORY_REPORT !== undefined) {
            console.log("growth", after.arrayBuffers - before.arrayBuffers)
          }
          return after.arrayBuffers - before.arrayBuffers
        })
      ))
      expect(growth).toBeLessThanOrEqual(bound(maxQueueBytes, maxBatchBytes))
      // Nothing was exported: the stalled requests and the queue were lost at close.
      expect(delta).toMatchObject({ total: 4_000, exported: 0 })
    }).pipe(Effect.scoped), 60_000)

  it.live(
    "a busy tenant, then 20,000 others: the fair share drops, the bound holds (receiver stalled)",
    () =>
      Effect.gen(function*() {
        const receiver = yield* stalledReceiver
        const maxQueueBytes = 4 * MiB
        const maxBatchBytes = 64 * KiB
        const [growth, delta] = yield* counted(withPipeline(
          settingsFor(receiver.socketPath, { maxBatchBytes }, { maxQueueBytes, shutdownTimeout: 200 }),
          Effect.gen(function*() {
            const before = yield* memory
            yield* busyTenant(2_000)
            yield* oneSpanTenants("other", 20_000)
            const after = yield* memory
            if (process.env.QUEUE_MEMORY_REPORT !== undefined) {
              console.log("growth", after.arrayBuffers - before.arrayBuffers)
            }
            return after.arrayBuffers - before.arrayBuffers
          })
        ))
        expect(growth).toBeLessThanOrEqual(bound(maxQueueBytes, maxBatchBytes))
        expect(delta.total).toBe(22_000)
        expect(delta.dropped).toBeGreaterThan(0)
      }).pipe(Effect.scoped),
    60_000
  )
})

describe("no memory per routing value ever seen", () => {
  it.live(
    "10 waves of 10,000 new tenants, 3 spans each, flushed: memory after GC stays flat",
    () =>
      Effect.gen(function*() {
        const receiver = yield* discardingReceiver
        const samples: Array<{ arrayBuffers: number; heapUsed: number }> = []
        const [, delta] = yield* counted(withPipeline(
          // One request per tenant per wave: four workers send them.
          settingsFor(receiver.socketPath, { numTasks: 4 }),
          Effect.gen(function*() {
            for (let wave = 0; wave < 10; wave++) {
              yield* Effect.forEach(
                Array.from({ length: 10_000 }, (_, i) => i),
                (i) =>
                  Effect.void.pipe(
                    withUserSpan("leaf"),
                    withUserSpan("child"),
                    withUserTrace("root", { routing: tenant(`wave-${wave}-${i}`) })
                  ),
                { discard: true }
              )
              yield* UserTracing.forceFlush
              samples.push(yield* memory)
              if (process.env.QUEUE_MEMORY_REPORT !== undefined) console.log("wave", wave, samples.at(-1))
            }
          })
        ))
        expect(delta).toEqual({ total: 300_000, exported: 300_000, dropped: 0, failed: 0 })
        // The first wave warms caches and pools; from then on nothing grows with the tenants seen.
        const first = samples[1]
        for (const sample of samples.slice(2)) {
          expect(sample.arrayBuffers - first.arrayBuffers).toBeLessThan(2 * MiB)
          expect(sample.heapUsed - first.heapUsed).toBeLessThan(3 * MiB)
        }
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "routing values of 8 MB: rejected and counted, and none is held once their spans ended",
    () =>
      Effect.gen(function*() {
        const receiver = yield* discardingReceiver
        const before = yield* memory
        const [held, delta] = yield* counted(withPipeline(
          settingsFor(receiver.socketPath),
          Effect.gen(function*() {
            yield* Effect.void.pipe(withUserTrace("small", { routing: tenant("small") }))
            for (let i = 0; i < 10; i++) {
              // A fresh 8 MB value each time, dropped by the test once its span ended.
              yield* Effect.void.pipe(withUserTrace("huge", { routing: tenant(`${i}`.repeat(8 * MiB)) }))
            }
            yield* UserTracing.forceFlush
            return yield* memory
          })
        ))
        const closed = yield* memory
        expect(held.heapUsed - before.heapUsed).toBeLessThan(4 * MiB)
        expect(held.arrayBuffers - before.arrayBuffers).toBeLessThan(2 * MiB)
        expect(closed.heapUsed - before.heapUsed).toBeLessThan(4 * MiB)
        expect(closed.arrayBuffers - before.arrayBuffers).toBeLessThan(2 * MiB)
        expect(delta).toEqual({ total: 11, exported: 1, dropped: 0, failed: 10 })
      }).pipe(Effect.scoped),
    60_000
  )
})
