/**
 * A service process for the scale-out runs: the library configured as a service is, from the
 * `USER_TRACING_*` environment (`UserTracingLive`), finishing many tenants' traces at once.
 *
 *   node --import tsx test/collector/service.ts   (with USER_TRACING_* and SERVICE_* set)
 *
 * `SERVICE_PREFIX` tells its spans apart from other processes'; `SERVICE_TENANTS`,
 * `SERVICE_TRACES` and `SERVICE_CONCURRENCY` shape the load (see load.ts). It writes
 * `@service {"ready":true}` once the layer is up, starts on a line on stdin (so several processes
 * start together, after their start-up), and ends with one `@service` line: its counters and the
 * load's time, as JSON. Other lines on stdout (the library's own log) are not for the parent.
 */
import { Effect, Layer, Metric } from "effect"
import * as Readline from "node:readline"
import { UserTracingLive, UserTracingMetrics } from "../../src/index.js"
import { reportPrefix, tenantLoad } from "./load.js"

const integer = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`)
  return value
}

const load = {
  tenants: integer("SERVICE_TENANTS", 10),
  traces: integer("SERVICE_TRACES", 50),
  concurrency: integer("SERVICE_CONCURRENCY", 200),
  prefix: process.env.SERVICE_PREFIX ?? ""
}

/** A line for the parent (services.ts). */
const report = (value: object) => process.stdout.write(`${reportPrefix}${JSON.stringify(value)}\n`)

const started = new Promise<void>((resolve) =>
  Readline.createInterface({ input: process.stdin }).once("line", () => resolve())
)

const counters = Effect.all({
  total: Metric.value(UserTracingMetrics.spansTotal),
  exported: Metric.value(UserTracingMetrics.spansExported),
  failed: Metric.value(UserTracingMetrics.spansFailed),
  dropped: Metric.value(UserTracingMetrics.spansDropped)
}).pipe(
  Effect.map((m) => ({
    total: m.total.count,
    exported: m.exported.count,
    failed: m.failed.count,
    dropped: m.dropped.count
  }))
)

const program = Effect.gen(function*() {
  const timing = yield* Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(UserTracingLive)
    report({ ready: true })
    yield* Effect.promise(() => started)
    const start = Date.now()
    yield* Effect.provide(tenantLoad(load), context)
    return { start, finished: Date.now() }
  }))
  // The layer is closed: everything is flushed (or counted as failed).
  const flushed = Date.now()
  report({ ...timing, flushed, ...(yield* counters) })
})

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
