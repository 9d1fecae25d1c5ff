/**
 * The deployment under test, for vitest: gateways, then the Collector built by the global setup,
 * started from docs/deployment.md with its exporters pointed at those gateways.
 */
import { Effect } from "effect"
import { inject } from "vitest"
import { type CollectorOptions, startCollector } from "./collector.js"
import { startGateway } from "./gateway.js"

export { routingHeaderName } from "./load.js"

/** The Collector built by the global setup, from documented configurations; stopped with the scope. */
export const collector = (options: Omit<CollectorOptions, "binary">) =>
  startCollector({ binary: inject("collectorBinary"), ...options })

/**
 * The documented single-gateway deployment (`otlp_http/user`): a gateway, and the Collector in
 * front of it; both stopped with the scope.
 */
export const deployment = (options?: Omit<CollectorOptions, "binary" | "gateways">) =>
  Effect.gen(function*() {
    const gateway = yield* startGateway()
    const started = yield* collector({ ...options, gateways: { "otlp_http/user": gateway.url } })
    return { collector: started, gateway }
  })
