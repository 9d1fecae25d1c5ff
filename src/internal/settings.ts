import { Config, ConfigError, Data, Duration, Effect, Either, Option, ParseResult, Predicate, Schema } from "effect"
import type * as SchemaAST from "effect/SchemaAST"
import type { Output, OutputCommon } from "../UserTracingSettings.js"
import { isHeaderName } from "./httpSyntax.js"

/** @internal */
export class UserTracingSettingsError extends Data.TaggedError("UserTracingSettingsError")<{
  readonly path: string
  readonly message: string
}> {}

/**
 * @internal
 * Measured by `npm run bench` (stalled receiver): a queued span with 4 attributes holds ~500 B of
 * heap (~550-890 B of RSS), so a full default queue costs ~33-57 MB, far under the 256 MB bound,
 * leaving room for spans several times larger.
 */
export const defaultMaxQueueSize = 65_536

/** @internal encoded bytes waiting for export, unless `maxQueueBytes` says otherwise */
export const defaultMaxQueueBytes = 64 * 1024 * 1024

/** @internal the most bytes of one request body, unless `maxBatchBytes` says otherwise */
export const defaultMaxBatchBytes = 4 * 1024 * 1024

/** A message that replaces every inner one (so "not a number" reads the same as "not positive"). */
const message = (text: string) => ({ message: () => ({ message: text, override: true }) })

const NonEmptyString = Schema.String.pipe(Schema.minLength(1, message("must be a non-empty string")))
const PositiveInt = Schema.Int.pipe(Schema.positive(message("must be a positive integer")))
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative(message("must be a non-negative integer")))

/** Milliseconds (a non-negative number) or a string `Duration.decode` accepts; encodes to milliseconds. */
const DurationInput = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), Schema.DurationFromSelf, {
  strict: true,
  decode: (input, _, ast) =>
    Option.match(
      (typeof input === "number" ? input >= 0 : !input.startsWith("-")) ? Duration.decodeUnknown(input) : Option.none(),
      { onNone: () => ParseResult.fail(new ParseResult.Type(ast, input)), onSome: ParseResult.succeed }
    ),
  encode: (duration) => ParseResult.succeed(Duration.toMillis(duration))
}).annotations(message("must be a non-negative number of milliseconds or a duration such as \"10 seconds\""))

const exporterHeaders = new Set([
  "host",
  "content-type",
  "content-length",
  "connection",
  "transfer-encoding",
  "traceparent",
  "tracestate"
])

const HeaderName = Schema.String.pipe(Schema.filter((name) =>
  !isHeaderName(name)
    ? "must be a valid HTTP header name"
    : !exporterHeaders.has(name.toLowerCase()) || `must not be "${name}", a header the exporter sets itself`
))

const HttpUrl = Schema.String.pipe(
  Schema.filter((url) => URL.canParse(url) && new URL(url).protocol === "http:", {
    message: () => "must be an http: URL such as http://127.0.0.1:4318/v1/traces"
  })
)

const outputFields = {
  routingHeaderName: HeaderName,
  numTasks: Schema.optionalWith(PositiveInt, { default: () => 1 }),
  maxBatchSize: Schema.optionalWith(PositiveInt, { default: () => 512 }),
  maxBatchBytes: Schema.optionalWith(PositiveInt, { default: () => defaultMaxBatchBytes }),
  requestTimeout: Schema.optionalWith(DurationInput, { default: () => Duration.seconds(10) }),
  maxAttempts: Schema.optionalWith(PositiveInt, { default: () => 5 })
}

const OtlpUds = Schema.Struct({ socketPath: NonEmptyString, ...outputFields })
const OtlpHttp = Schema.Struct({ url: HttpUrl, ...outputFields })

type Parse<A> = (input: unknown, options?: SchemaAST.ParseOptions) => Effect.Effect<A, ParseResult.ParseIssue>

/** Parses `{ otlpUds }` or `{ otlpHttp }` by its single key, so an error points into the one given. */
const exactlyOne = <A, B>(uds: Parse<A>, http: Parse<B>) =>
(input: unknown, options: SchemaAST.ParseOptions, ast: SchemaAST.Declaration): Effect.Effect<
  A | B,
  ParseResult.ParseIssue
> => {
  const keys = Predicate.isRecord(input) ? Object.keys(input) : []
  switch (keys.length === 1 ? keys[0] : undefined) {
    case "otlpUds":
      return uds(input, options)
    case "otlpHttp":
      return http(input, options)
    default:
      return ParseResult.fail(new ParseResult.Type(ast, input, "must have exactly one of otlpUds, otlpHttp"))
  }
}

const Output = Schema.declare([OtlpUds, OtlpHttp], {
  decode: (uds, http) =>
    exactlyOne(
      ParseResult.decodeUnknown(Schema.Struct({ otlpUds: uds })),
      ParseResult.decodeUnknown(Schema.Struct({ otlpHttp: http }))
    ),
  encode: (uds, http) =>
    exactlyOne(
      ParseResult.encodeUnknown(Schema.Struct({ otlpUds: uds })),
      ParseResult.encodeUnknown(Schema.Struct({ otlpHttp: http }))
    )
})

