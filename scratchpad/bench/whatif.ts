/**
 * What-ifs for the suggestions to src/: our variant (steady state, the workload and receiver of
 * `npm run bench`) built as is and with suggested changes applied at bundle time (`build.ts`),
 * runs alternated, medians reported. src/ is not touched.
 *
 * Usage: tsx scratchpad/bench/whatif.ts <encoding|batching|all>[,...] [reps=3] [seconds=4]
 * (`batching` also sets maxBatchSize 2048; each comma-separated item is one configuration)
 */
import { fork } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { build, root, type WhatIf } from "./build.js"
import type { VariantResult } from "./common.js"
import type { VariantConfig } from "./variant.js"

const configurations = (process.argv[2] ?? "encoding").split(",").map((item): ReadonlyArray<WhatIf> =>
  item === "all" ? ["encoding", "batching"] : (item.split("+") as Array<WhatIf>)
)
const reps = Number(process.argv[3] ?? 3)
const seconds = Number(process.argv[4] ?? 4)
const base = await build()
const builds = await Promise.all(configurations.map((whatIf) => build({ whatIf })))

const socketPath = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-whatif-")), "otlp.sock")
const receiver = fork(base.receiver, [socketPath], { execArgv: [], cwd: root })
await new Promise<void>((resolve) => receiver.once("message", () => resolve()))
const ask = (cmd: string) =>
  new Promise<{ spans: number; requests: number }>((resolve) => {
    receiver.once("message", (m: { spans: number; requests: number }) => resolve(m))
    receiver.send({ cmd })
  })

const run = async (entry: string, batching: boolean) => {
  await ask("reset")
  const config: VariantConfig = {
    variant: "ours",
    mode: "steady",
    socketPath,
    seconds,
    warmupSeconds: 0.5,
    spans: 0,
    ...(batching ? { maxBatchSize: 2048 } : {})
  }
  const result = await new Promise<VariantResult>((resolve, reject) => {
    const child = fork(entry, [JSON.stringify(config)], { execArgv: [], cwd: root })
    let r: VariantResult | undefined
    child.on("message", (m: { type: string; result?: VariantResult }) => {
      if (m.type === "result") r = m.result
    })
    child.on("exit", (code) => (r === undefined ? reject(new Error(`exit ${code}`)) : resolve(r)))
  })
  await new Promise((r) => setTimeout(r, 150))
  const state = await ask("count")
  return {
    rate: result.measuredSpans / (result.measuredNanos / 1e9),
    lost: result.created - state.spans,
    perRequest: state.spans / Math.max(1, state.requests)
  }
}

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const labels = ["as is", ...configurations.map((c) => c.join("+"))]
const rates = labels.map(() => [] as Array<number>)
const perRequest = labels.map(() => [] as Array<number>)
let lost = 0
for (let i = 0; i < reps; i++) {
  const entries = [base.variant, ...builds.map((b) => b.variant)]
  const line: Array<string> = []
  for (let k = 0; k < entries.length; k++) {
    const r = await run(entries[k], k > 0 && configurations[k - 1].includes("batching"))
    rates[k].push(r.rate)
    perRequest[k].push(r.perRequest)
    lost += r.lost
    line.push(`${labels[k]} ${r.rate.toFixed(0)}`)
  }
  console.log(`rep ${i + 1}: ${line.join(", ")} spans/s`)
}
receiver.kill()
const m0 = median(rates[0])
for (let k = 0; k < labels.length; k++) {
  const m = median(rates[k])
  console.log(
    `${labels[k].padEnd(30)} ${m.toFixed(0).padStart(8)} spans/s ${(1e9 / m).toFixed(0).padStart(6)} ns/span ` +
      `${k === 0 ? "" : `${((m / m0 - 1) * 100).toFixed(1).padStart(6)}%`}  ${median(perRequest[k]).toFixed(0)} spans/request`
  )
}
console.log(`lost (all runs): ${lost}`)
