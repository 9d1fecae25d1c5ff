import { Option } from "effect"
import { describe, expect, it } from "vitest"
import * as Tracestate from "../src/Tracestate.js"

const members = (header: string | ReadonlyArray<string>) =>
  Tracestate.parse(header).pipe(Option.map((ts) => ts.members))

const expectNone = (header: string | ReadonlyArray<string>) => expect(Tracestate.parse(header)).toEqual(Option.none())

const list = (n: number, prefix = "k") => Array.from({ length: n }, (_, i) => `${prefix}${i}=v${i}`).join(",")

describe("Tracestate", () => {
  it("parses a valid list in order", () => {
    expect(members("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")).toEqual(
      Option.some([["rojo", "00f067aa0ba902b7"], ["congo", "t61rcWkgMzE"]])
    )
  })

  it("ignores spaces and tabs around members", () => {
    expect(members(" \ta=1 ,\t b=2\t")).toEqual(Option.some([["a", "1"], ["b", "2"]]))
  })

  it("skips empty members", () => {
    expect(members("a=1,,b=2")).toEqual(Option.some([["a", "1"], ["b", "2"]]))
    expect(members(",a=1, \t,")).toEqual(Option.some([["a", "1"]]))
  })

  it("gives None when there is no member", () => {
    expectNone("")
    expectNone(" , ,\t")
    expectNone([])
  })

  it("accepts 32 members and rejects 33", () => {
    expect(members(list(32)).pipe(Option.map((ms) => ms.length))).toEqual(Option.some(32))
    expectNone(list(33))
    // Counted as sent: a duplicate still counts toward the limit.
    expectNone(`${list(32)},k0=again`)
  })

  it("checks the key grammar", () => {
    expectNone("Foo=1")
    expectNone("_foo=1")
    expectNone("-foo=1")
    expectNone("foo bar=1")
    expectNone("=1")
    expectNone("foo")
    expect(members("tenant@system=1")).toEqual(Option.some([["tenant@system", "1"]]))
    expect(members("0a_-*/@z=1")).toEqual(Option.some([["0a_-*/@z", "1"]]))
    const key256 = "k".repeat(256)
    expect(members(`${key256}=1`)).toEqual(Option.some([[key256, "1"]]))
    expectNone(`${"k".repeat(257)}=1`)
  })

  it("checks the value grammar", () => {
    const value256 = "v".repeat(256)
    expect(members(`a=${value256}`)).toEqual(Option.some([["a", value256]]))
    expectNone(`a=${"v".repeat(257)}`)
    expectNone("a=b=c")
    expectNone("a=")
    expectNone("a=,b=1")
    expectNone("a=b\u0001c")
    expectNone("a=b\tc")
    expectNone("a=b\u007fc")
    expectNone("a=café")
    // Inner spaces and every other printable character are fine.
    expect(members("a= x !~\"{}")).toEqual(Option.some([["a", " x !~\"{}"]]))
  })

  it("never ends a value in a space: trailing spaces are separator whitespace", () => {
    expect(members("a=x  ,b=y ")).toEqual(Option.some([["a", "x"], ["b", "y"]]))
    // So a value made only of spaces is empty, hence invalid.
    expectNone("a= ,b=1")
    expectNone("a=  ")
  })

  it("keeps the first value of a repeated key", () => {
    expect(members("a=1,b=2,a=3")).toEqual(Option.some([["a", "1"], ["b", "2"]]))
  })

  it("combines several headers in order", () => {
    expect(members(["a=1,b=2", "c=3", "", "a=4"])).toEqual(Option.some([["a", "1"], ["b", "2"], ["c", "3"]]))
    expectNone(["a=1", "B=2"])
    expectNone([list(20, "x"), list(13, "y")])
  })

  it("get works data-first and data-last", () => {
    const ts = Option.getOrThrow(Tracestate.parse("a=1,b=2"))
    expect(Tracestate.get(ts, "b")).toEqual(Option.some("2"))
    expect(Tracestate.get("a")(ts)).toEqual(Option.some("1"))
    expect(Tracestate.get(ts, "c")).toEqual(Option.none())
  })

  it("formats members back as a header", () => {
    const header = "rojo=00f067aa0ba902b7,tenant@system=x y,congo=t61rcWkgMzE"
    const ts = Option.getOrThrow(Tracestate.parse(header))
    expect(Tracestate.format(ts)).toBe(header)
    expect(Tracestate.parse(Tracestate.format(ts))).toEqual(Option.some(ts))
    expect(Tracestate.format(Option.getOrThrow(Tracestate.parse(" a=1 ,, b=2,a=3")))).toBe("a=1,b=2")
  })
})
