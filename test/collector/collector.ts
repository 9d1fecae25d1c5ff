/**
 * The Collector (main.go, built by globalSetup.ts) as a scoped resource, started from the
 * configurations docs/deployment.md gives, verbatim: the documented YAML is written to a file as
 * it stands, and a second file, merged on top by the Collector itself, moves only the endpoints
 * (the receiver's socket or port, each exporter's gateway URL, the Collector's own metrics port)
 * onto this machine. No vitest import: `npm run collector` and the scale-out script use it too.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { eventually } from "../utils/receiver.js"

export const deploymentDoc = new URL("../../docs/deployment.md", import.meta.url)

/**
 * The YAML block docs/deployment.md marks `<!-- collector-config: NAME -->`, verbatim: a whole
 * configuration, or a change the Collector merges onto one.
 */
export const documentedConfig = (name: string): string => {
  const doc = Fs.readFileSync(deploymentDoc, "utf8")
  const marker = `<!-- collector-config: ${name} -->`
  const at = doc.indexOf(marker)
  if (at < 0) throw new Error(`docs/deployment.md: no ${marker}`)
  const yaml = /^\s*```yaml\n([\s\S]*?)^```/m.exec(doc.slice(at + marker.length))?.[1]
  if (yaml === undefined) throw new Error(`docs/deployment.md: no yaml block after ${marker}`)
  return yaml
}

/** A fresh temporary directory for sockets and configuration files. */
export const tempDirectory = (): string => Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-collector-"))

/** A fresh temporary directory, removed with the scope. */
export const scopedTempDirectory = Effect.acquireRelease(
  Effect.sync(tempDirectory),
  (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
)

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export const freePort = (): Promise<number> =>
  new Promise((done, fail) => {
    const server = Net.createServer()
    server.once("error", fail)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => done(port))
    })
  })

export interface CollectorOptions {
  /** The built Collector program. */
  readonly binary: string
  /**
   * Documented configurations by marker name: the first is a whole configuration, each later one
   * is merged onto it (as the Collector merges several `--config` files). Default `["user"]`.
   */
  readonly configs?: ReadonlyArray<string>
  /** The receiver's transport: `unix` (the documented one) or `tcp`, for the `otlpHttp` output. */
  readonly transport?: "unix" | "tcp"
  /** A socket path (`unix`), or a port on 127.0.0.1 (`tcp`); default a fresh one. */
  readonly endpoint?: string | number
  /** Each exporter's gateway URL, by exporter id: every documented exporter endpoint is moved. */
  readonly gateways: Readonly<Record<string, string>>
  /** Overrides the receiver's `max_request_body_size` (bytes). */
  readonly maxRequestBodySize?: number
  /** Where the Collector's log goes as well as into `logs()` (the local run shows it). */
  readonly echo?: NodeJS.WritableStream
  /** In a process group of its own, so a terminal's Ctrl-C reaches only the parent. */
  readonly detached?: boolean
  /**
   * A further change merged last, for measurements of what the documented configuration avoids
   * (the tests run the documented configurations as they stand).
   */
  readonly measurementOverride?: Record<string, unknown>
}

/** One sample of the Collector's own Prometheus metrics. */
export interface MetricSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Collector {
  /** The receiver's socket path (`unix`) or `127.0.0.1:<port>` (`tcp`). */
  readonly endpoint: string
  /** The OTLP URL over TCP; `undefined` on a socket. */
  readonly url: string | undefined
  /** The Collector's log so far (stderr). */
  readonly logs: () => string
  /** The Collector's own metrics, scraped now. */
  readonly metrics: Effect.Effect<ReadonlyArray<MetricSample>, Error>
  /** Sends SIGTERM and waits for the exit (SIGKILL after `millis`); gives the exit code. */
  readonly stop: (millis?: number) => Effect.Effect<number | null>
  /** Whether the process has exited. */
  readonly exited: () => boolean
}

/** The sum of the samples named `name` whose labels include `labels`. */
export const metricSum = (samples: ReadonlyArray<MetricSample>, name: string, labels: Record<string, string> = {}) =>
  samples
    .filter((sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
    )
    .reduce((sum, sample) => sum + sample.value, 0)

const parsePrometheus = (text: string): Array<MetricSample> =>
  text.split("\n").flatMap((line) => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (match === null) return []
    const labels = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]])
    )
    return [{ name: match[1], labels, value: Number(match[3]) }]
  })

/** What the program wrote to stderr, bounded and without control characters, for failure messages. */
export const printable = (text: string) => text.slice(-6_000).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "?")

