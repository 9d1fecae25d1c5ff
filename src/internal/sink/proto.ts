/**
 * @internal
 * The OTLP trace protos, as a protobufjs reflection schema of our own, for the receiving side:
 * decode an `ExportTraceServiceRequest` (protobuf or OTLP/JSON) into one plain shape, encode an
 * `ExportTraceServiceResponse`. Only the messages those need, transcribed from the official
 * opentelemetry-proto definitions (field names, numbers and types unchanged; `entity_refs` and
 * the deprecated fields left out).
 */
import protobuf from "protobufjs"
import { checkShape, prepareJsonText } from "./jsonChecks.js"

const common = `syntax = "proto3";
package opentelemetry.proto.common.v1;
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue {
  string key = 1;
  AnyValue value = 2;
}
message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}`

const resource = `syntax = "proto3";
package opentelemetry.proto.resource.v1;
message Resource {
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 1;
  uint32 dropped_attributes_count = 2;
}`

const trace = `syntax = "proto3";
package opentelemetry.proto.trace.v1;
message ResourceSpans {
  opentelemetry.proto.resource.v1.Resource resource = 1;
  repeated ScopeSpans scope_spans = 2;
  string schema_url = 3;
}
message ScopeSpans {
  opentelemetry.proto.common.v1.InstrumentationScope scope = 1;
  repeated Span spans = 2;
  string schema_url = 3;
}
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  fixed32 flags = 16;
  string name = 5;
  enum SpanKind {
    SPAN_KIND_UNSPECIFIED = 0;
    SPAN_KIND_INTERNAL = 1;
    SPAN_KIND_SERVER = 2;
    SPAN_KIND_CLIENT = 3;
    SPAN_KIND_PRODUCER = 4;
    SPAN_KIND_CONSUMER = 5;
  }
  SpanKind kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 9;
  uint32 dropped_attributes_count = 10;
  message Event {
    fixed64 time_unix_nano = 1;
    string name = 2;
    repeated opentelemetry.proto.common.v1.KeyValue attributes = 3;
    uint32 dropped_attributes_count = 4;
  }
  repeated Event events = 11;
  uint32 dropped_events_count = 12;
  message Link {
    bytes trace_id = 1;
    bytes span_id = 2;
    string trace_state = 3;
    repeated opentelemetry.proto.common.v1.KeyValue attributes = 4;
    uint32 dropped_attributes_count = 5;
    fixed32 flags = 6;
  }
  repeated Link links = 13;
  uint32 dropped_links_count = 14;
  Status status = 15;
}
message Status {
  reserved 1;
  string message = 2;
  enum StatusCode {
    STATUS_CODE_UNSET = 0;
    STATUS_CODE_OK = 1;
    STATUS_CODE_ERROR = 2;
  }
  StatusCode code = 3;
}`

const traceService = `syntax = "proto3";
package opentelemetry.proto.collector.trace.v1;
message ExportTraceServiceRequest {
  repeated opentelemetry.proto.trace.v1.ResourceSpans resource_spans = 1;
}
message ExportTraceServiceResponse {
  ExportTracePartialSuccess partial_success = 1;
}
message ExportTracePartialSuccess {
  int64 rejected_spans = 1;
  string error_message = 2;
}`

// What an OTLP/HTTP receiver answers a failed request with (googleapis google/rpc/status.proto;
// \`details\` left out, skipped when present).
const rpcStatus = `syntax = "proto3";
package google.rpc;
message Status {
  int32 code = 1;
  string message = 2;
}`

const root = new protobuf.Root()
for (const source of [common, resource, trace, traceService, rpcStatus]) protobuf.parse(source, root)
root.resolveAll()

const ExportTraceServiceRequest = root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest")
const ExportTraceServiceResponse = root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse")
const RpcStatus = root.lookupType("google.rpc.Status")

/**
 * @internal
 * The message of the `google.rpc.Status` a receiver answers a failure with (protobuf, or JSON
 * text when `json`); throws when the body is not one.
 */
export const decodeStatusMessage = (body: Uint8Array, json: boolean): string => {
  if (!json) return String(RpcStatus.toObject(RpcStatus.decode(body), { defaults: true }).message)
  const parsed: unknown = JSON.parse(Buffer.from(body).toString("utf8"))
  if (!isObject(parsed) || typeof parsed.message !== "string") throw new TypeError("not a google.rpc.Status")
  return parsed.message
}

