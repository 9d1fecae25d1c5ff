import { describe, expect, it } from "@effect/vitest"
import {
  escapeAndCut,
  escapeUnsafe,
  forLog,
  maxLoggedChars,
  safeJson,
  truncate
} from "../../../src/internal/shared/text.js"

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

  it("every invisible format character (Cf) is escaped, in plain text and in JSON", () => {
    const invisible = [
      "\u00ad", // soft hyphen
      "\u061c", // Arabic letter mark
      "\u180e", // Mongolian vowel separator
      "\u200b", // zero-width space
      "\u200d", // zero-width joiner
      "\u2060", // word joiner
      "\u2066", // left-to-right isolate
      "\ufeff", // byte order mark
      "\ufff9", // interlinear annotation anchor
      "\u{1d173}", // musical symbol begin beam
      "\u{e0001}", // language tag
      "\u{e0041}", // tag Latin capital A
      "\u{e007f}" // cancel tag
    ]
    for (const c of invisible) {
      expect(escapeUnsafe(`a${c}b`)).not.toMatch(/\p{Cf}/u)
      expect(safeJson(`a${c}b`)).not.toMatch(/\p{Cf}/u)
      expect(JSON.parse(safeJson(`a${c}b`))).toBe(`a${c}b`)
    }
  })

  it("a cut never splits a character outside the BMP; an escaped line stays within its bound", () => {
    expect(truncate("ab🙂cd", 4)).toBe("ab…")
    expect(truncate("abc🙂d", 4)).toBe("abc…")
    expect(truncate("short", 5)).toBe("short")
    for (const text of ["🙂".repeat(1_000), "\u{e0041}".repeat(1_000), "\x1b".repeat(1_000)]) {
      const line = escapeAndCut(text, 41)
      expect(line.length).toBeLessThanOrEqual(41)
      expect(line).not.toMatch(/[\p{Cc}\p{Cf}]|[\ud800-\udbff](?![\udc00-\udfff])/u)
    }
  })
})
