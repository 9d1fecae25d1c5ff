/**
 * @internal
 * What the sink makes of a decoded OTLP request: `ReceivedSpan`s, and trace trees built from them.
 */
import type {
  ReceivedEvent,
  ReceivedLink,
  ReceivedSpan,
  ReceivedSpanKind,
  ReceivedTrace,
  ReceivedValue
} from "../../UserTraceSink.js"
import { buildForest } from "../shared/tree.js"
import type { TreeShape } from "../shared/tree.js"
import type { DecodedAnyValue, DecodedKeyValue, DecodedSpan, DecodedTraceRequest } from "./proto.js"

const kinds: ReadonlyArray<ReceivedSpanKind> = ["unspecified", "internal", "server", "client", "producer", "consumer"]

const toValue = (value: DecodedAnyValue | null | undefined): ReceivedValue => {
  if (value === null || value === undefined) return null
  if (value.stringValue !== undefined) return value.stringValue
  if (value.boolValue !== undefined) return value.boolValue
  if (value.intValue !== undefined) return BigInt(value.intValue)
  if (value.doubleValue !== undefined) return value.doubleValue
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(toValue)
  if (value.kvlistValue !== undefined) {
    // No prototype: a key such as `__proto__` stays an ordinary key.
    const object: Record<string, ReceivedValue> = Object.create(null)
    for (const kv of value.kvlistValue.values ?? []) object[kv.key] = toValue(kv.value)
    return object
  }
  if (value.bytesValue !== undefined) return new Uint8Array(Buffer.from(value.bytesValue, "base64"))
  return null
}

const toAttributes = (kvs: ReadonlyArray<DecodedKeyValue>): ReadonlyArray<readonly [string, ReceivedValue]> =>
  kvs.map((kv) => [kv.key, toValue(kv.value)] as const)

const isId = (hex: string, length: number): boolean =>
  hex.length === length && /^[0-9a-f]+$/.test(hex) && !/^0+$/.test(hex)

/** Whether the span's ids are well-formed (a 16-byte trace id, 8-byte span id, empty or 8-byte parent id). */
const validIds = (span: DecodedSpan): boolean =>
  isId(span.traceId, 32) && isId(span.spanId, 16) && (span.parentSpanId === "" || isId(span.parentSpanId, 16))

const statusOf = (code: number | undefined): ReceivedSpan["status"] =>
  code === 1 ? "ok" : code === 2 ? "error" : "unset"

/** @internal the spans of a decoded request, and how many were rejected for bad ids */
export const toReceivedSpans = (
  request: DecodedTraceRequest,
  headers: Readonly<Record<string, string>>
): { readonly spans: ReadonlyArray<ReceivedSpan>; readonly rejected: number } => {
  const spans: Array<ReceivedSpan> = []
  let rejected = 0
  for (const resourceSpans of request.resourceSpans) {
    const resource = toAttributes(resourceSpans.resource?.attributes ?? [])
    const serviceNameValue = resource.find(([key]) => key === "service.name")?.[1]
    const serviceName = typeof serviceNameValue === "string" ? serviceNameValue : undefined
    for (const scopeSpans of resourceSpans.scopeSpans) {
      const scope = { name: scopeSpans.scope?.name ?? "", version: scopeSpans.scope?.version ?? "" }
      for (const span of scopeSpans.spans) {
        if (!validIds(span)) {
          rejected++
          continue
        }
        spans.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId === "" ? undefined : span.parentSpanId,
          remoteParent: (span.flags & 0x300) === 0x300,
          name: span.name,
          kind: kinds[span.kind] ?? "unspecified",
          startTimeUnixNano: BigInt(span.startTimeUnixNano),
          endTimeUnixNano: BigInt(span.endTimeUnixNano),
          attributes: toAttributes(span.attributes),
          droppedAttributesCount: span.droppedAttributesCount,
          events: span.events.map((event): ReceivedEvent => ({
            name: event.name,
            timeUnixNano: BigInt(event.timeUnixNano),
            attributes: toAttributes(event.attributes)
          })),
          droppedEventsCount: span.droppedEventsCount,
          links: span.links.map((link): ReceivedLink => ({
            traceId: link.traceId,
            spanId: link.spanId,
            traceState: link.traceState === "" ? undefined : link.traceState,
            flags: link.flags,
            attributes: toAttributes(link.attributes),
            droppedAttributesCount: link.droppedAttributesCount
          })),
          droppedLinksCount: span.droppedLinksCount,
          status: statusOf(span.status?.code),
          statusMessage: span.status?.message ?? "",
          flags: span.flags,
          traceState: span.traceState === "" ? undefined : span.traceState,
          serviceName,
          resource,
          scope,
          headers
        })
      }
    }
  }
  return { spans, rejected }
}

// ---------------------------------------------------------------------------------------------
// Trace trees

interface MutableNode {
  readonly span: ReceivedSpan
  readonly children: Array<MutableNode>
}

const spanTree: TreeShape<ReceivedSpan, MutableNode> = {
  id: (span) => span.spanId,
  parentId: (span) => span.parentSpanId,
  start: (span) => span.startTimeUnixNano,
  node: (span) => ({ span, children: [] }),
  addChild: (parent, child) => void parent.children.push(child)
}

const minStart = (spans: ReadonlyArray<ReceivedSpan>): bigint =>
  spans.reduce((min, span) => span.startTimeUnixNano < min ? span.startTimeUnixNano : min, spans[0].startTimeUnixNano)

/**
 * @internal
 * One trace's tree; `spans` are that trace's spans in arrival order, duplicates already removed.
 * Siblings and roots by start time, then arrival; a span whose parent was not received, or on a
 * parent cycle, is a root.
 */
export const toTrace = (traceId: string, spans: ReadonlyArray<ReceivedSpan>): ReceivedTrace => ({
  traceId,
  spans,
  roots: buildForest(spans, spanTree)
})

/** @internal groups spans by trace id (dropping repeated span ids), trees inside, traces by earliest start */
export const toTraces = (spans: ReadonlyArray<ReceivedSpan>): ReadonlyArray<ReceivedTrace> => {
  const byTrace = new Map<string, { readonly seen: Set<string>; readonly spans: Array<ReceivedSpan> }>()
  for (const span of spans) {
    let entry = byTrace.get(span.traceId)
    if (entry === undefined) {
      entry = { seen: new Set(), spans: [] }
      byTrace.set(span.traceId, entry)
    }
    if (entry.seen.has(span.spanId)) continue
    entry.seen.add(span.spanId)
    entry.spans.push(span)
  }
  const traces = Array.from(byTrace, ([traceId, entry]) => toTrace(traceId, entry.spans))
  const starts = new Map(traces.map((trace) => [trace.traceId, minStart(trace.spans)]))
  return traces.sort((a, b) => {
    const x = starts.get(a.traceId)!
    const y = starts.get(b.traceId)!
    return x < y ? -1 : x > y ? 1 : 0
  })
}

/** A span that starts its trace here: no parent, or a parent in another process. */
/** @internal */
export const isRootLike = (span: ReceivedSpan): boolean => span.parentSpanId === undefined || span.remoteParent
