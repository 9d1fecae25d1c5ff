/**
 * An embedded OTLP/HTTP trace receiver, for development, demos and tests: it listens on a Unix
 * socket or a TCP port, accepts `POST /v1/traces` (protobuf or JSON, plain or gzip,
 * `Content-Length` or chunked), answers like an OTLP collector, and shows what arrived as spans
 * (with the request headers, so the routing header is visible) and as trace trees. The
 * `user-tracing-sink` CLI is this module plus a terminal renderer. Its input is untrusted: a
 * body that does not decode (OTLP/JSON nested deeper than 256 levels or of the wrong shape
 * included) gets 400, and no input stops it showing the traces that follow.
 *
 * It depends on `effect` and `node:http` only.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as receivedSpans from "./internal/sink/decode.js"
import * as errors from "./internal/sink/errors.js"
import type { UserTraceSinkError } from "./internal/sink/errors.js"
import * as pendingTraces from "./internal/sink/pending.js"
import * as waterfall from "./internal/viewer/waterfall.js"

/**
 * Where the sink listens: a Unix socket path (at most 107 bytes, which the kernel keeps whole), or a
 * TCP port (`0` picks a free one) and host (non-empty; default `127.0.0.1`, this machine only).
 *
 * @since 0.1.0
 * @category models
 */
export type Address =
  | { readonly socketPath: string }
  | { readonly port: number; readonly host?: string | undefined }

/**
 * `layer`/`make` options: the address, and optionally a body size bound and whether to keep spans.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = Address & {
  /** The largest request body accepted, before and after gunzip, in bytes; larger gets 413. Default 16 MiB. */
  readonly maxBodySize?: number | undefined
  /**
   * Keep every received span for `received`, `traces` and the replay at the start of `spans`
   * (default `true`). A long-running receiver that only streams can turn it off to bound memory.
   */
  readonly retainSpans?: boolean | undefined
}

/**
 * Where a running sink listens: its socket path, or its host and actual port.
 *
 * @since 0.1.0
 * @category models
 */
export type ListenAddress =
  | { readonly _tag: "Unix"; readonly socketPath: string }
  | { readonly _tag: "Tcp"; readonly host: string; readonly port: number }

/**
 * A decoded OTLP `AnyValue`: ints as `bigint`, bytes as `Uint8Array`, a key-value list as an object, empty as `null`.
 *
 * @since 0.1.0
 * @category models
 */
export type ReceivedValue =
  | string
  | boolean
  | bigint
  | number
  | Uint8Array
  | null
  | ReadonlyArray<ReceivedValue>
  | { readonly [key: string]: ReceivedValue }

/**
 * The OTLP span kind in words; `unspecified` for kind 0.
 *
 * @since 0.1.0
 * @category models
 */
export type ReceivedSpanKind = "unspecified" | "internal" | "server" | "client" | "producer" | "consumer"

/**
 * An OTLP span event.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedEvent {
  /** Its name (`Log entry` for `logUserSpan`). */
  readonly name: string
  /** Unix time in nanoseconds. */
  readonly timeUnixNano: bigint
  /** Its attributes, in wire order. */
  readonly attributes: ReadonlyArray<readonly [string, ReceivedValue]>
}

/**
 * An OTLP span link.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedLink {
  /** Lowercase hex. */
  readonly traceId: string
  /** Lowercase hex. */
  readonly spanId: string
  /** The link's `trace_state`, `undefined` when empty. */
  readonly traceState: string | undefined
  /** The OTLP `flags`: W3C trace flags in the low byte, 0x100 "is-remote known", 0x200 "remote". */
  readonly flags: number
  /** Its attributes, in wire order. */
  readonly attributes: ReadonlyArray<readonly [string, ReceivedValue]>
  /** The link's `dropped_attributes_count`. */
  readonly droppedAttributesCount: number
}

