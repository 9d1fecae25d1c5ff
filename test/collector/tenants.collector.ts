/**
 * Per-customer delivery through the Collector under load: many tenants at once through the
 * documented configuration, exporter batching with and without partitioning by the routing
 * header, and fan-out to one gateway per customer with the routing connector. Each configuration
 * is docs/deployment.md's, verbatim except for endpoints.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { counted, withPipeline } from "../utils/pipeline.js"
import { eventually } from "../utils/receiver.js"
import type { Collector } from "./collector.js"
import { collector as startCollector, deployment, routingHeaderName } from "./fixtures.js"
import { startGateway } from "./gateway.js"
import { delivery, type LoadOptions, loadSpanNames, plainRouting, tenantLoad } from "./load.js"

const settingsFor = (collector: Collector) => ({
  enabled: true,
  serviceName: "checkout",
  output: { otlpUds: { socketPath: collector.endpoint, routingHeaderName } }
})

/** 50 tenants x 40 traces x 3 spans, 200 traces at once. */
const load: LoadOptions = { tenants: 50, traces: 40, concurrency: 200 }
const spanCount = 50 * 40 * 3

/** Runs `load` through a Collector started from `configs` to one gateway; gives the delivery once every span is in. */
const throughCollector = (configs: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { collector, gateway } = yield* deployment({ configs })
    const [, delta] = yield* counted(withPipeline(settingsFor(collector), tenantLoad(load)))
    // Our side: everything handed to the Collector and accepted.
    expect(delta).toEqual({ total: spanCount, exported: spanCount, failed: 0, dropped: 0 })
    yield* gateway.received(spanCount)
    return delivery(gateway.requests, loadSpanNames(load), { routingHeaderName })
  })

describe("50 tenants at once through the documented configuration", () => {
  it.live(
    "every span arrives exactly once, under its own tenant's routing header; no request mixes tenants",
    () =>
      Effect.gen(function*() {
        const result = yield* throughCollector(["user"])
        expect(result).toMatchObject({
          expected: spanCount,
          received: spanCount,
          missing: 0,
          duplicates: 0,
          underOwnHeader: spanCount,
          underAnotherHeader: 0,
          withoutHeader: 0,
          mixedRequests: 0
        })
      }).pipe(Effect.scoped),
    60_000
  )
})

describe("exporter batching (sending_queue.batch) instead of the batch processor", () => {
  it.live(
    "without partitioning, as docs/deployment.md warns: requests mix tenants, and their spans leave under a routing value not their own",
    () =>
      Effect.gen(function*() {
        const result = yield* throughCollector(["user", "exporter-batching-unsafe"])
        // Nothing is lost: every span is delivered, to the wrong customer.
        expect(result).toMatchObject({ received: spanCount, missing: 0, duplicates: 0 })
        expect(result.mixedRequests).toBeGreaterThanOrEqual(1)
        // A merged batch keeps no request's metadata: headers_setter sends an empty routing value.
        expect(result.mixedRequestHeaders).toEqual([JSON.stringify("")])
        expect(result.underAnotherHeader + result.withoutHeader).toBeGreaterThan(spanCount / 2)
        expect(result.underOwnHeader).toBeLessThan(spanCount / 2)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "partitioned by the routing header (partition.metadata_keys): every span once, under its own tenant's header, no request mixed",
    () =>
      Effect.gen(function*() {
        const result = yield* throughCollector(["user", "exporter-batching-partitioned"])
        expect(result).toMatchObject({
          received: spanCount,
          missing: 0,
          duplicates: 0,
          underOwnHeader: spanCount,
          underAnotherHeader: 0,
          withoutHeader: 0,
          mixedRequests: 0
        })
      }).pipe(Effect.scoped),
    60_000
  )
})

/** Spans the debug exporter `id` counted, from the Collector's log (verbosity basic: counts only). */
const debugExporterSpans = (logs: string, id: string) =>
  logs.split("\n")
    .filter((line) => line.includes(`"otelcol.component.id": "${id}"`))
    .reduce((sum, line) => sum + Number(/"spans": (\d+)/.exec(line)?.[1] ?? 0), 0)

describe("fan-out per customer with the routing connector on request metadata", () => {
  it.live(
    "acme's spans reach only acme's gateway, globex's only globex's; a tenant without a route reaches neither and is counted",
    () =>
      Effect.gen(function*() {
        const acme = yield* startGateway()
        const globex = yield* startGateway()
        const collector = yield* startCollector({
          configs: ["fan-out"],
          gateways: { "otlp_http/acme": acme.url, "otlp_http/globex": globex.url }
        })
        // The conditions compare the whole header value: these tenants' routing value is their name.
        const fanOut: LoadOptions = {
          tenants: ["acme", "globex", "initech"],
          traces: 100,
          concurrency: 60,
          routing: plainRouting
        }
        const [, delta] = yield* counted(withPipeline(settingsFor(collector), tenantLoad(fanOut)))
        expect(delta).toEqual({ total: 900, exported: 900, failed: 0, dropped: 0 })
        yield* acme.received(300)
        yield* globex.received(300)
        yield* eventually(() => debugExporterSpans(collector.logs(), "debug/user-unrouted") >= 300)
        const names = loadSpanNames(fanOut)
        const options = { routingHeaderName, routing: plainRouting }
        expect(delivery(acme.requests, names.filter((name) => name.startsWith("acme/")), options)).toMatchObject({
          received: 300,
          missing: 0,
          underOwnHeader: 300,
          mixedRequests: 0
        })
        expect(delivery(globex.requests, names.filter((name) => name.startsWith("globex/")), options)).toMatchObject({
          received: 300,
          missing: 0,
          underOwnHeader: 300,
          mixedRequests: 0
        })
        // Nothing crosses: each gateway got its own customer's spans and nothing else.
        expect(acme.spans()).toHaveLength(300)
        expect(globex.spans()).toHaveLength(300)
        expect(debugExporterSpans(collector.logs(), "debug/user-unrouted")).toBe(300)
      }).pipe(Effect.scoped),
    60_000
  )
})
