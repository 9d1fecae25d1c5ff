/**
 * The settings of the live pipeline: their Schema, the decoded settings as a `Context.Service`,
 * and the layers that decode them from code or read them from `Config` (by default the
 * `USER_TRACING_*` environment variables).
 *
 * Bad settings fail the layer with a `UserTracingSettingsError` whose message is one line naming
 * the field (settings in code) or the environment variable (settings from the environment).
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import * as check from "../../src/internal/settings/check.js"
import * as internal from "./internal/settings/settings.js"

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
  readonly maxRoutingValueBytes: number
  readonly output: Output | undefined
  readonly shutdownTimeout: Duration.Duration
  readonly limits: SpanLimits
}

/**
 * A duration as settings accept it: whole milliseconds (a number) or a string such as
 * `"10 seconds"`, from 1 ms to 10 minutes.
 *
 * @since 0.1.0
 * @category models
 */
export type DurationInput = number | string

/**
 * The fields of an output as settings in code give them.
 *
 * @since 0.1.0
 * @category models
 */
export interface OutputCommonInput {
  readonly routingHeaderName: string
  readonly numTasks?: number | undefined
  readonly maxBatchSize?: number | undefined
  readonly maxBatchBytes?: number | undefined
  readonly requestTimeout?: DurationInput | undefined
  readonly maxAttempts?: number | undefined
  readonly compression?: "none" | "gzip" | undefined
}

/**
 * Settings as code gives them: every field optional but where an enabled pipeline needs it.
 *
 * @since 0.1.0
 * @category models
 */
export interface SettingsInput {
  readonly enabled?: boolean | undefined
  readonly serviceName?: string | undefined
  readonly maxQueueSize?: number | null | undefined
  readonly maxQueueBytes?: number | null | undefined
  readonly maxRoutingValueBytes?: number | undefined
  readonly output?:
    | { readonly otlpUds: OutputCommonInput & { readonly socketPath: string } }
    | {
      readonly otlpHttp: OutputCommonInput & {
        readonly url: string
        readonly headers?: { readonly [name: string]: string } | undefined
      }
    }
    | undefined
  readonly shutdownTimeout?: DurationInput | undefined
  readonly limits?: Partial<SpanLimits> | undefined
}

/**
 * Bad settings: `message` is one line naming the environment variable when the value came from
 * there, else the field path (`path`, dotted).
 *
 * @since 0.1.0
 * @category errors
 */
export const UserTracingSettingsError = internal.UserTracingSettingsError

/**
 * @since 0.1.0
 * @category errors
 */
export type UserTracingSettingsError = internal.UserTracingSettingsError

/**
 * The span limits' defaults.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultSpanLimits: SpanLimits = check.defaultLimits

/**
 * The default `maxQueueSize` (spans).
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultMaxQueueSize: number = check.defaultMaxQueueSize

/**
 * The default `maxQueueBytes`.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultMaxQueueBytes: number = check.defaultMaxQueueBytes

/**
 * The longest routing value (`RoutingMetadata.encode()`, and its `groupKey()`) unless
 * `maxRoutingValueBytes` says otherwise (4 KiB). Spans with a longer one are rejected and counted
 * failed: a header that long is refused by receivers and proxies.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultMaxRoutingValueBytes: number = check.defaultMaxRoutingValueBytes

/**
 * The default `output.*.maxBatchBytes`.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultMaxBatchBytes: number = check.defaultMaxBatchBytes

/**
 * Decodes settings given in code, defaults filled in; the first problem fails naming its field.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode: (input: SettingsInput) => Effect.Effect<Settings, UserTracingSettingsError> = internal.decode

/**
 * The settings as an `effect/Schema`: decodes what `decode` accepts (its issue message is the
 * same line), encodes durations back to milliseconds.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SettingsSchema: Schema.Codec<Settings, unknown> = Schema.Unknown.pipe(
  Schema.decodeTo(Schema.declare<Settings>(internal.isSettings, { title: "UserTracingSettings" }), {
    decode: SchemaGetter.transformEffect((input: unknown) => {
      const checked = check.checkSettings(input)
      return "problem" in checked
        ? Effect.fail(new SchemaIssue.InvalidValue({ message: internal.problemLine(checked.problem) }, input))
        : Effect.succeed(internal.toSettings(checked.ok))
    }),
    encode: SchemaGetter.transform(internal.toInput)
  })
)

/**
 * The decoded settings the live exporter and harness read.
 *
 * @since 0.1.0
 * @category services
 */
export class UserTracingSettings extends Context.Service<UserTracingSettings, Settings>()(
  "effect-user-tracing/UserTracingSettings"
) {}

/**
 * The settings given in code, decoded.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (input: SettingsInput): Layer.Layer<UserTracingSettings, UserTracingSettingsError> =>
  Layer.effect(UserTracingSettings, decode(input))

/**
 * The settings input from the `USER_TRACING_*` variables (through the current `ConfigProvider`); a
 * bad value fails naming its variable.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<SettingsInput> = internal.config

/**
 * The settings read from `config` (by default the `USER_TRACING_*` variables, with warnings about
 * unknown ones and about variables set while tracing is disabled).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config?: Config.Config<SettingsInput>
): Layer.Layer<UserTracingSettings, UserTracingSettingsError | Config.ConfigError> =>
  Layer.effect(UserTracingSettings, internal.fromConfig(config))
