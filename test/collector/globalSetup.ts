/**
 * Builds the Collector (main.go) once per change: the binary lives in the gitignored
 * `test/collector/.build/`, named by a hash of the Go toolchain version and the program's sources,
 * so a second run reuses it. A missing Go toolchain or module fails the run: never a silent skip.
 */
import { execFileSync } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    /** The absolute path of the built Collector. */
    readonly collectorBinary: string
  }
}

const directory = Path.dirname(new URL(import.meta.url).pathname)
const sources = ["go.mod", "go.sum", "main.go"]

const go = (args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv): string => {
  try {
    return execFileSync("go", args, {
      cwd: directory,
      env: { ...process.env, ...env },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"]
    })
  } catch (error: any) {
    if (error.code === "ENOENT") {
      throw new Error("npm run test:collector needs Go (1.26 or later) on the PATH: `go` was not found", {
        cause: error
      })
    }
    throw new Error(`go ${args.join(" ")} failed:\n${error.stderr ?? error.message}`, { cause: error })
  }
}

/** Builds the program unless a binary for these exact sources exists; returns its path. */
export const buildCollector = (): string => {
  const hash = Crypto.createHash("sha256").update(go(["version"]))
  for (const file of sources) hash.update(Fs.readFileSync(Path.join(directory, file)))
  const buildDirectory = Path.join(directory, ".build")
  const binary = Path.join(buildDirectory, `collector-${hash.digest("hex").slice(0, 16)}`)
  if (Fs.existsSync(binary)) return binary
  Fs.mkdirSync(buildDirectory, { recursive: true })
  for (const stale of Fs.readdirSync(buildDirectory)) {
    if (!stale.endsWith(".partial")) Fs.rmSync(Path.join(buildDirectory, stale), { force: true })
  }
  const started = Date.now()
  // Built under a name of its own, then renamed: a concurrent run never sees half a binary.
  const partial = `${binary}.${process.pid}.partial`
  // -mod=mod: a fresh machine downloads the modules go.sum pins through the module proxy;
  // -buildvcs=false: the binary does not depend on the work tree's git state.
  go(["build", "-o", partial, "."], { GOFLAGS: "-mod=mod -buildvcs=false" })
  Fs.renameSync(partial, binary)
  console.log(
    `collector: built ${Path.relative(process.cwd(), binary)} in ${((Date.now() - started) / 1000).toFixed(1)} s`
  )
  return binary
}

export default function setup(project: TestProject) {
  project.provide("collectorBinary", buildCollector())
}