/**
 * @internal
 * A decoded `ExportTraceServiceRequest`, from protobuf or OTLP/JSON alike: the OTLP/JSON mapping
 * (lowerCamelCase names; trace, span and parent span ids in lowercase hex, other bytes in base64;
 * enums as numbers) with every int64/fixed64 as a decimal string, every scalar present (its
 * default when not sent: `""`, `0`, `"0"`; so a root's `parentSpanId` is `""`), every repeated
 * field an array, and an absent message `null`. An `AnyValue` has at most one member.
 */
export interface DecodedTraceRequest {
  readonly resourceSpans: ReadonlyArray<DecodedResourceSpans>
}

/** @internal */
export interface DecodedResourceSpans {
  readonly resource: DecodedResource | null
  readonly scopeSpans: ReadonlyArray<DecodedScopeSpans>
  readonly schemaUrl: string
}

/** @internal */
export interface DecodedResource {
  readonly attributes: ReadonlyArray<DecodedKeyValue>
  readonly droppedAttributesCount: number
}

/** @internal */
export interface DecodedScopeSpans {
  readonly scope: DecodedScope | null
  readonly spans: ReadonlyArray<DecodedSpan>
  readonly schemaUrl: string
}

/** @internal */
export interface DecodedScope {
  readonly name: string
  readonly version: string
  readonly attributes: ReadonlyArray<DecodedKeyValue>
  readonly droppedAttributesCount: number
}

/** @internal */
export interface DecodedSpan {
  /** Lowercase hex. */
  readonly traceId: string
  /** Lowercase hex. */
  readonly spanId: string
  readonly traceState: string
  /** Lowercase hex; `""` for a root. */
  readonly parentSpanId: string
  /** W3C trace flags in the low byte; 0x100: the next bit is known; 0x200: the parent is remote. */
  readonly flags: number
  readonly name: string
  /** 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number
  /** Unix nanoseconds, decimal. */
  readonly startTimeUnixNano: string
  /** Unix nanoseconds, decimal. */
  readonly endTimeUnixNano: string
  readonly attributes: ReadonlyArray<DecodedKeyValue>
  readonly droppedAttributesCount: number
  readonly events: ReadonlyArray<DecodedEvent>
  readonly droppedEventsCount: number
  readonly links: ReadonlyArray<DecodedLink>
  readonly droppedLinksCount: number
  readonly status: DecodedStatus | null
}

/** @internal */
export interface DecodedEvent {
  /** Unix nanoseconds, decimal. */
  readonly timeUnixNano: string
  readonly name: string
  readonly attributes: ReadonlyArray<DecodedKeyValue>
  readonly droppedAttributesCount: number
}

/** @internal */
export interface DecodedLink {
  /** Lowercase hex. */
  readonly traceId: string
  /** Lowercase hex. */
  readonly spanId: string
  readonly traceState: string
  readonly attributes: ReadonlyArray<DecodedKeyValue>
  readonly droppedAttributesCount: number
  readonly flags: number
}

/** @internal */
export interface DecodedStatus {
  readonly message: string
  /** 0 unset, 1 ok, 2 error. */
  readonly code: number
}

/** @internal */
export interface DecodedKeyValue {
  readonly key: string
  readonly value: DecodedAnyValue | null
}

/** @internal */
export interface DecodedAnyValue {
  readonly stringValue?: string
  readonly boolValue?: boolean
  /** Decimal. */
  readonly intValue?: string
  readonly doubleValue?: number
  readonly arrayValue?: { readonly values: ReadonlyArray<DecodedAnyValue> }
  readonly kvlistValue?: { readonly values: ReadonlyArray<DecodedKeyValue> }
  /** Base64. */
  readonly bytesValue?: string
}

const toObjectOptions: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: String, defaults: true }

type Json = Record<string, unknown>

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null

/** `items` mapped when it is an array; anything else is left for protobufjs to reject. */
const mapArray = (items: unknown, f: (item: unknown) => unknown): unknown => Array.isArray(items) ? items.map(f) : items

/** `object` with `key`'s array mapped by `f`, or `object` itself when it is not an object. */
const mapField = (object: unknown, key: string, f: (item: unknown) => unknown): unknown =>
  isObject(object) ? { ...object, [key]: mapArray(object[key], f) } : object

