/**
 * Several service processes (service.ts) writing into one Collector, started together once each
 * is up. No vitest import: the scale-out measurement uses it too.
 */
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Readline from "node:readline"
import { reportPrefix, routingHeaderName } from "./load.js"

const script = new URL("./service.ts", import.meta.url).pathname
const projectRoot = new URL("../../", import.meta.url).pathname

export interface ServiceLoad {
  readonly tenants: number
  readonly traces: number
  readonly concurrency: number
}

/** What a service process reported at its end. */
export interface ServiceResult {
  /** When its load started and finished, and when its layer was closed (flushed), in ms since the epoch. */
  readonly start: number
  readonly finished: number
  readonly flushed: number
  readonly total: number
  readonly exported: number
  readonly failed: number
  readonly dropped: number
}

/** The span prefix of service `i`. */
export const servicePrefix = (i: number) => `service-${i}/`

/**
 * Starts `count` service processes writing to the Collector's socket, waits until each is up,
 * then starts them together and gives their reports. Processes still running when the scope
 * closes are killed.
 */
export const runServices = (
  options: { readonly count: number; readonly socketPath: string; readonly load: ServiceLoad }
) =>
  Effect.gen(function*() {
    const children: Array<ChildProcess> = []
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
    )
    const runs = Array.from({ length: options.count }, (_, i) => {
      const child = spawn(process.execPath, ["--import", "tsx", script], {
        cwd: projectRoot,
        stdio: ["pipe", "pipe", "pipe"],
        env: {
          ...process.env,
          USER_TRACING_ENABLED: "true",
          USER_TRACING_SERVICE_NAME: `service-${i}`,
          USER_TRACING_SOCKET_PATH: options.socketPath,
          USER_TRACING_ROUTING_HEADER_NAME: routingHeaderName,
          SERVICE_PREFIX: servicePrefix(i),
          SERVICE_TENANTS: String(options.load.tenants),
          SERVICE_TRACES: String(options.load.traces),
          SERVICE_CONCURRENCY: String(options.load.concurrency)
        }
      })
      children.push(child)
      let stderr = ""
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
        stderr = (stderr + chunk).slice(-8_000)
      })
      const lines: Array<any> = []
      let onLine = () => {}
      Readline.createInterface({ input: child.stdout! }).on("line", (line) => {
        // Only its reports: the library logs to stdout too.
        if (!line.startsWith(reportPrefix)) return
        lines.push(JSON.parse(line.slice(reportPrefix.length)))
        onLine()
      })
      // "close", not "exit": its last lines may still be in the pipe when it exits.
      const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)))
      const line = (n: number) =>
        new Promise<any>((resolve, reject) => {
          const check = () => {
            if (lines.length > n) resolve(lines[n])
          }
          onLine = check
          check()
          void exited.then((code) => {
            if (lines.length <= n) reject(new Error(`service ${i} exited with ${code}:\n${stderr}`))
          })
        })
      return { child, line, exited }
    })
    yield* Effect.promise(() => Promise.all(runs.map((run) => run.line(0))))
    for (const run of runs) run.child.stdin!.end("go\n")
    const results = yield* Effect.promise(() => Promise.all(runs.map((run) => run.line(1) as Promise<ServiceResult>)))
    yield* Effect.promise(() => Promise.all(runs.map((run) => run.exited)))
    return results
  })