/**
 * One span as received, with the resource, scope and headers of the request that carried it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedSpan {
  /** Lowercase hex (32 digits). */
  readonly traceId: string
  /** Lowercase hex (16 digits). */
  readonly spanId: string
  /** Lowercase hex, `undefined` for a fresh root. */
  readonly parentSpanId: string | undefined
  /** True when the span's flags say its parent is remote (a continued root). */
  readonly remoteParent: boolean
  /** The span name. */
  readonly name: string
  /** The span kind. */
  readonly kind: ReceivedSpanKind
  /** Unix time in nanoseconds. */
  readonly startTimeUnixNano: bigint
  /** Unix time in nanoseconds. */
  readonly endTimeUnixNano: bigint
  /** In wire order. */
  readonly attributes: ReadonlyArray<readonly [string, ReceivedValue]>
  /** The span's `dropped_attributes_count`. */
  readonly droppedAttributesCount: number
  /** In wire order. */
  readonly events: ReadonlyArray<ReceivedEvent>
  /** The span's `dropped_events_count`. */
  readonly droppedEventsCount: number
  /** In wire order. */
  readonly links: ReadonlyArray<ReceivedLink>
  /** The span's `dropped_links_count`. */
  readonly droppedLinksCount: number
  /** The status code in words. */
  readonly status: "unset" | "ok" | "error"
  /** The status message (`""` when none). */
  readonly statusMessage: string
  /** The OTLP `flags`: W3C trace flags in the low byte, 0x100 "is-remote known", 0x200 "parent is remote". */
  readonly flags: number
  /** The W3C `tracestate` the span carries, `undefined` when empty. */
  readonly traceState: string | undefined
  /** The resource's `service.name`, when it is a string. */
  readonly serviceName: string | undefined
  /** The resource attributes, in wire order. */
  readonly resource: ReadonlyArray<readonly [string, ReceivedValue]>
  /** The instrumentation scope. */
  readonly scope: { readonly name: string; readonly version: string }
  /** The headers of the request that carried the span: lowercase names, repeated headers joined by `, `. */
  readonly headers: Readonly<Record<string, string>>
}

/**
 * A span in a trace tree, with its children in start order.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedSpanNode {
  /** The span. */
  readonly span: ReceivedSpan
  /** Its received children, by start time (then arrival). */
  readonly children: ReadonlyArray<ReceivedSpanNode>
}

/**
 * The received spans of one trace id as trees: a span whose parent was not received is a root.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedTrace {
  /** Lowercase hex. */
  readonly traceId: string
  /** Every span of the trace (a span id received twice only once), in arrival order. */
  readonly spans: ReadonlyArray<ReceivedSpan>
  /** The roots, by start time. */
  readonly roots: ReadonlyArray<ReceivedSpanNode>
  /**
   * Set by `completedTraces` when it let the trace go before it looked complete: open longer than
   * `maxTraceAge`, or the oldest pending trace when `maxPendingSpans` was reached. Spans arriving
   * for it later come as another trace.
   */
  readonly incomplete?: IncompleteReason | undefined
  /** Spans of the trace that `completedTraces` did not keep, over `maxSpansPerTrace` (absent: none). */
  readonly droppedSpans?: number | undefined
}

/**
 * Why `completedTraces` emitted a trace early: its age, or room for newer spans.
 *
 * @since 0.1.0
 * @category models
 */
export type IncompleteReason = "maxTraceAge" | "maxPendingSpans"

/**
 * When `completedTraces` considers a trace done.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompletedTracesOptions {
  /** A trace whose root has arrived is done when no span of it came for this long. Default 500 ms. */
  readonly quietPeriod?: Duration.DurationInput | undefined
  /** A trace whose root never arrives is done when no span of it came for this long. Default 5 s. */
  readonly orphanTimeout?: Duration.DurationInput | undefined
  /**
   * A trace still receiving spans this long after its first one is emitted as it is, marked
   * `incomplete: "maxTraceAge"`. Default 60 s (`defaultMaxTraceAge`).
   */
  readonly maxTraceAge?: Duration.DurationInput | undefined
  /**
   * Spans kept per pending trace; the ones past it are counted in the trace's `droppedSpans`,
   * except its first root (no parent, or a remote one), which takes the place of a span no kept
   * span names as its parent. A positive integer; default 10,000 (`defaultMaxSpansPerTrace`).
   */
  readonly maxSpansPerTrace?: number | undefined
  /**
   * Spans kept across all pending traces: a span that would exceed it first makes the oldest
   * pending trace go, marked `incomplete: "maxPendingSpans"`. A positive integer; default 50,000
   * (`defaultMaxPendingSpans`).
   */
  readonly maxPendingSpans?: number | undefined
}

/**
 * Counters since the sink started.
 *
 * @since 0.1.0
 * @category models
 */
export interface SinkStats {
  /** Export requests answered 200. */
  readonly accepted: number
  /** Requests answered with an error status (bad body, path, method, type, size). */
  readonly rejected: number
  /** Spans received (including spans rejected within an accepted request: see `rejectedSpans`). */
  readonly spans: number
  /** Spans with an invalid trace or span id, answered as a partial success and not recorded. */
  readonly rejectedSpans: number
}

