// `npm run build`'s last step (after the Effect 3 builds into dist/esm and dist/cjs): the Effect 4
// line into dist/esm/effect4 (ES modules only, as effect 4 is), and the `user-tracing-sink` bin
// bundled with its own effect.
//
// - The Effect 4 line is compiled against effect 4's types, from effect4/'s packages: installed
//   here when missing (npm ci, the optional Node binary left out), as `npm install <git url>` runs
//   this build in a fresh clone.
// - The bin is a program, not a library: bundled (esbuild) with the effect it was written for, it
//   runs the same whichever effect the application installed (3, 4, or none). Its other
//   dependencies (protobufjs, undici) stay the package's.
import * as esbuild from "esbuild"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import process from "node:process"
import { fileURLToPath } from "node:url"

const line = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const root = Path.resolve(line, "..")
const run = (command, args, cwd) => {
  const result = ChildProcess.spawnSync(command, args, { cwd, stdio: "inherit" })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

if (!Fs.existsSync(Path.join(line, "node_modules", "effect", "package.json"))) {
  // Its output would mix with `npm pack --json`'s on stdout: to stderr.
  const result = ChildProcess.spawnSync("npm", ["ci", "--omit=optional", "--no-audit", "--no-fund"], {
    cwd: line,
    stdio: ["ignore", process.stderr, "inherit"]
  })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
run(process.execPath, [Path.join(line, "scripts", "tsc.mjs"), "--emit", "dist/esm/effect4"], root)

const bin = Path.join(root, "dist", "esm", "bin", "userTracingSink.js")
await esbuild.build({
  entryPoints: [Path.join(root, "src", "bin", "userTracingSink.ts")],
  outfile: bin,
  bundle: true,
  external: ["protobufjs", "protobufjs/*", "undici"],
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  logLevel: "warning",
  // A bundled CommonJS dependency calls `require`: give the ES module one.
  banner: {
    js:
      "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);"
  }
})
Fs.chmodSync(bin, 0o755)
