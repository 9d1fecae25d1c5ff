import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import { isHeaderValue } from "../../../../src/internal/shared/httpSyntax.js"
import type { RoutingMetadata } from "../../RoutingMetadata.js"
import * as Traceparent from "../../Traceparent.js"
import * as UserTracing from "../../UserTracing.js"
import type { MiddlewareOptions } from "../../UserTracingHttp.js"
import {
  ATTR_METHOD,
  ATTR_PATH,
  ATTR_ROUTE,
  ATTR_STATUS,
  type ContextHeaders,
  contextHeaders,
  headerName,
  pathOf,
  routeOf,
  SERVICE_TRACEPARENT,
  SERVICE_TRACESTATE,
  W3C_TRACEPARENT,
  W3C_TRACESTATE
} from "./headers.js"

/** @internal an HTTP app: the effect a server runs per request */
export type App<E, R> = Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>

/** The status the server answers for `exit`: a failure's response as the server derives it (`RouteNotFound` is 404). */
const statusOf = (exit: Exit.Exit<HttpServerResponse.HttpServerResponse, unknown>): Effect.Effect<number> =>
  Exit.isSuccess(exit)
    ? Effect.succeed(exit.value.status)
    : Effect.map(HttpServerError.causeResponse(exit.cause), ([response]) => response.status)

/** The inbound context: from our own services' headers when present, else from the customer's (the edge). */
const inboundOf = (
  headers: Readonly<Record<string, string | undefined>>,
  service: ContextHeaders,
  edge: ContextHeaders
): { readonly inbound: Traceparent.Traceparent | undefined; readonly tracestate: string | undefined } => {
  // A service header present decides, valid or not: the edge's `traceparent` on such a hop is
  // Effect's own (internal) trace, which must not become the user trace.
  const names = headers[service.traceparent] !== undefined ? service : edge
  const raw = headers[names.traceparent]
  const inbound = raw === undefined ? undefined : Option.getOrUndefined(Traceparent.parse(raw))
  return { inbound, tracestate: inbound === undefined ? undefined : headers[names.tracestate] }
}

/** Validates the options once (throwing on a bad header name) and returns the middleware. */
const makeMiddleware = (
  options: MiddlewareOptions
): <E, R>(app: App<E, R>) => App<E, R> => {
  const edge = contextHeaders(
    "traceparentHeader",
    headerName("traceparentHeader", options.traceparentHeader, W3C_TRACEPARENT),
    "tracestateHeader",
    headerName("tracestateHeader", options.tracestateHeader, W3C_TRACESTATE)
  )
  const service = contextHeaders(
    "serviceTraceparentHeader",
    headerName("serviceTraceparentHeader", options.serviceTraceparentHeader, SERVICE_TRACEPARENT),
    "serviceTracestateHeader",
    headerName("serviceTracestateHeader", options.serviceTracestateHeader, SERVICE_TRACESTATE)
  )
  const deferred = options.deferred === true
  const routing = options.deferred === true ? undefined : options.routing
  const spanName = options.deferred === true ? undefined : options.spanName
  if (!deferred && typeof routing !== "function") {
    throw new TypeError("UserTracingHttp: middleware needs a routing function, or deferred: true")
  }
  return <E, R>(app: App<E, R>): App<E, R> =>
    Effect.withFiber((fiber) => {
      const context = fiber.context
      const request = Context.getUnsafe(context, HttpServerRequest.HttpServerRequest)
      const routed = routing === undefined ? undefined : routing(request)
      if (routed !== undefined && Option.isNone(routed)) return app
      const route = routeOf(context)
      const { inbound, tracestate } = inboundOf(request.headers, service, edge)
      const attributes: Record<string, UserTracing.AttributeValue> = route !== undefined
        ? { [ATTR_METHOD]: request.method, [ATTR_ROUTE]: route }
        : { [ATTR_METHOD]: request.method, [ATTR_PATH]: pathOf(request.url) }
      // The app runs under `Effect.exit` inside the root, so the root's status follows the
      // response (5xx = error), not the app's failure channel (a 404 from `RouteNotFound` is a
      // failure, but not a server error); the exit is re-raised outside, unchanged.
      const inRoot = Effect.flatMap(Effect.exit(app), (exit) =>
        Effect.flatMap(statusOf(exit), (status) =>
          Effect.as(
            UserTracing.annotateUserSpan(
              status >= 500 ? { [ATTR_STATUS]: status, error: true } : { [ATTR_STATUS]: status }
            ),
            exit
          )))
      const traced = routed === undefined
        // Deferred: what the request says is the region's; the application activates it.
        ? UserTracing.withDeferredUserTrace(inRoot, { kind: "server", attributes, inbound, tracestate })
        : UserTracing.withUserTrace(
          inRoot,
          spanName !== undefined ? spanName(request) : `${request.method} ${route ?? pathOf(request.url)}`,
          { routing: routed.value, kind: "server", attributes, inbound, tracestate }
        )
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

/** The longest routing value read from a header: past it the request is not traced. */
const MAX_ROUTING_LENGTH = 8192

/** @internal */
export const routingFromHeader = (
  name: string
): (request: HttpServerRequest.HttpServerRequest) => Option.Option<RoutingMetadata> => {
  const header = headerName("routingFromHeader", name, name)
  return (request) => {
    const value = request.headers[header]
    if (value === undefined || value.length === 0 || value.length > MAX_ROUTING_LENGTH || !isHeaderValue(value)) {
      return Option.none()
    }
    return Option.some({ groupKey: () => value, encode: () => value })
  }
}
