/**
 * @internal
 * The embedded OTLP/HTTP trace receiver in plain code (no effect module), shared by the Effect 3
 * and the Effect 4 lines' `UserTraceSink`: a `node:http` server with the request checks (path,
 * method, content type and encoding, body bounds before and after gunzip), the decoding and the
 * answers, listening and closing, and the store of what it received. Each line keeps its own
 * service over it (`server.ts`): the feed of spans and its streams.
 */
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Zlib from "node:zlib"
import protobuf from "protobufjs/minimal.js"
import type { ListenAddress, Options, ReceivedSpan, SinkStats } from "../../UserTraceSink.js"
import { forLog } from "../shared/text.js"
import { defaultHost, defaultMaxBodySize } from "./address.js"
import { toReceivedSpans } from "./decode.js"
import type { DecodedTraceRequest } from "./proto.js"
import { decodeTraceRequest, decodeTraceRequestJsonText, encodeTraceResponse } from "./proto.js"

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

/** @internal an error's message for a log line or an answer: escaped and cut (it may quote the request) */
export const errorMessage = (error: unknown): string => forLog(error instanceof Error ? error.message : String(error))

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
const listen = async (server: Http.Server, address: Options): Promise<void> => {
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
}

/** Stops accepting, lets in-flight requests finish for up to a second, then cuts what is left. */
const closeServer = (server: Http.Server, done: () => void): void => {
  const idle = setInterval(() => server.closeIdleConnections(), 20)
  const cut = setTimeout(() => server.closeAllConnections(), 1000)
  server.close(() => {
    clearInterval(idle)
    clearTimeout(cut)
    done()
  })
  server.closeIdleConnections()
}

const removeSocket = (socketPath: string): void => {
  try {
    if (Fs.lstatSync(socketPath).isSocket()) Fs.unlinkSync(socketPath)
  } catch {
    // Already gone.
  }
}

// ---------------------------------------------------------------------------------------------
// The receiver

/** @internal */
export interface Receiver {
  /** Listens; fails with the line to report (`listenFailure`). */
  readonly listen: () => Promise<void>
  /** Stops (see `closeServer`), then calls `done`; no span is taken after it; the socket file goes. */
  readonly close: (done: () => void) => void
  /** Where it listens, once listening. */
  readonly address: () => ListenAddress
  /** The spans received (when retained), in order. */
  readonly store: ReadonlyArray<ReceivedSpan>
  /** The sequence number the next span received gets. */
  readonly nextSeq: () => number
  readonly closed: () => boolean
  readonly stats: () => SinkStats
}

/** @internal the line to report when `listen` fails */
export const listenFailure = (options: Options, cause: unknown): string =>
  `cannot listen on ${describe(options)}: ${errorMessage(cause)}`

/**
 * @internal
 * A receiver for `options` (checked with `optionsProblem` first, `address.ts`): each span received is kept
 * (when `retainSpans`) and handed to `publish` with its sequence number, until it closes.
 */
export const makeReceiver = (
  options: Options,
  publish: (seq: number, span: ReceivedSpan) => void
): Receiver => {
  const retain = options.retainSpans ?? true
  const store: Array<ReceivedSpan> = []
  let seq = 0
  let closed = false
  const stats = { accepted: 0, rejected: 0, spans: 0, rejectedSpans: 0 }
  const server = Http.createServer(makeHandler({
    maxBodySize: options.maxBodySize ?? defaultMaxBodySize,
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
        publish(seq++, span)
      }
    }
  }))
  // A client that never sends its headers or body does not hold the server forever.
  server.headersTimeout = 30_000
  server.requestTimeout = 60_000
  return {
    listen: () => listen(server, options),
    close: (done) =>
      closeServer(server, () => {
        closed = true
        done()
        if ("socketPath" in options) removeSocket(options.socketPath)
      }),
    address: () => {
      if ("socketPath" in options) return { _tag: "Unix", socketPath: options.socketPath }
      const bound = server.address() as Net.AddressInfo
      return { _tag: "Tcp", host: options.host ?? defaultHost, port: bound.port }
    },
    store,
    nextSeq: () => seq,
    closed: () => closed,
    stats: () => ({ ...stats })
  }
}

/** @internal the OTLP endpoint URL of a TCP sink, `undefined` for a socket */
export const tracesUrl = (address: ListenAddress): string | undefined =>
  address._tag === "Tcp"
    ? `http://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}${TRACES_PATH}`
    : undefined
