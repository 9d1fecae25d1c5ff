/**
 * Bundles the benchmark's child entry points (our TS, src included) with esbuild (tsx's own
 * compiler) into `bench-results/.build/`, packages left external. The children then run on plain
 * Node: no loader hooks at start-up, and no loader thread in their peak RSS.
 */
import * as esbuild from "esbuild"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))
export const root = Path.resolve(here, "../..")
export const buildDir = Path.join(root, "bench-results", ".build")

export const build = async (): Promise<{ readonly variant: string; readonly receiver: string }> => {
  await esbuild.build({
    entryPoints: { variant: Path.join(here, "variant.ts"), receiver: Path.join(here, "receiver.ts") },
    outdir: buildDir,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: true,
    logLevel: "warning"
  })
  return { variant: Path.join(buildDir, "variant.js"), receiver: Path.join(buildDir, "receiver.js") }
}
