/**
 * @internal
 * The Effect 3 line's embedded receiver (src/internal/sink/server.ts) on effect 4: the same
 * `node:http` handler, listen and close, with the span store's streams in effect 4. The decoding,
 * the pending traces and the trees are the shared modules. To be one module once the handler,
 * listen and close are exported without an effect module, each line keeping only its streams.
 */
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Zlib from "node:zlib"
import protobuf from "protobufjs/minimal.js"
import { maxSocketPathBytes } from "../../../../src/internal/settings/check.js"
import { forLog } from "../../../../src/internal/shared/text.js"
import { toReceivedSpans, toTraces } from "../../../../src/internal/sink/decode.js"
import {
  defaultMaxPendingSpans,
  defaultMaxSpansPerTrace,
  type PendingLimits,
  PendingTraces
} from "../../../../src/internal/sink/pending.js"
import type { DecodedTraceRequest } from "../../../../src/internal/sink/proto.js"
import {
  decodeTraceRequest,
  decodeTraceRequestJsonText,
  encodeTraceResponse
} from "../../../../src/internal/sink/proto.js"
import type {
  Address,
  CompletedTracesOptions,
  ListenAddress,
  Options,
  ReceivedSpan,
  ReceivedTrace,
  Service,
  SinkStats
} from "../../UserTraceSink.js"

/** @internal */
export class UserTraceSinkError extends Data.TaggedError("UserTraceSinkError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** @internal */
export const defaultMaxBodySize = 16 * 1024 * 1024

const TRACES_PATH = "/v1/traces"

// ---------------------------------------------------------------------------------------------
// HTTP

type Format = "protobuf" | "json"

const CONTENT_TYPE: Record<Format, string> = { protobuf: "application/x-protobuf", json: "application/json" }

/** gRPC status codes for the `google.rpc.Status` error body. */
const GRPC_INVALID_ARGUMENT = 3
const GRPC_NOT_FOUND = 5
const GRPC_RESOURCE_EXHAUSTED = 8
const GRPC_UNIMPLEMENTED = 12

/** A `google.rpc.Status { code = 1; message = 2 }`, as OTLP wants for every 4xx/5xx body. */
const encodeStatus = (code: number, message: string): Uint8Array =>
  protobuf.Writer.create().uint32(1 << 3 | 0).int32(code).uint32(2 << 3 | 2).string(message).finish()

const headerString = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  value === undefined ? undefined : typeof value === "string" ? value : value.join(", ")

// `fromEntries` defines own properties: a header named `__proto__` stays a header.
const headersOf = (request: Http.IncomingMessage): Readonly<Record<string, string>> =>
  Object.fromEntries(
    Object.entries(request.headers).flatMap(([name, value]) => {
      const text = headerString(value)
      return text === undefined ? [] : [[name, text]]
    })
  )

const formatOf = (contentType: string | undefined): Format | undefined => {
  const mediaType = (contentType ?? "").split(";")[0].trim().toLowerCase()
  return mediaType === "application/x-protobuf" ? "protobuf" : mediaType === "application/json" ? "json" : undefined
}

/** An error's message for a log line or an answer: escaped and cut (it may quote the request). */
const errorMessage = (error: unknown): string => forLog(error instanceof Error ? error.message : String(error))

const utf8 = new TextDecoder("utf-8", { fatal: true })

const decodeBody = (format: Format, body: Uint8Array): DecodedTraceRequest =>
  format === "protobuf" ? decodeTraceRequest(body) : decodeTraceRequestJsonText(utf8.decode(body))

const gunzip = (body: Buffer, maxOutputLength: number): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    Zlib.gunzip(body, { maxOutputLength }, (error, result) => (error === null ? resolve(result) : reject(error)))
  )

interface Handlers {
  readonly maxBodySize: number
  readonly onSpans: (spans: ReadonlyArray<ReceivedSpan>, rejected: number) => void
  readonly onRejected: () => void
}

