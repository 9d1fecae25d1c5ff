import { describe, expect, it } from "@effect/vitest"
import { safeJson } from "../../../src/internal/shared/text.js"
import { renderTrace, spanJson } from "../../../src/internal/viewer/waterfall.js"
import * as UserTraceSink from "../../../src/UserTraceSink.js"
import { receivedSpan, spanIdOf, traceIdOf } from "../../utils/sinkClient.js"

/** The waterfall of `spans` (one trace), without colour. */
const waterfall = (spans: ReadonlyArray<UserTraceSink.ReceivedSpan>, routingHeader?: string) =>
  renderTrace(UserTraceSink.toTraces(spans)[0], { color: false, width: 160, routingHeader })

/** The `--json` line of `span`, parsed back. */
const jsonLine = (span: UserTraceSink.ReceivedSpan, routingHeader?: string) => {
  const line = safeJson(spanJson(span, routingHeader))
  return { line, value: JSON.parse(line) }
}

describe("viewer: credentials are never printed", () => {
  const headers = {
    "x-user-routing": "acme",
    "x-api-key": "APIKEY-SECRET",
    authorization: "Bearer TOKEN-SECRET-1",
    "proxy-authorization": "Basic UFJPWFktU0VDUkVU",
    cookie: "session=COOKIE-SECRET",
    "set-cookie": "id=SETCOOKIE-SECRET",
    "x-auth-token": "TOKEN-SECRET-2",
    "x-client-secret": "CLIENT-SECRET",
    "x-db-password": "PASSWORD-SECRET",
    "content-type": "application/x-protobuf"
  }
  const secrets = /SECRET|UFJPWFk/

  it("every non-standard header shown, those that may carry a credential redacted; routing still found", () => {
    // The waterfall lists a few headers per trace: one span per credential, all in one trace.
    const spans = Object.entries(headers).map(([name, value], i) =>
      receivedSpan({ spanId: spanIdOf(i), headers: { [name]: value, "x-user-routing": "acme" } })
    )
    const text = waterfall(spans)
    expect(text).not.toMatch(secrets)
    expect(text).toContain("x-user-routing: acme")
    expect(text).toContain("authorization: <redacted, 21 bytes>")
    const span = receivedSpan({ headers })
    expect(waterfall([span])).toContain("x-api-key: <redacted, 13 bytes>")
    expect(waterfall([span])).not.toMatch(secrets)
    expect(text).not.toContain("content-type")
    const { line, value } = jsonLine(span)
    expect(line).not.toMatch(secrets)
    expect(value.headers).toEqual({
      "x-user-routing": "acme",
      "x-api-key": "<redacted, 13 bytes>",
      authorization: "<redacted, 21 bytes>",
      "proxy-authorization": "<redacted, 22 bytes>",
      cookie: "<redacted, 21 bytes>",
      "set-cookie": "<redacted, 19 bytes>",
      "x-auth-token": "<redacted, 14 bytes>",
      "x-client-secret": "<redacted, 13 bytes>",
      "x-db-password": "<redacted, 15 bytes>"
    })
    // A credential is never taken for the routing value: the one other header is.
    expect(value.routing).toBe("acme")
  })

  it("a named routing header is shown as it is, and nothing else", () => {
    const span = receivedSpan({ headers })
    expect(waterfall([span], "X-User-Routing")).not.toMatch(secrets)
    const { value } = jsonLine(span, "x-user-routing")
    expect([value.headers, value.routing]).toEqual([{ "x-user-routing": "acme" }, "acme"])
  })
})

describe("viewer: invisible characters are escaped wherever text from the wire is shown", () => {
  // Zero-width space, BOM, a tag character, right-to-left override, soft hyphen, word joiner.
  const hidden = "a\u200bb\ufeffc\u{e0041}d\u202ee\u00adf\u2060g"
  const escaped = "a\\u200bb\\ufeffc\\u{e0041}d\\u202ee\\u00adf\\u2060g"
  const invisible = /\p{Cf}/u
  const span = receivedSpan({
    name: hidden,
    serviceName: hidden,
    parentSpanId: spanIdOf(9),
    remoteParent: true,
    traceState: `k=${hidden}`,
    status: "error",
    statusMessage: hidden,
    attributes: [[hidden, hidden], ["list", [hidden, { [hidden]: hidden }]]],
    events: [{ name: hidden, timeUnixNano: 1_700_000_000_000_000_000n, attributes: [[hidden, hidden]] }],
    links: [{
      traceId: traceIdOf(3),
      spanId: spanIdOf(3),
      traceState: hidden,
      flags: 0,
      attributes: [[hidden, hidden]],
      droppedAttributesCount: 0
    }],
    headers: { [`x-${hidden}`]: hidden, "x-routing": hidden }
  })

  it("in the waterfall: span and service names, headers, trace state, status, attributes, events, links", () => {
    const text = waterfall([span])
    expect(text).not.toMatch(invisible)
    const lines = text.split("\n")
    const lineWith = (marker: string) => lines.find((line) => line.includes(marker)) ?? ""
    expect(lines[0]).toContain(escaped) // the service name
    expect(lineWith("continues remote parent")).toContain(`tracestate k=${escaped}`)
    expect(lineWith("x-routing:")).toContain(escaped)
    expect(lineWith("✗ error")).toContain(`: ${escaped}`)
    expect(lineWith("◆")).toContain(escaped)
    // Quoted: U+FEFF counts as white space.
    expect(text).toContain(`${escaped}="${escaped}"`)
    expect(lineWith("↗ link")).toContain(`${escaped}="${escaped}"`)
  })

  it("in --json: the same JSON, every such character as \\u escapes", () => {
    const { line, value } = jsonLine(span)
    expect(line).not.toMatch(invisible)
    expect(line).toContain("a\\u200bb\\ufeffc\\udb40\\udc41d\\u202ee\\u00adf\\u2060g")
    expect(value).toEqual(JSON.parse(JSON.stringify(spanJson(span, undefined))))
    expect(value.name).toBe(hidden)
  })
})

