import { describe, expect, it } from "vitest"
import { parseRetryAfter, sanitize } from "../src/internal/otlpRequest.js"

describe("what the exporter reads from an answer", () => {
  it("parses Retry-After as seconds or an HTTP date, capped at a minute", () => {
    const now = Date.parse("2026-01-01T00:00:00Z")
    expect(parseRetryAfter("3", now)).toBe(3000)
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000)
    expect(parseRetryAfter("86400", now)).toBe(60_000)
    expect(parseRetryAfter("soon", now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
  })

  it("escapes control characters and cuts long text before it reaches a log line", () => {
    expect(sanitize("\x1b[31mred\x1b[0m\r\ninjected\x00\x7f\x9b")).toBe(
      "\\x1b[31mred\\x1b[0m\\x0d\\x0ainjected\\x00\\x7f\\x9b"
    )
    expect(sanitize("evil\u202eexe.txt\u2028x")).toBe("evil\\u202eexe.txt\\u2028x")
    expect(sanitize("café 東京")).toBe("café 東京")
    const long = sanitize("x".repeat(10_000))
    expect(long.length).toBeLessThanOrEqual(210)
    expect(long.endsWith("...")).toBe(true)
  })
})
