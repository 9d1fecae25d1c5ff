/**
 * One benchmark variant in its own process (fresh heap), started by `run.ts` with a JSON config
 * as its argument. Runs the workload (root > child > leaf trees, 4 attributes per span,
 * `TREES_PER_STRETCH` trees per synchronous stretch, then a yield to the event loop), shuts its
 * pipeline down, and sends a `VariantResult` over IPC (or prints it when run by hand).
 *
 * Each variant imports only what it uses (dynamic imports), so its peak RSS is its own.
 */
import { Effect, Layer, ManagedRuntime, Metric } from "effect"
import {
  attributes,
  type Effect4VariantName,
  peakRssBytes,
  SPANS_PER_TREE,
  TREES_PER_STRETCH,
  UdsAgent,
  type VariantResult,
  yieldToEventLoop
} from "./common.js"

export type VariantName =
  | "ours"
  | "ours-runsync"
  | "ours-2tasks"
  | "ours-discard"
  | "ours-dual"
  | "otlp-tracer"
  | "nodesdk"
  | "otel-sdk"
  | "effect-native"
  | "effect-native-runsync"
  | "inactive-user-span"
  | "inactive-user-span-runsync"
  | "bare"
  | "bare-runsync"
  | "withspan-disabled"

export interface VariantConfig {
  readonly variant: VariantName | Effect4VariantName
  readonly mode: "steady" | "burst" | "stall" | "tenants"
  readonly socketPath: string
  /** steady: the timed window and the warm-up before it. */
  readonly seconds: number
  readonly warmupSeconds: number
  /** burst / stall: stop after this many spans (no warm-up). */
  readonly spans: number
  /** ours: `maxQueueSize` (`undefined` = the library's default, `null` = unbounded). */
  readonly maxQueueSize?: number | null
  /** ours: `maxQueueBytes` (`undefined` = the library's default, `null` = unbounded). */
  readonly maxQueueBytes?: number | null
  /** ours: `output.otlpUds.maxBatchSize` (`undefined` = the default). */
  readonly maxBatchSize?: number
  /** tenants: the routing groups the spans go round. */
  readonly tenants?: number
}

const config: VariantConfig = JSON.parse(process.argv[2] ?? "{}")
const url = "http://localhost/v1/traces"

interface DriveResult {
  readonly created: number
  readonly measuredSpans: number
  readonly measuredNanos: number
  /** `process.hrtime` of the timed window's start (lets a CPU profile be cut to the window). */
  readonly windowStartNanos: number
}

/**
 * When the driver stops: after a timed window (steady) or a span count (burst, stall). The burst
 * is one synchronous stretch: every span is made before the event loop runs again, then shutdown.
 */
const plan = config.mode === "steady" || config.mode === "tenants"
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

// ---------------------------------------------------------------------------------------------
// The Effect driver: one fiber, stretches of trees, a macrotask yield between stretches.

const yieldEffect = Effect.promise(yieldToEventLoop)

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

// ---------------------------------------------------------------------------------------------
// The plain driver: a synchronous stretch of trees (`runStretch(from, n)`), then a macrotask
// yield. The OpenTelemetry SDK runs its trees this way, and so does `ManagedRuntime.runSync`.

const driveLoop = async (runStretch: (from: number, n: number) => void): Promise<DriveResult> => {
  let i = 0
  const warmEnd = now() + plan.warmupNanos
  while (plan.warmupNanos > 0 && now() < warmEnd) {
    runStretch(i, TREES_PER_STRETCH)
    i += TREES_PER_STRETCH
    await yieldToEventLoop()
  }
  const startTree = i
  const start = now()
  let end = start
  while (i - startTree < plan.maxTrees) {
    const n = Math.min(plan.stretch, plan.maxTrees - (i - startTree))
    runStretch(i, n)
    i += n
    end = now()
    if (end - start >= plan.windowNanos) break
    await yieldToEventLoop()
  }
  return {
    created: i * SPANS_PER_TREE,
    measuredSpans: (i - startTree) * SPANS_PER_TREE,
    measuredNanos: end - start,
    windowStartNanos: start
  }
}

/**
 * The embedding application's driver: a `ManagedRuntime` built from `layer`, each stretch of trees
 * one `runtime.runSync`, the runtime disposed (flush included) right after the workload.
 */
