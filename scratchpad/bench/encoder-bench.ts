/**
 * Micro-benchmark behind the encoding suggestion: the library's `encodeTraceRequest` against
 * `encoder-prototype.ts` on the benchmark's own spans (recorded with `TestUserTracing`), in
 * batches of `maxBatchSize` (512) and of 375 (the median batch seen in `npm run bench`). Checks
 * the two produce identical bytes, and that the official OTLP definitions decode them.
 *
 * Usage: tsx scratchpad/bench/encoder-bench.ts
 */
import { Effect } from "effect"
import otlpRoot from "otlp-transformer-0214/build/esm/generated/root.js"
import { RoutingMetadata, TestUserTracing, UserTracing, UserTracingTest } from "../../src/index.js"
import { encodeTraceRequest } from "../../src/internal/otlpEncoding.js"
import { libraryName, libraryVersion } from "../../src/internal/version.js"
import type { FinishedUserSpan } from "../../src/UserSpan.js"
import { attributes, SPANS_PER_TREE } from "./common.js"
import * as Prototype from "./encoder-prototype.js"

const ExportTraceServiceRequest = (otlpRoot as any).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest
const routing = RoutingMetadata.json({ tenant: "acme" })
const TREES = 20_000

const tree = (i: number) => {
  const base = i * SPANS_PER_TREE
  return Effect.void.pipe(
    UserTracing.withUserSpan("leaf", { attributes: attributes(base + 2) }),
    UserTracing.withUserSpan("child", { attributes: attributes(base + 1) }),
    UserTracing.withUserTrace("root", { routing, attributes: attributes(base) })
  )
}

const spans: ReadonlyArray<FinishedUserSpan> = Effect.runSync(
  Effect.gen(function*() {
    for (let i = 0; i < TREES; i++) yield* tree(i)
    return yield* UserTracingTest.finishedSpans
  }).pipe(Effect.provide(TestUserTracing))
)

const resource = { serviceName: "bench" }
const scope = { name: libraryName, version: libraryVersion }

const batchesOf = (size: number) => {
  const out: Array<ReadonlyArray<FinishedUserSpan>> = []
  for (let i = 0; i < spans.length; i += size) out.push(spans.slice(i, i + size))
  return out
}

const time = <S>(label: string, batches: ReadonlyArray<ReadonlyArray<S>>, encode: (b: ReadonlyArray<S>) => Uint8Array) => {
  const rounds: Array<number> = []
  let bytes = 0
  for (let r = 0; r < 7; r++) {
    const start = process.hrtime.bigint()
    bytes = 0
    for (const batch of batches) bytes += encode(batch).length
    rounds.push(Number(process.hrtime.bigint() - start) / spans.length)
  }
  rounds.sort((a, b) => a - b)
  console.log(`  ${label.padEnd(34)} ${rounds[3].toFixed(0).padStart(6)} ns/span (median of 7; best ${rounds[0].toFixed(0)})  ${(bytes / spans.length).toFixed(0)} B/span`)
  return rounds[3]
}

console.log(`${spans.length} spans of the bench workload (root > child > leaf, 4 attributes each)`)
for (const size of [512, 375]) {
  const batches = batchesOf(size)
  let identical = true
  for (const batch of batches) {
    const a = encodeTraceRequest(resource, batch)
    const b = Prototype.encodeTraceRequest(resource, batch, scope)
    if (Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0) identical = false
  }
  const decoded = ExportTraceServiceRequest.decode(Prototype.encodeTraceRequest(resource, batches[0], scope))
  const decodedCount = decoded.resourceSpans[0].scopeSpans[0].spans.length
  console.log(`batches of ${size}: identical bytes ${identical}; official decode of one batch: ${decodedCount} spans`)
  const current = time("src/internal/otlpEncoding.ts", batches, (b) => encodeTraceRequest(resource, b))
  const proto = time("prototype, same records", batches, (b) => Prototype.encodeTraceRequest(resource, b, scope))
  const compactBatches = batches.map((b) => b.map(Prototype.toCompact))
  let compactIdentical = true
  for (let i = 0; i < batches.length; i++) {
    const a = encodeTraceRequest(resource, batches[i])
    const b = Prototype.encodeCompact(resource, compactBatches[i], scope)
    if (Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0) compactIdentical = false
  }
  const compact = time("prototype, ids as bytes, times as u32", compactBatches, (b) => Prototype.encodeCompact(resource, b, scope))
  console.log(`  -> same records: ${(current / proto).toFixed(2)}x, saves ${(current - proto).toFixed(0)} ns/span; ` +
    `compact records (identical bytes ${compactIdentical}): ${(current / compact).toFixed(2)}x, saves ${(current - compact).toFixed(0)} ns/span`)
}
