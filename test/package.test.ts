import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("..", import.meta.url))
const execFile = promisify(ChildProcess.execFile)

/**
 * The environment of a process a user starts: none of this run's npm or USER_TRACING_* settings;
 * npm asks the registry only for what its cache lacks.
 */
const userEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(npm_|USER_TRACING_|NODE_OPTIONS$|VITEST|TS_NODE)/i.test(name)) env[name] = value
  }
  return { ...env, npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false", ...extra }
}

const run = async (
  command: string,
  args: ReadonlyArray<string>,
  cwd: string,
  env?: Record<string, string>
): Promise<string> => {
  try {
    const { stdout } = await execFile(command, args, { cwd, env: userEnv(env), encoding: "utf8", maxBuffer: 64 << 20 })
    return stdout
  } catch (error) {
    const { stderr, stdout } = error as { stdout?: string; stderr?: string }
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}\n${stderr ?? ""}`, {
      cause: error
    })
  }
}

/** Retries `assertion` until it passes, for at most `millis`; then throws its last error. */
const eventually = async (assertion: () => void, millis = 20_000): Promise<void> => {
  const deadline = Date.now() + millis
  for (;;) {
    try {
      return assertion()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

/** The install commands of docs/install.md, as written (the README shows the same). */
const installCommands = (): ReadonlyArray<string> => {
  const doc = Fs.readFileSync(Path.join(root, "docs", "install.md"), "utf8")
  const block = /```sh\n([\s\S]*?)```/.exec(doc)
  expect(block).not.toBeNull()
  return block![1].split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"))
}

/** Public modules: `src/<PascalCase>.ts`. */
const publicModules = Fs.readdirSync(Path.join(root, "src")).filter((file) => /^[A-Z]\w*\.ts$/.test(file)).map((
  file
) => file.slice(0, -3)).sort()

describe("the package's surface", () => {
  it("exports the root and each public module, nothing else; tsconfig paths and the README say the same", () => {
    const pkg = JSON.parse(Fs.readFileSync(Path.join(root, "package.json"), "utf8"))
    // The Effect 4 line: ES modules only, as effect 4 is; `require` loads them too (Node >= 20.19).
    // effect4/test/package.test.ts installs it.
    const effect4: Record<string, string> = {
      "./effect4": "effect4/index",
      "./effect4/UserTracingHttp": "effect4/UserTracingHttp"
    }
    expect(Object.keys(pkg.exports).sort()).toEqual(
      [".", "./package.json", ...publicModules.map((name) => `./${name}`), ...Object.keys(effect4)].sort()
    )
    for (const [key, value] of Object.entries(pkg.exports)) {
      if (key === "./package.json") continue
      if (key in effect4) {
        expect(value).toEqual({ types: `./dist/esm/${effect4[key]}.d.ts`, default: `./dist/esm/${effect4[key]}.js` })
        continue
      }
      const file = key === "." ? "index" : key.slice(2)
      expect(value).toEqual({
        import: { types: `./dist/esm/${file}.d.ts`, default: `./dist/esm/${file}.js` },
        default: { types: `./dist/cjs/${file}.d.ts`, default: `./dist/cjs/${file}.js` }
      })
    }
    expect(pkg.sideEffects).toBe(false)
    expect(pkg.license).toBe("MIT")
    expect(Fs.readFileSync(Path.join(root, "LICENSE"), "utf8")).toMatch(/^MIT License/)
    // tsconfig.json is JSON with comments.
    const tsconfig = Fs.readFileSync(Path.join(root, "tsconfig.json"), "utf8")
    const paths = Array.from(tsconfig.matchAll(/"(effect-user-tracing[^"]*)": \["\.\/src\/(\w+)\.ts"\]/g))
    expect(paths.map(([, name, file]) => [name, file])).toEqual([
      ["effect-user-tracing", "index"],
      ...publicModules.map((name) => [`effect-user-tracing/${name}`, name])
    ])
    // Every `npm install` line the README shows is one of docs/install.md's (which this file runs).
    const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")
    const shown = Array.from(readme.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)).flatMap(([, block]) =>
      block.split("\n").map((line) => line.trim()).filter((line) => /^npm (i|install)\b/.test(line))
    )
    for (const line of shown) expect(installCommands()).toContain(line)
  })
})

describe("installed as a user installs it", () => {
  let dir = ""
  let tarball = ""

  beforeAll(async () => {
    dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-pack-"))
    // `prepare` builds dist/ on the way (as it does for `npm ci` and `npm install <git url>`).
    const [packed] = JSON.parse(await run("npm", ["pack", "--json", "--pack-destination", dir], root))
    const files: Array<string> = packed.files.map((file: { path: string }) => file.path)
    for (const module of ["index", ...publicModules]) {
      expect(files).toContain(`dist/esm/${module}.js`)
      expect(files).toContain(`dist/cjs/${module}.js`)
      expect(files).toContain(`dist/cjs/${module}.d.ts`)
    }
    expect(files).toContain("dist/cjs/package.json")
    expect(files).toContain("dist/esm/bin/userTracingSink.js")
    expect(files).toContain("LICENSE")
    expect(files.some((file) => /^(test|scratchpad|scripts|docs)\//.test(file))).toBe(false)
    tarball = Path.join(dir, packed.filename)
  }, 240_000)

  afterAll(() => {
    if (dir !== "") Fs.rmSync(dir, { recursive: true, force: true })
  }, 120_000)

  // The two apps install and build at the same time.
  describe.concurrent.each([["commonjs", "cjs"], ["module", "mjs"]] as const)("a new app of type %s", (type, ext) => {
    it(
      "installs with docs/install.md's commands, compiles with tsc --strict, runs the quick start and a traced request into user-tracing-sink; internals are closed",
      async () => {
        const app = Path.join(dir, type)
        Fs.mkdirSync(app)
        await run("npm", ["init", "-y"], app)
        if (type === "module") await run("npm", ["pkg", "set", "type=module"], app)
        expect(JSON.parse(Fs.readFileSync(Path.join(app, "package.json"), "utf8")).type).toBe(type)
        for (const command of installCommands()) {
          await run("bash", ["-c", command.replaceAll("<git url>", `file:${tarball}`)], app)
        }

        // The quick start, as the README shows it, compiled for this app's module system.
        Fs.copyFileSync(Path.join(root, "scratchpad", "examples", "quickstart.ts"), Path.join(app, "quickstart.ts"))
        await run("npx", [
          "tsc",
          "--strict",
          "--exactOptionalPropertyTypes",
          // As `tsc --init` sets it, and most apps have it.
          "--skipLibCheck",
          "--module",
          "nodenext",
          "--target",
          "es2022",
          "--types",
          "node",
          "--outDir",
          "out",
          "quickstart.ts"
        ], app)
        const output = await run(process.execPath, [Path.join("out", "quickstart.js")], app)
        expect(output).toMatch(
          /^trace [0-9a-f]{32} {2}checkout · 3 spans · .*\n {2}x-user-routing: \{"tenant":"acme"\}$/m
        )
        expect(output).toContain("user tracing is enabled")
        expect(output).toMatch(/^POST \/checkout server /m)
        expect(output).toMatch(/^├─ load order /m)
        expect(output).toContain(`x-user-routing: {"tenant":"globex"}`)

        // The root loads, internals are closed, and importing loads no transport.
        Fs.writeFileSync(Path.join(app, `probe.${ext}`), type === "module" ? probeEsm : probeCjs)
        expect(JSON.parse(await run(process.execPath, [`probe.${ext}`], app))).toEqual({
          root: [
            "OtlpUserTraceExporter",
            "RoutingMetadata",
            "TestUserTracing",
            "Traceparent",
            "Tracestate",
            "UserHarness",
            "UserSpan",
            "UserTraceExporter",
            "UserTraceSink",
            "UserTracing",
            "UserTracingLive",
            "UserTracingMetrics",
            "UserTracingSettings",
            "UserTracingTest"
          ],
          subpath: "function",
          internal: "ERR_PACKAGE_PATH_NOT_EXPORTED",
          loaded: []
        })

        // The adoption path: `user-tracing-sink` shows what `UserTracingLive` sends.
        const socketPath = Path.join(app, "otlp.sock")
        const sink = ChildProcess.spawn(
          Path.join(app, "node_modules", ".bin", "user-tracing-sink"),
          ["--socket", socketPath, "--json"],
          { cwd: app, env: userEnv(), stdio: ["ignore", "pipe", "pipe"] }
        )
        let received = ""
        let messages = ""
        sink.stdout.on("data", (chunk) => (received += chunk))
        sink.stderr.on("data", (chunk) => (messages += chunk))
        try {
          await eventually(() => expect(messages).toContain("listening"))
          Fs.writeFileSync(Path.join(app, `live.${ext}`), type === "module" ? liveEsm : liveCjs)
          await run(process.execPath, [`live.${ext}`], app, {
            USER_TRACING_ENABLED: "true",
            USER_TRACING_SERVICE_NAME: `app-${ext}`,
            USER_TRACING_SOCKET_PATH: socketPath,
            USER_TRACING_ROUTING_HEADER_NAME: "x-user-routing"
          })
          await eventually(() => {
            const spans = received.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line))
            expect(spans.map((span) => [span.name, span.serviceName, span.headers["x-user-routing"]]).sort()).toEqual([
              ["GET /orders", `app-${ext}`, `{"tenant":"acme"}`],
              ["load order", `app-${ext}`, `{"tenant":"acme"}`]
            ])
          })
        } finally {
          sink.kill("SIGINT")
        }
      },
      240_000
    )
  })
})

const expectedRoot = `Object.keys(root).sort()`

const probeCjs = `const root = require("effect-user-tracing")
const { withUserTracing } = require("effect-user-tracing/UserTracingHttp")
let internal = "loaded"
try { require("effect-user-tracing/internal/viewer/waterfall") } catch (error) { internal = error.code }
const loaded = Object.keys(require.cache).filter((file) => /[\\\\/]node_modules[\\\\/](undici|protobufjs)[\\\\/]|internal[\\\\/](export[\\\\/](exporter|transport|encoding)|sink[\\\\/](server|proto))/.test(file))
console.log(JSON.stringify({ root: ${expectedRoot}, subpath: typeof withUserTracing, internal, loaded }))
`

const probeEsm = `import { createRequire } from "node:module"
const root = await import("effect-user-tracing")
const { withUserTracing } = await import("effect-user-tracing/UserTracingHttp")
let internal = "loaded"
try { await import("effect-user-tracing/internal/viewer/waterfall") } catch (error) { internal = error.code }
// CommonJS modules (undici is one) show in the require cache, whoever imported them.
const loaded = Object.keys(createRequire(import.meta.url).cache).filter((file) => /[\\\\/]node_modules[\\\\/](undici|protobufjs)[\\\\/]/.test(file))
console.log(JSON.stringify({ root: ${expectedRoot}, subpath: typeof withUserTracing, internal, loaded }))
`

const liveProgram = `Effect.runPromise(
  Effect.sleep("1 millis").pipe(
    UserTracing.withUserSpan("load order"),
    UserTracing.withUserTrace("GET /orders", { routing: RoutingMetadata.json({ tenant: "acme" }), kind: "server" }),
    Effect.provide(UserTracingLive)
  )
)
`
const liveCjs = `const { Effect } = require("effect")
const { RoutingMetadata, UserTracing, UserTracingLive } = require("effect-user-tracing")
${liveProgram}`
const liveEsm = `import { Effect } from "effect"
import { RoutingMetadata, UserTracing, UserTracingLive } from "effect-user-tracing"
${liveProgram}`
