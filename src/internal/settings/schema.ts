import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import { isHeaderName, isHeaderValue } from "../shared/httpSyntax.js"

/** @internal */
export class UserTracingSettingsError extends Data.TaggedError("UserTracingSettingsError")<{
  readonly path: string
  readonly message: string
}> {}

/**
 * @internal
 * Measured by `npm run bench` (stalled receiver): a queued span with 4 attributes is kept encoded
 * and holds ~175 B of heap and buffers (~245-490 B of RSS), so a full default queue of such spans
 * costs ~11-32 MB; larger spans meet `maxQueueBytes` first.
 */
export const defaultMaxQueueSize = 65_536

/** @internal bytes allocated for spans waiting for export, unless `maxQueueBytes` says otherwise */
export const defaultMaxQueueBytes = 64 * 1024 * 1024

/**
 * @internal
 * The longest routing value sent, unless `maxRoutingValueBytes` says otherwise: well within what
 * receivers and proxies take in one header line (nginx's `large_client_header_buffers`: 8 KiB).
 */
export const defaultMaxRoutingValueBytes = 4 * 1024

/** @internal the most bytes of one request body, unless `maxBatchBytes` says otherwise */
export const defaultMaxBatchBytes = 4 * 1024 * 1024

/** A message that replaces every inner one (so "not a number" reads the same as "not positive"). */
const message = (text: string) => ({ message: () => ({ message: text, override: true }) })

const NonEmptyString = Schema.String.pipe(Schema.minLength(1, message("must be a non-empty string")))
const PositiveInt = Schema.Int.pipe(Schema.positive(message("must be a positive integer")))
/** An integer from 1 to `max`: a count that sizes what the layer allocates up front. */
const BoundedInt = (max: number) =>
  Schema.Int.pipe(Schema.between(1, max, message(`must be an integer from 1 to ${max.toLocaleString("en")}`)))

/**
 * @internal
 * Each worker is a fiber and a kept-alive connection (a file descriptor); more than this gains no
 * throughput on one receiver and risks the process's descriptor limit (1,024 by default).
 */
export const maxNumTasks = 256

/** @internal a batch larger than the default queue could never fill */
export const maxMaxBatchSize = 65_536

/** @internal Node's timers hold 2^31-1 ms at most; a longer one fires after 1 ms. */
export const maxDurationMillis = 2 ** 31 - 1

/** @internal the bytes of `sockaddr_un.sun_path` on Linux, less its terminating NUL; the kernel cuts longer paths */
export const maxSocketPathBytes = 107
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative(message("must be a non-negative integer")))

/** Milliseconds (a non-negative number) or a string `Duration.decode` accepts; encodes to milliseconds. */
const DurationInput = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), Schema.DurationFromSelf, {
  strict: true,
  decode: (input, _, ast) =>
    Option.match(
      ((typeof input === "number" ? input >= 0 : !input.startsWith("-"))
        ? Duration.decodeUnknown(input)
        : Option.none())
        .pipe(Option.filter((duration) => Duration.toMillis(duration) <= maxDurationMillis)),
      { onNone: () => ParseResult.fail(new ParseResult.Type(ast, input)), onSome: ParseResult.succeed }
    ),
  encode: (duration) => ParseResult.succeed(Duration.toMillis(duration))
}).annotations(message(
  `must be a number of milliseconds from 0 to ${maxDurationMillis} (about 24.8 days) or a duration such as "10 seconds"`
))

/** Headers the exporter or HTTP itself sets: neither the routing header nor a static one may be one of them. */
const exporterHeaders = new Set([
  "host",
  "content-type",
  "content-length",
  "content-encoding",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "expect",
  "traceparent",
  "tracestate"
])

const headerNameProblem = (name: string): string | undefined =>
  !isHeaderName(name)
    ? "must be a valid HTTP header name"
    : exporterHeaders.has(name.toLowerCase())
    ? `must not be "${name}", a header the exporter sets itself`
    : undefined

const HeaderName = Schema.String.pipe(Schema.filter((name) => headerNameProblem(name) ?? true))

const SocketPath = NonEmptyString.pipe(Schema.filter((path) =>
  Buffer.byteLength(path) <= maxSocketPathBytes ||
  `must be at most ${maxSocketPathBytes} bytes (the kernel cuts a longer Unix socket path); this one has ${
    Buffer.byteLength(path)
  }`
))

