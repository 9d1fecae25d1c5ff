import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

/** The environment of a process a user starts: none of this run's npm or USER_TRACING_* settings. */
const userEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(npm_|USER_TRACING_|NODE_OPTIONS$|VITEST)/i.test(name)) env[name] = value
  }
  return { ...env, ...extra }
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string, env?: Record<string, string>): string =>
  ChildProcess.execFileSync(command, args, {
    cwd,
    env: userEnv(env),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  })

const app = `import { Effect } from "effect"
import { RoutingMetadata, UserTracing, UserTracingLive, UserTracingTest } from "effect-user-tracing/effect4"
import * as UserTracingHttp from "effect-user-tracing/effect4/UserTracingHttp"

const request = Effect.void.pipe(
  UserTracing.withUserSpan("lookup", { kind: "client" }),
  UserTracing.withUserTrace("GET /orders", { routing: RoutingMetadata.json({ tenant: "acme" }) })
)
const traces = await Effect.runPromise(
  request.pipe(Effect.andThen(UserTracingTest.userTraces()), Effect.provide(UserTracingTest.layer))
)
console.log(JSON.stringify({ traces: traces.map((t) => [t.name, t.children.map((c) => c.name)]), http: typeof UserTracingHttp.middleware }))
await Effect.runPromise(Effect.provide(request, UserTracingLive))
`

describe("installed as an Effect 4 application installs it", () => {
  it(
    "npm pack, then npm install with effect 4: effect-user-tracing/effect4 records, exports into the viewer",
    async () => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut4-pack-"))
      let viewer: ChildProcess.ChildProcess | undefined
      try {
        // `prepare` builds dist/ on the way (both lines, and the bin).
        const [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", dir], root))
        const files: Array<string> = packed.files.map((file: { path: string }) => file.path)
        expect(files).toContain("dist/esm/effect4/index.js")
        expect(files).toContain("dist/esm/effect4/UserTracingHttp.js")

        const project = Path.join(dir, "app")
        Fs.mkdirSync(project)
        Fs.writeFileSync(
          Path.join(project, "package.json"),
          JSON.stringify({ name: "app", version: "1.0.0", private: true, type: "module" })
        )
        run("npm", [
          "install",
          "--prefer-offline",
          "--no-audit",
          "--no-fund",
          "effect@^4.1.5",
          Path.join(dir, packed.filename)
        ], project)
        const installed = JSON.parse(Fs.readFileSync(Path.join(project, "node_modules/effect/package.json"), "utf8"))
        expect(installed.version.startsWith("4.")).toBe(true)
        Fs.writeFileSync(Path.join(project, "main.mjs"), app)
        // A CommonJS module loads the line with `require`, as it loads effect 4.
        Fs.writeFileSync(
          Path.join(project, "check.cjs"),
          `const { UserTracing } = require("effect-user-tracing/effect4")\nconsole.log(typeof UserTracing.withUserTrace)\n`
        )
        expect(run(process.execPath, ["check.cjs"], project).trim()).toBe("function")

        // The viewer, on a socket, as a user runs it; then the app exports one traced request to it.
        const socketPath = Path.join(dir, "otlp.sock")
        viewer = ChildProcess.spawn(
          Path.join(project, "node_modules", ".bin", "user-tracing-sink"),
          ["--socket", socketPath, "--quiet-period", "100"],
          { cwd: project, env: userEnv(), stdio: ["ignore", "pipe", "pipe"] }
        )
        let shown = ""
        let said = ""
        viewer.stdout!.on("data", (chunk) => (shown += chunk))
        viewer.stderr!.on("data", (chunk) => (said += chunk))
        const deadline = Date.now() + 30_000
        while (!said.includes("listening")) {
          if (Date.now() > deadline) throw new Error(`the viewer did not start: ${said}`)
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        const out = run(process.execPath, ["main.mjs"], project, {
          USER_TRACING_ENABLED: "true",
          USER_TRACING_SERVICE_NAME: "shop",
          USER_TRACING_SOCKET_PATH: socketPath,
          USER_TRACING_ROUTING_HEADER_NAME: "x-tenant"
        })
        expect(JSON.parse(out.split("\n")[0])).toEqual({ traces: [["GET /orders", ["lookup"]]], http: "function" })
        while (!shown.includes("└─ lookup")) {
          if (Date.now() > deadline) throw new Error(`the viewer showed no trace: ${shown} ${said}`)
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        expect(shown).toContain("shop · 2 spans")
        expect(shown).toContain("x-tenant: {\"tenant\":\"acme\"}")
      } finally {
        viewer?.kill("SIGINT")
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    },
    300_000
  )
})
