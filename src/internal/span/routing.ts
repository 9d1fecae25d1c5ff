import type { RoutingMetadata } from "../../RoutingMetadata.js"

// Canonical JSON: object keys sorted at every depth, so equal values give equal headers and
// the group key can be the header itself.
const canonical = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(canonical)
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) {
      out[key] = canonical((value as Record<string, unknown>)[key])
    }
    return out
  }
  return value
}

/**
 * Everything past printable ASCII as a `\uXXXX` escape: still the same JSON value, and a legal
 * header value that goes out byte for byte (a header is not UTF-8: "é" would be sent as Latin-1
 * and "東" not at all). JSON.stringify has already escaped the controls below 0x20.
 */
const asciiOnly = (json: string): string =>
  json.replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** @internal */
export const json = (value: unknown): RoutingMetadata => {
  const encoded = asciiOnly(JSON.stringify(canonical(value)) ?? "null")
  return { groupKey: () => encoded, encode: () => encoded }
}
