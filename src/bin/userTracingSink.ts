#!/usr/bin/env node
/**
 * `user-tracing-sink`: an OTLP/HTTP trace receiver on a Unix socket or a TCP port that shows the
 * user traces it receives, live, as terminal waterfalls (or, with `--json`, one JSON object per
 * span per line). Ctrl-C or SIGTERM stop it cleanly (exit code 0) and remove the socket file.
 *
 * It needs `effect` and Node only (no `@effect/platform`), so it runs from an installed package.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"
import { isHeaderName } from "../internal/shared/httpSyntax.js"
import { escapeUnsafe, safeJson } from "../internal/shared/text.js"
import { showOrReport } from "../internal/viewer/terminalText.js"
import { renderTrace, spanJson, useColor } from "../internal/viewer/waterfall.js"
import type * as UserTraceSink from "../UserTraceSink.js"

const usage = `Usage: user-tracing-sink (--socket PATH | --port N [--host HOST]) [options]

Receives OTLP/HTTP traces (POST /v1/traces, protobuf or JSON, optionally gzip) and shows each
completed trace as a waterfall: its span tree, a bar per span on the trace's time axis,
durations, attributes, events, error status and the routing header.

Listen on (one of):
  --socket PATH            a Unix domain socket (default: $USER_TRACING_SOCKET_PATH)
  --port N                 a TCP port (0 = any free port; the URL is printed on stderr)
  --host HOST              the TCP address (default 127.0.0.1, this machine only;
                           0.0.0.0 or :: for every interface)

Options:
  --json                   one JSON object per span per line, as spans arrive
  --routing-header NAME    the request header to show as routing (default:
                           $USER_TRACING_ROUTING_HEADER_NAME, else every non-standard header,
                           those that may carry a credential redacted)
  --quiet-period MS        a trace is shown once its root has arrived and no span of it came
                           for this long (default 500)
  --max-trace-age MS       a trace still receiving spans this long after its first one is shown
                           as it is, marked incomplete (default 60000)
  --max-spans-per-trace N  spans kept per pending trace; more are counted and shown as dropped
                           (default 10000)
  --max-pending-spans N    spans kept across pending traces; past it the oldest trace is shown
                           early, marked incomplete (default 50000)
  --width N                line width of the waterfall (default: the terminal's, else 100)
  -h, --help               this help

Colour is used when stdout is a terminal and NO_COLOR is not set. Ctrl-C (SIGINT) or SIGTERM
shows the traces still pending, removes the socket file and exits with code 0.`

interface Cli {
  readonly address: UserTraceSink.Address
  /** The flag (or variable) the socket path or host came from, for a usage error. */
  readonly addressFrom: string
  readonly json: boolean
  readonly routingHeader: string | undefined
  readonly quietPeriod: number
  /** `undefined`: the sink's default (so are the next two). */
  readonly maxTraceAge: number | undefined
  readonly maxSpansPerTrace: number | undefined
  readonly maxPendingSpans: number | undefined
  readonly width: number | undefined
}

