/**
 * `effect/http` integration: a server middleware that opens a user trace per inbound
 * request, and an `HttpClient` wrapper that runs each outbound request in its own user span and
 * sends that span's `traceparent`/`tracestate`.
 *
 * Coexistence with Effect's internal tracing. Effect's `HttpClient` writes its own `traceparent`
 * (and `b3`) for the internal tracer, and the server's built-in tracer middleware reads
 * `traceparent` to parent its internal spans. One header name cannot carry two traces, so either:
 * - give the user pipeline distinct header names (e.g. `traceparentHeader: "x-user-traceparent"`,
 *   `tracestateHeader: "x-user-tracestate"`) on both sides: both pipelines propagate; or
 * - keep the W3C names for the user pipeline and switch Effect's internal propagation off:
 *   `withUserTracing` does it by itself, per request, when a user trace is active and a user header
 *   is named `traceparent` or `b3` (the user headers win on the wire; the internal trace is not
 *   continued across that hop). On the server, `HttpMiddleware.TracerDisabledWhen` keeps a
 *   customer's `traceparent` from parenting internal spans.
 *
 * What user spans carry (they go to customers): server roots `http.request.method`, `http.route`
 * (the router's matched path, when the middleware runs inside the router) or else `url.path` (no
 * query), and `http.response.status_code`; client spans `http.request.method` and
 * `http.response.status_code`, with the URL path only in the span name. Never query strings,
 * hosts, headers or addresses.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as Option from "effect/Option"
import * as internal from "./internal/http/userTracingHttp.js"
import type { RoutingMetadata } from "./RoutingMetadata.js"

/**
 * An HTTP app: the effect a server runs for each request (`HttpServer.serveEffect`, a router's
 * handler).
 *
 * @since 0.1.0
 * @category models
 */
export type App<E, R> = internal.App<E, R>

/**
 * Options of `middleware`. Header names are case-insensitive; a name that is not a valid HTTP
 * header name (or the same name twice) throws when the middleware is built.
 */
export interface MiddlewareOptions {
  /** Activation and routing, decided by the application: `None` = no user trace for this request. */
  readonly routing: (request: HttpServerRequest.HttpServerRequest) => Option.Option<RoutingMetadata>
  /** The inbound `traceparent` header name; default `traceparent`. */
  readonly traceparentHeader?: string | undefined
  /** The inbound `tracestate` header name; default `tracestate`. */
  readonly tracestateHeader?: string | undefined
  /** The root's name; default `<method> <route>`, the route being the router's matched path or else the URL path. */
  readonly spanName?: ((request: HttpServerRequest.HttpServerRequest) => string) | undefined
}

/** Options of `withUserTracing`. Header names as in `MiddlewareOptions` (case-insensitive, checked). */
export interface ClientOptions {
  /** The outbound `traceparent` header name; default `traceparent`. */
  readonly traceparentHeader?: string | undefined
  /** The outbound `tracestate` header name; default `tracestate`. */
  readonly tracestateHeader?: string | undefined
  /** The client span's name; default `<method> <url path>`. */
  readonly spanName?: ((request: HttpClientRequest.HttpClientRequest) => string) | undefined
}

/**
 * A server middleware opening a user trace (kind `server`) per request whose `routing` is
 * `Some`: it continues a valid inbound `traceparent` (with its `tracestate`), starts a fresh
 * trace on a missing or malformed one, and records the status code; a 5xx response marks the
 * root as error (OpenTelemetry server semantics: a 4xx is the client's fault, not an error).
 * The app's response, error and interruption pass through unchanged.
 *
 * Use it with `HttpServer.serve(middleware(options))`, `HttpRouter.use(middleware(options))`
 * (then the span is named after the matched route) or on any `HttpApp`.
 */
export const middleware: {
  (options: MiddlewareOptions): <E, R>(app: internal.App<E, R>) => internal.App<E, R>
  <E, R>(app: internal.App<E, R>, options: MiddlewareOptions): internal.App<E, R>
} = internal.middleware

/**
 * Wraps an `HttpClient` so that, under an active user trace, each request runs in its own user
 * span (kind `client`) and carries that span's `traceparent`/`tracestate`; a 4xx or 5xx response
 * or a failed request marks the span as error (OpenTelemetry client semantics). With no active
 * user trace the request is sent unchanged and nothing is recorded. When a user header is named
 * `traceparent` or `b3`, Effect's internal propagation is off for that request, so the user
 * header is the one on the wire.
 */
export const withUserTracing: {
  (options?: ClientOptions): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R>
  <E, R>(self: HttpClient.HttpClient.With<E, R>, options?: ClientOptions): HttpClient.HttpClient.With<E, R>
} = internal.withUserTracing
