/**
 * A client for the sink's tests: requests over `node:http`, and request bodies made from plain
 * span descriptions, as protobuf (encoded with the official OTLP definitions) or as OTLP/JSON.
 */
import { Effect } from "effect"
import * as Http from "node:http"
import otlpRoot from "otlp-transformer-0214/build/esm/generated/root.js"
import type * as UserTraceSink from "../../src/UserTraceSink.js"

const ExportTraceServiceRequest = (otlpRoot as any).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest

/** An answer: status, headers, body. */
export interface Answer {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: Buffer
}

/** Where a request goes: a socket path or a local TCP port. */
export type Target = { readonly socketPath: string } | { readonly port: number }

/** Where `sink` listens. */
export const targetOf = (sink: UserTraceSink.Service): Target =>
  sink.address._tag === "Unix" ? { socketPath: sink.address.socketPath } : { port: sink.address.port }

/**
 * One request with `node:http`. `pieces` > 1 sends the body in that many writes without a
 * `Content-Length` (chunked transfer encoding); otherwise with one.
 */
export const send = (
  target: Target,
  body: Uint8Array | string,
  options?: {
    readonly headers?: Record<string, string>
    readonly method?: string
    readonly path?: string
    readonly pieces?: number
    readonly agent?: Http.Agent
  }
) =>
  Effect.async<Answer, Error>((resume) => {
    const bytes = Buffer.from(body)
    const pieces = options?.pieces ?? 1
    const request = Http.request({
      ...("socketPath" in target ? { socketPath: target.socketPath } : { host: "127.0.0.1", port: target.port }),
      path: options?.path ?? "/v1/traces",
      method: options?.method ?? "POST",
      agent: options?.agent ?? false,
      headers: {
        "content-type": "application/x-protobuf",
        ...(pieces === 1 ? { "content-length": String(bytes.length) } : {}),
        ...options?.headers
      }
    }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () =>
        resume(
          Effect.succeed({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) })
        ))
    })
    request.on("error", (error) => resume(Effect.fail(error)))
    if (pieces === 1) {
      request.end(bytes)
    } else {
      const size = Math.ceil(bytes.length / pieces)
      for (let i = 0; i < bytes.length; i += size) {
        request.write(bytes.subarray(i, i + size))
      }
      request.end()
    }
  })

/** A span to send: ids in hex, times in nanoseconds (default: 1 ms from a fixed start). */
export interface SpanInput {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string | undefined
  readonly name: string
  readonly start?: bigint | undefined
  readonly end?: bigint | undefined
  /** String attributes. */
  readonly attributes?: Record<string, string> | undefined
}

const baseTime = 1_700_000_000_000_000_000n

/** `n` spans of one trace, each the child of the one before. */
export const chain = (traceId: string, n: number, name = "step"): Array<SpanInput> =>
  Array.from({ length: n }, (_, i) => ({
    traceId,
    spanId: spanIdOf(i),
    parentSpanId: i === 0 ? undefined : spanIdOf(i - 1),
    name: `${name}-${i}`,
    start: baseTime + BigInt(i),
    end: baseTime + 1_000_000n - BigInt(i)
  }))

/** A distinct span id for each `i`. */
export const spanIdOf = (i: number): string => (i + 1).toString(16).padStart(16, "0")

/** A distinct trace id for each `i`. */
export const traceIdOf = (i: number): string => (i + 1).toString(16).padStart(32, "a")

const toOtlp = (span: SpanInput, hexId: (hex: string) => unknown) => ({
  traceId: hexId(span.traceId),
  spanId: hexId(span.spanId),
  ...(span.parentSpanId === undefined ? {} : { parentSpanId: hexId(span.parentSpanId) }),
  name: span.name,
  kind: 1,
  startTimeUnixNano: String(span.start ?? baseTime),
  endTimeUnixNano: String(span.end ?? baseTime + 1_000_000n),
  attributes: Object.entries(span.attributes ?? {}).map(([key, value]) => ({ key, value: { stringValue: value } }))
})

const requestOf = (spans: ReadonlyArray<SpanInput>, serviceName: string, hexId: (hex: string) => unknown) => ({
  resourceSpans: [{
    resource: { attributes: [{ key: "service.name", value: { stringValue: serviceName } }] },
    scopeSpans: [{ scope: { name: "sink-test" }, spans: spans.map((span) => toOtlp(span, hexId)) }]
  }]
})

/** An `ExportTraceServiceRequest` in protobuf, encoded by the official OTLP definitions. */
export const protobufRequest = (spans: ReadonlyArray<SpanInput>, serviceName = "sink-test"): Uint8Array =>
  ExportTraceServiceRequest.encode(
    ExportTraceServiceRequest.fromObject(requestOf(spans, serviceName, (hex) => Buffer.from(hex, "hex")))
  ).finish()

/** An `ExportTraceServiceRequest` in OTLP/JSON (ids in hex). */
export const jsonRequest = (spans: ReadonlyArray<SpanInput>, serviceName = "sink-test"): string =>
  JSON.stringify(requestOf(spans, serviceName, (hex) => hex))

/** A `ReceivedSpan` with plain defaults, for trees and the renderer without a server. */
export const receivedSpan = (fields: Partial<UserTraceSink.ReceivedSpan>): UserTraceSink.ReceivedSpan => ({
  traceId: traceIdOf(0),
  spanId: spanIdOf(0),
  parentSpanId: undefined,
  remoteParent: false,
  name: "span",
  kind: "internal",
  startTimeUnixNano: baseTime,
  endTimeUnixNano: baseTime + 1_000_000n,
  attributes: [],
  droppedAttributesCount: 0,
  events: [],
  droppedEventsCount: 0,
  links: [],
  droppedLinksCount: 0,
  status: "unset",
  statusMessage: "",
  flags: 0,
  traceState: undefined,
  serviceName: "sink-test",
  resource: [],
  scope: { name: "sink-test", version: "" },
  headers: {},
  ...fields
})