const HttpUrl = Schema.String.pipe(
  Schema.filter((url) => URL.canParse(url) && ["http:", "https:"].includes(new URL(url).protocol), {
    message: () => "must be an http: or https: URL such as http://127.0.0.1:4318/v1/traces"
  })
)

/** Static extra headers (an auth token, say): legal names and values, none the exporter sets. */
const StaticHeaders = Schema.Record({ key: Schema.String, value: Schema.String }).annotations(
  message("must be header names and values (USER_TRACING_HEADERS: a list of name=value, values percent-encoded)")
).pipe(Schema.filter((headers) => {
  for (const [name, value] of Object.entries(headers)) {
    const problem = headerNameProblem(name)
    if (problem !== undefined) return { path: [name], message: `header name ${problem}` }
    if (!isHeaderValue(value)) {
      return { path: [name], message: "must be a legal header value (no CR, LF or other control characters)" }
    }
  }
  return undefined
}))

const outputFields = {
  routingHeaderName: HeaderName,
  numTasks: Schema.optionalWith(BoundedInt(maxNumTasks), { default: () => 1 }),
  maxBatchSize: Schema.optionalWith(BoundedInt(maxMaxBatchSize), { default: () => 512 }),
  maxBatchBytes: Schema.optionalWith(PositiveInt, { default: () => defaultMaxBatchBytes }),
  requestTimeout: Schema.optionalWith(DurationInput, { default: () => Duration.seconds(10) }),
  maxAttempts: Schema.optionalWith(PositiveInt, { default: () => 5 }),
  compression: Schema.optionalWith(
    Schema.Literal("none", "gzip").annotations(message("must be \"none\" or \"gzip\"")),
    { default: () => "none" as const }
  )
}

const OtlpUds = Schema.Struct({ socketPath: SocketPath, ...outputFields })
const OtlpHttp = Schema.Struct({
  url: HttpUrl,
  headers: Schema.optionalWith(StaticHeaders, { exact: true }),
  ...outputFields
}).pipe(
  Schema.filter((output) => {
    const repeated = Object.keys(output.headers ?? {}).find((name) =>
      name.toLowerCase() === output.routingHeaderName.toLowerCase()
    )
    return repeated === undefined
      ? undefined
      : { path: ["headers", repeated], message: "must not repeat the routing header" }
  })
)

type Parse<A> = (input: unknown, options?: SchemaAST.ParseOptions) => Effect.Effect<A, ParseResult.ParseIssue>

/** Parses `{ otlpUds }` or `{ otlpHttp }` by its single key, so an error points into the one given. */
const exactlyOne =
  <A, B>(uds: Parse<A>, http: Parse<B>) =>
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
  maxLinks: Schema.optionalWith(NonNegativeInt, { default: () => 128 }),
  maxLinkAttributes: Schema.optionalWith(NonNegativeInt, { default: () => 128 }),
  maxAttributeValueLength: Schema.optionalWith(PositiveInt, { default: () => 4096 })
})

/** @internal the span limits' defaults (SPEC section 2), as the schema fills them */
export const defaultLimits: typeof SpanLimits.Type = SpanLimits.make({})

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
  maxRoutingValueBytes: Schema.optionalWith(PositiveInt, { default: () => defaultMaxRoutingValueBytes }),
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
type OutputType = NonNullable<typeof SettingsSchema.Type["output"]>

const fromParseError = (error: ParseResult.ParseError): UserTracingSettingsError => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  const path = issue.path.join(".")
  return new UserTracingSettingsError({ path, message: path === "" ? issue.message : `${path}: ${issue.message}` })
}

/** @internal */
export const decode = (input: SettingsInput) => Effect.mapError(Schema.decode(SettingsSchema)(input), fromParseError)

const optional = <A>(config: Config.Config<A>) => Config.map(Config.option(config), Option.getOrUndefined)

/**
 * A number read as text, so that a bad one fails in the schema with the field's path (a
 * `UserTracingSettingsError`) like any other bad value: text that is not a number becomes `NaN`.
 */
const toNumber = (text: string): number => text.trim() === "" ? Number.NaN : Number(text)

const number = (name: string) => optional(Config.map(Config.string(name), toNumber))

/**
 * A boolean in the words `Config.boolean` takes; any other text goes to the schema as is, so that
 * it fails there with the field's path, like a bad number.
 */
const boolean = (name: string) =>
  optional(Config.map(Config.string(name), (text): boolean => {
    const word = text.trim().toLowerCase()
    if (word === "true" || word === "yes" || word === "on" || word === "1") return true
    if (word === "false" || word === "no" || word === "off" || word === "0") return false
    return text as unknown as boolean
  }))

