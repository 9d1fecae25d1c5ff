import { describe, expect, it } from "@effect/vitest"
import otlpRoot from "otlp-transformer-0214/build/esm/generated/root.js"
import { toReceivedSpans } from "../../../src/internal/sink/decode.js"
import { prepareJsonText } from "../../../src/internal/sink/jsonChecks.js"
import { decodeTraceRequest, decodeTraceRequestJsonText } from "../../../src/internal/sink/proto.js"
import { spanIdOf, traceIdOf } from "../../utils/sinkClient.js"

// The official OTLP definitions encode what the sink decodes.
const ExportTraceServiceRequest = (otlpRoot as any).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest

const maxU64 = 2n ** 64n - 1n
const minI64 = -(2n ** 63n)
const maxI64 = 2n ** 63n - 1n

/** A request of one span; `times` and `ints` are written into its JSON text as given (bare or quoted). */
const jsonText = (times: { start: string; end: string; event: string }, ints: ReadonlyArray<string>) =>
  `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"${traceIdOf(0)}","spanId":"${spanIdOf(0)}",` +
  `"name":"s","startTimeUnixNano":${times.start},"endTimeUnixNano":${times.end},` +
  `"events":[{"name":"e","timeUnixNano":${times.event}}],` +
  `"attributes":[${ints.map((value, i) => `{"key":"k${i}","value":{"intValue":${value}}}`).join(",")}]}]}]}]}`

const received = (request: ReturnType<typeof decodeTraceRequest>) => {
  const [span] = toReceivedSpans(request, {}).spans
  return {
    start: span.startTimeUnixNano,
    end: span.endTimeUnixNano,
    event: span.events[0].timeUnixNano,
    ints: span.attributes.map(([, value]) => value)
  }
}

describe("sink decoding: 64-bit numbers exactly, as bigint", () => {
  it("protobuf: fixed64 times up to 2^64-1, int64 values at both ends", () => {
    const body = ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject({
      resourceSpans: [{
        scopeSpans: [{
          spans: [{
            traceId: Buffer.from(traceIdOf(0), "hex"),
            spanId: Buffer.from(spanIdOf(0), "hex"),
            name: "s",
            startTimeUnixNano: String(maxU64 - 1n),
            endTimeUnixNano: String(maxU64),
            events: [{ name: "e", timeUnixNano: String(2n ** 63n + 1n) }],
            attributes: [minI64, maxI64, -1n, 2n ** 53n + 1n].map((value, i) => ({
              key: `k${i}`,
              value: { intValue: String(value) }
            }))
          }]
        }]
      }]
    })).finish()
    expect(received(decodeTraceRequest(body))).toEqual({
      start: maxU64 - 1n,
      end: maxU64,
      event: 2n ** 63n + 1n,
      ints: [minI64, maxI64, -1n, 2n ** 53n + 1n]
    })
  })

  it("OTLP/JSON: decimal strings, and bare integer literals past 2^53, are kept exact", () => {
    const times = { start: `"${maxU64 - 1n}"`, end: String(maxU64), event: String(2n ** 63n + 1n) }
    const ints = [`"${minI64}"`, String(maxI64), String(minI64), String(2n ** 53n + 1n), "-1", "1e3"]
    expect(received(decodeTraceRequestJsonText(jsonText(times, ints)))).toEqual({
      start: maxU64 - 1n,
      end: maxU64,
      event: 2n ** 63n + 1n,
      ints: [minI64, maxI64, minI64, 2n ** 53n + 1n, -1n, 1000n]
    })
  })

  it("OTLP/JSON: an integer outside its field's range is refused, naming the field, not wrapped", () => {
    const ok = { start: "1", end: "2", event: "3" }
    const cases: ReadonlyArray<readonly [string, RegExp]> = [
      [jsonText({ ...ok, start: `"${maxU64 + 1n}"` }, []), /startTimeUnixNano: integer from 0 to 18446744073709551615/],
      [jsonText({ ...ok, end: "-1" }, []), /endTimeUnixNano: integer from 0/],
      [jsonText({ ...ok, event: `"-1"` }, []), /timeUnixNano: integer from 0/],
      [jsonText(ok, [`"${maxI64 + 1n}"`]), /intValue: integer from -9223372036854775808 to 9223372036854775807/],
      [jsonText(ok, [String(minI64 - 1n)]), /intValue: integer from -9223372036854775808/],
      [jsonText(ok, ["1e30"]), /intValue: integer from/]
    ]
    for (const [text, message] of cases) expect(() => decodeTraceRequestJsonText(text)).toThrow(message)
    const flags = jsonText(ok, []).replace(`"name":"s"`, `"name":"s","flags":4294967552`)
    expect(() => decodeTraceRequestJsonText(flags)).toThrow(/flags: integer from 0 to 4294967295/)
  })

  it("only bare integer literals outside strings are quoted; the rest of the text is untouched", () => {
    const text = `{"a":[12345678901234567890,-98765432109876543210,1.5e300,42,"123456789012345678901"],` +
      `"b\\"9007199254740993":9007199254740993}`
    expect(prepareJsonText(text, 10)).toBe(
      `{"a":["12345678901234567890","-98765432109876543210",1.5e300,42,"123456789012345678901"],` +
        `"b\\"9007199254740993":"9007199254740993"}`
    )
    // Malformed literals stay malformed, for the parse to reject.
    expect(prepareJsonText("[0123456789012345678]", 10)).toBe("[0123456789012345678]")
    const plain = JSON.stringify({ resourceSpans: [{ n: 1, s: "x" }] })
    expect(prepareJsonText(plain, 10)).toBe(plain)
    expect(() => prepareJsonText("[".repeat(11), 10)).toThrow(/nested deeper than 10/)
  })
})
