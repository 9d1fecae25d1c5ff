import { describe, expect, it } from "vitest"
import { parseRetryAfter, ResponseReader } from "../src/internal/otlpTransport.js"

/** Feeds `text` to a reader in pieces of `step` bytes; returns every completed response. */
const read = (text: string, step: number, closeAtEnd = false) => {
  const reader = new ResponseReader()
  const bytes = Buffer.from(text, "latin1")
  const responses = []
  for (let i = 0; i < bytes.length; i += step) {
    const response = reader.push(bytes.subarray(i, i + step))
    if (response !== undefined) responses.push(response)
  }
  if (closeAtEnd) {
    const response = reader.end()
    if (response !== undefined) responses.push(response)
  }
  return responses
}

describe("the exporter's HTTP/1.1 response reader", () => {
  for (const step of [1, 7, 4096]) {
    it(`reads Content-Length, chunked and close-delimited bodies (pieces of ${step} bytes)`, () => {
      expect(read("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", step)).toEqual([
        { status: 200, retryAfter: undefined, text: "hello", close: false }
      ])
      expect(read("HTTP/1.1 503 Busy\r\nRetry-After: 2\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", step))
        .toEqual([{ status: 503, retryAfter: "2", text: "abcde", close: false }])
      expect(read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nx-trailer: 1\r\n\r\n", step)).toEqual([
        { status: 200, retryAfter: undefined, text: "", close: false }
      ])
      expect(read("HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\nbroken", step, true)).toEqual([
        { status: 500, retryAfter: undefined, text: "broken", close: true }
      ])
    })
  }

  it("skips 1xx answers, reads 204 without a body, and two responses in a row", () => {
    expect(read("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 3)).toEqual([
      { status: 204, retryAfter: undefined, text: "", close: false }
    ])
    expect(read("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 100)).toEqual([
      { status: 200, retryAfter: undefined, text: "", close: true }
    ])
  })

  it("throws on a malformed status line or chunk size", () => {
    expect(() => read("SMTP ready\r\n\r\n", 100)).toThrow(/status line/)
    expect(() => read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100)).toThrow(/chunk size/)
  })

  it("parses Retry-After as seconds or an HTTP date, capped at a minute", () => {
    const now = Date.parse("2026-01-01T00:00:00Z")
    expect(parseRetryAfter("3", now)).toBe(3000)
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000)
    expect(parseRetryAfter("86400", now)).toBe(60_000)
    expect(parseRetryAfter("soon", now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
  })
})
