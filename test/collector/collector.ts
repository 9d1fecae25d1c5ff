/**
 * The Collector receiver program (main.go, built by globalSetup.ts) as a scoped test resource:
 * started from the README's Collector configuration, read back as one JSON line per request.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { inject } from "vitest"
import { eventually } from "../utils/receiver.js"

/** One export request as the Collector's receiver handed it to its consumer. */
export interface CollectorRequest {
  /** The request's client metadata (`include_metadata: true`): lowercase header names. */
  readonly metadata: Readonly<Record<string, ReadonlyArray<string>>>
  /** The request's spans as the Collector's OTLP JSON (`ptrace.JSONMarshaler`). */
  readonly traces: any
}

/** A decoded `AnyValue`: ints as `bigint`, doubles as `number`, arrays as arrays. */
export type CollectorValue = string | boolean | bigint | number | ReadonlyArray<CollectorValue> | null

/** A span from the Collector's JSON, in the words `UserTraceSink.ReceivedSpan` uses. */
export interface CollectorSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly traceState: string | undefined
  readonly flags: number
  readonly name: string
  readonly kind: string
  readonly startTimeUnixNano: bigint
  readonly endTimeUnixNano: bigint
  readonly attributes: ReadonlyArray<readonly [string, CollectorValue]>
  readonly droppedAttributesCount: number
  readonly events: ReadonlyArray<{
    readonly name: string
    readonly timeUnixNano: bigint
    readonly attributes: ReadonlyArray<readonly [string, CollectorValue]>
  }>
  readonly droppedEventsCount: number
  readonly status: string
  readonly statusMessage: string
  readonly serviceName: string | undefined
  readonly scope: { readonly name: string; readonly version: string }
  /** The request's client metadata. */
  readonly metadata: Readonly<Record<string, ReadonlyArray<string>>>
}

/** A running Collector receiver. */
export interface Collector {
  /** A socket path (`unix`) or `host:port` (`tcp`). */
  readonly endpoint: string
  /** The OTLP endpoint URL over TCP; `undefined` on a socket. */
  readonly url: string | undefined
  /** Every request received so far, in the order the consumer saw them. */
  readonly requests: ReadonlyArray<CollectorRequest>
  /** Every span received so far. */
  readonly spans: () => ReadonlyArray<CollectorSpan>
  /**
   * Waits until `count` spans have been read from the program's output: its line is written before
   * the Collector answers, but reaches this process through a pipe, possibly after the answer.
   */
  readonly received: (count: number) => Effect.Effect<void>
  /** Sends SIGTERM and waits for the exit; gives the exit code (`null` when killed by a signal). */
  readonly stop: Effect.Effect<number | null>
}

/** How to start the receiver: the README configuration with these overrides. */
export interface CollectorOptions {
  readonly transport: "unix" | "tcp"
  /** A socket path, or `host:port` (default: a fresh socket path, or `127.0.0.1:0`). */
  readonly endpoint?: string
  /** Overrides `max_request_body_size` (bytes). */
  readonly maxRequestBodySize?: number
}

const readmePath = new URL("../../README.md", import.meta.url)

/** The YAML of the README's "Deployment behind an OpenTelemetry Collector" section, verbatim. */
export const readmeCollectorConfig = (): string => {
  const readme = Fs.readFileSync(readmePath, "utf8")
  const section = readme.slice(readme.indexOf("## Deployment behind an OpenTelemetry Collector"))
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1]
  if (yaml === undefined) throw new Error("README.md: no yaml block in the Deployment section")
  return yaml
}

/** A fresh temporary directory for sockets and the configuration file. */
export const tempDirectory = (): string => Fs.mkdtempSync(Path.join(Os.tmpdir(), "eut-collector-"))

const configFile = (() => {
  let path: string | undefined
  return () => {
    if (path === undefined) {
      path = Path.join(tempDirectory(), "collector.yaml")
      Fs.writeFileSync(path, readmeCollectorConfig())
    }
    return path
  }
})()

/** What the program wrote to stderr, bounded and without control characters, for failure messages. */
const printable = (text: string) => text.slice(-4_000).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "?")

