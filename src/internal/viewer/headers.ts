/**
 * @internal
 * Which request headers the viewer shows with a span, and which one is its routing value: the
 * named routing header, or every non-standard header with credentials redacted.
 */
import type { ReceivedSpan } from "../../UserTraceSink.js"
import { isCredentialHeader, redactedHeaderValue } from "../shared/httpSyntax.js"

/** @internal request headers every client sends, or that say how the body is sent: neither shown nor taken for routing */
export const standardHeaders: ReadonlySet<string> = new Set([
  "accept",
  "accept-encoding",
  "accept-language",
  "baggage",
  "connection",
  "content-encoding",
  "content-length",
  "content-type",
  "date",
  "expect",
  "host",
  "keep-alive",
  "te",
  "traceparent",
  "tracestate",
  "transfer-encoding",
  "upgrade",
  "user-agent"
])

const byName = ([a]: readonly [string, string], [b]: readonly [string, string]): number => a < b ? -1 : a > b ? 1 : 0

/**
 * @internal
 * The headers to show for a span: the routing header only, when named; else every non-standard
 * one, by name, those that may carry a credential with their value redacted (`<redacted, N bytes>`).
 */
export const shownHeaders = (
  headers: Readonly<Record<string, string>>,
  routingHeader: string | undefined
): ReadonlyArray<readonly [string, string]> => {
  if (routingHeader !== undefined) {
    const name = routingHeader.toLowerCase()
    // Own headers only: not `__proto__` or `constructor` from the prototype.
    return Object.hasOwn(headers, name) ? [[name, headers[name]]] : []
  }
  return Object.entries(headers).filter(([name]) => !standardHeaders.has(name)).map(([name, value]) =>
    [name, isCredentialHeader(name) ? redactedHeaderValue(value) : value] as const
  ).sort(byName)
}

/**
 * @internal the routing header value of a span: the named header's, or, with no name, the only
 * non-standard header's that cannot carry a credential (an exporter sends one); else `undefined`
 */
export const routingValue = (span: ReceivedSpan, routingHeader: string | undefined): string | undefined => {
  if (routingHeader !== undefined) return shownHeaders(span.headers, routingHeader)[0]?.[1]
  let value: string | undefined
  for (const [name, text] of Object.entries(span.headers)) {
    if (standardHeaders.has(name) || isCredentialHeader(name)) continue
    if (value !== undefined) return undefined
    value = text
  }
  return value
}
