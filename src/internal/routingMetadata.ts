import type { RoutingMetadata } from "../RoutingMetadata.js"

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

/** @internal */
export const json = (value: unknown): RoutingMetadata => {
  const encoded = JSON.stringify(canonical(value)) ?? "null"
  return { groupKey: () => encoded, encode: () => encoded }
}
