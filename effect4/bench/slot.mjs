// Bundles slot.ts with every `effect` import resolved to effect 4 (as the benchmark's Effect 4 rows
// are built, without esbuild's keepNames) and runs it on this Node.
import * as esbuild from "esbuild"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import process from "node:process"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))
const line = Path.resolve(here, "..")
const outfile = Path.resolve(line, "..", "bench-results", ".build", "slot4.mjs")
await esbuild.build({
  entryPoints: [Path.join(here, "slot.ts")],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  external: ["protobufjs", "protobufjs/*", "undici"],
  logLevel: "warning",
  plugins: [{
    name: "effect4-everywhere",
    setup(build) {
      build.onResolve({ filter: /^effect(\/|$)/ }, (args) =>
        args.pluginData === "effect4"
          ? undefined
          : build.resolve(args.path, { resolveDir: line, kind: args.kind, pluginData: "effect4" }))
    }
  }]
})
ChildProcess.execFileSync(process.execPath, [outfile], { stdio: "inherit" })
