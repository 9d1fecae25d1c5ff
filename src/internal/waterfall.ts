/**
 * @internal
 * Terminal rendering of received traces (the `user-tracing-sink` CLI and the demo): a waterfall
 * per trace (indented tree, one bar per span on the trace's time axis, duration, attributes,
 * events, status, routing header), and one JSON object per span for `--json`.
 *
 * Everything printed from the wire is sanitized: control characters (ANSI escapes included) and
 * bidirectional overrides are shown escaped, never sent to the terminal.
 */
import type { ReceivedSpan, ReceivedSpanNode, ReceivedTrace, ReceivedValue } from "../UserTraceSink.js"

/** @internal */
export interface WaterfallOptions {
  /** ANSI colours. */
  readonly color: boolean
  /** Total line width in columns; default 100. */
  readonly width?: number | undefined
  /** The routing header to show; `undefined` = every non-standard request header. */
  readonly routingHeader?: string | undefined
}

/** @internal request headers every client sends, or that must not be shown: never taken for routing */
export const standardHeaders: ReadonlySet<string> = new Set([
  "accept",
  "accept-encoding",
  "accept-language",
  "authorization",
  "baggage",
  "connection",
  "content-encoding",
  "content-length",
  "content-type",
  "cookie",
  "date",
  "expect",
  "host",
  "keep-alive",
  "proxy-authorization",
  "te",
  "traceparent",
  "tracestate",
  "transfer-encoding",
  "upgrade",
  "user-agent"
])

/** @internal whether to colour a stream: a TTY, and `NO_COLOR` unset or empty (https://no-color.org) */
export const useColor = (stream: { readonly isTTY?: boolean | undefined }, env: NodeJS.ProcessEnv): boolean =>
  stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "")

// ---------------------------------------------------------------------------------------------
// Text

const unsafeCharacters = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** @internal the text with control and bidi characters escaped (`\n`, `\u001b`, ...) */
export const sanitize = (text: string): string =>
  text.replace(unsafeCharacters, (c) =>
    c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

const truncate = (text: string, max: number): string =>
  max <= 0 ? "" : text.length > max ? `${text.slice(0, Math.max(0, max - 1))}…` : text

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

/** @internal an attribute value for humans: strings bare unless they need quotes, ints as digits */
export const formatValue = (value: ReceivedValue, max = 120): string => {
  let text: string
  if (value === null) text = "null"
  else if (typeof value === "string") text = needsQuotes(value) ? JSON.stringify(value) : value
  else if (typeof value === "bigint" || typeof value === "number" || typeof value === "boolean") text = String(value)
  else if (value instanceof Uint8Array) text = `0x${hexOf(value)}`
  else if (Array.isArray(value)) text = `[${value.map((item: ReceivedValue) => formatValue(item, max)).join(", ")}]`
  else {
    const entries = Object.entries(value as { readonly [key: string]: ReceivedValue })
    text = `{${entries.map(([k, v]) => `${k}: ${formatValue(v, max)}`).join(", ")}}`
  }
  return truncate(sanitize(text), max)
}

// ---------------------------------------------------------------------------------------------
// Headers and routing

/** @internal the headers to show for a span: the routing header only, or every non-standard one */
export const shownHeaders = (
  headers: Readonly<Record<string, string>>,
  routingHeader: string | undefined
): ReadonlyArray<readonly [string, string]> => {
  if (routingHeader !== undefined) {
    const name = routingHeader.toLowerCase()
    const value = headers[name]
    return value === undefined ? [] : [[name, value]]
  }
  return Object.entries(headers).filter(([name]) => !standardHeaders.has(name)).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
}

/**
 * @internal the routing header value of a span: the named header's, or, with no name, the only
 * non-standard header's (an exporter sends one); else `undefined`
 */
export const routingValue = (span: ReceivedSpan, routingHeader: string | undefined): string | undefined => {
  const shown = shownHeaders(span.headers, routingHeader)
  return shown.length === 1 ? shown[0][1] : undefined
}

// ---------------------------------------------------------------------------------------------
// JSON lines

const jsonValue = (value: ReceivedValue): unknown => {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value)
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64")
  if (Array.isArray(value)) return value.map(jsonValue)
  return Object.fromEntries(Object.entries(value as { readonly [key: string]: ReceivedValue }).map(([k, v]) => [k, jsonValue(v)]))
}

const jsonAttributes = (attributes: ReadonlyArray<readonly [string, ReceivedValue]>): Record<string, unknown> => {
  const object: Record<string, unknown> = Object.create(null)
  for (const [key, value] of attributes) object[key] = jsonValue(value)
  return object
}

/**
 * @internal one span as a JSON-ready object: ids in hex, times as decimal strings, attributes as an
 * object (ints as numbers when safe, else strings; bytes in base64), the routing header value
 */