const runManaged = async (
  tree: (i: number) => Effect.Effect<void>,
  layer: Layer.Layer<never> | undefined
): Promise<VariantResult> => {
  const runtime = ManagedRuntime.make(layer ?? Layer.empty)
  await runtime.runtime()
  const stretch = (from: number, n: number) =>
    Effect.gen(function*() {
      for (let k = 0; k < n; k++) yield* tree(from + k)
    })
  const drive = await driveLoop((from, n) => runtime.runSync(stretch(from, n)))
  const workloadEnd = now()
  await runtime.dispose()
  const shutdownMillis = (now() - workloadEnd) / 1e6
  return { variant: config.variant, mode: config.mode, ...drive, shutdownMillis, peakRssBytes: peakRssBytes() }
}

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

// ---------------------------------------------------------------------------------------------
// Effect.withSpan (variants 3, 4, 6, 7c) and the bare effect (7b)

const withSpanTree = (i: number): Effect.Effect<void> => {
  const base = i * SPANS_PER_TREE
  return Effect.void.pipe(
    Effect.withSpan("leaf", { attributes: attributes(base + 2) }),
    Effect.withSpan("child", { attributes: attributes(base + 1) }),
    Effect.withSpan("root", { attributes: attributes(base) })
  )
}

const bareTree = (_i: number): Effect.Effect<void> => Effect.void

// ---------------------------------------------------------------------------------------------
// This library (variants 1, 2, 7a)

