import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("..", import.meta.url))

/** The environment of a process a user starts: none of this run's npm or USER_TRACING_* settings. */
const userEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(npm_|USER_TRACING_|NODE_OPTIONS$|VITEST)/i.test(name)) env[name] = value
  }
  return env
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string): string =>
  ChildProcess.execFileSync(command, args, { cwd, env: userEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

describe("installed as a user installs it", () => {
  it("npm pack, then npm install of the tarball into a new project: the root, a subpath and the bin work", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-pack-"))
    try {
      // `prepare` builds dist/ on the way (as it does for `npm ci` and `npm install <git url>`).
      const [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", dir], root))
      const files: Array<string> = packed.files.map((file: { path: string }) => file.path)
      expect(files).toContain("dist/index.js")
      expect(files).toContain("dist/bin/userTracingSink.js")
      expect(files.some((file) => file.startsWith("test/") || file.startsWith("scratchpad/"))).toBe(false)

      const project = Path.join(dir, "consumer")
      Fs.mkdirSync(project)
      Fs.writeFileSync(
        Path.join(project, "package.json"),
        JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" })
      )
      // The registry is asked only for what the npm cache lacks (the peer `effect`, the dependencies).
      run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", Path.join(dir, packed.filename)], project)

      const imported = run(process.execPath, [
        "--input-type=module",
        "--eval",
        `import { Effect, Option } from "effect"
import { RoutingMetadata, UserTracing, UserTracingTest } from "effect-user-tracing"
import * as Traceparent from "effect-user-tracing/Traceparent"
const traces = await Effect.runPromise(
  Effect.void.pipe(
    UserTracing.withUserTrace("request", { routing: RoutingMetadata.json("t") }),
    Effect.zipRight(UserTracingTest.userTraces()),
    Effect.provide(UserTracingTest.layer)
  )
)
const parsed = Traceparent.parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
console.log(JSON.stringify({ traces: traces.map((t) => t.name), traceId: Option.getOrThrow(parsed).traceId }))`
      ], project)
      expect(JSON.parse(imported)).toEqual({ traces: ["request"], traceId: "0af7651916cd43dd8448eb211c80319c" })

      const help = run(Path.join(project, "node_modules", ".bin", "user-tracing-sink"), ["--help"], project)
      expect(help).toContain("user-tracing-sink")
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 240_000)
})
