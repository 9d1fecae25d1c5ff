/**
 * @internal
 * Terminal rendering of received traces (the `user-tracing-sink` CLI and the demo): a waterfall
 * per trace (indented tree, one bar per span on the trace's time axis, duration, attributes,
 * events, status, routing header), and one JSON object per span for `--json`.
 *
 * Everything printed from the wire is escaped (`shared/text.ts`): control characters (ANSI
 * escapes included), invisible format characters (bidi controls, zero-width characters, tag
 * characters) and line separators are shown escaped, never sent to the terminal; headers that may
 * carry a credential are shown redacted (`headers.ts`).
 */
import type {
  IncompleteReason,
  ReceivedSpan,
  ReceivedSpanNode,
  ReceivedTrace,
  ReceivedValue
} from "../../UserTraceSink.js"
import { escapeAndCut, truncate } from "../shared/text.js"
import { routingValue, shownHeaders } from "./headers.js"
import { formatDuration, formatValue } from "./terminalText.js"

/** @internal */
export interface WaterfallOptions {
  /** ANSI colours. */
  readonly color: boolean
  /** Total line width in columns; default 100. */
  readonly width?: number | undefined
  /** The routing header to show; `undefined` = every non-standard request header. */
  readonly routingHeader?: string | undefined
}

/** @internal whether to colour a stream: a TTY, and `NO_COLOR` unset or empty (https://no-color.org) */
export const useColor = (stream: { readonly isTTY?: boolean | undefined }, env: NodeJS.ProcessEnv): boolean =>
  stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "")

// ---------------------------------------------------------------------------------------------
// JSON lines

const jsonValue = (value: ReceivedValue): unknown => {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value)
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64")
  if (Array.isArray(value)) return value.map(jsonValue)
  return Object.fromEntries(
    Object.entries(value as { readonly [key: string]: ReceivedValue }).map(([k, v]) => [k, jsonValue(v)])
  )
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
    flags: link.flags,
    attributes: jsonAttributes(link.attributes),
    droppedAttributesCount: link.droppedAttributesCount
  })),
  droppedLinksCount: span.droppedLinksCount,
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

interface Frame {
  readonly node: ReceivedSpanNode
  readonly depth: number
  /** The connector to this node: `""` for a root. */
  readonly connector: string
  /** The ancestors' `│  `/`   `, the nearest `levels - 1` only. */
  readonly continuation: string
}

/**
 * The rows of the trees in display order, walked with an explicit stack (a chain of any length
 * fits). Past `levels` levels, the indentation shows the nearest levels only, after the depth
 * (`[42] │  └─ name`), so a row stays short however deep it is.
 */
const flatten = (roots: ReadonlyArray<ReceivedSpanNode>, levels: number): ReadonlyArray<Row> => {
  const rows: Array<Row> = []
  const stack: Array<Frame> = []
  const pushChildren = (nodes: ReadonlyArray<ReceivedSpanNode>, depth: number, continuation: string): void => {
    for (let i = nodes.length - 1; i >= 0; i--) {
      const last = i === nodes.length - 1
      stack.push({ node: nodes[i], depth, connector: depth === 0 ? "" : last ? "└─ " : "├─ ", continuation })
    }
  }
  pushChildren(roots, 0, "")
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const { connector, continuation, depth, node } = frame
    const elided = depth > levels ? `[${depth}] ` : ""
    // What lines under this node continue with: its own level added to its ancestors'.
    const own = continuation + (connector === "" ? "" : connector === "└─ " ? "   " : "│  ")
    rows.push({
      node,
      prefix: elided + continuation + connector,
      detailPrefix: " ".repeat(elided.length) + own + (node.children.length > 0 ? "│" : " ")
    })
    if (node.children.length > 0) {
      pushChildren(node.children, depth + 1, own.length > 3 * (levels - 1) ? own.slice(3) : own)
    }
  }
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

/** How many services, headers, header values and foreign parents the header lists. */
const listed = 5

/** The first `listed` items, shown and joined, then how many more there are. */
const firstFew = (items: Iterable<string>, show: (item: string) => string, separator: string): string => {
  const shown: Array<string> = []
  let count = 0
  for (const item of items) if (count++ < listed) shown.push(show(item))
  return shown.join(separator) + (count > listed ? ` (+${count - listed} more)` : "")
}

