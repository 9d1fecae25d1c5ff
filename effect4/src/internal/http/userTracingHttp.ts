import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import { isHeaderName } from "../../../../src/internal/shared/httpSyntax.js"
import * as Traceparent from "../../Traceparent.js"
import * as UserTracing from "../../UserTracing.js"
import type { ClientOptions, MiddlewareOptions } from "../../UserTracingHttp.js"

/** @internal an HTTP app: the effect a server runs per request */
export type App<E, R> = Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>

/** @internal */
export const ATTR_METHOD = "http.request.method"
/** @internal */
export const ATTR_ROUTE = "http.route"
/** @internal */
export const ATTR_PATH = "url.path"
/** @internal */
export const ATTR_STATUS = "http.response.status_code"

const DEFAULT_TRACEPARENT = "traceparent"
const DEFAULT_TRACESTATE = "tracestate"

/** The header names Effect's own client propagation writes (`HttpTraceContext.toHeaders`). */
const effectPropagationHeaders: ReadonlySet<string> = new Set(["traceparent", "b3"])

const headerName = (option: string, value: string | undefined, fallback: string): string => {
  if (value === undefined) return fallback
  const name = value.toLowerCase()
  if (!isHeaderName(name)) {
    throw new TypeError(`UserTracingHttp: ${option} is not a valid HTTP header name: ${JSON.stringify(value)}`)
  }
  return name
}

const headerNames = (
  options: { readonly traceparentHeader?: string | undefined; readonly tracestateHeader?: string | undefined }
): { readonly traceparent: string; readonly tracestate: string } => {
  const traceparent = headerName("traceparentHeader", options.traceparentHeader, DEFAULT_TRACEPARENT)
  const tracestate = headerName("tracestateHeader", options.tracestateHeader, DEFAULT_TRACESTATE)
  if (traceparent === tracestate) {
    throw new TypeError(`UserTracingHttp: traceparentHeader and tracestateHeader are the same: ${traceparent}`)
  }
  return { traceparent, tracestate }
}