/**
 * A running sink.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Where it listens (the actual port when `0` was asked). */
  readonly address: ListenAddress
  /** The OTLP endpoint URL for a TCP sink (`http://host:port/v1/traces`), `undefined` for a socket. */
  readonly url: string | undefined
  /**
   * Every span received so far (when `retainSpans`), then each new one as it arrives; ends when
   * the sink closes.
   */
  readonly spans: Stream.Stream<ReceivedSpan>
  /** The spans received so far, in arrival order (empty unless `retainSpans`). */
  readonly received: Effect.Effect<ReadonlyArray<ReceivedSpan>>
  /** The spans received so far as trees, one per trace id, by earliest start time. */
  readonly traces: Effect.Effect<ReadonlyArray<ReceivedTrace>>
  /**
   * Each trace once it looks complete (see `CompletedTracesOptions`); spans arriving for it later
   * come as another, partial, trace. What it holds meanwhile is bounded (spans per trace, spans
   * across traces, age), whatever arrives; a trace let go early says so (`incomplete`,
   * `droppedSpans`). A trace whose tree cannot be built is emitted flat, with a warning logged.
   * At close, every pending trace is emitted, then the stream ends.
   */
  readonly completedTraces: (options?: CompletedTracesOptions) => Stream.Stream<ReceivedTrace>
  /** Request and span counters. */
  readonly stats: Effect.Effect<SinkStats>
}

export {
  /**
   * The sink could not start (address in use, bad path, permission...); `message` says why.
   *
   * @since 0.1.0
   * @category errors
   */
  UserTraceSinkError
} from "./internal/sink/errors.js"

/**
 * The running sink, as a service.
 *
 * @since 0.1.0
 * @category tags
 */
export class UserTraceSink extends Context.Tag("effect-user-tracing/UserTraceSink")<UserTraceSink, Service>() {}

/**
 * Starts a sink for the scope: closing the scope stops the server (in-flight requests get a moment
 * to finish), ends the streams, and removes the socket file. A stale socket file left by a dead
 * process is replaced; a live one, or a path that is not a socket, fails; so does an address it
 * must not listen on (a socket path longer than 107 bytes, an empty host), before it tries.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, UserTraceSinkError, Scope.Scope> =>
  // The receiver (HTTP server, protobuf decoding, the OTLP definitions) loads when a sink starts:
  // importing the package loads none of it.
  Effect.flatMap(Effect.promise(() => import("./internal/sink/server.js")), (server) => server.make(options))

/**
 * The sink as a scoped layer: built when the layer is, closed (socket file removed) when it is.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<UserTraceSink, UserTraceSinkError> =>
  Layer.scoped(UserTraceSink, make(options))

/**
 * Groups spans into trace trees (by trace id; parent links; siblings by start time; unknown parent = root).
 *
 * @since 0.1.0
 * @category utils
 */
export const toTraces: (spans: ReadonlyArray<ReceivedSpan>) => ReadonlyArray<ReceivedTrace> = receivedSpans.toTraces

/**
 * The default bound on a request body: 16 MiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxBodySize: number = errors.defaultMaxBodySize

/**
 * `completedTraces`' default bound on the spans kept per pending trace: 10,000.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxSpansPerTrace: number = pendingTraces.defaultMaxSpansPerTrace

/**
 * `completedTraces`' default bound on the spans kept across pending traces: 50,000 (about 50 MB of spans with a few attributes each).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxPendingSpans: number = pendingTraces.defaultMaxPendingSpans

/**
 * `completedTraces`' default bound on how long a trace stays pending: 60 seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxTraceAge: Duration.Duration = Duration.millis(pendingTraces.defaultMaxTraceAgeMillis)

/**
 * How `renderWaterfall` draws a trace.
 *
 * @since 0.1.0
 * @category rendering
 */
export interface WaterfallOptions {
  /** ANSI colours; default `false`. */
  readonly color?: boolean | undefined
  /** Total line width in columns; default 100. */
  readonly width?: number | undefined
  /** The routing header to show; default: every non-standard request header, credentials redacted. */
  readonly routingHeader?: string | undefined
}

/**
 * A received trace drawn as the `user-tracing-sink` viewer shows it: the span tree with one bar per
 * span on the trace's time axis, durations, attributes, events, links, error status and the routing
 * header. Text from the wire is escaped (control and invisible format characters) and cut.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
 * import { UserTraceSink } from "effect-user-tracing"
 *
 * export const printTraces = (sink: UserTraceSink.Service) =>
 *   Effect.map(sink.traces, (traces) => {
 *     for (const trace of traces) console.log(UserTraceSink.renderWaterfall(trace, { routingHeader: "x-user-routing" }))
 *   })
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderWaterfall = (trace: ReceivedTrace, options?: WaterfallOptions): string =>
  waterfall.renderTrace(trace, {
    color: options?.color ?? false,
    width: options?.width,
    routingHeader: options?.routingHeader
  })