/** Copies `object` with its string id fields converted by `convert`. */
const convertIds = (object: unknown, convert: (id: string) => unknown): unknown => {
  if (!isObject(object)) return object
  const out: Json = { ...object }
  for (const key of ["traceId", "spanId", "parentSpanId"]) {
    const id = out[key]
    if (typeof id === "string") out[key] = convert(id)
  }
  return out
}

/** A copy of a request object with the ids of every span and link converted by `convert`. */
const convertRequestIds = (request: unknown, convert: (id: string) => unknown): unknown =>
  mapField(
    request,
    "resourceSpans",
    (resourceSpans) =>
      mapField(resourceSpans, "scopeSpans", (scopeSpans) =>
        mapField(scopeSpans, "spans", (span) =>
          mapField(convertIds(span, convert), "links", (link) =>
            convertIds(link, convert))))
  )

const base64ToHex = (id: string): string => Buffer.from(id, "base64").toString("hex")

const hexToBytes = (id: string): Uint8Array => {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(id)) throw new TypeError(`invalid hex id: ${JSON.stringify(id)}`)
  return Buffer.from(id, "hex")
}

const toDecoded = (message: protobuf.Message): DecodedTraceRequest =>
  convertRequestIds(ExportTraceServiceRequest.toObject(message, toObjectOptions), base64ToHex) as DecodedTraceRequest

/**
 * @internal
 * Decodes an OTLP/HTTP protobuf body. Throws on malformed input.
 */
export const decodeTraceRequest = (bytes: Uint8Array): DecodedTraceRequest =>
  toDecoded(ExportTraceServiceRequest.decode(bytes))

/**
 * @internal
 * Decodes an OTLP/JSON body (already parsed): ids in hex, enums as numbers (or names), int64 as
 * strings or numbers. Throws on malformed input, a value of the wrong JSON type included, and an
 * integer outside its field's range (which protobufjs would wrap).
 */
export const decodeTraceRequestJson = (json: unknown): DecodedTraceRequest => {
  checkShape(ExportTraceServiceRequest, json, "ExportTraceServiceRequest")
  return toDecoded(ExportTraceServiceRequest.fromObject(convertRequestIds(json, hexToBytes) as Json))
}

/**
 * @internal
 * The deepest bracket nesting an OTLP/JSON body may have; deeper is rejected before it is
 * parsed. Beyond what a valid request can have: protobufjs stops at 100 nested messages.
 */
export const maxJsonDepth = 256

/**
 * @internal
 * Decodes an OTLP/JSON body from its text: its nesting is bounded first, by one pass over the
 * brackets outside strings, so that no parse ever sees it deeper, and integers past 2^53 are
 * kept exact. Throws on malformed input.
 */
export const decodeTraceRequestJsonText = (text: string): DecodedTraceRequest =>
  decodeTraceRequestJson(JSON.parse(prepareJsonText(text, maxJsonDepth)))

/**
 * @internal
 * An `ExportTraceServiceResponse`: empty on full success, else with its `partial_success`.
 */
export const encodeTraceResponse = (
  partialSuccess?: { readonly rejectedSpans: number; readonly errorMessage: string }
): Uint8Array =>
  ExportTraceServiceResponse.encode(ExportTraceServiceResponse.fromObject(partialSuccess ? { partialSuccess } : {}))
    .finish()

/** @internal what an `ExportTraceServiceResponse` says: rejected spans (0 on full success) and why */
export interface DecodedPartialSuccess {
  readonly rejectedSpans: number
  readonly errorMessage: string
}

const toPartialSuccess = (message: protobuf.Message): DecodedPartialSuccess => {
  const object = ExportTraceServiceResponse.toObject(message, { longs: Number, defaults: true })
  return {
    rejectedSpans: Number(object.partialSuccess?.rejectedSpans ?? 0),
    errorMessage: String(object.partialSuccess?.errorMessage ?? "")
  }
}

/**
 * @internal
 * Decodes an `ExportTraceServiceResponse`, protobuf or OTLP/JSON text by its content type.
 * Throws on malformed input.
 */
export const decodeTraceResponse = (body: Uint8Array, json: boolean): DecodedPartialSuccess => {
  if (!json) return toPartialSuccess(ExportTraceServiceResponse.decode(body))
  const parsed: unknown = JSON.parse(Buffer.from(body).toString("utf8"))
  if (!isObject(parsed)) throw new TypeError("an ExportTraceServiceResponse must be a JSON object")
  return toPartialSuccess(ExportTraceServiceResponse.fromObject(parsed))
}