/** The path of a request target or URL, without query or fragment. */
const pathOf = (url: string): string => {
  const end = url.search(/[?#]/)
  const target = end === -1 ? url : url.slice(0, end)
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(target)
  const path = scheme === null ? target : target.slice(scheme[0].length)
  return path === "" ? "/" : path
}

/** The matched route's path, with a mount prefix put back, when the request runs inside a router. */
const routeOf = (context: Context.Context<never>): string | undefined => {
  const routeContext = Context.getOption(context, HttpRouter.RouteContext)
  if (Option.isNone(routeContext)) return undefined
  const route = routeContext.value.route
  const path: string = route.path
  if (Option.isSome(route.prefix) && !path.startsWith(route.prefix.value)) {
    return path === "/" ? route.prefix.value : route.prefix.value + path
  }
  return path
}

/** The status the server answers for `exit`: a failure's response as the server derives it (`RouteNotFound` is 404). */
const statusOf = (exit: Exit.Exit<HttpServerResponse.HttpServerResponse, unknown>): Effect.Effect<number> =>
  Exit.isSuccess(exit)
    ? Effect.succeed(exit.value.status)
    : Effect.map(HttpServerError.causeResponse(exit.cause), ([response]) => response.status)

/** Validates the options once (throwing on a bad header name) and returns the middleware. */
const makeMiddleware = (
  options: MiddlewareOptions
): <E, R>(app: App<E, R>) => App<E, R> => {
  const names = headerNames(options)
  const spanName = options.spanName
  return <E, R>(app: App<E, R>): App<E, R> =>
    Effect.withFiber((fiber) => {
      const context = fiber.context
      const request = Context.getUnsafe(context, HttpServerRequest.HttpServerRequest)
      const routing = options.routing(request)
      if (Option.isNone(routing)) return app
      const route = routeOf(context)
      const path = pathOf(request.url)
      const name = spanName !== undefined ? spanName(request) : `${request.method} ${route ?? path}`
      const rawTraceparent = request.headers[names.traceparent]
      const inbound = rawTraceparent === undefined ? Option.none() : Traceparent.parse(rawTraceparent)
      const attributes: Record<string, UserTracing.AttributeValue> = route !== undefined
        ? { [ATTR_METHOD]: request.method, [ATTR_ROUTE]: route }
        : { [ATTR_METHOD]: request.method, [ATTR_PATH]: path }
      // The app runs under `Effect.exit` inside the root, so the root's status follows the
      // response (5xx = error), not the app's failure channel (a 404 from `RouteNotFound` is a
      // failure, but not a server error); the exit is re-raised outside, unchanged.
      const traced = Effect.flatMap(Effect.exit(app), (exit) =>
        Effect.flatMap(statusOf(exit), (status) =>
          Effect.as(
            UserTracing.annotateUserSpan(
              status >= 500 ? { [ATTR_STATUS]: status, error: true } : { [ATTR_STATUS]: status }
            ),
            exit
          ))).pipe(UserTracing.withUserTrace(name, {
            routing: routing.value,
            kind: "server",
            attributes,
            inbound: Option.getOrUndefined(inbound),
            tracestate: Option.isSome(inbound) ? request.headers[names.tracestate] : undefined
          }))
      return Effect.flatten(traced)
    })
}

/** @internal */
export function middleware(options: MiddlewareOptions): <E, R>(app: App<E, R>) => App<E, R>
/** @internal */
export function middleware<E, R>(app: App<E, R>, options: MiddlewareOptions): App<E, R>
/** @internal */
export function middleware<E, R>(
  ...args: [options: MiddlewareOptions] | [app: App<E, R>, options: MiddlewareOptions]
): App<E, R> | (<E, R>(app: App<E, R>) => App<E, R>) {
  return args.length === 1 ? makeMiddleware(args[0]) : makeMiddleware(args[1])(args[0])
}

/** Validates the options once (throwing on a bad header name) and returns the wrapper. */
const makeClient = (
  options: ClientOptions | undefined
): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R> => {
  const names = headerNames(options ?? {})
  const spanName = options?.spanName
  // Effect's client writes its own `traceparent`/`b3` last, just before sending: when a user
  // header has one of those names, its internal propagation is turned off for that request so
  // the user header reaches the wire.
  const collides = effectPropagationHeaders.has(names.traceparent) || effectPropagationHeaders.has(names.tracestate)
  return <E, R>(self: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E, R> => {
    const inClientSpan = (
      request: HttpClientRequest.HttpClientRequest
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, E, R> =>
      Effect.flatMap(UserTracing.userTraceHeaders, (headers) => {
        const outbound: Record<string, string> = {}
        if (headers.traceparent !== undefined) outbound[names.traceparent] = headers.traceparent
        if (headers.tracestate !== undefined) outbound[names.tracestate] = headers.tracestate
        const execute = self.execute(HttpClientRequest.setHeaders(request, outbound))
        return collides ? Effect.provideService(execute, HttpClient.TracerPropagationEnabled, false) : execute
      }).pipe(
        Effect.tap((response) => {
          const status = response.status
          return UserTracing.annotateUserSpan(
            status >= 400 ? { [ATTR_STATUS]: status, error: true } : { [ATTR_STATUS]: status }
          )
        }),
        UserTracing.withUserSpan(
          spanName !== undefined ? spanName(request) : `${request.method} ${pathOf(request.url)}`,
          { kind: "client", attributes: { [ATTR_METHOD]: request.method } }
        )
      )
    // Preprocessing is the identity, so requests mapped on top of this client arrive here
    // complete; the inner client runs its own pre- and postprocessing in `execute`.
    return HttpClient.makeWith(
      (requestEffect: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
        Effect.flatMap(requestEffect, (request) =>
          Effect.flatMap(
            UserTracing.currentUserSpan,
            (current) => Option.isNone(current) ? self.execute(request) : inClientSpan(request)
          )),
      Effect.succeed
    )
  }
}

/** @internal */
export function withUserTracing(
  options?: ClientOptions
): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R>
/** @internal */
export function withUserTracing<E, R>(
  self: HttpClient.HttpClient.With<E, R>,
  options?: ClientOptions
): HttpClient.HttpClient.With<E, R>
/** @internal */
export function withUserTracing<E, R>(
  selfOrOptions?: HttpClient.HttpClient.With<E, R> | ClientOptions,
  options?: ClientOptions
):
  | HttpClient.HttpClient.With<E, R>
  | (<E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R>)
{
  return HttpClient.isHttpClient(selfOrOptions)
    ? makeClient(options)(selfOrOptions as HttpClient.HttpClient.With<E, R>)
    : makeClient(selfOrOptions as ClientOptions | undefined)
}