const makeHandler = (handlers: Handlers) => (request: Http.IncomingMessage, response: Http.ServerResponse): void => {
  const maxBodySize = handlers.maxBodySize
  // Errors are answered in the request's format when it is JSON, as a protobuf Status otherwise.
  const reject = (
    status: number,
    grpcCode: number,
    message: string,
    format: Format | undefined,
    extraHeaders?: Record<string, string>
  ): void => {
    handlers.onRejected()
    const body = format === "json" ? JSON.stringify({ code: grpcCode, message }) : encodeStatus(grpcCode, message)
    if (response.headersSent) return void response.end()
    response.writeHead(status, {
      "content-type": CONTENT_TYPE[format ?? "protobuf"],
      "content-length": Buffer.byteLength(body),
      ...extraHeaders
    })
    response.end(body)
  }
  // When the body is not read, the connection is not reused: Node would otherwise drain it.
  const close = { connection: "close" }
  request.on("error", () => {
    // The client went away mid-request: nothing to answer.
  })

  const path = (request.url ?? "").split("?")[0]
  if (path !== TRACES_PATH) return reject(404, GRPC_NOT_FOUND, `not found: only POST ${TRACES_PATH}`, undefined, close)
  if (request.method !== "POST") {
    return reject(405, GRPC_UNIMPLEMENTED, `method not allowed: only POST ${TRACES_PATH}`, undefined, {
      ...close,
      allow: "POST"
    })
  }
  const format = formatOf(request.headers["content-type"])
  if (format === undefined) {
    return reject(
      415,
      GRPC_INVALID_ARGUMENT,
      "unsupported content type: use application/x-protobuf or application/json",
      undefined,
      close
    )
  }
  const encoding = (request.headers["content-encoding"] ?? "identity").trim().toLowerCase()
  if (encoding !== "identity" && encoding !== "" && encoding !== "gzip") {
    return reject(
      415,
      GRPC_INVALID_ARGUMENT,
      `unsupported content encoding: ${forLog(encoding)} (use gzip or none)`,
      format,
      close
    )
  }
  const tooLarge = () =>
    reject(413, GRPC_RESOURCE_EXHAUSTED, `request body larger than ${maxBodySize} bytes`, format, close)
  const declared = request.headers["content-length"]
  if (declared !== undefined && Number(declared) > maxBodySize) return tooLarge()

  const chunks: Array<Buffer> = []
  let size = 0
  let overflow = false
  request.on("data", (chunk: Buffer) => {
    if (overflow) return
    size += chunk.length
    if (size > maxBodySize) {
      overflow = true
      chunks.length = 0
      tooLarge()
      return
    }
    chunks.push(chunk)
  })
  request.on("end", () => {
    if (overflow) return
    const raw = Buffer.concat(chunks, size)
    const inflated = encoding === "gzip" ? gunzip(raw, maxBodySize) : Promise.resolve(raw)
    inflated.then(
      (body) => {
        let received: ReturnType<typeof toReceivedSpans>
        try {
          received = toReceivedSpans(decodeBody(format, body), headersOf(request))
        } catch (error) {
          return reject(400, GRPC_INVALID_ARGUMENT, `invalid ExportTraceServiceRequest: ${errorMessage(error)}`, format)
        }
        const { rejected, spans } = received
        handlers.onSpans(spans, rejected)
        const partial = rejected === 0
          ? undefined
          : {
            rejectedSpans: rejected,
            errorMessage: `${rejected} span(s) with an invalid trace, span or parent span id`
          }
        const body2 = format === "json"
          ? JSON.stringify(
            partial === undefined ? {} : { partialSuccess: { ...partial, rejectedSpans: String(rejected) } }
          )
          : encodeTraceResponse(partial)
        response.writeHead(200, { "content-type": CONTENT_TYPE[format], "content-length": Buffer.byteLength(body2) })
        response.end(body2)
      },
      (error: unknown) => {
        if (error instanceof RangeError || (error as { code?: unknown })?.code === "ERR_BUFFER_TOO_LARGE") {
          return tooLarge()
        }
        reject(400, GRPC_INVALID_ARGUMENT, `invalid gzip body: ${errorMessage(error)}`, format)
      }
    )
  })
}

// ---------------------------------------------------------------------------------------------
// Listening and closing

const listenOnce = (server: Http.Server, address: Options): Promise<void> =>
  new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off("listening", onListening)
      reject(error)
    }
    const onListening = () => {
      server.off("error", onError)
      resolve()
    }
    server.once("error", onError)
    server.once("listening", onListening)
    if ("socketPath" in address) server.listen(address.socketPath)
    else server.listen(address.port, address.host ?? defaultHost)
  })

/** Whether a process accepts connections on the socket. */
const socketIsLive = (socketPath: string): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect(socketPath)
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

const errorCode = (error: unknown): unknown => (error as { code?: unknown } | null)?.code