const SpanLimits = Schema.Struct({
  maxAttributes: Schema.optionalWith(NonNegativeInt, { default: () => 128 }),
  maxEvents: Schema.optionalWith(NonNegativeInt, { default: () => 128 }),
  maxEventAttributes: Schema.optionalWith(NonNegativeInt, { default: () => 128 }),
  maxAttributeValueLength: Schema.optionalWith(PositiveInt, { default: () => 4096 })
})

const required = (path: string) => ({ path: [path], message: "is required when enabled" })

/** @internal */
export const SettingsSchema = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  serviceName: Schema.optionalWith(Schema.UndefinedOr(NonEmptyString), { default: () => undefined }),
  maxQueueSize: Schema.optionalWith(
    Schema.NullOr(PositiveInt).annotations(message("must be a positive integer or null")),
    { default: () => defaultMaxQueueSize }
  ),
  maxQueueBytes: Schema.optionalWith(
    Schema.NullOr(PositiveInt).annotations(message("must be a positive integer or null")),
    { default: () => defaultMaxQueueBytes }
  ),
  output: Schema.optionalWith(Schema.UndefinedOr(Output), { default: () => undefined }),
  shutdownTimeout: Schema.optionalWith(DurationInput, { default: () => Duration.seconds(10) }),
  limits: Schema.optionalWith(SpanLimits, { default: () => SpanLimits.make({}) })
}).pipe(
  Schema.filter((settings) =>
    !settings.enabled
      ? undefined
      : settings.serviceName === undefined
      ? required("serviceName")
      : settings.output === undefined
      ? required("output")
      : undefined
  ),
  Schema.annotations({ parseOptions: { onExcessProperty: "error" } })
)

type SettingsInput = typeof SettingsSchema.Encoded

const fromParseError = (error: ParseResult.ParseError): UserTracingSettingsError => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  const path = issue.path.join(".")
  return new UserTracingSettingsError({ path, message: path === "" ? issue.message : `${path}: ${issue.message}` })
}

/** @internal */
export const decode = (input: SettingsInput) =>
  Effect.mapError(Schema.decode(SettingsSchema)(input), fromParseError)

const optional = <A>(config: Config.Config<A>) => Config.map(Config.option(config), Option.getOrUndefined)

/** A number is milliseconds; anything else goes to the schema as a duration string. */
const duration = (name: string) => optional(Config.orElse(Config.number(name), () => Config.string(name)))

const output = Config.all({
  socketPath: optional(Config.string("USER_TRACING_SOCKET_PATH")),
  url: optional(Config.string("USER_TRACING_URL")),
  routingHeaderName: optional(Config.string("USER_TRACING_ROUTING_HEADER_NAME")),
  numTasks: optional(Config.number("USER_TRACING_NUM_TASKS")),
  maxBatchSize: optional(Config.number("USER_TRACING_MAX_BATCH_SIZE")),
  maxBatchBytes: optional(Config.number("USER_TRACING_MAX_BATCH_BYTES")),
  requestTimeout: duration("USER_TRACING_REQUEST_TIMEOUT"),
  maxAttempts: optional(Config.number("USER_TRACING_MAX_ATTEMPTS"))
}).pipe(Config.mapOrFail(({ routingHeaderName, socketPath, url, ...common }): Either.Either<
  SettingsInput["output"],
  ConfigError.ConfigError
> => {
  if (socketPath !== undefined && url !== undefined) {
    return Either.left(
      ConfigError.InvalidData(["USER_TRACING_URL"], "cannot be set together with USER_TRACING_SOCKET_PATH")
    )
  }
  if (routingHeaderName === undefined) {
    return socketPath === undefined && url === undefined
      ? Either.right(undefined)
      : Either.left(ConfigError.MissingData(
        ["USER_TRACING_ROUTING_HEADER_NAME"],
        "is required when USER_TRACING_SOCKET_PATH or USER_TRACING_URL is set"
      ))
  }
  const fields = { routingHeaderName, ...common }
  return Either.right(
    socketPath !== undefined
      ? { otlpUds: { socketPath, ...fields } }
      : url !== undefined
      ? { otlpHttp: { url, ...fields } }
      : undefined
  )
}))

/** @internal */
export const config: Config.Config<SettingsInput> = Config.all({
  enabled: optional(Config.boolean("USER_TRACING_ENABLED")),
  serviceName: optional(Config.string("USER_TRACING_SERVICE_NAME")),
  maxQueueSize: optional(
    Config.orElse(Config.number("USER_TRACING_MAX_QUEUE_SIZE"), () =>
      Config.map(Config.literal("unbounded")("USER_TRACING_MAX_QUEUE_SIZE"), () => null))
  ),
  maxQueueBytes: optional(
    Config.orElse(Config.number("USER_TRACING_MAX_QUEUE_BYTES"), () =>
      Config.map(Config.literal("unbounded")("USER_TRACING_MAX_QUEUE_BYTES"), () => null))
  ),
  output,
  shutdownTimeout: duration("USER_TRACING_SHUTDOWN_TIMEOUT")
})

/** @internal the fields every output has, whichever it is */
export const outputCommon = (output: Output): OutputCommon => "otlpUds" in output ? output.otlpUds : output.otlpHttp
