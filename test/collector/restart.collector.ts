/**
 * Outages on either side of the Collector while a service keeps finishing spans: the Collector
 * restarted, the gateway down then back, and both at once. Our exporter retries connection
 * failures, so it loses nothing to the Collector; what the Collector's own queue holds, delivers
 * or loses is what docs/deployment.md says it is.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Logger, LogLevel, Scope } from "effect"
import * as Path from "node:path"
import { UserTracing } from "../../src/index.js"
import { counted, withPipeline } from "../utils/pipeline.js"
import { eventually } from "../utils/receiver.js"
import { type Collector, metricSum, scopedTempDirectory } from "./collector.js"
import { collector as startCollector, routingHeaderName } from "./fixtures.js"
import { type Gateway, startGateway } from "./gateway.js"
import { jsonRouting } from "./load.js"

/**
 * A service finishing one span after another (`span-0`, `span-1`, ...), `tenants` tenants in turn,
 * into the Collector on `socketPath`, while `scenario` runs; then the layer is closed (which
 * flushes). Gives what `scenario` returned, how many spans were finished, and our side's counters.
 */
const streaming = <A>(socketPath: string, scenario: (produced: () => number) => Effect.Effect<A, Error>, tenants = 5) =>
  Effect.gen(function*() {
    let produced = 0
    let stopping = false
    const produce = Effect.gen(function*() {
      while (!stopping) {
        yield* Effect.void.pipe(
          UserTracing.withUserTrace(`span-${produced}`, { routing: jsonRouting(`tenant-${produced % tenants}`) })
        )
        produced++
        // Paces the stream; the checks wait on counts, not on time.
        yield* Effect.sleep("2 millis")
      }
    })
    const [result, delta] = yield* counted(
      withPipeline(
        // Default settings: connection failures are retried until the Collector answers.
        {
          enabled: true,
          serviceName: "checkout",
          output: { otlpUds: { socketPath, routingHeaderName } }
        },
        Effect.gen(function*() {
          const producer = yield* Effect.fork(produce)
          const result = yield* scenario(() => produced)
          stopping = true
          yield* producer.await
          return result
        })
        // Connection failures while the Collector is away are expected here; retries are the point.
      ).pipe(Logger.withMinimumLogLevel(LogLevel.Error))
    )
    return { result, produced, delta }
  })

/** Waits until `count` more spans than now have been finished. */
const producedMore = (produced: () => number, count: number) => {
  const from = produced()
  return eventually(() => produced() >= from + count, 30_000)
}

const names = (gateway: Gateway) => gateway.spans().map((span) => span.name)
const allSpans = (count: number) => Array.from({ length: count }, (_, i) => `span-${i}`)

/** Polls `condition` until it holds, for at most `millis`. */
const eventuallyEffect = <E>(condition: Effect.Effect<boolean, E>, millis = 60_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + millis
    while (!(yield* condition)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error("condition not met in time"))
      yield* Effect.sleep("50 millis")
    }
  })

/** Spans the Collector logged as dropped ("Exporting failed. Dropping data.", `dropped_items`). */
const loggedDropped = (collector: Collector) =>
  collector.logs().split("\n")
    .filter((line) => line.includes("Dropping data"))
    .reduce((sum, line) => sum + Number(/"dropped_items": (\d+)/.exec(line)?.[1] ?? 0), 0)

describe("a Collector restarted mid-stream, the gateway up", () => {
  it.live(
    "spans finished while it is down arrive once it is back: none lost, none twice",
    () =>
      Effect.gen(function*() {
        const gateway = yield* startGateway()
        const socketPath = Path.join(yield* scopedTempDirectory, "otlp.sock")
        const gateways = { "otlp_http/user": gateway.url }
        const first = yield* startCollector({ endpoint: socketPath, gateways })
        // The second Collector outlives the pipeline, so the pipeline's final flush reaches it.
        const outer = yield* Effect.scope
        const { delta, produced, result: down } = yield* streaming(socketPath, (produced) =>
          Effect.gen(function*() {
            yield* gateway.received(100)
            // A clean stop: the Collector drains its batch and queue to the gateway before it exits.
            expect(yield* first.stop()).toBe(0)
            const down = { from: yield* Clock.currentTimeNanos, to: 0n }
            yield* producedMore(produced, 100)
            down.to = yield* Clock.currentTimeNanos
            yield* Scope.extend(startCollector({ endpoint: socketPath, gateways }), outer)
            yield* producedMore(produced, 50)
            return down
          }))
        expect(delta).toEqual({ total: produced, exported: produced, failed: 0, dropped: 0 })
        yield* gateway.received(produced)
        expect(names(gateway).sort()).toEqual(allSpans(produced).sort())
        const endedWhileDown = gateway.spans().filter((span) =>
          span.endTimeUnixNano > down.from && span.endTimeUnixNano < down.to
        )
        expect(endedWhileDown.length).toBeGreaterThanOrEqual(90)
      }).pipe(Effect.scoped),
    60_000
  )
})

