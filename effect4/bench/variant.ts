/**
 * The Effect 4 rows of the benchmark: one variant in its own process, as `variant.ts` runs the
 * Effect 3 rows, with the same workload (root > child > leaf trees, 4 attributes per span,
 * `TREES_PER_STRETCH` trees per synchronous stretch, then a yield to the event loop). Bundled with
 * every `effect` import resolved to effect 4 (`effect4/node_modules`, see build.ts), the shared
 * modules of src/ included. Lives here, beside the line it measures, so that it is type-checked
 * against effect 4; scratchpad/bench/run.ts runs it.
 */
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Http from "node:http"
import {
  attributes,
  peakRssBytes,
  SPANS_PER_TREE,
  TREES_PER_STRETCH,
  UdsAgent,
  type VariantResult,
  yieldToEventLoop
} from "../../scratchpad/bench/common.js"
import type { VariantConfig } from "../../scratchpad/bench/variant.js"

const config: VariantConfig = JSON.parse(process.argv[2] ?? "{}")
const url = "http://localhost/v1/traces"

interface DriveResult {
  readonly created: number
  readonly measuredSpans: number
  readonly measuredNanos: number
  readonly windowStartNanos: number
}

const plan = config.mode === "steady"
  ? {
    warmupNanos: config.warmupSeconds * 1e9,
    windowNanos: config.seconds * 1e9,
    maxTrees: Infinity,
    stretch: TREES_PER_STRETCH
  }
  : {
    warmupNanos: 0,
    windowNanos: Infinity,
    maxTrees: Math.ceil(config.spans / SPANS_PER_TREE),
    stretch: config.mode === "burst" ? Infinity : TREES_PER_STRETCH
  }

const now = (): number => Number(process.hrtime.bigint())

const yieldEffect = Effect.promise(yieldToEventLoop)

/** The Effect driver of variant.ts: one fiber, stretches of trees, a macrotask yield between them. */
const driveEffect = (tree: (i: number) => Effect.Effect<void>): Effect.Effect<DriveResult> =>
  Effect.gen(function*() {
    let i = 0
    const warmEnd = now() + plan.warmupNanos
    while (plan.warmupNanos > 0 && now() < warmEnd) {
      for (let k = 0; k < TREES_PER_STRETCH; k++) yield* tree(i++)
      yield* yieldEffect
    }
    const startTree = i
    const start = now()
    let end = start
    while (i - startTree < plan.maxTrees) {
      const n = Math.min(plan.stretch, plan.maxTrees - (i - startTree))
      for (let k = 0; k < n; k++) yield* tree(i++)
      end = now()
      if (end - start >= plan.windowNanos) break
      yield* yieldEffect
    }
    return {
      created: i * SPANS_PER_TREE,
      measuredSpans: (i - startTree) * SPANS_PER_TREE,
      measuredNanos: end - start,
      windowStartNanos: start
    }
  })

/** Runs the driver with `layer`, closing it (flush included) right after the workload. */
const runEffect = async (
  tree: (i: number) => Effect.Effect<void>,
  layer: Layer.Layer<never> | undefined,
  wrap: (self: Effect.Effect<DriveResult>) => Effect.Effect<DriveResult> = (self) => self
): Promise<VariantResult> => {
  let workloadEnd = 0
  const program = wrap(driveEffect(tree)).pipe(Effect.tap(() => Effect.sync(() => (workloadEnd = now()))))
  const drive = await Effect.runPromise(layer === undefined ? program : Effect.provide(program, layer))
  const shutdownMillis = (now() - workloadEnd) / 1e6
  return { variant: config.variant, mode: config.mode, ...drive, shutdownMillis, peakRssBytes: peakRssBytes() }
}

const withSpanTree = (i: number): Effect.Effect<void> => {
  const base = i * SPANS_PER_TREE
  return Effect.void.pipe(
    Effect.withSpan("leaf", { attributes: attributes(base + 2) }),
    Effect.withSpan("child", { attributes: attributes(base + 1) }),
    Effect.withSpan("root", { attributes: attributes(base) })
  )
}

const bareTree = (_i: number): Effect.Effect<void> => Effect.void

