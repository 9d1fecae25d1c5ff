/**
 * @internal
 * The HTTP integration's header names, span attribute names and option checks, in plain code (no
 * effect module): one module for the Effect 3 and the Effect 4 lines.
 */
import { isHeaderName } from "../shared/httpSyntax.js"

/** @internal */
export const ATTR_METHOD = "http.request.method"
/** @internal */
export const ATTR_ROUTE = "http.route"
/** @internal */
export const ATTR_PATH = "url.path"
/** @internal */
export const ATTR_STATUS = "http.response.status_code"

/** @internal where a customer's trace context arrives at the edge (W3C) */
export const W3C_TRACEPARENT = "traceparent"
/** @internal */
export const W3C_TRACESTATE = "tracestate"
/** @internal where our own services carry the user context, beside Effect's own `traceparent` */
export const SERVICE_TRACEPARENT = "x-user-traceparent"
/** @internal */
export const SERVICE_TRACESTATE = "x-user-tracestate"

/** @internal the header names Effect's own client propagation writes (`HttpTraceContext.toHeaders`) */
export const effectPropagationHeaders: ReadonlySet<string> = new Set(["traceparent", "b3"])

/** @internal a header name option, lowercased; throws a `TypeError` naming the option when invalid */
export const headerName = (option: string, value: string | undefined, fallback: string): string => {
  if (value === undefined) return fallback
  const name = value.toLowerCase()
  if (!isHeaderName(name)) {
    throw new TypeError(`UserTracingHttp: ${option} is not a valid HTTP header name: ${JSON.stringify(value)}`)
  }
  return name
}

/** @internal a `traceparent`/`tracestate` pair of header names, checked to differ */
export interface ContextHeaders {
  readonly traceparent: string
  readonly tracestate: string
}

/** @internal */
export const contextHeaders = (
  traceparentOption: string,
  traceparent: string,
  tracestateOption: string,
  tracestate: string
): ContextHeaders => {
  if (traceparent === tracestate) {
    throw new TypeError(`UserTracingHttp: ${traceparentOption} and ${tracestateOption} are the same: ${traceparent}`)
  }
  return { traceparent, tracestate }
}

/** @internal the path of a request target or URL, without query or fragment */
export const pathOf = (url: string): string => {
  const end = url.search(/[?#]/)
  const target = end === -1 ? url : url.slice(0, end)
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(target)
  const path = scheme === null ? target : target.slice(scheme[0].length)
  return path === "" ? "/" : path
}
