import { FastCheck as fc, Option } from "effect"
import { describe, expect, it } from "vitest"
import * as Traceparent from "../src/Traceparent.js"

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
const PARENT_ID = "b7ad6b7169203331"
const VALID = `00-${TRACE_ID}-${PARENT_ID}-01`

const expectNone = (header: string | Uint8Array) => expect(Traceparent.parse(header)).toEqual(Option.none())

describe("Traceparent", () => {
  it("parses a valid header", () => {
    const tp = Option.getOrThrow(Traceparent.parse(VALID))
    expect(tp).toEqual({ version: 0, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 })
    expect(Traceparent.isSampled(tp)).toBe(true)
    expect(Traceparent.format(tp)).toBe(VALID)
  })

  it("accepts uppercase hex and formats lowercase", () => {
    const tp = Option.getOrThrow(Traceparent.parse(VALID.toUpperCase()))
    expect(tp.traceId).toBe(TRACE_ID)
    expect(tp.parentId).toBe(PARENT_ID)
    expect(Traceparent.format(tp)).toBe(VALID)
  })

  it("keeps unknown flag bits", () => {
    const header = `00-${TRACE_ID}-${PARENT_ID}-ff`
    const tp = Option.getOrThrow(Traceparent.parse(header))
    expect(tp.traceFlags).toBe(0xff)
    expect(Traceparent.format(tp)).toBe(header)
  })

  it("accepts flags 00 (not sampled)", () => {
    const tp = Option.getOrThrow(Traceparent.parse(`00-${TRACE_ID}-${PARENT_ID}-00`))
    expect(tp.traceFlags).toBe(0)
    expect(Traceparent.isSampled(tp)).toBe(false)
  })

  it("rejects empty and structurally broken headers", () => {
    expectNone("")
    expectNone("---")
    expectNone("   ")
    expectNone(`-${TRACE_ID}-${PARENT_ID}-01`)
    expectNone(`00--${PARENT_ID}-01`)
    expectNone(`00-${TRACE_ID}--01`)
    expectNone(`00-${TRACE_ID}-${PARENT_ID}-`)
    expectNone(`00-${TRACE_ID}-${PARENT_ID}`)
    expectNone(`00_${TRACE_ID}_${PARENT_ID}_01`)
  })

  it("rejects wrong widths for each field", () => {
    expectNone(`0-${TRACE_ID}-${PARENT_ID}-01`)
    expectNone(`000-${TRACE_ID}-${PARENT_ID}-01`)
    expectNone(`00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`)
    expectNone(`00-${TRACE_ID}0-${PARENT_ID}-01`)
    expectNone(`00-${TRACE_ID}-${PARENT_ID.slice(1)}-01`)
    expectNone(`00-${TRACE_ID}-${PARENT_ID}0-01`)
    expectNone(`00-${TRACE_ID}-${PARENT_ID}-1`)
    expectNone(`00-${TRACE_ID}-${PARENT_ID}-001`)
  })

  it("rejects non-hex characters in every field", () => {
    expectNone(`0g-${TRACE_ID}-${PARENT_ID}-01`)
    expectNone(`00-${TRACE_ID.slice(0, 31)}g-${PARENT_ID}-01`)
    expectNone(`00-${TRACE_ID}-${PARENT_ID.slice(0, 15)}z-01`)
    expectNone(`00-${TRACE_ID}-${PARENT_ID}-0x`)
    expectNone(`00-${TRACE_ID}-${PARENT_ID}- 1`)
    expectNone(`00-${TRACE_ID.slice(0, 31)}é-${PARENT_ID}-01`)
  })

  it("rejects all-zero ids and version ff", () => {
    expectNone(`00-${"0".repeat(32)}-${PARENT_ID}-01`)
    expectNone(`00-${TRACE_ID}-${"0".repeat(16)}-01`)
    expectNone(`ff-${TRACE_ID}-${PARENT_ID}-01`)
    expectNone(`FF-${TRACE_ID}-${PARENT_ID}-01`)
  })

  it("decodes Uint8Array input as UTF-8", () => {
    const bytes = new TextEncoder().encode(VALID)
    expect(Traceparent.parse(bytes).pipe(Option.map(Traceparent.format))).toEqual(Option.some(VALID))
    const bad = new TextEncoder().encode(`cc-${TRACE_ID}-${PARENT_ID}-01-x`)
    bad[bad.length - 1] = 0xff
    expectNone(bad)
    expectNone(Uint8Array.of(0xff))
    expectNone(Uint8Array.of(0xef, 0xbb, 0xbf, ...new TextEncoder().encode(VALID)))
  })

  it("ignores surrounding spaces and tabs only", () => {
    expect(Traceparent.parse(` \t${VALID}\t  `)).toEqual(Traceparent.parse(VALID))
    expectNone(`\n${VALID}`)
    expectNone(`${VALID}\r\n`)
    expectNone(`${VALID} x`)
  })

  it("rejects a header sent twice (joined by a comma)", () => {
    expectNone(`${VALID},${VALID}`)
    expectNone(`${VALID}, ${VALID}`)
    const future = `cc-${TRACE_ID}-${PARENT_ID}-01`
    expectNone(`${future},${future}`)
    expectNone(`${future}-more, ${future}-more`)
  })

  it("parses a higher version by the future-version rule", () => {
    const header = `cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-will-be-like`
    expect(Traceparent.parse(header)).toEqual(
      Option.some({ version: 0xcc, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 })
    )
    expect(Traceparent.parse(`cc-${TRACE_ID}-${PARENT_ID}-01`)).toEqual(
      Option.some({ version: 0xcc, traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 })
    )
    expectNone(`00-${TRACE_ID}-${PARENT_ID}-01-what-the-future-will-be-like`)
    expectNone(`00-${TRACE_ID}-${PARENT_ID}-01-`)
    expectNone(`cc-${TRACE_ID}-${PARENT_ID}-01.what-the-future-will-be-like`)
    expectNone(`cc-${TRACE_ID}-${PARENT_ID}-011`)
    expectNone(`cc-${TRACE_ID}-${PARENT_ID}`)
    expectNone(`cc-${"0".repeat(32)}-${PARENT_ID}-01-x`)
  })

  it("make lowercases ids and defaults version and flags to 0", () => {
    const tp = Traceparent.make({ traceId: TRACE_ID.toUpperCase(), parentId: PARENT_ID })
    expect(Traceparent.format(tp)).toBe(`00-${TRACE_ID}-${PARENT_ID}-00`)
  })

  describe("properties", () => {
    const hexChar = fc.constantFrom(..."0123456789abcdefABCDEF")
    const hexId = (length: number) =>
      fc.array(hexChar, { minLength: length, maxLength: length })
        .map((chars) => chars.join(""))
        .filter((id) => /[1-9a-f]/i.test(id))
    const hexByte = fc.tuple(hexChar, hexChar).map(([a, b]) => a + b)
    const validHeader = fc.tuple(hexId(32), hexId(16), hexByte).map(([t, p, f]) => `00-${t}-${p}-${f}`)

    it("parse never throws on arbitrary strings", () => {
      fc.assert(fc.property(fc.oneof(fc.string(), fc.fullUnicodeString()), (s) => {
        Traceparent.parse(s)
      }))
    })

    it("parse never throws on arbitrary bytes", () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => {
        Traceparent.parse(bytes)
      }))
    })

    it("parse never throws on mutations of a valid header", () => {
      fc.assert(fc.property(validHeader, fc.nat(54), fc.fullUnicodeString({ maxLength: 3 }), (h, i, s) => {
        Traceparent.parse(h.slice(0, i) + s + h.slice(i + 1))
      }))
    })

    it("format(parse(h)) is h in lowercase for every valid version-00 header", () => {
      fc.assert(fc.property(validHeader, (h) => {
        expect(Traceparent.parse(h).pipe(Option.map(Traceparent.format))).toEqual(Option.some(h.toLowerCase()))
      }))
    })
  })
})