export const spanJson = (span: ReceivedSpan, routingHeader: string | undefined): Record<string, unknown> => ({
  traceId: span.traceId,
  spanId: span.spanId,
  parentSpanId: span.parentSpanId ?? null,
  remoteParent: span.remoteParent,
  name: span.name,
  kind: span.kind,
  startTimeUnixNano: span.startTimeUnixNano.toString(),
  endTimeUnixNano: span.endTimeUnixNano.toString(),
  durationNanos: (span.endTimeUnixNano - span.startTimeUnixNano).toString(),
  status: span.status,
  statusMessage: span.statusMessage,
  attributes: jsonAttributes(span.attributes),
  events: span.events.map((event) => ({
    name: event.name,
    timeUnixNano: event.timeUnixNano.toString(),
    attributes: jsonAttributes(event.attributes)
  })),
  links: span.links.map((link) => ({
    traceId: link.traceId,
    spanId: link.spanId,
    traceState: link.traceState ?? null,
    attributes: jsonAttributes(link.attributes)
  })),
  droppedAttributesCount: span.droppedAttributesCount,
  droppedEventsCount: span.droppedEventsCount,
  flags: span.flags,
  traceState: span.traceState ?? null,
  serviceName: span.serviceName ?? null,
  scope: span.scope,
  routing: routingValue(span, routingHeader) ?? null,
  headers: Object.fromEntries(shownHeaders(span.headers, routingHeader))
})

// ---------------------------------------------------------------------------------------------
// Waterfall

type Paint = (text: string) => string

const palette = (on: boolean) => {
  const sgr = (code: string): Paint => (text) => (on && text !== "" ? `\u001b[${code}m${text}\u001b[0m` : text)
  return {
    bold: sgr("1"),
    dim: sgr("2"),
    red: sgr("31"),
    redBold: sgr("1;31"),
    green: sgr("32"),
    yellow: sgr("33"),
    blue: sgr("34"),
    magenta: sgr("35"),
    cyan: sgr("36"),
    cyanBold: sgr("1;36")
  }
}

interface Row {
  readonly node: ReceivedSpanNode
  /** The tree connector before the name: `""`, `├─ ` or `└─ ` after the ancestors' `│  `/`   `. */
  readonly prefix: string
  /** What lines under this span (its attributes, events) start with. */
  readonly detailPrefix: string
}

const flatten = (roots: ReadonlyArray<ReceivedSpanNode>): ReadonlyArray<Row> => {
  const rows: Array<Row> = []
  const walk = (node: ReceivedSpanNode, prefix: string, continuation: string): void => {
    rows.push({ node, prefix, detailPrefix: continuation + (node.children.length > 0 ? "│" : " ") })
    node.children.forEach((child, i) => {
      const last = i === node.children.length - 1
      walk(child, continuation + (last ? "└─ " : "├─ "), continuation + (last ? "   " : "│  "))
    })
  }
  for (const root of roots) walk(root, "", "")
  return rows
}

/** Wraps `items` (already sanitized) into lines of at most `width` columns, two spaces apart. */
const wrap = (items: ReadonlyArray<string>, width: number): ReadonlyArray<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const item of items) {
    const next = line === "" ? item : `${line}  ${item}`
    if (next.length > width && line !== "") {
      lines.push(line)
      line = item
    } else {
      line = next
    }
  }
  if (line !== "") lines.push(line)
  return lines
}

const kindLabel = (span: ReceivedSpan): string =>
  span.kind === "internal" || span.kind === "unspecified" ? "" : ` ${span.kind}`

/** Fits `prefix + name + kind` in `width` columns: the name is cut first, then the kind goes, then the prefix is cut. */
const fitLabel = (prefix: string, name: string, kind: string, width: number) => {
  if (prefix.length + name.length + kind.length <= width) return { prefix, name, kind }
  const cutPrefix = prefix.length > width - 6 ? prefix.slice(0, Math.max(0, width - 6)) : prefix
  const room = width - cutPrefix.length
  return room - kind.length >= 8
    ? { prefix: cutPrefix, name: truncate(name, room - kind.length), kind }
    : { prefix: cutPrefix, name: truncate(name, room), kind: "" }
}