/** The configuration files and command line for `options`, written under `directory`. */
export const collectorArgs = async (options: CollectorOptions, directory: string) => {
  const configs = options.configs ?? ["user"]
  const documented = configs.map(documentedConfig)
  // Every exporter endpoint the documents name is moved to a gateway here: a configuration with
  // one left over would try to reach a host that is not on this machine.
  const endpoints = documented.join("\n").match(/^\s+endpoint:/gm)?.length ?? 0
  if (endpoints !== 1 + Object.keys(options.gateways).length) {
    throw new Error(
      `docs/deployment.md ${configs.join(" + ")}: ${endpoints} endpoints, but gateways for ${
        Object.keys(options.gateways).join(", ")
      }`
    )
  }
  const transport = options.transport ?? "unix"
  const endpoint = transport === "unix"
    ? String(options.endpoint ?? Path.join(directory, "otlp.sock"))
    : `127.0.0.1:${options.endpoint ?? await freePort()}`
  const metricsPort = await freePort()
  const http: Record<string, unknown> = { endpoint }
  if (transport === "tcp") http.transport = "tcp"
  if (options.maxRequestBodySize !== undefined) http.max_request_body_size = options.maxRequestBodySize
  // JSON is YAML: the Collector merges this onto the documented files, maps key by key.
  const overrides = {
    receivers: { "otlp/user": { protocols: { http } } },
    exporters: Object.fromEntries(Object.entries(options.gateways).map(([id, url]) => [id, { endpoint: url }])),
    service: {
      telemetry: {
        metrics: { readers: [{ pull: { exporter: { prometheus: { host: "127.0.0.1", port: metricsPort } } } }] }
      }
    }
  }
  const files = documented.map((yaml, i) => {
    const file = Path.join(directory, `${i}-${configs[i]}.yaml`)
    Fs.writeFileSync(file, yaml)
    return file
  })
  const overridesFile = Path.join(directory, "endpoints.yaml")
  Fs.writeFileSync(overridesFile, JSON.stringify(overrides, null, 2))
  if (options.measurementOverride !== undefined) {
    const file = Path.join(directory, "measurement.yaml")
    Fs.writeFileSync(file, JSON.stringify(options.measurementOverride, null, 2))
    files.push(file)
  }
  const args = [...files, overridesFile].flatMap((file) => ["--config", file])
  return { args, endpoint, transport, metricsPort }
}

/** The most of the Collector's log kept for `logs()`: the oldest lines go first. */
const maxLogChars = 8 * 1024 * 1024

/** Starts the Collector once; fails if it exits before it is ready. */
const launch = (options: CollectorOptions, directory: string) =>
  Effect.gen(function*() {
    const { args, endpoint, metricsPort, transport } = yield* Effect.tryPromise({
      try: () => collectorArgs(options, directory),
      catch: (error) => error instanceof Error ? error : new Error(String(error))
    })
    const child = spawn(options.binary, args, {
      stdio: ["ignore", "ignore", "pipe"],
      detached: options.detached ?? false
    })
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
      if (stderr.length > maxLogChars) stderr = stderr.slice(stderr.length - maxLogChars / 2)
      options.echo?.write(chunk)
    })
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)))
    let hasExited = false
    void exited.then(() => {
      hasExited = true
    })
    const collector: Collector = {
      endpoint,
      url: transport === "unix" ? undefined : `http://${endpoint}/v1/traces`,
      logs: () => stderr,
      metrics: Effect.tryPromise({
        try: async () => parsePrometheus(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()),
        catch: (error) => new Error(`the Collector's metrics: ${error}`)
      }),
      stop: (millis = 30_000) =>
        Effect.promise(async () => {
          if (!hasExited) child.kill("SIGTERM")
          const timer = setTimeout(() => child.kill("SIGKILL"), millis)
          const code = await exited
          clearTimeout(timer)
          return code
        }),
      exited: () => hasExited
    }
    yield* eventually(() => hasExited || stderr.includes("Everything is ready"), 60_000).pipe(
      Effect.onError(() => Effect.sync(() => child.kill("SIGKILL")))
    )
    if (hasExited) {
      return yield* Effect.fail(new Error(`the Collector exited before it was ready:\n${printable(stderr)}`))
    }
    return collector
  })

/** Starts the Collector for the scope; resolves once it has started every pipeline; stopped with the scope. */
export const startCollector = (options: CollectorOptions) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const directory = tempDirectory()
      // A port picked free can be taken by someone else before the Collector binds it: then pick again.
      const collector = yield* launch(options, directory).pipe(
        Effect.retry({ times: 2, while: (error) => error.message.includes("address already in use") }),
        Effect.onError(() => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true })))
      )
      return { collector, directory }
    }),
    ({ collector, directory }) =>
      Effect.zipRight(collector.stop(), Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true })))
  ).pipe(Effect.map(({ collector }) => collector))
