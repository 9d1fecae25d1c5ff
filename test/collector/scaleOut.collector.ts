/**
 * Scale-out: several service processes, each configured from the environment as a service is,
 * writing into one Collector at once. Correctness only: every span of every process arrives once,
 * under its own tenant's routing header. The throughput figures in docs/deployment.md come from
 * scaleOut.ts, run by hand.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { deployment, routingHeaderName } from "./fixtures.js"
import { delivery, loadSpanNames } from "./load.js"
import { runServices, servicePrefix } from "./services.js"

describe("several service processes into one Collector", () => {
  it.live(
    "4 processes x 10 tenants x 50 traces x 3 spans: every span arrives once, under its own tenant's routing header, none mixed",
    () =>
      Effect.gen(function*() {
        const { collector, gateway } = yield* deployment()
        const load = { tenants: 10, traces: 50, concurrency: 100 }
        const results = yield* runServices({ count: 4, socketPath: collector.endpoint, load })
        for (const result of results) {
          expect(result).toMatchObject({ total: 1_500, exported: 1_500, failed: 0, dropped: 0 })
        }
        yield* gateway.received(6_000)
        const expected = results.flatMap((_, i) => loadSpanNames({ ...load, prefix: servicePrefix(i) }))
        expect(delivery(gateway.requests, expected, { routingHeaderName })).toMatchObject({
          expected: 6_000,
          received: 6_000,
          missing: 0,
          duplicates: 0,
          underOwnHeader: 6_000,
          mixedRequests: 0
        })
        // Each process's spans carry its own service.name.
        for (const span of gateway.spans()) expect(span.name.startsWith(`${span.serviceName}/`)).toBe(true)
      }).pipe(Effect.scoped),
    120_000
  )
})
