/**
 * A customer's gateway as the Collector's `otlp_http` exporter sees it: a plain HTTP server on
 * 127.0.0.1 that takes `POST /v1/traces`, decodes each body with the official OTLP definitions
 * (generated code inside @opentelemetry/otlp-transformer, a decoder we did not write) and keeps
 * every request with its headers, so a test can say which spans left the Collector under which
 * routing header.
 */
import { Effect } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Zlib from "node:zlib"
import otlpRoot from "otlp-transformer-0214/build/esm/generated/root.js"
import { eventually } from "../utils/receiver.js"

const proto = (otlpRoot as any).opentelemetry.proto
const ExportTraceServiceRequest = proto.collector.trace.v1.ExportTraceServiceRequest
const ExportTraceServiceResponse = proto.collector.trace.v1.ExportTraceServiceResponse

/** A decoded `AnyValue`: ints as `bigint`, doubles as `number`, arrays as arrays. */
export type OtlpValue = string | boolean | bigint | number | ReadonlyArray<OtlpValue> | null

/** A span as a gateway received it, with the request that carried it. */
export interface GatewaySpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly traceState: string | undefined
  readonly flags: number
  readonly name: string
  readonly kind: string
  readonly startTimeUnixNano: bigint
  readonly endTimeUnixNano: bigint
  readonly attributes: ReadonlyArray<readonly [string, OtlpValue]>
  readonly droppedAttributesCount: number
  readonly events: ReadonlyArray<{
    readonly name: string
    readonly timeUnixNano: bigint
    readonly attributes: ReadonlyArray<readonly [string, OtlpValue]>
  }>
  readonly droppedEventsCount: number
  readonly status: string
  readonly statusMessage: string
  readonly serviceName: string | undefined
  readonly scope: { readonly name: string; readonly version: string }
  /** The headers of the request that carried it: lowercase names, every value of each. */
  readonly headers: Readonly<Record<string, ReadonlyArray<string>>>
  /** The index of that request in `Gateway.requests`. */
  readonly request: number
}

/** One export request the gateway accepted. */
export interface GatewayRequest {
  readonly headers: Readonly<Record<string, ReadonlyArray<string>>>
  readonly spans: ReadonlyArray<GatewaySpan>
}

export interface Gateway {
  /** The base URL an `otlp_http` exporter's `endpoint` takes (it appends `/v1/traces`). */
  readonly url: string
  /** Every request accepted so far, in arrival order. */
  readonly requests: ReadonlyArray<GatewayRequest>
  /** Every span accepted so far. */
  readonly spans: () => ReadonlyArray<GatewaySpan>
  /** Waits until at least `count` spans have been accepted (within `millis`). */
  readonly received: (count: number, millis?: number) => Effect.Effect<void>
  /**
   * Goes away: new connections are refused, and a request that has not been answered yet is cut
   * off unread, so the Collector sees a network error and nothing is kept twice.
   */
  readonly down: Effect.Effect<void>
  /** Listens again on the same port. */
  readonly up: Effect.Effect<void>
}

const spanKinds = ["unspecified", "internal", "server", "client", "producer", "consumer"]
const statusCodes = ["unset", "ok", "error"]

const hex = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString("hex")

/** protobufjs gives 64-bit fields as Long objects (or numbers when they fit). */
const int64 = (value: any): bigint => value === undefined || value === null ? 0n : BigInt(value.toString())

const fromAnyValue = (value: any): OtlpValue => {
  if (value === undefined || value === null) return null
  if (value.stringValue !== undefined && value.stringValue !== null) return value.stringValue
  if (value.boolValue !== undefined && value.boolValue !== null) return value.boolValue
  if (value.intValue !== undefined && value.intValue !== null) return int64(value.intValue)
  if (value.doubleValue !== undefined && value.doubleValue !== null) return value.doubleValue
  if (value.arrayValue !== undefined && value.arrayValue !== null) {
    return (value.arrayValue.values ?? []).map(fromAnyValue)
  }
  return null
}

const fromAttributes = (attributes: any): ReadonlyArray<readonly [string, OtlpValue]> =>
  (attributes ?? []).map((kv: any) => [kv.key, fromAnyValue(kv.value)] as const)