/** A number as `number` reads it, or `unbounded` for `null`. */
const numberOrUnbounded = (name: string) =>
  optional(Config.map(Config.string(name), (text) => text.trim() === "unbounded" ? null : toNumber(text)))

/**
 * `k=v,k2=v2` with percent-encoded values, like `OTEL_EXPORTER_OTLP_HEADERS`. Text that is not
 * such a list goes to the schema as is, so that it fails there with the field's path.
 */
const headerList = (name: string) =>
  optional(Config.map(Config.string(name), (text): Record<string, string> => {
    const headers: Record<string, string> = {}
    for (const entry of text.split(",")) {
      if (entry.trim() === "") continue
      const equals = entry.indexOf("=")
      let value: string | undefined
      try {
        value = equals > 0 ? decodeURIComponent(entry.slice(equals + 1).trim()) : undefined
      } catch {
        value = undefined
      }
      if (value === undefined) return text as unknown as Record<string, string>
      headers[entry.slice(0, equals).trim()] = value
    }
    return headers
  }))

/** A number is milliseconds; anything else goes to the schema as a duration string. */
const duration = (name: string) => optional(Config.orElse(Config.number(name), () => Config.string(name)))

const output = Config.all({
  socketPath: optional(Config.string("USER_TRACING_SOCKET_PATH")),
  url: optional(Config.string("USER_TRACING_URL")),
  headers: headerList("USER_TRACING_HEADERS"),
  compression: optional(Config.string("USER_TRACING_COMPRESSION")),
  routingHeaderName: optional(Config.string("USER_TRACING_ROUTING_HEADER_NAME")),
  numTasks: number("USER_TRACING_NUM_TASKS"),
  maxBatchSize: number("USER_TRACING_MAX_BATCH_SIZE"),
  maxBatchBytes: number("USER_TRACING_MAX_BATCH_BYTES"),
  requestTimeout: duration("USER_TRACING_REQUEST_TIMEOUT"),
  maxAttempts: number("USER_TRACING_MAX_ATTEMPTS")
}).pipe(Config.mapOrFail(({ headers, routingHeaderName, socketPath, url, ...common }): Either.Either<
  SettingsInput["output"],
  ConfigError.ConfigError
> => {
  if (socketPath !== undefined && url !== undefined) {
    return Either.left(
      ConfigError.InvalidData(["USER_TRACING_URL"], "cannot be set together with USER_TRACING_SOCKET_PATH")
    )
  }
  if (headers !== undefined && url === undefined) {
    return Either.left(ConfigError.InvalidData(["USER_TRACING_HEADERS"], "applies to USER_TRACING_URL only"))
  }
  if (routingHeaderName === undefined) {
    return socketPath === undefined && url === undefined
      ? Either.right(undefined)
      : Either.left(ConfigError.MissingData(
        ["USER_TRACING_ROUTING_HEADER_NAME"],
        "is required when USER_TRACING_SOCKET_PATH or USER_TRACING_URL is set"
      ))
  }
  // `compression` goes to the schema as text: a bad value fails there, naming the field.
  const fields = { routingHeaderName, ...common } as typeof common & {
    routingHeaderName: string
    compression: "none" | "gzip" | undefined
  }
  return Either.right(
    socketPath !== undefined
      ? { otlpUds: { socketPath, ...fields } }
      : url !== undefined
      ? { otlpHttp: { url, ...(headers === undefined ? {} : { headers }), ...fields } }
      : undefined
  )
}))

/** @internal */
export const config: Config.Config<SettingsInput> = Config.all({
  enabled: boolean("USER_TRACING_ENABLED"),
  serviceName: optional(Config.string("USER_TRACING_SERVICE_NAME")),
  maxQueueSize: numberOrUnbounded("USER_TRACING_MAX_QUEUE_SIZE"),
  maxQueueBytes: numberOrUnbounded("USER_TRACING_MAX_QUEUE_BYTES"),
  maxRoutingValueBytes: number("USER_TRACING_MAX_ROUTING_VALUE_BYTES"),
  output,
  shutdownTimeout: duration("USER_TRACING_SHUTDOWN_TIMEOUT")
})

/** @internal the fields every output has, whichever it is */
export const outputCommon = (output: OutputType): Omit<typeof OtlpUds.Type, "socketPath"> =>
  "otlpUds" in output ? output.otlpUds : output.otlpHttp
