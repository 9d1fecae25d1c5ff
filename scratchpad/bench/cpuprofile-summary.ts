/**
 * Summarises a V8 `.cpuprofile`: self time by function + url:line, inclusive time of named
 * functions, and self time by category (our span record, ids, current-span FiberRef handling,
 * Effect runtime, encoding, HTTP, GC, ...).
 *
 * Usage: tsx scratchpad/bench/cpuprofile-summary.ts <file.cpuprofile> [top=40]
 * (frames of bundled files are mapped back to TS through the `.map` beside them)
 */
import * as Fs from "node:fs"
import * as Module from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

const shortUrl = (url: string): string => {
  if (url === "") return ""
  let u = url.replace(/^file:\/\//, "")
  if (u.startsWith(root)) u = u.slice(root.length + 1)
  return u.replace(/^node_modules\//, "nm/").replace(/\?.*$/, "")
}

/** Where a frame's self time goes, by url and function name. */
export const category = (frame: CallFrame): string => {
  const url = shortUrl(frame.url)
  const fn = frame.functionName
  if (fn === "(garbage collector)") return "GC"
  if (fn === "(idle)") return "idle (waiting for I/O)"
  if (fn === "(program)") return "(program: V8/native, not JS)"
  if (url.includes("src/internal/span/ids.ts")) return "ours: ids"
  if (url.includes("src/internal/span/record.ts")) return "ours: span record (create, attributes, end)"
  if (url.includes("src/internal/span/slot.ts")) return "ours: current span slot / FiberRef / clock"
  if (url.includes("src/internal/span/regions.ts")) return "ours: combinators (withUserTrace/withUserSpan/runIn)"
  if (url.includes("src/internal/export/encoding.ts") || url.includes("protobufjs")) {
    return "encoding (encoding + protobufjs)"
  }
  if (url.includes("src/internal/export/queue.ts")) return "ours: export queue (chunks, bounds, fair share)"
  if (url.includes("src/internal/export/exporter.ts") || url.includes("src/internal/export/request.ts")) {
    return "ours: exporter workers and requests"
  }
  if (url.includes("src/internal/export/transport.ts")) return "ours: transport"
  if (url.startsWith("src/")) return "ours: other"
  if (
    url.startsWith("node:_http") || url.startsWith("node:http") || url.startsWith("node:net") ||
    url.startsWith("node:stream") ||
    url.startsWith("node:internal/streams") || url.startsWith("node:internal/http") ||
    url.startsWith("node:internal/stream_base") ||
    fn === "writeUtf8String" || fn === "writev" || fn === "writeBuffer"
  ) return "HTTP / sockets (node)"
  if (url.includes("effect/dist") || url.includes("nm/effect/")) {
    if (url.includes("fiberRuntime") || url.includes("internal/core.") || url.includes("core-effect")) {
      return "Effect runtime (fiber loop, core)"
    }
    return "Effect other (" + Path.basename(url) + ")"
  }
  if (url.startsWith("scratchpad/bench")) return "bench driver (workload)"
  if (url.startsWith("node:")) return "node other (" + url + ")"
  if (url === "") return "native / builtins"
  return "other: " + url
}

/**
 * The pipeline stage a sample belongs to, from its whole stack (innermost first): export work
 * (batching, encoding, the request) and the HTTP client's socket callbacks, or span creation
 * (the combinators and the workload's fiber), or GC.
 */
const stage = (leaf: CallFrame, stack: ReadonlyArray<string>): string => {
  if (leaf.functionName === "(garbage collector)") return "GC"
  if (leaf.functionName === "(idle)") return "idle"
  const any = (re: RegExp) => stack.some((frame) => re.test(frame))
  if (any(/src\/internal\/export\/encoding\.ts|protobufjs/)) return "export: encoding (at span end)"
  if (any(/src\/internal\/export\/transport\.ts|node:_http|node:net|node:stream|node:internal\/stream/)) {
    return "export: HTTP request and response (node)"
  }
  if (any(/src\/internal\/export\/(queue|exporter|request)\.ts/)) return "export: queue, chunks, worker fibers"
  if (any(/src\/internal\/span\/(regions|record|ids|slot)\.ts|scratchpad\/bench\/variant\.ts/)) {
    return "creation: combinators, span records, ids, clock + workload fiber"
  }
  if (any(/fiberRuntime|effect\//)) return "Effect runtime, no library frame on the stack"
  return "other: " + (stack[stack.length - 1] ?? "")
}

/**
 * Maps frames of a bundled file (esbuild, `<file>.map` beside it) back to the TS source and line;
 * an anonymous function is shown by the source line it starts on.
 */
const makeResolver = () => {
  const maps = new Map<string, Module.SourceMap | null>()
  const sources = new Map<string, ReadonlyArray<string> | null>()
  const mapOf = (url: string): Module.SourceMap | null => {
    let map = maps.get(url)
    if (map === undefined) {
      const path = url.replace(/^file:\/\//, "")
      map = url.startsWith("file://") && Fs.existsSync(`${path}.map`)
        ? new Module.SourceMap(JSON.parse(Fs.readFileSync(`${path}.map`, "utf8")))
        : null
      maps.set(url, map)
    }
    return map
  }
  const linesOf = (path: string): ReadonlyArray<string> | null => {
    let lines = sources.get(path)
    if (lines === undefined) {
      lines = Fs.existsSync(path) ? Fs.readFileSync(path, "utf8").split("\n") : null
      sources.set(path, lines)
    }
    return lines
  }
  const cache = new Map<string, CallFrame>()
  return (f: CallFrame): CallFrame => {
    // Only our bundle is mapped: packages keep V8's names and their dist lines.
    if (!f.url.includes("/bench-results/.build/")) return f
    const map = mapOf(f.url)
    if (map === null) return f
    const k = `${f.url}:${f.lineNumber}:${f.columnNumber}:${f.functionName}`
    const hit = cache.get(k)
    if (hit !== undefined) return hit
    const entry = map.findEntry(f.lineNumber, f.columnNumber) as { originalLine?: number; originalSource?: string }
    let resolved = f
    if (entry.originalLine !== undefined && entry.originalSource !== undefined) {
      const source = entry.originalSource.startsWith("file://")
        ? entry.originalSource.slice(7)
        : Path.resolve(Path.dirname(f.url.slice(7)), entry.originalSource)
      let functionName = f.functionName
      const lines = linesOf(source)
      if ((functionName === "" || functionName === "(anonymous)") && lines !== null) {
        // An anonymous function: show the source line it starts on.
        const text = (lines[entry.originalLine] ?? "").trim()
        functionName = `λ \`${text.length > 60 ? text.slice(0, 57) + "..." : text}\``
      }
      resolved = { ...f, functionName, url: `file://${source}`, lineNumber: entry.originalLine }
    }
    cache.set(k, resolved)
    return resolved
  }
}

/** `window`: only samples within [startMicros, endMicros] on the profile's (monotonic) clock. */
export const summarize = (
  file: string,
  top = 40,
  window?: { readonly startMicros: number; readonly endMicros: number }
): string => {
  const profile: Profile = JSON.parse(Fs.readFileSync(file, "utf8"))
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const selfMicros = new Map<number, number>()
  // timeDeltas[i] is the time before sample i; the time of sample i is attributed to it.
  let at = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]
    if (window !== undefined && (at < window.startMicros || at > window.endMicros)) continue
    const delta = profile.timeDeltas[i + 1] ?? 0
    selfMicros.set(profile.samples[i], (selfMicros.get(profile.samples[i]) ?? 0) + delta)
  }
  const total = [...selfMicros.values()].reduce((a, b) => a + b, 0)
  const idle = [...selfMicros.entries()].filter(([id]) => byId.get(id)!.callFrame.functionName === "(idle)")
    .reduce((a, [, t]) => a + t, 0)
  const busy = total - idle

  const resolve = makeResolver()
  const nameOf = (f0: CallFrame) => {
    const f = resolve(f0)
    return `${f.functionName || "(anonymous)"}  ${shortUrl(f.url)}:${f.lineNumber + 1}`
  }
  const key = nameOf
  const byFunction = new Map<string, number>()
  const byCategory = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const byStage = new Map<string, number>()
  for (const [id, micros] of selfMicros) {
    const frame = resolve(byId.get(id)!.callFrame)
    const stack: Array<string> = []
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) stack.push(nameOf(byId.get(n)!.callFrame))
    byStage.set(stage(frame, stack), (byStage.get(stage(frame, stack)) ?? 0) + micros)
    byFunction.set(key(frame), (byFunction.get(key(frame)) ?? 0) + micros)
    byCategory.set(category(frame), (byCategory.get(category(frame)) ?? 0) + micros)
    // Inclusive: every distinct function on the sampled stack.
    const seen = new Set<string>()
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const name = nameOf(byId.get(n)!.callFrame)
      if (seen.has(name)) continue
      seen.add(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + micros)
    }
  }
  const pct = (t: number, of: number) => ((100 * t) / of).toFixed(1).padStart(5) + "%"
  const ms = (t: number) => (t / 1000).toFixed(0).padStart(7) + " ms"
  const lines: Array<string> = []
  lines.push(
    `profile ${Path.basename(file)}${window === undefined ? "" : " (timed window only)"}: ${ms(total)} sampled, ${
      ms(busy)
    } busy (not idle)`
  )
  lines.push("\nself time by category (% of busy):")
  for (const [name, t] of [...byCategory].sort((a, b) => b[1] - a[1])) {
    if (name.startsWith("idle") || t < busy * 0.003) continue
    lines.push(`  ${pct(t, busy)} ${ms(t)}  ${name}`)
  }
  lines.push("\nby pipeline stage, from the whole sampled stack (% of busy):")
  for (const [name, t] of [...byStage].sort((a, b) => b[1] - a[1])) {
    if (name.startsWith("idle")) continue
    lines.push(`  ${pct(t, busy)} ${ms(t)}  ${name}`)
  }
  lines.push(`\ntop ${top} functions by self time (% of busy):`)
  for (const [name, t] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    if (name.startsWith("(idle)")) continue
    lines.push(`  ${pct(t, busy)} ${ms(t)}  ${name}`)
  }
  const interesting = /src\/internal\/|processTicksAndRejections|runLoop|evaluateEffect|onExit|ClientRequest|_http_/
  lines.push(`\ninclusive time of this library's functions and a few hot paths (% of busy, top ${top}):`)
  for (
    const [name, t] of [...inclusive].filter(([n]) => interesting.test(n)).sort((a, b) => b[1] - a[1]).slice(0, top)
  ) {
    lines.push(`  ${pct(t, busy)} ${ms(t)}  ${name}`)
  }
  return lines.join("\n")
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === Path.resolve(process.argv[1])) {
  const file = process.argv[2]
  if (file === undefined) throw new Error("usage: cpuprofile-summary.ts <file.cpuprofile> [top]")
  console.log(summarize(file, Number(process.argv[3] ?? 40)))
}
