/**
 * Many customers' traces at once, and what became of them at the gateways: every span carries its
 * tenant as an attribute and a unique name, so a gateway's requests say whether each span arrived,
 * once, under its own tenant's routing header. No vitest import: the scale-out service uses it too.
 */
import { Effect } from "effect"
import { RoutingMetadata, UserTracing } from "../../src/index.js"
import type { GatewayRequest } from "./gateway.js"

/** What marks a service process's lines for its parent on stdout (service.ts, services.ts). */
export const reportPrefix = "@service "

/** The routing header docs/deployment.md batches, routes and forwards on. */
export const routingHeaderName = "x-user-routing"

export interface LoadOptions {
  /** Tenants `tenant-0` .. `tenant-(n-1)`, or these names. */
  readonly tenants: number | ReadonlyArray<string>
  /** Traces per tenant, each a root and two children. */
  readonly traces: number
  /** Traces running at once. */
  readonly concurrency: number
  /** Tells apart the spans of several producers (processes) in one run. */
  readonly prefix?: string
  /** The routing value of a tenant (default `RoutingMetadata.json({ tenant })`). */
  readonly routing?: (tenant: string) => RoutingMetadata.RoutingMetadata
}

/** The tenants' names. */
export const tenantNames = (tenants: LoadOptions["tenants"]): ReadonlyArray<string> =>
  typeof tenants === "number" ? Array.from({ length: tenants }, (_, i) => `tenant-${i}`) : tenants

/** Trace `i` of a load: tenants take turns. */
const traceOf = (options: LoadOptions, i: number) => {
  const tenants = tenantNames(options.tenants)
  const tenant = tenants[i % tenants.length]
  return { tenant, trace: `${options.prefix ?? ""}${tenant}/${Math.floor(i / tenants.length)}` }
}

const traceCount = (options: LoadOptions) => tenantNames(options.tenants).length * options.traces

export const jsonRouting = (tenant: string) => RoutingMetadata.json({ tenant })

/** A routing value that is the tenant's name itself, as a routing connector condition compares it. */
export const plainRouting = (tenant: string): RoutingMetadata.RoutingMetadata => ({
  groupKey: () => tenant,
  encode: () => tenant
})

/** The names of the spans `tenantLoad(options)` finishes. */
export const loadSpanNames = (options: LoadOptions): ReadonlyArray<string> =>
  Array.from({ length: traceCount(options) }, (_, i) => {
    const { trace } = traceOf(options, i)
    return [`${trace}/root`, `${trace}/a`, `${trace}/b`]
  }).flat()

/** Runs the traces: tenants interleaved, `concurrency` at once, each root with two children. */
export const tenantLoad = (options: LoadOptions) =>
  Effect.forEach(
    Array.from({ length: traceCount(options) }, (_, i) => i),
    (i) => {
      const { tenant, trace } = traceOf(options, i)
      const attributes = { tenant }
      return Effect.gen(function*() {
        // Yields let the other traces in, so many tenants are open at once.
        yield* Effect.yieldNow()
        yield* Effect.yieldNow().pipe(UserTracing.withUserSpan(`${trace}/a`, { attributes }))
        yield* Effect.yieldNow().pipe(UserTracing.withUserSpan(`${trace}/b`, { attributes }))
      }).pipe(
        UserTracing.withUserTrace(`${trace}/root`, { routing: (options.routing ?? jsonRouting)(tenant), attributes })
      )
    },
    { concurrency: options.concurrency, discard: true }
  )

/** What the gateways made of a load. */
export interface Delivery {
  readonly expected: number
  /** Spans received, duplicates included. */
  readonly received: number
  readonly missing: number
  readonly duplicates: number
  /** Spans received under their own tenant's routing value (one header, that value). */
  readonly underOwnHeader: number
  /** Spans received under a routing value that is not their tenant's (an empty one included). */
  readonly underAnotherHeader: number
  readonly withoutHeader: number
  readonly requests: number
  /** Requests carrying spans of more than one tenant. */
  readonly mixedRequests: number
  /** Every distinct routing header (values joined by ", ") seen on a mixed request. */
  readonly mixedRequestHeaders: ReadonlyArray<string>
}

/** Checks `requests` against the spans expected (by name); spans of other names are ignored. */
export const delivery = (
  requests: ReadonlyArray<GatewayRequest>,
  expected: ReadonlyArray<string>,
  options: {
    readonly routingHeaderName: string
    readonly routing?: (tenant: string) => RoutingMetadata.RoutingMetadata
  }
): Delivery => {
  const wanted = new Set(expected)
  const seen = new Map<string, number>()
  let underOwnHeader = 0
  let underAnotherHeader = 0
  let withoutHeader = 0
  let mixedRequests = 0
  const mixedRequestHeaders = new Set<string>()
  for (const request of requests) {
    const header = request.headers[options.routingHeaderName]
    const tenants = new Set<unknown>()
    for (const span of request.spans) {
      if (!wanted.has(span.name)) continue
      seen.set(span.name, (seen.get(span.name) ?? 0) + 1)
      const tenant = String(span.attributes.find(([key]) => key === "tenant")?.[1])
      tenants.add(tenant)
      if (header === undefined) withoutHeader++
      else if (header.length === 1 && header[0] === (options.routing ?? jsonRouting)(tenant).encode()) underOwnHeader++
      else underAnotherHeader++
    }
    if (tenants.size > 1) {
      mixedRequests++
      mixedRequestHeaders.add(header === undefined ? "(none)" : JSON.stringify(header.join(", ")))
    }
  }
  const received = [...seen.values()].reduce((sum, n) => sum + n, 0)
  return {
    expected: wanted.size,
    received,
    missing: wanted.size - seen.size,
    duplicates: received - seen.size,
    underOwnHeader,
    underAnotherHeader,
    withoutHeader,
    requests: requests.length,
    mixedRequests,
    mixedRequestHeaders: [...mixedRequestHeaders]
  }
}