/** The most characters of an attribute key or an event name on a detail line. */
const maxNameChars = 120

const attributeText = ([key, value]: readonly [string, ReceivedValue]): string =>
  `${escapeAndCut(key, maxNameChars)}=${formatValue(value)}`

const incompleteReasons: Record<IncompleteReason, string> = {
  maxTraceAge: "still receiving spans at the maximum trace age",
  maxPendingSpans: "shown early to make room for newer traces (pending-span cap)"
}

/** @internal the waterfall of one trace, lines joined by `\n` (no trailing newline) */
export const renderTrace = (trace: ReceivedTrace, options: WaterfallOptions): string => {
  const c = palette(options.color)
  const width = Math.min(1000, Math.max(60, Math.floor(options.width ?? 100) || 100))
  const spans = trace.spans
  const title = c.cyanBold(`trace ${escapeAndCut(trace.traceId, 32)}`)
  if (spans.length === 0) return title + c.dim("  (no spans)")
  let t0 = spans[0].startTimeUnixNano
  let t1 = spans[0].endTimeUnixNano
  // The axis covers every start and end: a span may end before it starts, or before the others start.
  for (const span of spans) {
    if (span.startTimeUnixNano < t0) t0 = span.startTimeUnixNano
    if (span.endTimeUnixNano < t0) t0 = span.endTimeUnixNano
    if (span.endTimeUnixNano > t1) t1 = span.endTimeUnixNano
    if (span.startTimeUnixNano > t1) t1 = span.startTimeUnixNano
  }
  const total = t1 - t0

  const lines: Array<string> = []

  // Header: trace id, services, span count, duration; then the headers and where it continues
  // from, each list cut after a few items: a trace of many requests must not print pages of them.
  const services = new Set<string>()
  for (const span of spans) if (span.serviceName !== undefined) services.add(span.serviceName)
  lines.push(
    title +
      c.dim(
        `  ${firstFew(services, (name) => escapeAndCut(name, 60), ", ") || "(no service.name)"} · ${spans.length} span${
          spans.length === 1 ? "" : "s"
        } · ${formatDuration(total)}`
      )
  )
  if (trace.incomplete !== undefined) {
    lines.push(`  ${c.yellow(`incomplete: ${incompleteReasons[trace.incomplete]}; later spans come as another trace`)}`)
  }
  // Roots whose parent is not shown: continued from another process, or a parent not received. When
  // spans were cut, a missing parent is likely one of them: said once, with the cut, not per span.
  const cut = trace.droppedSpans !== undefined && trace.droppedSpans > 0
  const elsewhere = trace.roots.filter((node) =>
    node.span.parentSpanId !== undefined && (node.span.remoteParent || !cut)
  )
  if (cut) {
    const orphans = trace.roots.filter((node) => node.span.parentSpanId !== undefined && !node.span.remoteParent)
    lines.push(
      `  ${
        c.yellow(
          `${trace.droppedSpans} more span(s) received and not kept (over the spans-per-trace cap)` +
            (orphans.length === 0 ? "" : `; ${orphans.length} span(s) whose parent is not shown appear as roots`)
        )
      }`
    )
  }
  const headerValues = new Map<string, Set<string>>()
  for (const span of spans) {
    for (const [name, value] of shownHeaders(span.headers, options.routingHeader)) {
      let values = headerValues.get(name)
      if (values === undefined) headerValues.set(name, values = new Set())
      values.add(value)
    }
  }
  let headersShown = 0
  for (const [name, values] of headerValues) {
    if (headersShown++ === listed) {
      lines.push(c.dim(`  … ${headerValues.size - listed} more header(s)`))
      break
    }
    lines.push(
      `  ${c.magenta(`${escapeAndCut(name, 60)}: ${firstFew(values, (v) => escapeAndCut(v, 200), " | ")}`)}`
    )
  }
  for (const [shown, root] of elsewhere.entries()) {
    if (shown === listed) {
      lines.push(c.dim(`  … ${elsewhere.length - listed} more root(s) whose parent is elsewhere`))
      break
    }
    const span = root.span
    const parent = escapeAndCut(span.parentSpanId!, 32)
    lines.push(
      c.dim(
        span.remoteParent
          ? `  continues remote parent ${parent} (${escapeAndCut(span.name, 40)})` +
            (span.traceState === undefined ? "" : `, tracestate ${escapeAndCut(span.traceState, 80)}`)
          : `  parent ${parent} of ${escapeAndCut(span.name, 40)} not received`
      )
    )
  }

  // Indentation for as many levels as the widest label column shows, the depth in figures past that.
  const maxLabelWidth = Math.floor(width * 0.45)
  const rows = flatten(trace.roots, Math.max(4, Math.floor((maxLabelWidth - 16) / 3)))
  let labelWidth = 20
  for (const row of rows) {
    const length = row.prefix.length + escapeAndCut(row.node.span.name, maxLabelWidth).length +
      kindLabel(row.node.span).length
    if (length > labelWidth) labelWidth = length
  }
  labelWidth = Math.min(labelWidth, maxLabelWidth)
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
    const { kind, name, prefix } = fitLabel(
      row.prefix,
      escapeAndCut(span.name, labelWidth),
      kindLabel(span),
      labelWidth
    )
    const paintedLabel = c.dim(prefix) + (error ? c.redBold(name) : c.bold(name)) + c.dim(kind) +
      " ".repeat(labelWidth - prefix.length - name.length - kind.length)
    // Bar: at least one cell, never past the end.
    const from = Math.min(column(span.startTimeUnixNano), barWidth - 1)
    const to = Math.min(barWidth, Math.max(from + 1, endColumn(span.endTimeUnixNano)))
    const bar = " ".repeat(from) +
      (error ? c.red : span.kind === "server" || span.kind === "consumer" ? c.blue : c.cyan)(
        "█".repeat(to - from)
      ) + " ".repeat(barWidth - to)
    const duration = formatDuration(span.endTimeUnixNano - span.startTimeUnixNano).padStart(durationWidth)
    const status = error
      ? "  " + c.redBold(`✗ error${span.statusMessage === "" ? "" : `: ${escapeAndCut(span.statusMessage, 80)}`}`)
      : span.status === "ok"
      ? "  " + c.green("✓ ok")
      : ""
    lines.push(`${paintedLabel}  ${bar} ${duration}${status}`)

    // Details: attributes, then events, then what was dropped.
    const detailWidth = Math.max(20, width - row.detailPrefix.length - 2)
    const attributes = span.attributes.map(attributeText)
    for (const line of wrap(attributes, detailWidth)) lines.push(c.dim(row.detailPrefix) + "  " + c.dim(line))
    for (const event of span.events) {
      const offset = `+${formatDuration(event.timeUnixNano - span.startTimeUnixNano)}`
      const fields = event.attributes.map(attributeText)
      const [first, ...rest] = wrap([`◆ ${escapeAndCut(event.name, maxNameChars)} ${offset}`, ...fields], detailWidth)
      lines.push(c.dim(row.detailPrefix) + "  " + c.yellow(first))
      for (const line of rest) lines.push(c.dim(row.detailPrefix) + "    " + c.dim(line))
    }
    for (const link of span.links) {
      const target = `↗ link ${escapeAndCut(link.traceId, 32)}/${escapeAndCut(link.spanId, 16)}${
        (link.flags & 0x200) !== 0 ? " (remote)" : ""
      }`
      const fields = link.attributes.map(attributeText)
      const [first, ...rest] = wrap([target, ...fields], detailWidth)
      lines.push(c.dim(row.detailPrefix) + "  " + c.cyan(first))
      for (const line of rest) lines.push(c.dim(row.detailPrefix) + "    " + c.dim(line))
    }
    const dropped = [
      span.droppedAttributesCount > 0 ? `${span.droppedAttributesCount} attributes dropped` : "",
      span.droppedEventsCount > 0 ? `${span.droppedEventsCount} events dropped` : "",
      span.droppedLinksCount > 0 ? `${span.droppedLinksCount} links dropped` : ""
    ].filter((s) => s !== "")
    if (dropped.length > 0) lines.push(c.dim(row.detailPrefix) + "  " + c.dim(`(${dropped.join(", ")})`))
  })
  return lines.join("\n")
}
