/**
 * The per-customer delivery measurements behind docs/deployment.md's figures, run by hand:
 *
 *   npx tsx test/collector/delivery.ts [--configs user,exporter-batching-unsafe] [--tenants 50]
 *     [--traces 40] [--concurrency 200] [--override '{"exporters": ...}']
 *
 * Runs many customers' traces from one service through the Collector started from the documented
 * configurations named (merged in order; `--override`, JSON, merged last, measures a variant the
 * page warns about) to one gateway, and prints what arrived: spans received, missing, twice,
 * under their own customer's routing header or another, requests mixing customers, and the
 * routing headers of those.
 */
import { Effect, Layer } from "effect"
import { parseArgs } from "node:util"
import { UserTracing } from "../../src/index.js"
import { startCollector } from "./collector.js"
import { startGateway } from "./gateway.js"
import { buildCollector } from "./globalSetup.js"
import { delivery, loadSpanNames, routingHeaderName, tenantLoad } from "./load.js"

const { values } = parseArgs({
  options: {
    configs: { type: "string", default: "user" },
    tenants: { type: "string", default: "50" },
    traces: { type: "string", default: "40" },
    concurrency: { type: "string", default: "200" },
    override: { type: "string" }
  }
})
const load = { tenants: Number(values.tenants), traces: Number(values.traces), concurrency: Number(values.concurrency) }

const program = Effect.gen(function*() {
  const binary = buildCollector()
  const gateway = yield* startGateway()
  const collector = yield* startCollector({
    binary,
    configs: values.configs.split(","),
    gateways: { "otlp_http/user": gateway.url },
    ...(values.override === undefined ? {} : { measurementOverride: JSON.parse(values.override) })
  })
  yield* Effect.scoped(Effect.flatMap(
    Layer.build(UserTracing.layer({
      enabled: true,
      serviceName: "checkout",
      output: { otlpUds: { socketPath: collector.endpoint, routingHeaderName } }
    })),
    (context) => Effect.provide(tenantLoad(load), context)
  ))
  const expected = loadSpanNames(load)
  // Whatever has not arrived 10 s after the service closed is missing.
  yield* Effect.exit(gateway.received(expected.length, 10_000))
  return {
    configs: values.configs,
    override: values.override,
    load,
    ...delivery(gateway.requests, expected, { routingHeaderName })
  }
})

Effect.runPromise(Effect.scoped(program)).then(
  (report) => {
    console.log(JSON.stringify(report))
    process.exit(0)
  },
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
