/**
 * @internal
 * Values and durations for humans, escaped and cut to a width (`shared/text.ts`), and a guard
 * that reports, in one escaped line, what could not be shown.
 */
import type { ReceivedValue } from "../../UserTraceSink.js"

import { escapeAndCut } from "../shared/text.js"

/**
 * @internal
 * `show()`, or, when it throws, `undefined` once `report` got one escaped line saying so: what
 * fails for one trace or span is told and skipped, never stopping the ones after it.
 */
export const showOrReport = (
  what: () => string,
  show: () => string,
  report: (line: string) => void
): string | undefined => {
  try {
    return show()
  } catch (error) {
    let subject: string
    try {
      subject = what()
    } catch {
      subject = "an item"
    }
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    report(escapeAndCut(`${subject} could not be shown: ${reason}`, 300))
    return undefined
  }
}

/** @internal `850 ns`, `12 µs`, `3.40 ms`, `1.25 s` */
export const formatDuration = (nanos: bigint): string => {
  const n = Number(nanos < 0n ? 0n : nanos)
  if (n < 1_000) return `${n} ns`
  if (n < 1_000_000) return `${(n / 1_000).toFixed(n < 10_000 ? 1 : 0)} µs`
  if (n < 1_000_000_000) return `${(n / 1_000_000).toFixed(n < 10_000_000 ? 2 : n < 100_000_000 ? 1 : 0)} ms`
  return `${(n / 1_000_000_000).toFixed(2)} s`
}

const needsQuotes = (text: string): boolean => text === "" || /[\s"=,[\]{}]/.test(text)

const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")

/** Values nested deeper than this are shown as `…`. */
const maxShownDepth = 16

/** `value` as text, cut a little past `max` characters: long arrays and strings are not formatted whole. */
const valueText = (value: ReceivedValue, max: number, depth: number): string => {
  if (value === null) return "null"
  if (typeof value === "string") {
    const cut = value.length > max ? value.slice(0, max + 1) : value
    return needsQuotes(value) ? JSON.stringify(cut) : cut
  }
  if (typeof value === "bigint" || typeof value === "number" || typeof value === "boolean") return String(value)
  if (value instanceof Uint8Array) return `0x${hexOf(value.subarray(0, max))}`
  if (depth >= maxShownDepth) return "…"
  let text = ""
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length && text.length <= max; i++) {
      text += `${i === 0 ? "" : ", "}${valueText(value[i] as ReceivedValue, max, depth + 1)}`
    }
    return `[${text}]`
  }
  const entries = Object.entries(value as { readonly [key: string]: ReceivedValue })
  for (let i = 0; i < entries.length && text.length <= max; i++) {
    const [key, member] = entries[i]
    text += `${i === 0 ? "" : ", "}${key.slice(0, max)}: ${valueText(member, max, depth + 1)}`
  }
  return `{${text}}`
}

/** @internal an attribute value for humans: strings bare unless they need quotes, ints as digits */
export const formatValue = (value: ReceivedValue, max = 120): string => escapeAndCut(valueText(value, max, 0), max)
