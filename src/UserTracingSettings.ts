/**
 * The settings of the live pipeline: an `effect/Schema` that fills defaults and validates, a
 * `Context.Tag` holding the decoded value, and layers that build it from a value or from `Config`.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import * as announce from "./internal/settings/announce.js"
import * as internalConfig from "./internal/settings/config.js"
import * as internal from "./internal/settings/schema.js"
import { UserTracingSettingsError } from "./internal/settings/schema.js"

/**
 * Decoded settings: defaults filled, everything validated. When `enabled`, `serviceName` and
 * `output` are set; `maxQueueSize` and `maxQueueBytes` `null` mean unbounded.
 *
 * @since 0.1.0
 * @category models
 */
export type Settings = typeof internal.SettingsSchema.Type

/**
 * Per-span limits; what is cut is counted in the OTLP `dropped_*_count` fields.
 *
 * @since 0.1.0
 * @category models
 */
export type SpanLimits = Settings["limits"]

/**
 * Where spans are sent: exactly one of `{ otlpUds }` (OTLP/HTTP over a Unix domain socket) and
 * `{ otlpHttp }` (over TCP to a full endpoint URL such as `http://127.0.0.1:4318/v1/traces`).
 *
 * @since 0.1.0
 * @category models
 */
export type Output = NonNullable<Settings["output"]>

/**
 * OTLP/HTTP over a Unix domain socket.
 *
 * @since 0.1.0
 * @category models
 */
export type OtlpUdsOutput = Extract<Output, { readonly otlpUds: unknown }>["otlpUds"]

/**
 * OTLP/HTTP over TCP: `url` (`http:` or `https:`, verified with Node's CAs plus those in
 * `NODE_EXTRA_CA_CERTS`; no `user:password@`, credentials go in `headers`) and static extra
 * `headers`: each name once (case-insensitively), each value sent as its UTF-8 bytes.
 *
 * @since 0.1.0
 * @category models
 */
export type OtlpHttpOutput = Extract<Output, { readonly otlpHttp: unknown }>["otlpHttp"]

/**
 * The fields every output has.
 *
 * @since 0.1.0
 * @category models
 */
export type OutputCommon = Omit<OtlpUdsOutput, "socketPath">

/**
 * What users write: every field optional (`undefined` = absent) except `socketPath`, `url` and
 * `routingHeaderName` inside an output; durations as milliseconds or a string such as
 * `"10 seconds"`, whole milliseconds from 1 ms to 10 minutes; `maxQueueSize` a number or `null`.
 * Unknown properties are rejected.
 *
 * @since 0.1.0
 * @category models
 */
export type SettingsInput = typeof internal.SettingsSchema.Encoded

/**
 * The settings schema: decodes a `SettingsInput` (filling defaults) into `Settings`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SettingsSchema: Schema.Schema<Settings, SettingsInput> = internal.SettingsSchema

/**
 * The span limits when none are set.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSpanLimits: SpanLimits = internal.defaultLimits

/**
 * The bound of the span queue unless `maxQueueSize` says otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxQueueSize: number = internal.defaultMaxQueueSize

/**
 * The bound of the encoded bytes waiting for export unless `maxQueueBytes` says otherwise (64 MiB).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxQueueBytes: number = internal.defaultMaxQueueBytes

/**
 * The longest routing value (`RoutingMetadata.encode()`, and its `groupKey()`) unless
 * `maxRoutingValueBytes` says otherwise (4 KiB). Spans with a longer one are rejected and counted
 * failed: a header that long is refused by receivers and proxies.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxRoutingValueBytes: number = internal.defaultMaxRoutingValueBytes

/**
 * The most bytes of one request body unless `output.*.maxBatchBytes` says otherwise (4 MiB).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxBatchBytes: number = internal.defaultMaxBatchBytes

export {
  /**
   * Bad settings. `path` is the dotted field path (e.g. `output.otlpUds.socketPath`; `output.*.numTasks`
   * for an output variable set while no output is chosen). `message` is one line naming what the user
   * set: the field path for settings given in code (`output.otlpUds.socketPath must be a non-empty
   * string`), the environment variable for settings read from it (`USER_TRACING_SOCKET_PATH or
   * USER_TRACING_URL is required when USER_TRACING_ENABLED=true`). Its `stack` is that line alone.
   *
   * @since 0.1.0
   * @category errors
   */
  UserTracingSettingsError
}

/**
 * The decoded settings of the live pipeline.
 *
 * @since 0.1.0
 * @category tags
 */
export class UserTracingSettings extends Context.Tag("effect-user-tracing/UserTracingSettings")<
  UserTracingSettings,
  Settings
>() {}

/**
 * Decodes and validates settings, failing with the path of the first bad field.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode: (input: SettingsInput) => Effect.Effect<Settings, UserTracingSettingsError> = internal.decode

/**
 * Provides `UserTracingSettings` decoded from `input`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (input: SettingsInput): Layer.Layer<UserTracingSettings, UserTracingSettingsError> =>
  Layer.effect(UserTracingSettings, decode(input))

/**
 * Reads `SettingsInput` from the variables `USER_TRACING_ENABLED` (`true`/`false`, `yes`/`no`,
 * `on`/`off`, `1`/`0`), `USER_TRACING_SERVICE_NAME`, `USER_TRACING_MAX_QUEUE_SIZE` and
 * `USER_TRACING_MAX_QUEUE_BYTES` (a number or `unbounded`), `USER_TRACING_MAX_ROUTING_VALUE_BYTES`,
 * `USER_TRACING_SOCKET_PATH` (selects
 * `otlpUds`) or `USER_TRACING_URL` (selects `otlpHttp`; setting both fails),
 * `USER_TRACING_ROUTING_HEADER_NAME` (required with either), `USER_TRACING_HEADERS` (`k=v,k2=v2`,
 * values percent-decoded as UTF-8, with `USER_TRACING_URL` only), `USER_TRACING_COMPRESSION`
 * (`none` or `gzip`), `USER_TRACING_NUM_TASKS`, `USER_TRACING_MAX_BATCH_SIZE`,
 * `USER_TRACING_MAX_BATCH_BYTES`, `USER_TRACING_MAX_ATTEMPTS`, `USER_TRACING_REQUEST_TIMEOUT` and
 * `USER_TRACING_SHUTDOWN_TIMEOUT` (milliseconds or a duration such as `10 seconds`). Numbers are
 * decimal digits only. Unset variables are absent, so with none set the settings decode as
 * disabled. Every variable set is checked, even one no output uses; the first bad one fails with
 * `ConfigError.InvalidData` whose message names the variable.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<SettingsInput> = internalConfig.config

/**
 * Provides `UserTracingSettings` read from `config` and decoded like `layer`. With the default
 * (`config`), the `USER_TRACING_*` variables are read through the current `ConfigProvider`, a bad
 * one fails with a `UserTracingSettingsError` naming the variable, and warnings are logged for
 * each `USER_TRACING_*` name the provider holds that is not a setting (with the closest one) and
 * for variables set while `USER_TRACING_ENABLED` is not. With another `Config`, errors name the
 * field path and nothing is logged.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<SettingsInput> = internalConfig.config
): Layer.Layer<UserTracingSettings, UserTracingSettingsError | ConfigError.ConfigError> =>
  Layer.effect(
    UserTracingSettings,
    config === internalConfig.config
      ? Effect.map(announce.fromEnvironment, ({ settings }) => settings)
      : Effect.flatMap(config, decode)
  )
