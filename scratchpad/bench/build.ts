/**
 * Bundles the benchmark's child entry points (our TS, src included) with esbuild (tsx's own
 * compiler) into `bench-results/.build/`, packages left external. The children then run on plain
 * Node: no loader hooks at start-up, and no loader thread in their peak RSS.
 *
 * The Effect 4 rows' entry (effect4/bench/variant.ts) is bundled apart, with every `effect` import
 * (the shared modules' of src/ included) resolved from effect4/ and bundled in: effect 4, whatever
 * the root's node_modules hold. It needs effect4/'s packages (`npm run test:effect4` installs them).
 */
import * as esbuild from "esbuild"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))
export const root = Path.resolve(here, "../..")
export const buildDir = Path.join(root, "bench-results", ".build")

const effect4 = Path.join(root, "effect4")

/** Resolves `effect` and `effect/*` as effect4/ does, into the bundle. */
const effect4Everywhere: esbuild.Plugin = {
  name: "effect4-everywhere",
  setup(build) {
    build.onResolve({ filter: /^effect(\/|$)/ }, (args) =>
      args.pluginData === "effect4"
        ? undefined
        : build.resolve(args.path, { resolveDir: effect4, kind: args.kind, pluginData: "effect4" }))
  }
}

/** Whether effect4/'s packages are installed (the Effect 4 rows can be built). */
export const effect4Installed = (): boolean =>
  Fs.existsSync(Path.join(effect4, "node_modules", "effect", "package.json"))

export const build = async (): Promise<
  { readonly variant: string; readonly variant4: string; readonly receiver: string }
> => {
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
  if (effect4Installed()) {
    await esbuild.build({
      entryPoints: { variant4: Path.join(effect4, "bench", "variant.ts") },
      outdir: buildDir,
      bundle: true,
      // Every package but effect (bundled in, from effect4/) is loaded from the root's node_modules.
      external: ["protobufjs", "protobufjs/*", "undici"],
      plugins: [effect4Everywhere],
      platform: "node",
      format: "esm",
      target: "node20",
      sourcemap: true,
      logLevel: "warning"
    })
  }
  return {
    variant: Path.join(buildDir, "variant.js"),
    variant4: Path.join(buildDir, "variant4.js"),
    receiver: Path.join(buildDir, "receiver.js")
  }
}