describe("viewer: 64-bit numbers shown exactly", () => {
  const maxU64 = 2n ** 64n - 1n
  const span = receivedSpan({
    startTimeUnixNano: maxU64 - 5n,
    endTimeUnixNano: maxU64,
    attributes: [
      ["min", -(2n ** 63n)],
      ["max", 2n ** 63n - 1n],
      ["unsafe", 2n ** 53n + 1n],
      ["safe", 42n],
      ["nested", [-(2n ** 63n), { inner: 2n ** 63n - 1n }]]
    ],
    events: [{ name: "at-the-end", timeUnixNano: maxU64, attributes: [["n", 2n ** 63n - 1n]] }]
  })

  it("in --json: times as decimal strings, integers as numbers when safe, else as strings, never rounded", () => {
    const { value } = jsonLine(span)
    expect(value.startTimeUnixNano).toBe("18446744073709551610")
    expect(value.endTimeUnixNano).toBe("18446744073709551615")
    expect(value.durationNanos).toBe("5")
    expect(value.events[0].timeUnixNano).toBe("18446744073709551615")
    expect(value.attributes).toEqual({
      min: "-9223372036854775808",
      max: "9223372036854775807",
      unsafe: "9007199254740993",
      safe: 42,
      nested: ["-9223372036854775808", { inner: "9223372036854775807" }]
    })
    expect(value.events[0].attributes).toEqual({ n: "9223372036854775807" })
  })

  it("in the waterfall: every digit, and durations from exact differences", () => {
    const text = waterfall([span])
    expect(text).toContain("min=-9223372036854775808  max=9223372036854775807  unsafe=9007199254740993  safe=42")
    expect(text).toContain("nested=[-9223372036854775808, {inner: 9223372036854775807}]")
    expect(text).toMatch(/^span +█+ +5 ns$/m)
    expect(text).toContain("◆ at-the-end +5 ns  n=9223372036854775807")
  })
})

describe("viewer: a trace cut at the per-trace cap says so once", () => {
  it("orphans of spans not kept are counted in the one cut line, not listed as 'not received'", () => {
    const traceId = traceIdOf(4)
    const spans = [
      receivedSpan({ traceId, spanId: spanIdOf(0), name: "root" }),
      ...Array.from(
        { length: 100 },
        (_, i) => receivedSpan({ traceId, spanId: spanIdOf(100 + i), parentSpanId: spanIdOf(1), name: `orphan-${i}` })
      ),
      receivedSpan({ traceId, spanId: spanIdOf(7), parentSpanId: spanIdOf(8), remoteParent: true, name: "continued" })
    ]
    const trace = { ...UserTraceSink.toTraces(spans)[0], droppedSpans: 1 }
    const text = renderTrace(trace, { color: false, width: 120 })
    expect(text).not.toContain("not received")
    expect(text.split("\n").filter((line) => line.includes("not kept"))).toEqual([
      "  1 more span(s) received and not kept (over the spans-per-trace cap); 100 span(s) whose parent is not shown appear as roots"
    ])
    // A parent in another process is still named.
    expect(text).toContain(`continues remote parent ${spanIdOf(8)} (continued)`)
  })

  it("without a cut, missing parents are listed, a few at most", () => {
    const traceId = traceIdOf(5)
    const spans = Array.from(
      { length: 20 },
      (_, i) => receivedSpan({ traceId, spanId: spanIdOf(100 + i), parentSpanId: spanIdOf(1), name: `orphan-${i}` })
    )
    const text = renderTrace(UserTraceSink.toTraces(spans)[0], { color: false, width: 120 })
    expect(text.split("\n").filter((line) => line.includes("not received"))).toHaveLength(5)
    expect(text).toContain("… 15 more root(s) whose parent is elsewhere")
  })
})
