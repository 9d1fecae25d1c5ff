/**
 * The scale-out measurement behind docs/deployment.md's figures, run by hand:
 *
 *   npx tsx test/collector/scaleOut.ts [--processes 1,2,4] [--runs 3] [--tenants 20] [--traces 1000]
 *
 * For each process count: a gateway, the documented Collector in front of it, and that many
 * service processes (service.ts), each finishing tenants x traces x 3 spans as fast as it can,
 * all started together. Spans/s is every span of every process over the time from the start to
 * the last span received by the gateway (the whole path: service, socket, Collector, gateway).
 * Each run also checks that every span arrived once under its own tenant's header.
 */
import { Effect } from "effect"
import * as Os from "node:os"
import { parseArgs } from "node:util"
import { metricSum, startCollector } from "./collector.js"
import { startGateway } from "./gateway.js"
import { buildCollector } from "./globalSetup.js"
import { delivery, loadSpanNames, routingHeaderName } from "./load.js"
import { runServices, servicePrefix } from "./services.js"

const { values } = parseArgs({
  options: {
    processes: { type: "string", default: "1,2,4" },
    runs: { type: "string", default: "3" },
    tenants: { type: "string", default: "20" },
    traces: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "200" }
  }
})
const counts = values.processes.split(",").map(Number)
const runs = Number(values.runs)
const load = { tenants: Number(values.tenants), traces: Number(values.traces), concurrency: Number(values.concurrency) }

const measure = (binary: string, count: number) =>
  Effect.scoped(Effect.gen(function*() {
    const gateway = yield* startGateway()
    const collector = yield* startCollector({ binary, gateways: { "otlp_http/user": gateway.url } })
    const results = yield* runServices({ count, socketPath: collector.endpoint, load })
    const spans = count * load.tenants * load.traces * 3
    // Until every span is in, or the Collector has settled what it accepted some other way.
    let metrics = yield* collector.metrics
    while (gateway.spans().length < spans) {
      const settled = metricSum(metrics, "otelcol_exporter_sent_spans_total") +
        metricSum(metrics, "otelcol_exporter_send_failed_spans_total") +
        metricSum(metrics, "otelcol_exporter_enqueue_failed_spans_total")
      if (settled >= spans && metricSum(metrics, "otelcol_exporter_queue_size") === 0) {
        throw new Error(
          `${spans - gateway.spans().length} spans did not arrive: ${JSON.stringify({ results, settled })}`
        )
      }
      yield* Effect.sleep("10 millis")
      if (gateway.spans().length < spans) metrics = yield* collector.metrics
    }
    const arrived = Date.now()
    const start = Math.min(...results.map((result) => result.start))
    const check = delivery(
      gateway.requests,
      results.flatMap((_, i) => loadSpanNames({ ...load, prefix: servicePrefix(i) })),
      {
        routingHeaderName
      }
    )
    if (check.missing !== 0 || check.duplicates !== 0 || check.underOwnHeader !== spans || check.mixedRequests !== 0) {
      throw new Error(`delivery check failed: ${JSON.stringify(check)}`)
    }
    const failed = results.reduce((sum, result) => sum + result.failed + result.dropped, 0)
    metrics = yield* collector.metrics
    return {
      spans,
      failedOrDropped: failed,
      seconds: (arrived - start) / 1000,
      producedSeconds: Math.max(...results.map((result) => result.finished)) / 1000 - start / 1000,
      collectorCpuSeconds: metricSum(metrics, "otelcol_process_cpu_seconds_total"),
      gatewayRequests: gateway.requests.length
    }
  }))

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const program = Effect.gen(function*() {
  const binary = buildCollector()
  console.log(
    `${Os.cpus().length} cores (${Os.cpus()[0]?.model}), Node ${process.version}, ${new Date().toISOString()}`
  )
  console.log(
    `load per process: ${load.tenants} tenants x ${load.traces} traces x 3 spans, ${load.concurrency} traces at once`
  )
  console.log("| processes | spans | spans/s (median) | runs (spans/s) | Collector CPU s | gateway requests |")
  console.log("| --- | --- | --- | --- | --- | --- |")
  for (const count of counts) {
    const samples = []
    for (let i = 0; i < runs; i++) samples.push(yield* measure(binary, count))
    const rates = samples.map((sample) => sample.spans / sample.seconds)
    console.log(
      `| ${count} | ${samples[0].spans} | ${Math.round(median(rates))} | ${rates.map(Math.round).join(", ")} | ` +
        `${median(samples.map((sample) => sample.collectorCpuSeconds)).toFixed(1)} | ${
          median(samples.map((sample) => sample.gatewayRequests))
        } |`
    )
    if (samples.some((sample) => sample.failedOrDropped > 0)) {
      console.log("  (some spans failed or were dropped on the service side)")
    }
  }
})

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
