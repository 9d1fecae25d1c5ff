import { describe, expect, it } from "@effect/vitest"
import { escapeUnsafe, forLog, maxLoggedChars, safeJson } from "../../../src/internal/shared/text.js"

describe("text from outside, made safe", () => {
  it("escapes control characters, invisible format characters and separators; leaves other text", () => {
    expect(escapeUnsafe("\x1b[31mred\x1b[0m\r\ninjected\x00\x7f\x9b")).toBe(
      "\\u001b[31mred\\u001b[0m\\r\\ninjected\\u0000\\u007f\\u009b"
    )
    expect(escapeUnsafe("evil\u202eexe.txt\u2028x\u061c")).toBe("evil\\u202eexe.txt\\u2028x\\u061c")
    // Zero-width space, byte order mark, a tag character (outside the BMP).
    expect(escapeUnsafe("a\u200bb\ufeffc\u{e0041}")).toBe("a\\u200bb\\ufeffc\\u{e0041}")
    expect(escapeUnsafe("café 東京 🙂")).toBe("café 東京 🙂")
  })

  it("cuts a log line to a bound, whatever the input", () => {
    for (const long of [forLog("x".repeat(10_000)), forLog("\x00".repeat(10_000))]) {
      expect(long.length).toBeLessThanOrEqual(maxLoggedChars)
      expect(long.endsWith("…")).toBe(true)
    }
  })

  it("JSON keeps its value and shows nothing raw that a terminal acts on or hides", () => {
    const value = { name: "a\u200b\u{e0041}\u202e\u0085\u2028b\x1b" }
    const json = safeJson(value)
    expect(JSON.parse(json)).toEqual(value)
    expect(json).not.toMatch(/[\p{Cc}\p{Cf}\u2028\u2029]/u)
  })
})
