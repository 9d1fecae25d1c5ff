/**
 * A whole OTLP request body for tests, written by the pipeline's own span encoder and framing (the
 * pipeline itself writes spans into chunks as they end and frames each chunk in place).
 */
import { framePrefixSize, frameRequestInPlace, makeEnvelope } from "../../src/internal/export/encoding.js"
import { spanSizeBound, writeSpanToScratch } from "../../src/internal/export/spanEncoding.js"
import type { FinishedUserSpan } from "../../src/UserSpan.js"

/**
 * An `ExportTraceServiceRequest`: one `ResourceSpans` (resource attribute `service.name`), one
 * `ScopeSpans` (this library's name and version), and `spans` in order.
 */
export const encodeTraceRequest = (
  resource: { readonly serviceName: string },
  spans: ReadonlyArray<FinishedUserSpan>
): Uint8Array => {
  const envelope = makeEnvelope(resource)
  const parts = spans.map((span) => {
    const written = writeSpanToScratch(span, spanSizeBound(span))
    return Uint8Array.prototype.slice.call(written.buf, 0, written.size)
  })
  const spansLength = parts.reduce((n, part) => n + part.length, 0)
  const prefix = framePrefixSize(envelope, spansLength)
  const buf = new Uint8Array(prefix + spansLength)
  let pos = prefix
  for (const part of parts) {
    buf.set(part, pos)
    pos += part.length
  }
  frameRequestInPlace(envelope, buf, prefix, buf.length)
  return buf
}
