/**
 * CPU profile of one variant (default: ours) on the benchmark workload, against the same counting
 * receiver: `node --cpu-prof` on the variant process, then the summary of `cpuprofile-summary.ts`.
 * Profiles land in `bench-results/profiles/`.
 *
 * Usage: tsx scratchpad/bench/profile.ts [variant=ours] [seconds=5]
 */
import { fork } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "./build.js"
import { summarize } from "./cpuprofile-summary.js"
import type { VariantConfig, VariantName } from "./variant.js"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")
const entry = await build()
const variant = (process.argv[2] ?? "ours") as VariantName
const seconds = Number(process.argv[3] ?? 5)
const outDir = Path.join(root, "bench-results", "profiles")
Fs.mkdirSync(outDir, { recursive: true })

const socketPath = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-prof-")), "otlp.sock")
const receiver = fork(entry.receiver, [socketPath], { execArgv: [], cwd: root })
await new Promise<void>((resolve) => receiver.once("message", () => resolve()))

const profileDir = Path.join(outDir, `${variant}-${new Date().toISOString().replace(/[:.]/g, "-")}`)
Fs.mkdirSync(profileDir, { recursive: true })
const config: VariantConfig = { variant, mode: "steady", socketPath, seconds, warmupSeconds: 1, spans: 0 }
const result = await new Promise<unknown>((resolve, reject) => {
  const child = fork(entry.variant, [JSON.stringify(config)], {
    execArgv: ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, "--cpu-prof-interval=250"],
    cwd: root
  })
  let result: unknown
  child.on("message", (m: { type: string; result?: unknown }) => {
    if (m.type === "result") result = m.result
  })
  child.on("exit", (code) => (result === undefined ? reject(new Error(`exit ${code}`)) : resolve(result)))
})
receiver.send({ cmd: "count" })
const state = await new Promise<{ spans: number }>((resolve) =>
  receiver.once("message", (m: { spans: number }) => resolve(m))
)
receiver.kill()

const r = result as { measuredSpans: number; measuredNanos: number; created: number; windowStartNanos: number }
console.log(
  `${variant}: ${(r.measuredSpans / (r.measuredNanos / 1e9)).toFixed(0)} spans/s under the profiler, ` +
    `created ${r.created}, received ${state.spans}\n`
)
const main = Fs.readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile")).map((f) => Path.join(profileDir, f))[0]
console.log(
  summarize(main, 40, {
    startMicros: r.windowStartNanos / 1000,
    endMicros: (r.windowStartNanos + r.measuredNanos) / 1000
  })
)
