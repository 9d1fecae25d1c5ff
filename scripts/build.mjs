// `npm run build` (also run by `prepare`): dist/esm (ES modules, `import`) and dist/cjs (CommonJS,
// `require`), each with its declarations. The ESM build type-checks; the CommonJS build emits the
// same sources without checking them again. A CommonJS app gets dist/cjs, so it shares the
// CommonJS `effect` it loads itself instead of loading effect's ES modules a second time.
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import process from "node:process"

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
const compile = (project) => {
  const result = ChildProcess.spawnSync(process.execPath, [tsc, "-p", project], { stdio: "inherit" })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

Fs.rmSync("dist", { recursive: true, force: true })
compile("tsconfig.build.json")
compile("tsconfig.build.cjs.json")
// Without it, Node reads dist/cjs/*.js as ES modules (the package is "type": "module").
Fs.writeFileSync("dist/cjs/package.json", JSON.stringify({ type: "commonjs" }) + "\n")
// The Effect 4 line (dist/esm/effect4) and the bin bundled with its own effect.
const effect4 = ChildProcess.spawnSync(process.execPath, ["effect4/scripts/build.mjs"], { stdio: "inherit" })
if (effect4.status !== 0) process.exit(effect4.status ?? 1)
