/**
 * @internal
 * The Effect 3 line's settings Schema (effect/Schema), decoding, and the error: the shared rules
 * and words (`check.ts`) in Schema filters.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import {
  defaultMaxBatchBytes,
  defaultMaxQueueBytes,
  defaultMaxQueueSize,
  defaultMaxRoutingValueBytes,
  durationProblem,
  headerNameProblem,
  httpUrlProblem,
  maxMaxBatchSize,
  maxNumTasks,
  repeatedRoutingHeader,
  requiredWhenEnabled,
  socketPathProblem,
  staticHeadersProblem,
  wholeMillis
} from "./rules.js"
import { defaultLimits as limitDefaults } from "./rules.js"

export {
  defaultMaxBatchBytes,
  defaultMaxQueueBytes,
  defaultMaxQueueSize,
  defaultMaxRoutingValueBytes,
  maxDurationMillis,
  maxMaxBatchSize,
  maxNumTasks,
  maxSocketPathBytes
} from "./rules.js"

/**
 * @internal
 * Bad settings. `message` is the one line a user needs: it names the environment variable when the
 * value came from there, else the field path. The stack is that line alone: it would only point
 * into the decoding machinery, so a program that dies with this error prints one readable line.
 */
export class UserTracingSettingsError extends Data.TaggedError("UserTracingSettingsError")<{
  readonly path: string
  readonly message: string
}> {
  constructor(props: { readonly path: string; readonly message: string }) {
    super(props)
    Object.defineProperty(this, "stack", {
      value: `${this.name}: ${this.message}`,
      configurable: true,
      writable: true,
      enumerable: false
    })
  }

  override toString(): string {
    return `${this.name}: ${this.message}`
  }
}

/** A message that replaces every inner one (so "not a number" reads the same as "not positive"). */
const message = (text: string) => ({ message: () => ({ message: text, override: true }) })

const NonEmptyString = Schema.String.pipe(Schema.minLength(1, message("must be a non-empty string")))
const PositiveInt = Schema.Int.pipe(Schema.positive(message("must be a positive integer")))
/** An integer from 1 to `max`: a count that sizes what the layer allocates up front. */
const BoundedInt = (max: number) =>
  Schema.Int.pipe(Schema.between(1, max, message(`must be an integer from 1 to ${max.toLocaleString("en")}`)))

const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative(message("must be a non-negative integer")))

/**
 * Milliseconds (a whole number) or a string `Duration.decode` accepts (`"10 seconds"`), whole
 * milliseconds from 1 ms to 10 minutes: timers and the HTTP client count whole milliseconds, and 0
 * would time out every request. Encodes to milliseconds.
 */
const DurationInput = Schema.transformOrFail(Schema.Union(Schema.Number, Schema.String), Schema.DurationFromSelf, {
  strict: true,
  decode: (input, _, ast) =>
    Option.match(
      Duration.decodeUnknown(typeof input === "string" ? input.trim() : input).pipe(
        Option.flatMap((duration) => Option.fromNullable(wholeMillis(Duration.toMillis(duration)))),
        Option.map(Duration.millis)
      ),
      { onNone: () => ParseResult.fail(new ParseResult.Type(ast, input)), onSome: ParseResult.succeed }
    ),
  encode: (duration) => ParseResult.succeed(Duration.toMillis(duration))
}).annotations(message(durationProblem))

const HeaderName = Schema.String.pipe(Schema.filter((name) => headerNameProblem(name) ?? true))

const SocketPath = NonEmptyString.pipe(Schema.filter((path) => socketPathProblem(path) ?? true))

const HttpUrl = Schema.String.pipe(Schema.filter((url) => httpUrlProblem(url) ?? true))

/**
 * Static extra headers (an auth token, say): legal names and values, none the exporter sets, each
 * name once (names are case-insensitive).
 */
