import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Url from "effect/http/Url"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { privateDestination, redirectFollowingFetch } from "../../../../src/internal/http/destination.js"
import { isHeaderValue } from "../../../../src/internal/shared/httpSyntax.js"
import * as UserTracing from "../../UserTracing.js"
import type { ClientOptions } from "../../UserTracingHttp.js"
import { currentSpan } from "../span/current.js"
import { formatTraceparent } from "../span/regions.js"
import {
  ATTR_METHOD,
  ATTR_STATUS,
  contextHeaders,
  effectPropagationHeaders,
  headerName,
  pathOf,
  SERVICE_TRACEPARENT,
  SERVICE_TRACESTATE,
  W3C_TRACEPARENT,
  W3C_TRACESTATE
} from "./headers.js"

/** What was said already: each situation is logged once per process. */
const said: Set<string> =
  ((globalThis as any)[Symbol.for("effect-user-tracing/effect4/UserTracingHttp/said")] ??= new Set<string>())

const sayOnce = (key: string, message: string): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (said.has(key)) return Effect.void
    said.add(key)
    return Effect.logWarning(message)
  })

/** What a request sent: set when the user context was attached. */
interface Sent {
  request: HttpClientRequest.HttpClientRequest | undefined
}

/** The request's full URL, as the client will send it; `undefined` when it cannot be built (the client fails it). */
const urlOf = (request: HttpClientRequest.HttpClientRequest): URL | undefined =>
  Result.getOrUndefined(Url.make(request.url, request.urlParams, Option.getOrUndefined(request.hash)))

/** Validates the options once (throwing on a bad header name) and returns the wrapper. */
const makeClient = (
  options: ClientOptions | undefined
): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R> => {
  const names = contextHeaders(
    "traceparentHeader",
    headerName("traceparentHeader", options?.traceparentHeader, SERVICE_TRACEPARENT),
    "tracestateHeader",
    headerName("tracestateHeader", options?.tracestateHeader, SERVICE_TRACESTATE)
  )
  // A tracestate travels with its traceparent: the W3C name for one only would pair the
  // customer's tracestate with Effect's own traceparent on the wire.
  if ((names.tracestate === W3C_TRACESTATE) !== (names.traceparent === W3C_TRACEPARENT)) {
    throw new TypeError(
      `UserTracingHttp: traceparentHeader (${names.traceparent}) and tracestateHeader (${names.tracestate}) ` +
        `must both be the W3C names or neither`
    )
  }
  const routingHeader = options?.routingHeader === undefined
    ? undefined
    : headerName("routingHeader", options.routingHeader, "")
  if (routingHeader !== undefined && (routingHeader === names.traceparent || routingHeader === names.tracestate)) {
    throw new TypeError(`UserTracingHttp: routingHeader is also a trace context header: ${routingHeader}`)
  }
  const userHeaders = routingHeader === undefined ? [names.traceparent, names.tracestate] : [
    names.traceparent,
    names.tracestate,
    routingHeader
  ]
  const propagateTo = options?.propagateTo ?? privateDestination
  const spanName = options?.spanName
  // Effect's client writes its own `traceparent`/`b3` last, just before sending: when a user
  // header has one of those names, its internal propagation is turned off for that request so
  // the user header reaches the wire, and the log says so once.
  const collides = effectPropagationHeaders.has(names.traceparent) || effectPropagationHeaders.has(names.tracestate)
  const collision = `UserTracingHttp.withUserTracing: requests that carry a user trace send it in ` +
    `\`${names.traceparent}\`, so Effect's own trace context is not propagated on them (the internal trace ` +
    `is not continued downstream). To keep both, send the user context in headers of its own ` +
    `(the default: ${SERVICE_TRACEPARENT}, ${SERVICE_TRACESTATE}) to services whose middleware reads them.`

  return <E, R>(self: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E, R> => {
    /**
     * Adds the user context to the request as the client it wraps completes it (base URL and
     * all), if its destination may have it: runs in the request's client span, just before the
     * transport. Records what it sent in `sent`.
     */
    const attach = (request: HttpClientRequest.HttpClientRequest, sent: Sent) =>
      Effect.withFiber<HttpClientRequest.HttpClientRequest>((fiber) => {
        const span = currentSpan(fiber)
        const url = urlOf(request)
        if (span === undefined || url === undefined || !propagateTo(url, request)) return Effect.succeed(request)
        const outbound: Record<string, string> = { [names.traceparent]: formatTraceparent(span) }
        if (span.trace.traceState !== undefined) outbound[names.tracestate] = span.trace.traceState
        let said: Effect.Effect<void> = Effect.void
        if (routingHeader !== undefined) {
          const encoded = span.trace.routing.encode()
          if (isHeaderValue(encoded)) outbound[routingHeader] = encoded
          else {
            said = sayOnce(
              `routing:${routingHeader}`,
              `UserTracingHttp.withUserTracing: a trace's routing is not a legal header value, so it is not sent in ${routingHeader}`
            )
          }
        }
        const withContext = HttpClientRequest.setHeaders(request, outbound)
        sent.request = withContext
        if (collides) {
          // Read by Effect's client after this, in this fiber (its context): `send` restores it.
          said = Effect.andThen(said, sayOnce(`collision:${names.traceparent}`, collision))
          fiber.setContext(Context.add(fiber.context, HttpClient.TracerPropagationEnabled, false))
          return Effect.as(said, withContext)
        }
        return Effect.as(said, withContext)
      })

    /** Runs in the request's client span. */
    const send = (
      request: HttpClientRequest.HttpClientRequest
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, E, R> =>
      Effect.withFiber((fiber) => {
        const sent: Sent = { request: undefined }
        const base: typeof globalThis.fetch = fiber.getRef(FetchHttpClient.Fetch)
        const execute = HttpClient.mapRequestEffect(self, (complete) => attach(complete, sent)).execute(request).pipe(
          // Over fetch, redirects of a request that carries the user context are followed here: a
          // target `propagateTo` refuses gets none of its headers.
          Effect.provideService(
            FetchHttpClient.Fetch,
            redirectFollowingFetch(base, userHeaders, (next) => propagateTo(next, sent.request ?? request))
          ),
          // The user headers stay out of Effect's internal span attributes.
          Effect.updateService(Headers.CurrentRedactedNames, (redacted) => [...redacted, ...userHeaders]),
          Effect.tap((response) =>
            // A redirect followed by a client inside this one carried the user headers along.
            sent.request === undefined || response.request.url === sent.request.url ? Effect.void : sayOnce(
              "inner-redirect",
              "UserTracingHttp.withUserTracing: a client it wraps followed a redirect with the user trace headers; " +
                "apply HttpClient.followRedirects outside withUserTracing, so that each redirect target is decided anew"
            )
          )
        )
        if (!collides) return execute
        const propagation = fiber.getRef(HttpClient.TracerPropagationEnabled)
        return Effect.ensuring(
          execute,
          Effect.sync(() =>
            fiber.setContext(Context.add(fiber.context, HttpClient.TracerPropagationEnabled, propagation))
          )
        )
      })

    const inClientSpan = (
      request: HttpClientRequest.HttpClientRequest
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, E, R> =>
      send(request).pipe(
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

/** @internal */
export { privateDestination }
