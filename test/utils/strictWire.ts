// A strict walk of an OTLP trace request's protobuf structure: every length-delimited message is
// read from exactly its own bytes, so a nested length that is off (which a lenient decoder reading
// on past a message's end can hide, and the Collector rejects) throws. Complements the official
// decoder, which checks the values.
import protobuf from "protobufjs/minimal.js"

/** For each OTLP message, its fields that are messages: field number to message name. */
const messageFields: Record<string, Record<number, string>> = {
  ExportTraceServiceRequest: { 1: "ResourceSpans" },
  ResourceSpans: { 1: "Resource", 2: "ScopeSpans" },
  Resource: { 1: "KeyValue" },
  ScopeSpans: { 1: "InstrumentationScope", 2: "Span" },
  InstrumentationScope: { 3: "KeyValue" },
  Span: { 9: "KeyValue", 11: "Event", 13: "Link", 15: "Status" },
  Event: { 3: "KeyValue" },
  Link: { 5: "KeyValue" },
  Status: {},
  KeyValue: { 2: "AnyValue" },
  AnyValue: { 5: "ArrayValue", 6: "KeyValueList" },
  ArrayValue: { 1: "AnyValue" },
  KeyValueList: { 1: "KeyValue" }
}

/** Throws unless `bytes` is exactly a well-formed `message`, every nested message exactly its length. */
export const checkStrictWire = (bytes: Uint8Array, message = "ExportTraceServiceRequest"): void => {
  // An explicit stack, not recursion: a body's depth is not ours to trust.
  const stack: Array<readonly [Uint8Array, string]> = [[bytes, message]]
  while (stack.length > 0) {
    const [slice, name] = stack.pop()!
    const fields = messageFields[name]
    // A reader of exactly these bytes: reading past them throws.
    const reader = protobuf.Reader.create(slice)
    while (reader.pos < reader.len) {
      const tag = reader.uint32()
      const wireType = tag & 7
      if (wireType === 2) {
        const length = reader.uint32()
        const start = reader.pos
        if (start + length > reader.len) throw new Error(`${name}.${tag >>> 3}: length ${length} past the end`)
        reader.skip(length)
        const nested = fields[tag >>> 3]
        if (nested !== undefined) stack.push([slice.subarray(start, start + length), nested])
      } else {
        reader.skipType(wireType)
      }
    }
  }
}