const describe = (address: Options): string =>
  "socketPath" in address ? `unix socket ${address.socketPath}` : `${address.host ?? defaultHost}:${address.port}`

/** Listens; on a Unix socket path left behind by a dead process, removes it and tries again. */
const listen = (server: Http.Server, address: Options): Effect.Effect<void, UserTraceSinkError> =>
  Effect.tryPromise({
    try: async () => {
      try {
        await listenOnce(server, address)
      } catch (error) {
        if (!("socketPath" in address) || errorCode(error) !== "EADDRINUSE") throw error
        const path = address.socketPath
        if (!Fs.lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`, { cause: error })
        if (await socketIsLive(path)) throw new Error(`another process is listening on ${path}`, { cause: error })
        Fs.unlinkSync(path)
        await listenOnce(server, address)
      }
    },
    catch: (cause) =>
      new UserTraceSinkError({ message: `cannot listen on ${describe(address)}: ${errorMessage(cause)}`, cause })
  })

/** Stops accepting, lets in-flight requests finish for up to a second, then cuts what is left. */
const closeServer = (server: Http.Server): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const idle = setInterval(() => server.closeIdleConnections(), 20)
    const cut = setTimeout(() => server.closeAllConnections(), 1000)
    server.close(() => {
      clearInterval(idle)
      clearTimeout(cut)
      resume(Effect.void)
    })
    server.closeIdleConnections()
  })

const removeSocket = (socketPath: string): void => {
  try {
    if (Fs.lstatSync(socketPath).isSocket()) Fs.unlinkSync(socketPath)
  } catch {
    // Already gone.
  }
}

/** The limits of `completedTraces`' options, their defaults filled in; a bad one is a defect. */
const pendingLimits = (options: CompletedTracesOptions | undefined): Effect.Effect<PendingLimits> =>
  Effect.suspend(() => {
    const millis = (duration: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(duration))
    const limits: PendingLimits = {
      quietMillis: millis(options?.quietPeriod ?? "500 millis"),
      orphanMillis: millis(options?.orphanTimeout ?? "5 seconds"),
      maxAgeMillis: millis(options?.maxTraceAge ?? "60 seconds"),
      maxSpansPerTrace: options?.maxSpansPerTrace ?? defaultMaxSpansPerTrace,
      maxPendingSpans: options?.maxPendingSpans ?? defaultMaxPendingSpans
    }
    for (const name of ["maxSpansPerTrace", "maxPendingSpans"] as const) {
      const value = limits[name]
      if (!Number.isSafeInteger(value) || value < 1) {
        return Effect.die(new Error(`completedTraces: ${name} must be a positive integer, got ${value}`))
      }
    }
    return Effect.succeed(limits)
  })

/** The host a TCP sink listens on unless told: loopback only. */
const defaultHost = "127.0.0.1"

/** Why the sink cannot listen on `address`, naming the option, or `undefined` (src/internal/sink/address.ts). */
const addressProblem = (address: Address): string | undefined => {
  if ("socketPath" in address) {
    const bytes = Buffer.byteLength(address.socketPath)
    return address.socketPath === ""
      ? "socketPath must be a non-empty path"
      : bytes > maxSocketPathBytes
      ? `socketPath must be at most ${maxSocketPathBytes} bytes (the kernel cuts a longer Unix socket path); this one has ${bytes}`
      : undefined
  }
  if (!Number.isInteger(address.port) || address.port < 0 || address.port > 65535) {
    return `port must be an integer from 0 to 65535, got ${address.port}`
  }
  return address.host !== undefined && address.host.trim() === ""
    ? `host must be a non-empty address (default ${defaultHost}; give 0.0.0.0 or :: to listen on every interface)`
    : undefined
}

// ---------------------------------------------------------------------------------------------
// The service

type Published = { readonly seq: number; readonly span: ReceivedSpan } | null

/** @internal */
export const make = (options: Options): Effect.Effect<Service, UserTraceSinkError, Scope.Scope> =>
  Effect.gen(function*() {
    const maxBodySize = options.maxBodySize ?? defaultMaxBodySize
    const retain = options.retainSpans ?? true
    if (!Number.isSafeInteger(maxBodySize) || maxBodySize <= 0) {
      return yield* new UserTraceSinkError({ message: `maxBodySize must be a positive integer, got ${maxBodySize}` })
    }
    const problem = addressProblem(options)
    if (problem !== undefined) return yield* new UserTraceSinkError({ message: forLog(problem) })

    // Published items carry a sequence number so that `spans` can replay the store and then
    // follow the live feed without a gap or a duplicate. `null` marks the end.
    const pubsub = yield* PubSub.unbounded<Published>()
    const store: Array<ReceivedSpan> = []
    let seq = 0
    let closed = false
    const stats = { accepted: 0, rejected: 0, spans: 0, rejectedSpans: 0 }

    const server = Http.createServer(makeHandler({
      maxBodySize,
      onRejected: () => {
        stats.rejected++
      },
      onSpans: (spans, rejected) => {
        stats.accepted++
        stats.spans += spans.length + rejected
        stats.rejectedSpans += rejected
        if (closed) return
        for (const span of spans) {
          if (retain) store.push(span)
          PubSub.publishUnsafe(pubsub, { seq: seq++, span })
        }
      }
    }))
    // A client that never sends its headers or body does not hold the server forever.
    server.headersTimeout = 30_000
    server.requestTimeout = 60_000

    yield* Effect.acquireRelease(listen(server, options), () =>
      Effect.gen(function*() {
        yield* closeServer(server)
        closed = true
        PubSub.publishUnsafe(pubsub, null)
        if ("socketPath" in options) removeSocket(options.socketPath)
      }))

    let address: ListenAddress
    if ("socketPath" in options) {
      address = { _tag: "Unix", socketPath: options.socketPath }
    } else {
      const bound = server.address() as Net.AddressInfo
      address = { _tag: "Tcp", host: options.host ?? defaultHost, port: bound.port }
    }
    const url = address._tag === "Tcp"
      ? `http://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}${TRACES_PATH}`
      : undefined

    const spans: Stream.Stream<ReceivedSpan> = Stream.unwrap(Effect.gen(function*() {
      const subscription = yield* PubSub.subscribe(pubsub)
      // Every span with a sequence number below `from` is in the snapshot (when retained).
      const from = seq
      const snapshot = store.slice()
      if (closed) return Stream.fromIterable(snapshot)
      const live = Stream.fromSubscription(subscription).pipe(
        Stream.takeWhile((item): item is NonNullable<Published> => item !== null),
        Stream.filter((item) => item.seq >= from),
        Stream.map((item) => item.span)
      )
      return Stream.concat(Stream.fromIterable(snapshot), live)
    }))

    const completedTraces = (completion?: CompletedTracesOptions): Stream.Stream<ReceivedTrace> =>
      Stream.unwrap(Effect.gen(function*() {
        const limits = yield* pendingLimits(completion)
        const tick = Math.max(10, Math.min(100, Math.floor(limits.quietMillis / 5)))
        const out = yield* Queue.unbounded<ReceivedTrace, Cause.Done>()
        const failures: Array<string> = []
        const pending = new PendingTraces(
          limits,
          (trace) => void Queue.offerUnsafe(out, trace),
          (traceId, error) =>
            failures.push(`trace ${traceId}: its tree could not be built, shown flat: ${errorMessage(error)}`)
        )
        // What went wrong with one trace is logged, and the others go on.
        const guarded = (step: () => void) =>
          Effect.sync(step).pipe(
            Effect.catchDefect((defect) => Effect.sync(() => failures.push(`pending traces: ${errorMessage(defect)}`))),
            Effect.andThen(Effect.suspend(() =>
              Effect.forEach(failures.splice(0), (failure) => Effect.logWarning(failure), { discard: true })
            ))
          )
        const flush = guarded(() => pending.flush()).pipe(Effect.ensuring(Queue.end(out)))
        yield* Stream.runForEachArray(spans, (chunk) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            guarded(() => {
              for (const span of chunk) pending.add(span, now)
            }))).pipe(Effect.ensuring(flush), Effect.forkScoped)
        yield* Effect.sleep(Duration.millis(tick)).pipe(
          Effect.andThen(Clock.currentTimeMillis),
          Effect.flatMap((now) => guarded(() => pending.sweep(now))),
          Effect.forever,
          Effect.forkScoped
        )
        return Stream.fromQueue(out)
      }))

    return {
      address,
      url,
      spans,
      received: Effect.sync(() => store.slice()),
      traces: Effect.sync(() => toTraces(store)),
      completedTraces,
      stats: Effect.sync((): SinkStats => ({ ...stats }))
    }
  })