/** The spans of a decoded `ExportTraceServiceRequest`, each with its resource, scope and request. */
const spansOf = (decoded: any, headers: GatewayRequest["headers"], request: number): Array<GatewaySpan> =>
  (decoded.resourceSpans ?? []).flatMap((resourceSpans: any) => {
    const resource = fromAttributes(resourceSpans.resource?.attributes)
    const serviceName = resource.find(([key]) => key === "service.name")?.[1]
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans: any) =>
      (scopeSpans.spans ?? []).map((span: any): GatewaySpan => ({
        traceId: hex(span.traceId),
        spanId: hex(span.spanId),
        parentSpanId: span.parentSpanId?.length ? hex(span.parentSpanId) : undefined,
        traceState: span.traceState || undefined,
        flags: span.flags ?? 0,
        name: span.name ?? "",
        kind: spanKinds[span.kind ?? 0],
        startTimeUnixNano: int64(span.startTimeUnixNano),
        endTimeUnixNano: int64(span.endTimeUnixNano),
        attributes: fromAttributes(span.attributes),
        droppedAttributesCount: span.droppedAttributesCount ?? 0,
        events: (span.events ?? []).map((event: any) => ({
          name: event.name ?? "",
          timeUnixNano: int64(event.timeUnixNano),
          attributes: fromAttributes(event.attributes)
        })),
        droppedEventsCount: span.droppedEventsCount ?? 0,
        status: statusCodes[span.status?.code ?? 0],
        statusMessage: span.status?.message ?? "",
        serviceName: typeof serviceName === "string" ? serviceName : undefined,
        scope: { name: scopeSpans.scope?.name ?? "", version: scopeSpans.scope?.version ?? "" },
        headers,
        request
      }))
    )
  })

const emptyResponse = Buffer.from(ExportTraceServiceResponse.encode(ExportTraceServiceResponse.create({})).finish())

/** Starts a gateway on 127.0.0.1 (a free port unless `port` is given); closed with the scope. */
export const startGateway = (options?: { readonly port?: number }) =>
  Effect.acquireRelease(
    Effect.async<{ readonly gateway: Gateway; readonly close: () => Promise<void> }, Error>((resume) => {
      const requests: Array<GatewayRequest> = []
      let spans: Array<GatewaySpan> = []
      let isDown = false
      const server = Http.createServer((req, res) => {
        if (isDown) return void req.socket.destroy()
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          if (isDown) return void req.socket.destroy()
          if (req.method !== "POST" || req.url !== "/v1/traces") {
            res.writeHead(404).end()
            return
          }
          let decoded: any
          try {
            const raw = Buffer.concat(chunks)
            const body = req.headers["content-encoding"] === "gzip" ? Zlib.gunzipSync(raw) : raw
            decoded = ExportTraceServiceRequest.decode(body)
          } catch (error) {
            res.writeHead(400, { "content-type": "text/plain" }).end(String(error))
            return
          }
          const headers = Object.fromEntries(
            Object.entries(req.headersDistinct).map(([key, values]) => [key, values ?? []])
          )
          const request = { headers, spans: spansOf(decoded, headers, requests.length) }
          requests.push(request)
          spans = spans.concat(request.spans)
          res.writeHead(200, { "content-type": "application/x-protobuf" }).end(emptyResponse)
        })
      })
      const listen = (port: number) =>
        new Promise<void>((done, fail) => {
          server.once("error", fail)
          server.listen(port, "127.0.0.1", () => {
            server.off("error", fail)
            done()
          })
        })
      const close = () =>
        new Promise<void>((done) => {
          if (!server.listening) return done()
          server.close(() => done())
          server.closeAllConnections()
        })
      listen(options?.port ?? 0).then(() => {
        const port = (server.address() as AddressInfo).port
        const gateway: Gateway = {
          url: `http://127.0.0.1:${port}`,
          requests,
          spans: () => spans,
          received: (count, millis = 30_000) => eventually(() => spans.length >= count, millis),
          down: Effect.promise(() => {
            isDown = true
            return close()
          }),
          up: Effect.promise(async () => {
            await listen(port)
            isDown = false
          })
        }
        resume(Effect.succeed({ gateway, close }))
      }, (error) => resume(Effect.fail(error)))
    }),
    ({ close }) => Effect.promise(close)
  ).pipe(Effect.map(({ gateway }) => gateway))