const integerFlag = (name: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}: ${JSON.stringify(text)}`)
  }
  return Number(text)
}

const optionalInteger = (name: string, text: string | undefined, min: number): number | undefined =>
  text === undefined ? undefined : integerFlag(name, text, min)

/** The command line, `"help"`, or a thrown message for a usage error. */
const parse = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Cli | "help" => {
  const { values } = parseArgs({
    args: argv.slice(),
    strict: true,
    allowPositionals: false,
    options: {
      socket: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      json: { type: "boolean" },
      "routing-header": { type: "string" },
      "quiet-period": { type: "string" },
      "max-trace-age": { type: "string" },
      "max-spans-per-trace": { type: "string" },
      "max-pending-spans": { type: "string" },
      width: { type: "string" },
      help: { type: "boolean", short: "h" }
    }
  })
  if (values.help === true) return "help"
  if (values.socket !== undefined && values.port !== undefined) throw new Error("give --socket or --port, not both")
  if (values.host !== undefined && values.port === undefined) throw new Error("--host needs --port")
  let address: UserTraceSink.Address
  let addressFrom: string
  if (values.port !== undefined) {
    address = { port: integerFlag("--port", values.port, 0, 65535), host: values.host }
    addressFrom = "--host"
  } else {
    const socketPath = values.socket ?? (env.USER_TRACING_SOCKET_PATH || undefined)
    if (socketPath === undefined || socketPath === "") throw new Error("give --socket PATH or --port N")
    address = { socketPath }
    addressFrom = values.socket === undefined ? "USER_TRACING_SOCKET_PATH" : "--socket"
  }
  const routingHeader = values["routing-header"] ?? (env.USER_TRACING_ROUTING_HEADER_NAME || undefined)
  if (routingHeader !== undefined && !isHeaderName(routingHeader)) {
    throw new Error(`--routing-header is not a valid header name: ${JSON.stringify(routingHeader)}`)
  }
  const width = values.width === undefined ? undefined : integerFlag("--width", values.width, 0, 1000)
  return {
    address,
    addressFrom,
    json: values.json === true,
    routingHeader,
    quietPeriod: optionalInteger("--quiet-period", values["quiet-period"], 0) ?? 500,
    maxTraceAge: optionalInteger("--max-trace-age", values["max-trace-age"], 1),
    maxSpansPerTrace: optionalInteger("--max-spans-per-trace", values["max-spans-per-trace"], 1),
    maxPendingSpans: optionalInteger("--max-pending-spans", values["max-pending-spans"], 1),
    width
  }
}

/** One line on stderr; what it carries from outside is escaped by the caller (`escapeUnsafe`). */
const stderr = (line: string): void => void process.stderr.write(`user-tracing-sink: ${line}\n`)

/**
 * Runs the sink until a signal: then closes it (which ends its streams), lets the output fiber
 * print what is pending, and reports on stderr. Effect and the sink are loaded only here, so
 * `--help` and usage errors answer at once. A trace or span that cannot be shown, and what the
 * sink logs, are told on stderr in one escaped line each; the others are still shown.
 */
const start = async (cli: Cli): Promise<void> => {
  const [{ Cause, Duration, Effect, Exit, Fiber, Logger, Scope, Stream }, Sink] = await Promise.all([
    import("effect"),
    import("../UserTraceSink.js")
  ])
  const report = (line: string): void => stderr(line)
  const stderrLogger = Logger.make(({ message }) =>
    stderr(escapeUnsafe(Array.isArray(message) ? message.map(String).join(" ") : String(message)))
  )

  const program = Effect.gen(function*() {
    const scope = yield* Scope.make()
    const sink = yield* Sink.make({ ...cli.address, retainSpans: false }).pipe(Scope.extend(scope))
    const where = sink.address._tag === "Unix" ? `unix:${sink.address.socketPath}` : sink.url
    stderr(escapeUnsafe(`listening on ${where} (POST /v1/traces); Ctrl-C to stop`))

    const color = useColor(process.stdout, process.env)
    const shown = { incomplete: 0, droppedSpans: 0 }
    const output = cli.json
      ? Stream.runForEach(sink.spans, (span) =>
        Effect.sync(() => {
          const line = showOrReport(
            () => `span ${span.spanId} of trace ${span.traceId}`,
            () => safeJson(spanJson(span, cli.routingHeader)),
            report
          )
          if (line !== undefined) process.stdout.write(`${line}\n`)
        }))
      : Stream.runForEach(
        sink.completedTraces({
          quietPeriod: Duration.millis(cli.quietPeriod),
          maxTraceAge: cli.maxTraceAge === undefined ? undefined : Duration.millis(cli.maxTraceAge),
          maxSpansPerTrace: cli.maxSpansPerTrace,
          maxPendingSpans: cli.maxPendingSpans
        }),
        (trace) =>
          Effect.sync(() => {
            if (trace.incomplete !== undefined) shown.incomplete++
            shown.droppedSpans += trace.droppedSpans ?? 0
            const width = cli.width ?? process.stdout.columns ?? 100
            const text = showOrReport(
              () => `trace ${trace.traceId}`,
              () => renderTrace(trace, { color, width, routingHeader: cli.routingHeader }),
              report
            )
            if (text !== undefined) process.stdout.write(`${text}\n\n`)
          })
      )
    // A daemon: the signal interrupts this fiber, not the output, which must still print what is pending.
    const printing = yield* Effect.forkDaemon(output)
    const shutdown = Scope.close(scope, Exit.void).pipe(
      Effect.zipRight(Fiber.join(printing)),
      Effect.timeout("15 seconds"),
      Effect.catchAllCause((cause) =>
        Effect.sync(() => stderr(escapeUnsafe(`while stopping: ${Cause.pretty(cause)}`)))
      ),
      Effect.zipRight(sink.stats),
      Effect.map((stats) =>
        stderr(
          `stopped: ${stats.spans} span(s) in ${stats.accepted} request(s)` +
            (stats.rejected > 0 ? `, ${stats.rejected} request(s) rejected` : "") +
            (stats.rejectedSpans > 0 ? `, ${stats.rejectedSpans} span(s) rejected` : "") +
            (shown.incomplete > 0 ? `, ${shown.incomplete} trace(s) shown incomplete` : "") +
            (shown.droppedSpans > 0 ? `, ${shown.droppedSpans} span(s) over the per-trace cap not kept` : "")
        )
      )
    )
    yield* Fiber.join(printing).pipe(Effect.onInterrupt(() => shutdown))
  }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger)))

  const fiber = Effect.runFork(program)
  const onSignal = (): void => {
    // A second signal gets Node's default behaviour: exit at once.
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    fiber.unsafeInterruptAsFork(fiber.id())
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  // A closed stdout (`| head`) ends the program like a signal.
  process.stdout.on("error", onSignal)
  fiber.addObserver((exit) => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
      const failure = Cause.failureOption(exit.cause)
      stderr(escapeUnsafe(failure._tag === "Some" ? failure.value.message : Cause.pretty(exit.cause)))
      process.exitCode = 1
    } else {
      process.exitCode = 0
    }
  })
}

const usageError = (message: string): void => {
  process.stderr.write(`user-tracing-sink: ${escapeUnsafe(message)}\n\n${usage}\n`)
  process.exitCode = 2
}

/**
 * Why the sink cannot listen where it is told, naming the flag: the same rules as the sink's (a
 * socket path the kernel does not cut, a non-empty host), loaded with it.
 */
const addressProblem = async (cli: Cli): Promise<string | undefined> => {
  const { hostProblem, socketPathProblem } = await import("../internal/sink/address.js")
  const problem = "socketPath" in cli.address
    ? socketPathProblem(cli.address.socketPath)
    : cli.address.host === undefined
    ? undefined
    : hostProblem(cli.address.host)
  return problem === undefined ? undefined : `${cli.addressFrom} ${problem}`
}

const main = async (): Promise<void> => {
  let cli: Cli | "help"
  try {
    cli = parse(process.argv.slice(2), process.env)
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error))
  }
  if (cli === "help") {
    process.stdout.write(`${usage}\n`)
    return
  }
  const problem = await addressProblem(cli)
  if (problem !== undefined) return usageError(problem)
  await start(cli)
}

main().catch((error: unknown) => {
  stderr(escapeUnsafe(error instanceof Error ? error.message : String(error)))
  process.exitCode = 1
})