/** Starts the receiver for the scope; resolves once it accepts connections; stopped with the scope. */
export const startCollector = (options: CollectorOptions) =>
  Effect.acquireRelease(
    Effect.async<Collector, Error>((resume) => {
      const endpoint = options.endpoint ??
        (options.transport === "unix" ? Path.join(tempDirectory(), "otlp.sock") : "127.0.0.1:0")
      const args = ["-config", configFile(), "-transport", options.transport, "-endpoint", endpoint]
      if (options.maxRequestBodySize !== undefined) {
        args.push("-max-request-body-size", String(options.maxRequestBodySize))
      }
      const child = spawn(inject("collectorBinary"), args, { stdio: ["ignore", "pipe", "pipe"] })
      let stderr = ""
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr = (stderr + chunk).slice(-16_000)
      })
      const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)))
      const requests: Array<CollectorRequest> = []
      let started = false
      const collector = (listening: { transport: string; endpoint: string }): Collector => ({
        endpoint: listening.endpoint,
        url: listening.transport === "unix" ? undefined : `http://${listening.endpoint}/v1/traces`,
        requests,
        spans: () => requests.flatMap(collectorSpans),
        received: (count) => eventually(() => requests.flatMap(collectorSpans).length >= count),
        stop: Effect.promise(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
          return exited
        })
      })
      Readline.createInterface({ input: child.stdout }).on("line", (line) => {
        const message = JSON.parse(line)
        if (message.listening !== undefined) {
          started = true
          resume(Effect.succeed(collector(message.listening)))
        } else requests.push(message)
      })
      void exited.then((code) => {
        if (!started) {
          resume(Effect.fail(new Error(`the collector exited with ${code} before listening:\n${printable(stderr)}`)))
        }
      })
      return Effect.sync(() => child.kill("SIGKILL"))
    }),
    (collector) => collector.stop
  )

const spanKinds = ["unspecified", "internal", "server", "client", "producer", "consumer"]
const statusCodes = ["unset", "ok", "error"]

const fromAnyValue = (value: any): CollectorValue => {
  if (value.stringValue !== undefined) return value.stringValue
  if (value.boolValue !== undefined) return value.boolValue
  // OTLP JSON writes 64-bit integers as strings.
  if (value.intValue !== undefined) return BigInt(value.intValue)
  if (value.doubleValue !== undefined) return value.doubleValue
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(fromAnyValue)
  return null
}

const fromAttributes = (attributes: any): ReadonlyArray<readonly [string, CollectorValue]> =>
  (attributes ?? []).map((kv: any) => [kv.key, fromAnyValue(kv.value)] as const)

/** The spans of one request, each with its resource, scope and the request's metadata. */
export const collectorSpans = (request: CollectorRequest): ReadonlyArray<CollectorSpan> =>
  (request.traces.resourceSpans ?? []).flatMap((resourceSpans: any) => {
    const resource = fromAttributes(resourceSpans.resource?.attributes)
    const serviceName = resource.find(([key]) => key === "service.name")?.[1]
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans: any) =>
      (scopeSpans.spans ?? []).map((span: any): CollectorSpan => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId || undefined,
        traceState: span.traceState || undefined,
        flags: span.flags ?? 0,
        name: span.name ?? "",
        kind: spanKinds[span.kind ?? 0],
        startTimeUnixNano: BigInt(span.startTimeUnixNano ?? 0),
        endTimeUnixNano: BigInt(span.endTimeUnixNano ?? 0),
        attributes: fromAttributes(span.attributes),
        droppedAttributesCount: span.droppedAttributesCount ?? 0,
        events: (span.events ?? []).map((event: any) => ({
          name: event.name ?? "",
          timeUnixNano: BigInt(event.timeUnixNano ?? 0),
          attributes: fromAttributes(event.attributes)
        })),
        droppedEventsCount: span.droppedEventsCount ?? 0,
        status: statusCodes[span.status?.code ?? 0],
        statusMessage: span.status?.message ?? "",
        serviceName: typeof serviceName === "string" ? serviceName : undefined,
        scope: { name: scopeSpans.scope?.name ?? "", version: scopeSpans.scope?.version ?? "" },
        metadata: request.metadata
      }))
    )
  })
