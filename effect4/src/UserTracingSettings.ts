/**
 * The settings of the live pipeline: their types and defaults, and the decoded settings as a
 * `Context.Service`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"

/**
 * What bounds the memory of one span; what is cut is counted in the OTLP `dropped_*_count` fields.
 *
 * @since 0.1.0
 * @category models
 */
export interface SpanLimits {
  readonly maxAttributes: number
  readonly maxEvents: number
  readonly maxEventAttributes: number
  readonly maxLinks: number
  readonly maxLinkAttributes: number
  readonly maxAttributeValueLength: number
}

/**
 * What every output has, whichever it is.
 *
 * @since 0.1.0
 * @category models
 */
export interface OutputCommon {
  readonly routingHeaderName: string
  readonly numTasks: number
  readonly maxBatchSize: number
  readonly maxBatchBytes: number
  readonly requestTimeout: Duration.Duration
  readonly maxAttempts: number
  readonly compression: "none" | "gzip"
}

/**
 * OTLP/HTTP over a Unix domain socket.
 *
 * @since 0.1.0
 * @category models
 */
export interface OtlpUdsOutput extends OutputCommon {
  readonly socketPath: string
}

/**
 * OTLP/HTTP over TCP (or TLS) to a URL.
 *
 * @since 0.1.0
 * @category models
 */
export interface OtlpHttpOutput extends OutputCommon {
  readonly url: string
  readonly headers?: { readonly [name: string]: string }
}

/**
 * Where spans are sent.
 *
 * @since 0.1.0
 * @category models
 */
export type Output = { readonly otlpUds: OtlpUdsOutput } | { readonly otlpHttp: OtlpHttpOutput }

/**
 * The decoded settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly enabled: boolean
  readonly serviceName: string | undefined
  readonly maxQueueSize: number | null
  readonly maxQueueBytes: number | null
  readonly output: Output | undefined
  readonly shutdownTimeout: Duration.Duration
  readonly limits: SpanLimits
}

/**
 * The span limits' defaults.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultSpanLimits: SpanLimits = {
  maxAttributes: 128,
  maxEvents: 128,
  maxEventAttributes: 128,
  maxLinks: 128,
  maxLinkAttributes: 128,
  maxAttributeValueLength: 4096
}

/**
 * The decoded settings the live exporter and harness read.
 *
 * @since 0.1.0
 * @category services
 */
export class UserTracingSettings extends Context.Service<UserTracingSettings, Settings>()(
  "effect-user-tracing/UserTracingSettings"
) {}
