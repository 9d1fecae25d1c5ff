/**
 * @internal
 * The OTLP/HTTP protobuf request around the spans (`spanEncoding.ts`): an
 * `ExportTraceServiceRequest` with one `ResourceSpans` (resource attribute `service.name`) and one
 * `ScopeSpans` (this library's name and version). Field numbers are those of the official
 * opentelemetry-proto definitions (collector/trace/v1/trace_service.proto,
 * resource/v1/resource.proto, common/v1/common.proto).
 */
import { libraryName, libraryVersion } from "./version.js"
import { fieldSize, utf8Length, varintSize, writeUtf8, writeVarint } from "./wire.js"

// ExportTraceServiceRequest
const REQUEST_RESOURCE_SPANS = 1 << 3 | 2
// ResourceSpans
const RESOURCE_SPANS_RESOURCE = 1 << 3 | 2
const RESOURCE_SPANS_SCOPE_SPANS = 2 << 3 | 2
// Resource
const RESOURCE_ATTRIBUTES = 1 << 3 | 2
// ScopeSpans
const SCOPE_SPANS_SCOPE = 1 << 3 | 2
// InstrumentationScope
const SCOPE_NAME = 1 << 3 | 2
const SCOPE_VERSION = 2 << 3 | 2
// KeyValue
const KEY_VALUE_KEY = 1 << 3 | 2
const KEY_VALUE_VALUE = 2 << 3 | 2
// AnyValue
const ANY_STRING = 1 << 3 | 2

/** A message, as the field `tag`, whose body is `parts` one after another. */
type Part = Uint8Array | readonly [tag: number, text: string]

const message = (tag: number, parts: ReadonlyArray<Part>): Uint8Array => {
  const encoded = parts.map((part): Uint8Array => {
    if (part instanceof Uint8Array) return part
    const [fieldTag, text] = part
    const bytes = utf8Length(text)
    const field = new Uint8Array(fieldSize(bytes))
    field[0] = fieldTag
    writeUtf8(field, writeVarint(field, 1, bytes), text, bytes)
    return field
  })
  const length = encoded.reduce((n, part) => n + part.length, 0)
  const out = new Uint8Array(fieldSize(length))
  out[0] = tag
  let pos = writeVarint(out, 1, length)
  for (const part of encoded) {
    out.set(part, pos)
    pos += part.length
  }
  return out
}

/**
 * @internal
 * What every request of one exporter shares: the `ResourceSpans.resource` field and the
 * `ScopeSpans.scope` field, encoded once.
 */
export interface RequestEnvelope {
  readonly resource: Uint8Array
  readonly scope: Uint8Array
  /** The most bytes `frameRequest` adds around the spans (length prefixes at their widest). */
  readonly maxOverhead: number
}

/** @internal */
export const makeEnvelope = (resource: { readonly serviceName: string }): RequestEnvelope => {
  const serviceName = message(RESOURCE_ATTRIBUTES, [
    [KEY_VALUE_KEY, "service.name"],
    message(KEY_VALUE_VALUE, [[ANY_STRING, resource.serviceName]])
  ])
  const resourceField = message(RESOURCE_SPANS_RESOURCE, [serviceName])
  const scope = message(SCOPE_SPANS_SCOPE, [[SCOPE_NAME, libraryName], [SCOPE_VERSION, libraryVersion]])
  // Three tags of one byte and three lengths of at most 5 bytes each.
  return { resource: resourceField, scope, maxOverhead: resourceField.length + scope.length + 3 + 15 }
}

/** @internal how many bytes `frameRequest` puts before spans of `spansLength` bytes */
export const framePrefixSize = (envelope: RequestEnvelope, spansLength: number): number => {
  const scopeSpans = envelope.scope.length + spansLength
  const resourceSpans = envelope.resource.length + 1 + varintSize(scopeSpans) + scopeSpans
  return 1 + varintSize(resourceSpans) + envelope.resource.length + 1 + varintSize(scopeSpans) + envelope.scope.length
}

/**
 * @internal
 * Writes the request's envelope into `buf` so that it ends at `spansStart`, where the spans
 * (`writeSpan` fields) already are, up to `spansEnd`: the body is `buf.subarray(returned, spansEnd)`,
 * with no copy of the spans. The caller leaves `framePrefixSize` bytes free before `spansStart`.
 */
export const frameRequestInPlace = (
  envelope: RequestEnvelope,
  buf: Uint8Array,
  spansStart: number,
  spansEnd: number
): number => {
  const scopeSpans = envelope.scope.length + spansEnd - spansStart
  const resourceSpans = envelope.resource.length + 1 + varintSize(scopeSpans) + scopeSpans
  const start = spansStart - framePrefixSize(envelope, spansEnd - spansStart)
  buf[start] = REQUEST_RESOURCE_SPANS
  let pos = writeVarint(buf, start + 1, resourceSpans)
  buf.set(envelope.resource, pos)
  pos += envelope.resource.length
  buf[pos] = RESOURCE_SPANS_SCOPE_SPANS
  pos = writeVarint(buf, pos + 1, scopeSpans)
  buf.set(envelope.scope, pos)
  return start
}
