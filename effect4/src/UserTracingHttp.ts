/**
 * `effect/http` integration: a server middleware that opens a user trace per inbound
 * request (at once, or deferred until the application knows the customer), and an `HttpClient`
 * wrapper that runs each outbound request in its own user span and sends that span's context to
 * the destinations it may go to.
 *
 * Both pipelines propagate at once by default. Between your own services the user context travels
 * in headers of its own (`x-user-traceparent`, `x-user-tracestate`), which the middleware reads
 * first, while Effect's `traceparent` (and `b3`) keeps carrying the internal trace; at the
 * customer-facing edge the middleware reads the customer's `traceparent`/`tracestate`. A client
 * told to send the user context in `traceparent` itself switches Effect's propagation off for those
 * requests (one header cannot carry two traces) and says so once in the log.
 *
 * The user context is customer data: the client sends it only where `propagateTo` allows (by
 * default private addresses and in-network names), decides again at every redirect, and keeps its
 * headers out of Effect's internal span attributes. Routing (`routingHeader`) is sent only when
 * named, and should only go to your own services.
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
import * as client from "./internal/http/client.js"
import * as server from "./internal/http/middleware.js"
import type { RoutingMetadata } from "./RoutingMetadata.js"

/**
 * An HTTP app: the effect a server runs for each request (`HttpServer.serveEffect`, a router's
 * handler).
 *
 * @since 0.1.0
 * @category models
 */
export type App<E, R> = server.App<E, R>

/**
 * Header names of `middleware`. Case-insensitive; a name that is not a valid HTTP header name (or
 * the same name for both halves of a pair) throws when the middleware is built.
 *
 * @since 0.1.0
 * @category models
 */
export interface MiddlewareHeaderOptions {
  /** Where a customer's `traceparent` arrives (the edge); default `traceparent`. */
  readonly traceparentHeader?: string | undefined
  /** Where a customer's `tracestate` arrives; default `tracestate`. */
  readonly tracestateHeader?: string | undefined
  /**
   * Where your own services send the user `traceparent` (`withUserTracing`'s default): read first;
   * when present it decides, and the edge header (then Effect's own trace) is not read. Default
   * `x-user-traceparent`.
   */
  readonly serviceTraceparentHeader?: string | undefined
  /** Where your own services send the user `tracestate`; default `x-user-tracestate`. */
  readonly serviceTracestateHeader?: string | undefined
}

/**
 * Options of `middleware` that opens a root per request at once, routed by `routing`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RoutedMiddlewareOptions extends MiddlewareHeaderOptions {
  /** Activation and routing, decided by the application: `None` = no user trace for this request. */
  readonly routing: (request: HttpServerRequest.HttpServerRequest) => Option.Option<RoutingMetadata>
  readonly deferred?: false | undefined
  /** The root's name; default `<method> <route>`, the route being the router's matched path or else the URL path. */
  readonly spanName?: ((request: HttpServerRequest.HttpServerRequest) => string) | undefined
}

/**
 * Options of `middleware` that opens a deferred root per request: the application activates it
 * with `UserTracing.activateUserTrace(name, { routing })` once it knows the customer (after
 * authentication, a lookup); the root then starts when the request did, continues the inbound
 * context (unless it is unsampled) and carries the request's attributes. Never activated, the
 * request records nothing.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeferredMiddlewareOptions extends MiddlewareHeaderOptions {
  readonly deferred: true
}

/**
 * Options of `middleware`.
 *
 * @since 0.1.0
 * @category models
 */
export type MiddlewareOptions = RoutedMiddlewareOptions | DeferredMiddlewareOptions