describe("the gateway down, then back", () => {
  // Many tenants make many small batches (one per tenant per batch timeout): a queue counted in
  // requests, the Collector's default, overflows within the outage; the documented one is
  // bounded in bytes.
  it.live(
    "50 tenants: the Collector's queue holds what it cannot send and delivers it once the gateway is back: none lost, none twice",
    () =>
      Effect.gen(function*() {
        const gateway = yield* startGateway()
        const socketPath = Path.join(yield* scopedTempDirectory, "otlp.sock")
        const collector = yield* startCollector({ endpoint: socketPath, gateways: { "otlp_http/user": gateway.url } })
        const { delta, produced, result: queued } = yield* streaming(socketPath, (produced) =>
          Effect.gen(function*() {
            yield* gateway.received(100)
            yield* gateway.down
            const before = gateway.spans().length
            yield* producedMore(produced, 2_500)
            // The Collector accepted them all and holds them in its exporter's queue (in bytes).
            const queued = metricSum(yield* collector.metrics, "otelcol_exporter_queue_size")
            expect(gateway.spans().length).toBe(before)
            yield* gateway.up
            yield* producedMore(produced, 100)
            return queued
          }), 50)
        expect(queued).toBeGreaterThan(100_000)
        expect(delta).toEqual({ total: produced, exported: produced, failed: 0, dropped: 0 })
        // The Collector retries with backoff (up to 30 s between attempts by default).
        yield* gateway.received(produced, 60_000)
        expect(names(gateway).sort()).toEqual(allSpans(produced).sort())
        expect(loggedDropped(collector)).toBe(0)
      }).pipe(Effect.scoped),
    120_000
  )
})

describe("the Collector stopped while the gateway is down", () => {
  it.live(
    "what its in-memory queue holds is lost, though our side counted it exported; only the requests in flight are logged as dropped",
    () =>
      Effect.gen(function*() {
        const gateway = yield* startGateway()
        const socketPath = Path.join(yield* scopedTempDirectory, "otlp.sock")
        const gateways = { "otlp_http/user": gateway.url }
        const first = yield* startCollector({ endpoint: socketPath, gateways })
        const outer = yield* Effect.scope
        const { delta, produced, result: second } = yield* streaming(socketPath, (produced) =>
          Effect.gen(function*() {
            yield* gateway.received(100)
            yield* gateway.down
            yield* producedMore(produced, 500)
            expect(metricSum(yield* first.metrics, "otelcol_exporter_queue_size")).toBeGreaterThan(0)
            expect(yield* first.stop()).toBe(0)
            const second = yield* Scope.extend(startCollector({ endpoint: socketPath, gateways }), outer)
            yield* gateway.up
            yield* producedMore(produced, 100)
            return second
          }))
        // Our side: every span handed over and accepted.
        expect(delta).toEqual({ total: produced, exported: produced, failed: 0, dropped: 0 })
        // The second Collector delivers all it accepted, then nothing more comes.
        yield* eventuallyEffect(Effect.map(second.metrics, (metrics) =>
          metricSum(metrics, "otelcol_exporter_sent_spans_total") > 0 &&
          metricSum(metrics, "otelcol_exporter_sent_spans_total") ===
            metricSum(metrics, "otelcol_receiver_accepted_spans_total")))
        const received = new Set(names(gateway))
        expect(received.size).toBe(names(gateway).length)
        const lost = produced - received.size
        expect(lost).toBeGreaterThan(0)
        expect(loggedDropped(first)).toBeGreaterThan(0)
        expect(loggedDropped(first)).toBeLessThanOrEqual(lost)
      }).pipe(Effect.scoped),
    120_000
  )
})
