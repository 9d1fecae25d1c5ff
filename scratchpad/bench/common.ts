/**
 * What every benchmark variant shares: the workload's shape and attributes, the yield to the
 * event loop, an `http.Agent` that connects to the receiver's Unix socket, and the output the
 * transport benchmarks give the library's transport.
 */
import { Duration } from "effect"
import * as ChildProcess from "node:child_process"
import * as Http from "node:http"
import * as Net from "node:net"
import type * as Stream from "node:stream"

/** Spans per tree: root > child > leaf. */
export const SPANS_PER_TREE = 3
/** Trees per synchronous stretch, then one yield to the event loop. */
export const TREES_PER_STRETCH = 100
/** The burst scenario: this many spans, then shutdown at once. */
export const BURST_SPANS = 60_000
/** The stalled-receiver scenario: this many spans produced while nothing is answered. */
export const STALL_SPANS = 500_000
/** The tenants scenario: the numbers of routing groups compared, with the queue full. */
export const TENANT_COUNTS = [10, 100_000] as const

/** 4 attributes per span: 2 strings, an integer, a bool. `i` makes the integer and bool vary. */
export const attributes = (i: number) => ({
  "http.route": "/api/v1/items/:id",
  "user.tier": "gold",
  "item.index": i,
  "cache.hit": (i & 1) === 0
})

/** A macrotask: lets I/O callbacks (export responses) run between stretches. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** An agent whose every connection goes to `socketPath`, whatever host the request names. */
export class UdsAgent extends Http.Agent {
  constructor(readonly socketPath: string) {
    super({ keepAlive: true })
  }
  override createConnection(): Stream.Duplex {
    return Net.createConnection({ path: this.socketPath })
  }
}

/** The Effect 4 rows: run by effect4/bench/variant.ts, bundled with effect 4. */
export type Effect4VariantName =
  | "ours-e4"
  | "ours-2tasks-e4"
  | "ours-dual-e4"
  | "otlp-tracer-e4"
  | "effect-native-e4"
  | "inactive-user-span-e4"
  | "bare-e4"

/** What a variant process reports to the orchestrator. */
export interface VariantResult {
  readonly variant: string
  readonly mode: "steady" | "burst" | "stall" | "tenants"
  /** Spans ended in the whole run (warm-up included): what the receiver should count. */
  readonly created: number
  /** Spans ended in the timed window and its length. */
  readonly measuredSpans: number
  readonly measuredNanos: number
  readonly windowStartNanos: number
  /** From the end of the workload until the pipeline's shutdown/flush returned. */
  readonly shutdownMillis: number
  readonly peakRssBytes: number
  /** Anything variant-specific (our metrics, memory figures). */
  readonly extra?: Record<string, unknown>
}

export const peakRssBytes = (): number => process.resourceUsage().maxRSS * 1024

/** The library's transport to `socketPath`, as the transport benchmarks drive it: one try per request. */
export const transportOutput = (socketPath: string) => ({
  otlpUds: {
    socketPath,
    routingHeaderName: "x-user-routing",
    numTasks: 1,
    maxBatchSize: 512,
    maxBatchBytes: 4 * 1024 * 1024,
    requestTimeout: Duration.seconds(10),
    maxAttempts: 1,
    compression: "none" as const
  }
})

/**
 * A plain node:http receiver on `socketPath`, in its own process, for the transport benchmarks:
 * reads the whole body, answers 200 with an empty protobuf body, keeps connections alive.
 */
export const startPlainReceiver = async (socketPath: string): Promise<ChildProcess.ChildProcess> => {
  const server = ChildProcess.spawn(process.execPath, [
    "-e",
    `require("node:http").createServer((req, res) => {
      req.on("data", () => {}).on("end", () => res.writeHead(200, { "content-type": "application/x-protobuf" }).end())
    }).listen(${JSON.stringify(socketPath)}, () => console.log("ready"))`
  ], { stdio: ["ignore", "pipe", "inherit"] })
  await new Promise<void>((ready) => server.stdout!.once("data", () => ready()))
  return server
}