/**
 * Options of `withUserTracing`. Header names as in `middleware` (case-insensitive, checked).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /**
   * The outbound user `traceparent` header; default `x-user-traceparent` (beside Effect's own
   * `traceparent`). `traceparent` itself switches Effect's propagation off on requests that carry a
   * user trace (logged once): for destinations that read the W3C names, e.g. a customer's origin.
   */
  readonly traceparentHeader?: string | undefined
  /** The outbound user `tracestate` header; default `x-user-tracestate`; W3C names for both or neither. */
  readonly tracestateHeader?: string | undefined
  /**
   * Sends the trace's routing (`RoutingMetadata.encode()`) in this header, for a downstream
   * `middleware({ routing: routingFromHeader(name) })`. Off unless named. Customer data: send it
   * only to your own services.
   */
  readonly routingHeader?: string | undefined
  /**
   * Where the user context (and routing) may go, asked for each request and again for each
   * redirect target: `false` sends the request without them. Default `privateDestination`.
   */
  readonly propagateTo?: ((url: URL, request: HttpClientRequest.HttpClientRequest) => boolean) | undefined
  /** The client span's name; default `<method> <url path>`. */
  readonly spanName?: ((request: HttpClientRequest.HttpClientRequest) => string) | undefined
}

/**
 * A server middleware opening a user trace (kind `server`) per request: with `routing`, at once
 * for each request whose `routing` is `Some`; with `deferred: true`, a deferred root that the
 * application activates (`UserTracing.activateUserTrace`). The root continues a valid inbound
 * context (your services' headers first, else the customer's W3C headers), starts a fresh trace
 * on a missing or malformed one, and records the status code; a 5xx response marks the root as
 * error (OpenTelemetry server semantics: a 4xx is the client's fault, not an error). The app's
 * response, error and interruption pass through unchanged.
 *
 * Use it with `HttpServer.serve(middleware(options))`, `HttpRouter.use(middleware(options))`
 * (then the span is named after the matched route) or on any HTTP app.
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware: {
  (options: MiddlewareOptions): <E, R>(app: server.App<E, R>) => server.App<E, R>
  <E, R>(app: server.App<E, R>, options: MiddlewareOptions): server.App<E, R>
} = server.middleware

/**
 * A `routing` function for `middleware` that reads the routing an upstream service sent with
 * `withUserTracing({ routingHeader: name })`: `None` when the header is absent, empty, longer than
 * 8 KiB or not a legal header value. Whoever can set this header chooses which customer receives
 * the request's spans: use it only on services that your own services alone can reach (or whose
 * edge removes the header), never where a customer's request arrives.
 *
 * @since 0.1.0
 * @category middleware
 */
export const routingFromHeader: (
  name: string
) => (request: HttpServerRequest.HttpServerRequest) => Option.Option<RoutingMetadata> = server.routingFromHeader

/**
 * Wraps an `HttpClient` so that, under an active user trace, each request runs in its own user
 * span (kind `client`) and, where `propagateTo` allows, carries that span's `traceparent`, the
 * trace's `tracestate` and (when `routingHeader` is named) its routing; a 4xx or 5xx response or a
 * failed request marks the span as error (OpenTelemetry client semantics). With no active user trace
 * the request is sent unchanged and nothing is recorded.
 *
 * Redirects: over `FetchHttpClient`, requests that carry the user context have their redirects
 * followed here (as fetch does) so that each target is decided anew; a custom `fetch` for them is
 * taken from `FetchHttpClient.Fetch` in the requests' context (not from inside the client's layer).
 * `HttpClient.followRedirects` belongs outside this wrapper, for the same reason.
 *
 * @since 0.1.0
 * @category client
 */
export const withUserTracing: {
  (options?: ClientOptions): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R>
  <E, R>(self: HttpClient.HttpClient.With<E, R>, options?: ClientOptions): HttpClient.HttpClient.With<E, R>
} = client.withUserTracing

/**
 * The default `propagateTo`: loopback, private (RFC 1918, IPv6 unique local) and link-local
 * addresses, `localhost`, and names that resolve only inside a network (no dot, as cluster
 * services are named, or ending in `.internal`, `.local`, `.localhost`, `.svc`, `.home.arpa`).
 * Compose your own from it: `(url) => privateDestination(url) || url.hostname.endsWith(".corp.example")`.
 *
 * @since 0.1.0
 * @category client
 */
export const privateDestination: (url: URL) => boolean = client.privateDestination