const StaticHeaders = Schema.Record({ key: Schema.String, value: Schema.String }).annotations(
  message("must be an object of header names and values")
).pipe(Schema.filter((headers) => {
  const problem = staticHeadersProblem(headers)
  return problem === undefined ? undefined : { path: [problem.name], message: problem.problem }
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

/** What an output's common fields accept on their own, none required (read while no output is chosen). */
const OutputFieldsAlone = Schema.Struct({ ...outputFields, routingHeaderName: Schema.optional(HeaderName) })

/**
 * @internal
 * Checks the fields every output has while no output is chosen, so a bad value is refused whether
 * or not an output uses it; a problem's path names the output kind `*`.
 */
export const checkOutputFields = (input: unknown): Either.Either<void, SettingsProblem> =>
  Either.mapBoth(Schema.decodeUnknownEither(OutputFieldsAlone, { onExcessProperty: "error" })(input), {
    onLeft: (error) => {
      const { path, predicate } = firstProblem(error)
      return { path: ["output", "*", ...path], predicate }
    },
    onRight: () => undefined
  })
const OtlpHttp = Schema.Struct({
  url: HttpUrl,
  headers: Schema.optionalWith(StaticHeaders, { exact: true }),
  ...outputFields
}).pipe(
  Schema.filter((output) => {
    const repeated = repeatedRoutingHeader(output.headers, output.routingHeaderName)
    return repeated === undefined
      ? undefined
      : { path: ["headers", repeated], message: "repeats the routing header name" }
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
  maxAttributes: Schema.optionalWith(NonNegativeInt, { default: () => limitDefaults.maxAttributes }),
  maxEvents: Schema.optionalWith(NonNegativeInt, { default: () => limitDefaults.maxEvents }),
  maxEventAttributes: Schema.optionalWith(NonNegativeInt, { default: () => limitDefaults.maxEventAttributes }),
  maxLinks: Schema.optionalWith(NonNegativeInt, { default: () => limitDefaults.maxLinks }),
  maxLinkAttributes: Schema.optionalWith(NonNegativeInt, { default: () => limitDefaults.maxLinkAttributes }),
  maxAttributeValueLength: Schema.optionalWith(PositiveInt, { default: () => limitDefaults.maxAttributeValueLength })
})

/** @internal the span limits' defaults, as the schema fills them */
export const defaultLimits: typeof SpanLimits.Type = SpanLimits.make({})

const required = (path: string) => ({ path: [path], message: requiredWhenEnabled })
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

/** @internal */
export type SettingsInput = typeof SettingsSchema.Encoded
/** @internal */
export type Settings = typeof SettingsSchema.Type
type OutputType = NonNullable<Settings["output"]>

/** @internal the first problem of a decoding: where (field path) and what (a predicate such as "must be ...") */
export interface SettingsProblem {
  readonly path: ReadonlyArray<PropertyKey>
  readonly predicate: string
}

const firstProblem = (error: ParseResult.ParseError): SettingsProblem => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  return { path: issue.path, predicate: issue.message }
}

/** @internal a field path as `UserTracingSettingsError.path` gives it: dotted */
export const dotted = (path: ReadonlyArray<PropertyKey>): string => path.map(String).join(".")

/** @internal decodes settings given in code: the first problem, if any, names the field path */
export const decodeEither = (input: unknown): Either.Either<Settings, SettingsProblem> =>
  Either.mapLeft(Schema.decodeUnknownEither(SettingsSchema)(input), firstProblem)

const fromProblem = ({ path, predicate }: SettingsProblem): UserTracingSettingsError =>
  new UserTracingSettingsError({
    path: dotted(path),
    message: path.length === 0 ? predicate : `${dotted(path)} ${predicate}`
  })

/** @internal */
export const decode = (input: SettingsInput): Effect.Effect<Settings, UserTracingSettingsError> =>
  Either.match(decodeEither(input), { onLeft: (problem) => Effect.fail(fromProblem(problem)), onRight: Effect.succeed })

/** @internal the fields every output has, whichever it is */
export const outputCommon = (output: OutputType): Omit<typeof OtlpUds.Type, "socketPath"> =>
  "otlpUds" in output ? output.otlpUds : output.otlpHttp
