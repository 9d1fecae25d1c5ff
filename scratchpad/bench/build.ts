/**
 * Bundles the benchmark's child entry points (our TS, src included) with esbuild (tsx's own
 * compiler) into `bench-results/.build/`, packages left external. The children then run on plain
 * Node: no loader hooks at start-up, and no loader thread in their peak RSS.
 *
 * `whatIf` builds the variant with suggested changes to src/ applied in the bundle only:
 * `encoding` swaps `src/internal/otlpEncoding.ts` for `whatif-encoding.ts` (the prototype
 * encoder), and `batching` makes the exporter's worker linger 2 ms for a fuller batch (run with a larger
 * `maxBatchSize`).
 */
import * as esbuild from "esbuild"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))
export const root = Path.resolve(here, "../..")
export const buildDir = Path.join(root, "bench-results", ".build")

/** A what-if: a change to src/ applied at bundle time only (src/ itself is never touched). */
export type WhatIf = "encoding" | "batching"

/** Lines of otlpExporter.ts the `batching` what-if replaces (it fails loudly if they moved). */
const WORKER_LINE = "const worker = Effect.suspend(() => queue.length - head > 0 ? exportNextBatch : waitForSpans).pipe("
const LINGERING_WORKER = "const worker = Effect.suspend(() => queue.length - head > 0 ? " +
  "(queue.length - head < output.maxBatchSize && !closed ? Effect.zipRight(Effect.sleep(2), exportNextBatch) : exportNextBatch) : " +
  "waitForSpans).pipe("

const whatIfPlugin = (whatIf: ReadonlyArray<WhatIf>): esbuild.Plugin => ({
  name: "what-if",
  setup(build) {
    const fromSrcInternal = (importer: string) => importer.includes(`${Path.sep}src${Path.sep}internal${Path.sep}`)
    if (whatIf.includes("encoding")) {
      build.onResolve({ filter: /otlpEncoding\.js$/ }, (args) =>
        fromSrcInternal(args.importer) ? { path: Path.join(here, "whatif-encoding.ts") } : undefined)
    }
    if (whatIf.includes("batching")) {
      build.onLoad({ filter: /otlpExporter\.ts$/ }, async (args) => {
        const source = await Fs.readFile(args.path, "utf8")
        if (!source.includes(WORKER_LINE)) throw new Error("what-if batching: the worker line of otlpExporter.ts changed")
        return { contents: source.replace(WORKER_LINE, LINGERING_WORKER), loader: "ts" }
      })
    }
  }
})

export const build = async (
  options: { readonly whatIf?: ReadonlyArray<WhatIf> } = {}
): Promise<{ readonly variant: string; readonly receiver: string }> => {
  const whatIf = options.whatIf ?? []
  const suffix = whatIf.length === 0 ? "" : `-whatif-${whatIf.join("-")}`
  await esbuild.build({
    entryPoints: { [`variant${suffix}`]: Path.join(here, "variant.ts"), receiver: Path.join(here, "receiver.ts") },
    outdir: buildDir,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: true,
    logLevel: "warning",
    plugins: whatIf.length === 0 ? [] : [whatIfPlugin(whatIf)]
  })
  return { variant: Path.join(buildDir, `variant${suffix}.js`), receiver: Path.join(buildDir, "receiver.js") }
}