/** @internal the waterfall of one trace, lines joined by `\n` (no trailing newline) */
export const renderTrace = (trace: ReceivedTrace, options: WaterfallOptions): string => {
  const c = palette(options.color)
  const width = Math.max(60, options.width ?? 100)
  const spans = trace.spans
  if (spans.length === 0) return c.cyanBold(`trace ${trace.traceId}`) + c.dim("  (no spans)")
  const t0 = spans.reduce((min, s) => (s.startTimeUnixNano < min ? s.startTimeUnixNano : min), spans[0].startTimeUnixNano)
  const t1 = spans.reduce((max, s) => (s.endTimeUnixNano > max ? s.endTimeUnixNano : max), spans[0].endTimeUnixNano)
  const total = t1 - t0

  const lines: Array<string> = []

  // Header: trace id, services, span count, duration; then the headers and where it continues from.
  const services = Array.from(new Set(spans.map((s) => s.serviceName).filter((s): s is string => s !== undefined)))
  lines.push(
    c.cyanBold(`trace ${trace.traceId}`) +
      c.dim(
        `  ${services.map(sanitize).join(", ") || "(no service.name)"} · ${spans.length} span${
          spans.length === 1 ? "" : "s"
        } · ${formatDuration(total)}`
      )
  )
  const headerValues = new Map<string, Set<string>>()
  for (const span of spans) {
    for (const [name, value] of shownHeaders(span.headers, options.routingHeader)) {
      let values = headerValues.get(name)
      if (values === undefined) headerValues.set(name, values = new Set())
      values.add(value)
    }
  }
  for (const [name, values] of headerValues) {
    lines.push(`  ${c.magenta(`${sanitize(name)}: ${Array.from(values, (v) => truncate(sanitize(v), 200)).join(" | ")}`)}`)
  }
  for (const root of trace.roots) {
    const span = root.span
    if (span.parentSpanId === undefined) continue
    lines.push(
      c.dim(
        span.remoteParent
          ? `  continues remote parent ${span.parentSpanId} (${sanitize(truncate(span.name, 40))})` +
            (span.traceState === undefined ? "" : `, tracestate ${truncate(sanitize(span.traceState), 80)}`)
          : `  parent ${span.parentSpanId} of ${sanitize(truncate(span.name, 40))} not received`
      )
    )
  }

  const rows = flatten(trace.roots)
  const labels = rows.map((row) => row.prefix + sanitize(row.node.span.name) + kindLabel(row.node.span))
  const labelWidth = Math.min(Math.max(20, ...labels.map((l) => l.length)), Math.floor(width * 0.45))
  const durationWidth = 9
  const barWidth = Math.max(10, width - labelWidth - 2 - 1 - durationWidth)

  // The time axis: 0 at the left of the bars, the trace's duration at the right.
  const end = formatDuration(total)
  lines.push(" ".repeat(labelWidth + 2) + c.dim("0" + end.padStart(barWidth - 1)))

  // Cells on the axis: a span covers [floor(start), ceil(end)) of `barWidth` cells.
  const column = (t: bigint): number => (total === 0n ? 0 : Number(((t - t0) * BigInt(barWidth)) / total))
  const endColumn = (t: bigint): number =>
    total === 0n ? barWidth : Number(((t - t0) * BigInt(barWidth) + total - 1n) / total)
  rows.forEach((row) => {
    const span = row.node.span
    const error = span.status === "error"
    // Label: the tree prefix dim, the name bold (red on error), the kind dim; cut to the column.
    const { kind, name, prefix } = fitLabel(row.prefix, sanitize(span.name), kindLabel(span), labelWidth)
    const paintedLabel = c.dim(prefix) + (error ? c.redBold(name) : c.bold(name)) + c.dim(kind) +
      " ".repeat(labelWidth - prefix.length - name.length - kind.length)
    // Bar: at least one cell, never past the end.
    const from = Math.min(column(span.startTimeUnixNano), barWidth - 1)
    const to = Math.min(barWidth, Math.max(from + 1, endColumn(span.endTimeUnixNano)))
    const bar = " ".repeat(from) + (error ? c.red : span.kind === "server" || span.kind === "consumer" ? c.blue : c.cyan)(
      "█".repeat(to - from)
    ) + " ".repeat(barWidth - to)
    const duration = formatDuration(span.endTimeUnixNano - span.startTimeUnixNano).padStart(durationWidth)
    const status = error
      ? "  " + c.redBold(`✗ error${span.statusMessage === "" ? "" : `: ${truncate(sanitize(span.statusMessage), 80)}`}`)
      : span.status === "ok"
      ? "  " + c.green("✓ ok")
      : ""
    lines.push(`${paintedLabel}  ${bar} ${duration}${status}`)

    // Details: attributes, then events, then what was dropped.
    const detailWidth = Math.max(20, width - row.detailPrefix.length - 2)
    const attributes = span.attributes.map(([key, value]) => `${sanitize(key)}=${formatValue(value)}`)
    for (const line of wrap(attributes, detailWidth)) lines.push(c.dim(row.detailPrefix) + "  " + c.dim(line))
    for (const event of span.events) {
      const offset = `+${formatDuration(event.timeUnixNano - span.startTimeUnixNano)}`
      const fields = event.attributes.map(([key, value]) => `${sanitize(key)}=${formatValue(value)}`)
      const [first, ...rest] = wrap([`◆ ${sanitize(event.name)} ${offset}`, ...fields], detailWidth)
      lines.push(c.dim(row.detailPrefix) + "  " + c.yellow(first))
      for (const line of rest) lines.push(c.dim(row.detailPrefix) + "    " + c.dim(line))
    }
    const dropped = [
      span.droppedAttributesCount > 0 ? `${span.droppedAttributesCount} attributes dropped` : "",
      span.droppedEventsCount > 0 ? `${span.droppedEventsCount} events dropped` : ""
    ].filter((s) => s !== "")
    if (dropped.length > 0) lines.push(c.dim(row.detailPrefix) + "  " + c.dim(`(${dropped.join(", ")})`))
  })
  return lines.join("\n")
}
