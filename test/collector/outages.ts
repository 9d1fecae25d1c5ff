/**
 * The outage measurements behind docs/deployment.md's "Restarts and outages" table, run by hand:
 *
 *   npx tsx test/collector/outages.ts collector-away  [--millis 3000] [--attempts N]
 *   npx tsx test/collector/outages.ts gateway-down    [--millis 10000] [--tenants 50] [--queue requests:1000]
 *   npx tsx test/collector/outages.ts collector-stopped-gateway-down [--millis 1000]
 *   npx tsx test/collector/outages.ts queue-full      [--rounds 12]
 *
 * A service finishes spans one after another (tenants in turn, paced) into the documented
 * Collector while the outage happens; then it reports, as one JSON line, what the gateway got,
 * what the service counted and what the Collector's metrics and log said. `queue-full` instead
 * sends bursts of 60,000 spans with the gateway down, then brings the gateway back.
 */
import { Effect, Layer, Logger, LogLevel, Metric, Scope } from "effect"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { UserTracing, UserTracingMetrics } from "../../src/index.js"
import { eventually } from "../utils/receiver.js"
import { type Collector, metricSum, scopedTempDirectory, startCollector } from "./collector.js"
import { startGateway } from "./gateway.js"
import { buildCollector } from "./globalSetup.js"
import { jsonRouting, loadSpanNames, routingHeaderName, tenantLoad } from "./load.js"

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    millis: { type: "string" },
    attempts: { type: "string", default: "5" },
    tenants: { type: "string", default: "5" },
    rounds: { type: "string", default: "12" },
    configs: { type: "string", default: "user" },
    // The exporter queue as SIZER:SIZE instead of the documented one (requests:1000 is the
    // Collector's default).
    queue: { type: "string" }
  }
})
const scenario = positionals[0]
const millis = Number(
  values.millis ?? (scenario === "gateway-down" ? 10_000 : scenario === "collector-away" ? 3_000 : 1_000)
)
const maxAttempts = Number(values.attempts)
const tenants = Number(values.tenants)
const configs = values.configs.split(",")
const [queueSizer, queueSize] = (values.queue ?? "").split(":")
const collectorOptions = {
  configs,
  ...(values.queue === undefined ? {} : {
    measurementOverride: {
      exporters: { "otlp_http/user": { sending_queue: { sizer: queueSizer, queue_size: Number(queueSize) } } }
    }
  })
}

const counters = Effect.all({
  exported: Metric.value(UserTracingMetrics.spansExported),
  failed: Metric.value(UserTracingMetrics.spansFailed),
  dropped: Metric.value(UserTracingMetrics.spansDropped)
}).pipe(Effect.map((m) => ({ exported: m.exported.count, failed: m.failed.count, dropped: m.dropped.count })))

const withService = <A, E>(socketPath: string, self: Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(
    Layer.build(
      UserTracing.layer({
        enabled: true,
        serviceName: "checkout",
        output: { otlpUds: { socketPath, routingHeaderName, maxAttempts } }
      })
    ),
    (context) => Effect.provide(self, context)
  )).pipe(Logger.withMinimumLogLevel(LogLevel.Error))

/** Lines the Collector logged as dropping data, summed (`dropped_items`). */
const loggedDropped = (collector: Collector) =>
  collector.logs().split("\n").filter((line) => line.includes("Dropping data"))
    .reduce((sum, line) => sum + Number(/"dropped_items": (\d+)/.exec(line)?.[1] ?? 0), 0)

const collectorFigures = (collector: Collector) =>
  Effect.map(collector.metrics, (metrics) => ({
    accepted: metricSum(metrics, "otelcol_receiver_accepted_spans_total"),
    sent: metricSum(metrics, "otelcol_exporter_sent_spans_total"),
    sendFailed: metricSum(metrics, "otelcol_exporter_send_failed_spans_total"),
    enqueueFailed: metricSum(metrics, "otelcol_exporter_enqueue_failed_spans_total"),
    queueSize: metricSum(metrics, "otelcol_exporter_queue_size"),
    rssMiB: Math.round(metricSum(metrics, "otelcol_process_memory_rss_bytes") / 1_048_576)
  }))