const loadOurs = async () => {
  const { RoutingMetadata, UserHarness, UserTraceExporter, UserTracing, UserTracingMetrics, UserTracingSettings } =
    await import("../../src/index.js")
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

  // Both pipelines: an internal span per level, and the user span of the same name. withDualSpan
  // hands only `kind` to the user span, so the user span gets its 4 attributes by annotation.
  const dualTree = (i: number): Effect.Effect<void> => {
    const base = i * SPANS_PER_TREE
    const leafAttributes = attributes(base + 2)
    const childAttributes = attributes(base + 1)
    const rootAttributes = attributes(base)
    return UserTracing.annotateUserSpan(leafAttributes).pipe(
      withDualSpan("leaf", { attributes: leafAttributes }),
      Effect.zipLeft(UserTracing.annotateUserSpan(childAttributes)),
      withDualSpan("child", { attributes: childAttributes }),
      withUserTrace("root", { routing, attributes: rootAttributes }),
      Effect.withSpan("root", { attributes: rootAttributes })
    )
  }

  // The same trees, going round `tenants` routing values (made up front): one tenant per tree.
  const tenantRoutings = Array.from(
    { length: config.tenants ?? 1 },
    (_, i) => RoutingMetadata.json({ tenant: `t${i}` })
  )
  const tenantTree = (i: number): Effect.Effect<void> => {
    const base = i * SPANS_PER_TREE
    return Effect.void.pipe(
      withUserSpan("leaf", { attributes: attributes(base + 2) }),
      withUserSpan("child", { attributes: attributes(base + 1) }),
      withUserTrace("root", { routing: tenantRoutings[i % tenantRoutings.length], attributes: attributes(base) })
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

  const layer = (): Layer.Layer<never> => {
    const settings: Record<string, unknown> = {
      enabled: true,
      serviceName: "bench",
      output: {
        otlpUds: {
          socketPath: config.socketPath,
          routingHeaderName: "x-user-routing",
          ...(config.maxBatchSize === undefined ? {} : { maxBatchSize: config.maxBatchSize }),
          ...(config.variant === "ours-2tasks" ? { numTasks: 2 } : {})
        }
      }
    }
    if (config.maxQueueSize !== undefined) settings.maxQueueSize = config.maxQueueSize
    if (config.maxQueueBytes !== undefined) settings.maxQueueBytes = config.maxQueueBytes
    return UserTracing.layer(settings as Parameters<typeof UserTracing.layer>[0]).pipe(Layer.orDie) as Layer.Layer<
      never
    >
  }

  /** Diagnostic: the live harness with an exporter that discards every span (creation cost only). */
  const discardLayer = (): Layer.Layer<never> =>
    UserHarness.layer.pipe(
      Layer.provide(Layer.succeed(UserTraceExporter.UserTraceExporter, { export: () => {}, forceFlush: Effect.void })),
      Layer.provide(UserTracingSettings.layer({
        enabled: true,
        serviceName: "bench",
        output: { otlpUds: { socketPath: config.socketPath, routingHeaderName: "x-user-routing" } }
      })),
      Layer.orDie
    ) as Layer.Layer<never>

  const metrics = Effect.all({
    total: Metric.value(UserTracingMetrics.spansTotal),
    dropped: Metric.value(UserTracingMetrics.spansDropped),
    exported: Metric.value(UserTracingMetrics.spansExported),
    failed: Metric.value(UserTracingMetrics.spansFailed)
  }).pipe(
    Effect.map((m) => ({
      total: m.total.count,
      dropped: m.dropped.count,
      exported: m.exported.count,
      failed: m.failed.count
    }))
  )

  const queueBound = config.maxQueueSize ?? UserTracingSettings.defaultMaxQueueSize

  return { oursTree, dualTree, tenantTree, inactiveTree, layer, discardLayer, metrics, queueBound }
}

// ---------------------------------------------------------------------------------------------
// @effect/opentelemetry and the OpenTelemetry SDK (variants 3, 4, 5)

const otlpTracerLayer = async (): Promise<Layer.Layer<never>> => {
  const [OtlpTracer, OtlpSerialization, NodeHttpClient, Https] = await Promise.all([
    import("@effect/opentelemetry/OtlpTracer"),
    import("@effect/opentelemetry/OtlpSerialization"),
    import("@effect/platform-node/NodeHttpClient"),
    import("node:https")
  ])
  const udsHttpAgent = Layer.scoped(
    NodeHttpClient.HttpAgent,
    Effect.acquireRelease(
      Effect.sync(() => ({
        [NodeHttpClient.HttpAgentTypeId]: NodeHttpClient.HttpAgentTypeId,
        http: new UdsAgent(config.socketPath),
        https: new Https.Agent()
      })),
      (agent) => Effect.sync(() => agent.http.destroy())
    )
  )
  return OtlpTracer.layer({ url, resource: { serviceName: "bench" } }).pipe(
    Layer.provide(OtlpSerialization.layerProtobuf),
    Layer.provide(NodeHttpClient.layerWithoutAgent),
    Layer.provide(udsHttpAgent)
  )
}

/** The OpenTelemetry `BatchSpanProcessor` (defaults) over the OTLP proto exporter on the socket. */
const otelProcessor = async () => {
  const [{ OTLPTraceExporter }, { BatchSpanProcessor }] = await Promise.all([
    import("@opentelemetry/exporter-trace-otlp-proto"),
    import("@opentelemetry/sdk-trace-base")
  ])
  return new BatchSpanProcessor(new OTLPTraceExporter({ url, httpAgentOptions: () => new UdsAgent(config.socketPath) }))
}

const nodeSdkLayer = async (): Promise<Layer.Layer<never>> => {
  const NodeSdk = await import("@effect/opentelemetry/NodeSdk")
  const spanProcessor = await otelProcessor()
  return NodeSdk.layer(() => ({ resource: { serviceName: "bench" }, spanProcessor })) as Layer.Layer<never>
}

const runOtelSdk = async (): Promise<VariantResult> => {
  const [{ NodeTracerProvider }, { resourceFromAttributes }] = await Promise.all([
    import("@opentelemetry/sdk-trace-node"),
    import("@opentelemetry/resources")
  ])
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": "bench" }),
    spanProcessors: [await otelProcessor()]
  })
  provider.register()
  const tracer = provider.getTracer("bench")
  const tree = (i: number): void => {
    const base = i * SPANS_PER_TREE
    tracer.startActiveSpan("root", { attributes: attributes(base) }, (root) => {
      tracer.startActiveSpan("child", { attributes: attributes(base + 1) }, (child) => {
        tracer.startActiveSpan("leaf", { attributes: attributes(base + 2) }, (leaf) => {
          leaf.end()
        })
        child.end()
      })
      root.end()
    })
  }
  const drive = await driveLoop((from, n) => {
    for (let k = 0; k < n; k++) tree(from + k)
  })
  const workloadEnd = now()
  await provider.shutdown()
  return {
    variant: config.variant,
    mode: config.mode,
    ...drive,
    shutdownMillis: (now() - workloadEnd) / 1e6,
    peakRssBytes: peakRssBytes()
  }
}

// ---------------------------------------------------------------------------------------------
// Stalled receiver (ours): memory per queued span

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run with --expose-gc")
  collect()
  collect()
}

const waitForParent = (message: Record<string, unknown>): Promise<void> =>
  new Promise((resolve) => {
    if (process.send === undefined) return resolve()
    process.once("message", () => resolve())
    process.send(message)
  })