const loadOurs = async () => {
  const { RoutingMetadata, UserTracing, UserTracingMetrics } = await import("../src/index.js")
  const { withDualSpan, withUserSpan, withUserTrace } = UserTracing
  const routing = RoutingMetadata.json({ tenant: "acme" })

  const oursTree = (i: number): Effect.Effect<void> => {
    const base = i * SPANS_PER_TREE
    return Effect.void.pipe(
      withUserSpan("leaf", { attributes: attributes(base + 2) }),
      withUserSpan("child", { attributes: attributes(base + 1) }),
      withUserTrace("root", { routing, attributes: attributes(base) })
    )
  }

  const dualTree = (i: number): Effect.Effect<void> => {
    const base = i * SPANS_PER_TREE
    const leafAttributes = attributes(base + 2)
    const childAttributes = attributes(base + 1)
    const rootAttributes = attributes(base)
    return UserTracing.annotateUserSpan(leafAttributes).pipe(
      withDualSpan("leaf", { attributes: leafAttributes }),
      Effect.tap(() => UserTracing.annotateUserSpan(childAttributes)),
      withDualSpan("child", { attributes: childAttributes }),
      withUserTrace("root", { routing, attributes: rootAttributes }),
      Effect.withSpan("root", { attributes: rootAttributes })
    )
  }

  const inactiveTree = (i: number): Effect.Effect<void> => {
    const base = i * SPANS_PER_TREE
    return Effect.void.pipe(
      withUserSpan("leaf", { attributes: attributes(base + 2) }),
      withUserSpan("child", { attributes: attributes(base + 1) }),
      withUserSpan("root", { attributes: attributes(base) })
    )
  }

  const layer = (): Layer.Layer<never> =>
    UserTracing.layer({
      enabled: true,
      serviceName: "bench",
      output: {
        otlpUds: {
          socketPath: config.socketPath,
          routingHeaderName: "x-user-routing",
          ...(config.variant === "ours-2tasks-e4" ? { numTasks: 2 } : {})
        }
      }
    }).pipe(Layer.orDie)

  const metrics = Effect.all({
    total: Metric.value(UserTracingMetrics.spansTotal),
    dropped: Metric.value(UserTracingMetrics.spansDropped),
    exported: Metric.value(UserTracingMetrics.spansExported),
    failed: Metric.value(UserTracingMetrics.spansFailed)
  }).pipe(Effect.map((m) => ({
    total: m.total.count,
    dropped: m.dropped.count,
    exported: m.exported.count,
    failed: m.failed.count
  })))

  return { oursTree, dualTree, inactiveTree, layer, metrics }
}

/**
 * Effect 4's own `HttpClient` contract over node:http to the receiver's socket: what OtlpTracer
 * needs to export (the Node client of @effect/platform-node 4 needs Node 22.19, the bench runs on
 * the Node that runs the Effect 3 rows).
 */
const udsHttpClient = (socketPath: string): Layer.Layer<HttpClient.HttpClient> => {
  const agent = new UdsAgent(socketPath)
  return Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request, url) =>
      Effect.callback<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((resume) => {
        const body = request.body._tag === "Uint8Array" ? request.body.body : undefined
        const req = Http.request(url, { method: request.method, headers: request.headers, agent }, (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (chunk: Buffer) => chunks.push(chunk))
          res.on("end", () => {
            const headers = new Headers()
            for (const [name, value] of Object.entries(res.headers)) {
              if (typeof value === "string") headers.set(name, value)
            }
            resume(Effect.succeed(HttpClientResponse.fromWeb(
              request,
              new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers })
            )))
          })
        })
        req.on("error", (cause) =>
          resume(Effect.fail(
            new HttpClientError.HttpClientError({
              reason: new HttpClientError.TransportError({ request, cause })
            })
          )))
        req.end(body)
        return Effect.sync(() => req.destroy())
      })
    )
  )
}

const otlpTracerLayer = async (): Promise<Layer.Layer<never>> => {
  const [OtlpTracer, OtlpSerialization] = await Promise.all([
    import("effect/observability/OtlpTracer"),
    import("effect/observability/OtlpSerialization")
  ])
  return OtlpTracer.layer({ url, resource: { serviceName: "bench" } }).pipe(
    Layer.provide(OtlpSerialization.layerProtobuf),
    Layer.provide(udsHttpClient(config.socketPath))
  ) as Layer.Layer<never>
}

const main = async (): Promise<VariantResult> => {
  switch (config.variant) {
    case "ours-e4":
    case "ours-2tasks-e4":
    case "ours-dual-e4": {
      const ours = await loadOurs()
      const result = await runEffect(config.variant === "ours-dual-e4" ? ours.dualTree : ours.oursTree, ours.layer())
      return { ...result, extra: { metrics: await Effect.runPromise(ours.metrics) } }
    }
    case "inactive-user-span-e4":
      return runEffect((await loadOurs()).inactiveTree, undefined)
    case "otlp-tracer-e4":
      return runEffect(withSpanTree, await otlpTracerLayer())
    case "effect-native-e4":
      return runEffect(withSpanTree, undefined)
    case "bare-e4":
      return runEffect(bareTree, undefined)
    default:
      throw new Error(`not an Effect 4 variant: ${config.variant}`)
  }
}

main().then(
  (result) => {
    if (process.send !== undefined) process.send({ type: "result", result }, () => process.exit(0))
    else {
      console.log(JSON.stringify(result, null, 2))
      process.exit(0)
    }
  },
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