const streamingOutage = Effect.gen(function*() {
  const binary = buildCollector()
  const gateway = yield* startGateway()
  const socketPath = Path.join(yield* scopedTempDirectory, "otlp.sock")
  const gateways = { "otlp_http/user": gateway.url }
  const first = yield* startCollector({ binary, ...collectorOptions, gateways, endpoint: socketPath })
  const outer = yield* Effect.scope
  const report: Record<string, unknown> = {
    scenario,
    millis,
    maxAttempts,
    tenants,
    configs,
    queue: values.queue ?? "documented"
  }
  let produced = 0
  let stopping = false
  const produce = Effect.gen(function*() {
    while (!stopping) {
      yield* Effect.void.pipe(
        UserTracing.withUserTrace(`span-${produced}`, { routing: jsonRouting(`tenant-${produced % tenants}`) })
      )
      produced++
      yield* Effect.sleep("2 millis")
    }
  })
  const before = yield* counters
  let backAt = 0
  yield* withService(
    socketPath,
    Effect.gen(function*() {
      const producer = yield* Effect.fork(produce)
      yield* gateway.received(100)
      const from = produced
      if (scenario === "collector-away") {
        const started = Date.now()
        yield* first.stop()
        yield* Effect.sleep(millis)
        yield* Scope.extend(startCollector({ binary, ...collectorOptions, gateways, endpoint: socketPath }), outer)
        report.collectorAwayMillis = Date.now() - started
      } else {
        yield* gateway.down
        const until = Date.now() + millis
        let peak = 0
        while (Date.now() < until) {
          peak = Math.max(peak, (yield* collectorFigures(first)).queueSize)
          yield* Effect.sleep("100 millis")
        }
        report.queuePeak = peak
        if (scenario === "collector-stopped-gateway-down") {
          report.firstCollector = yield* collectorFigures(first)
          yield* first.stop()
          yield* Scope.extend(startCollector({ binary, ...collectorOptions, gateways, endpoint: socketPath }), outer)
        }
        yield* gateway.up
      }
      report.producedDuringOutage = produced - from
      backAt = Date.now()
      const after = produced
      yield* eventually(() => produced >= after + 200, 30_000)
      stopping = true
      yield* producer.await
    })
  )
  const delivered = yield* Effect.exit(
    eventually(() => new Set(gateway.spans().map((span) => span.name)).size >= produced, 120_000)
  )
  report.allDeliveredMillisAfterBack = delivered._tag === "Success" ? Date.now() - backAt : "never"
  const names = new Set(gateway.spans().map((span) => span.name))
  const after = yield* counters
  return {
    ...report,
    produced,
    lost: produced - names.size,
    duplicates: gateway.spans().length - names.size,
    service: {
      exported: after.exported - before.exported,
      failed: after.failed - before.failed,
      dropped: after.dropped - before.dropped
    },
    collectorLoggedDropped: loggedDropped(first),
    collectorQueueFullLines: first.logs().split("\n").filter((line) => line.includes("Rejecting data")).length
  }
})

const queueFull = Effect.gen(function*() {
  const binary = buildCollector()
  const gateway = yield* startGateway()
  const collector = yield* startCollector({ binary, ...collectorOptions, gateways: { "otlp_http/user": gateway.url } })
  const rounds = Number(values.rounds)
  const load = { tenants: 20, traces: 1_000, concurrency: 200 }
  yield* gateway.down
  const before = yield* counters
  // Rounds with a flush between them, so the service's own queue bound is not what drops.
  yield* withService(
    collector.endpoint,
    Effect.forEach(
      Array.from({ length: rounds }, (_, round) => round),
      (round) => Effect.zipRight(tenantLoad({ ...load, prefix: `round-${round}/` }), UserTracing.forceFlush),
      { discard: true }
    )
  )
  const whileDown = yield* collectorFigures(collector)
  yield* gateway.up
  yield* Effect.exit(eventually(() => gateway.spans().length >= whileDown.accepted - whileDown.enqueueFailed, 300_000))
  const after = yield* counters
  return {
    scenario,
    sent: rounds * loadSpanNames(load).length,
    service: {
      exported: after.exported - before.exported,
      failed: after.failed - before.failed,
      dropped: after.dropped - before.dropped
    },
    collectorWhileDown: whileDown,
    collectorQueueFullLines: collector.logs().split("\n").filter((line) => line.includes("Rejecting data")).length,
    collectorLoggedDropped: loggedDropped(collector),
    delivered: gateway.spans().length
  }
})

const scenarios: Record<string, Effect.Effect<unknown, Error, Scope.Scope>> = {
  "collector-away": streamingOutage,
  "gateway-down": streamingOutage,
  "collector-stopped-gateway-down": streamingOutage,
  "queue-full": queueFull
}

const chosen = scenarios[scenario ?? ""]
if (chosen === undefined) {
  console.error(`usage: npx tsx test/collector/outages.ts ${Object.keys(scenarios).join(" | ")} [options]`)
  process.exit(2)
}
Effect.runPromise(Effect.scoped(chosen)).then(
  (report) => {
    console.log(JSON.stringify(report))
    process.exit(0)
  },
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