const runStall = async (): Promise<VariantResult> => {
  const ours = await loadOurs()
  let memory: Record<string, unknown> = {}
  const measure = (self: Effect.Effect<DriveResult>) =>
    Effect.gen(function*() {
      // The layer is up; nothing is sent before the first span.
      yield* Effect.promise(yieldToEventLoop)
      gc()
      const before = process.memoryUsage()
      const result = yield* self
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 200)))
      gc()
      const after = process.memoryUsage()
      memory = {
        rssBefore: before.rss,
        rssAfter: after.rss,
        heapUsedBefore: before.heapUsed,
        heapUsedAfter: after.heapUsed,
        // `external` already includes `arrayBuffers` (Node counts ArrayBuffers and Buffers in both).
        externalBefore: before.external,
        externalAfter: after.external,
        peakRssDuringProduction: peakRssBytes()
      }
      yield* Effect.promise(() => waitForParent({ type: "stalled", memory }))
      return result
    })
  const result = await runEffect(ours.oursTree, ours.layer(), measure)
  const metrics = await Effect.runPromise(ours.metrics)
  return { ...result, extra: { memory, metrics, maxQueueSize: config.maxQueueSize ?? "default" } }
}

// ---------------------------------------------------------------------------------------------
// Tenants (ours): the cost per span with the queue full, by the number of routing groups

/**
 * The receiver answers nothing (the orchestrator stalls it), so the queue fills during the warm-up
 * and stays full: every span of the timed window meets the fair share. Then the receiver answers
 * again and the layer closes (within `shutdownTimeout`).
 */
const runTenants = async (): Promise<VariantResult> => {
  const ours = await loadOurs()
  const fill = (self: Effect.Effect<DriveResult>) =>
    Effect.gen(function*() {
      // Full before the window: more spans than the queue holds, untimed.
      for (let i = 0; i < (ours.queueBound + 1_024) / (SPANS_PER_TREE * TREES_PER_STRETCH); i++) {
        for (let k = 0; k < TREES_PER_STRETCH; k++) yield* ours.tenantTree(i * TREES_PER_STRETCH + k)
        yield* Effect.promise(yieldToEventLoop)
      }
      const result = yield* self
      yield* Effect.promise(() => waitForParent({ type: "stalled", memory: {} }))
      return result
    })
  const result = await runEffect(ours.tenantTree, ours.layer(), fill)
  const metrics = await Effect.runPromise(ours.metrics)
  return { ...result, extra: { metrics, tenants: config.tenants } }
}

// ---------------------------------------------------------------------------------------------

const main = async (): Promise<VariantResult> => {
  if (config.mode === "stall") return runStall()
  if (config.mode === "tenants") return runTenants()
  switch (config.variant) {
    case "ours":
    case "ours-2tasks":
    case "ours-dual": {
      const ours = await loadOurs()
      const result = await runEffect(config.variant === "ours-dual" ? ours.dualTree : ours.oursTree, ours.layer())
      return { ...result, extra: { metrics: await Effect.runPromise(ours.metrics) } }
    }
    case "ours-runsync": {
      const ours = await loadOurs()
      const result = await runManaged(ours.oursTree, ours.layer())
      return { ...result, extra: { metrics: await Effect.runPromise(ours.metrics) } }
    }
    case "ours-discard": {
      const ours = await loadOurs()
      return runEffect(ours.oursTree, ours.discardLayer())
    }
    case "inactive-user-span":
      return runEffect((await loadOurs()).inactiveTree, undefined)
    case "otlp-tracer":
      return runEffect(withSpanTree, await otlpTracerLayer())
    case "nodesdk":
      return runEffect(withSpanTree, await nodeSdkLayer())
    case "otel-sdk":
      return runOtelSdk()
    case "inactive-user-span-runsync":
      return runManaged((await loadOurs()).inactiveTree, undefined)
    case "effect-native":
      return runEffect(withSpanTree, undefined)
    case "effect-native-runsync":
      return runManaged(withSpanTree, undefined)
    case "bare":
      return runEffect(bareTree, undefined)
    case "bare-runsync":
      return runManaged(bareTree, undefined)
    case "withspan-disabled":
      return runEffect(withSpanTree, undefined, Effect.withTracerEnabled(false))
    default:
      throw new Error(`not an Effect 3 variant: ${config.variant}`)
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
