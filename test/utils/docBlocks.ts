/**
 * The ```ts blocks of a Markdown file, each with the hidden prelude that comes right before it:
 *
 *     <!-- prelude:
 *     import { Effect } from "effect"
 *     declare const handle: Effect.Effect<void>
 *     const _ = Effect.gen(function*() {
 *     /* block *\/
 *     })
 *     -->
 *     ```ts
 *     yield* handle
 *     ```
 *
 * The prelude is an HTML comment starting with `prelude:` (invisible on a rendered page); the
 * block goes where its `/* block *\/` line is, else after it. See docs/contributing.md.
 */

/** One ```ts block: where it is, its code, and the source to type-check. */
export interface DocBlock {
  /** The 1-based line of the opening fence. */
  readonly line: number
  readonly code: string
  /** The prelude with the block in place, as a module. */
  readonly source: string
  /** Lines of `source` before the block's first line. */
  readonly offset: number
}

const preludeStart = /^\s*<!--\s*prelude:(.*)$/
const blockMarker = /^\s*\/\* block \*\/\s*$/

/** The ```ts blocks of `markdown` (also ```typescript; indented fences in lists too). */
export const docBlocks = (markdown: string): ReadonlyArray<DocBlock> => {
  const lines = markdown.split("\n")
  const blocks: Array<DocBlock> = []
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,}|~{3,})\s*(\S*)\s*$/.exec(lines[i])
    if (fence === null) continue
    const [, indent, ticks, language] = fence
    if (language !== "ts" && language !== "typescript") {
      // Another language's block (a Markdown sample included): skip to its closing fence.
      i++
      while (i < lines.length && !lines[i].trim().startsWith(ticks)) i++
      continue
    }
    const code: Array<string> = []
    let end = i + 1
    while (end < lines.length && lines[end].trim() !== ticks) {
      code.push(lines[end].startsWith(indent) ? lines[end].slice(indent.length) : lines[end].trimStart())
      end++
    }
    const prelude = preludeBefore(lines, i)
    const marker = prelude.findIndex((line) => blockMarker.test(line))
    const before = marker === -1 ? prelude : prelude.slice(0, marker)
    const after = marker === -1 ? [] : prelude.slice(marker + 1)
    blocks.push({
      line: i + 1,
      code: code.join("\n"),
      source: [...before, ...code, ...after, "export {}", ""].join("\n"),
      offset: before.length
    })
    i = end
  }
  return blocks
}

/** The prelude comment ending on the line before `fence` (blank lines between allowed), as lines. */
const preludeBefore = (lines: ReadonlyArray<string>, fence: number): ReadonlyArray<string> => {
  let last = fence - 1
  while (last >= 0 && lines[last].trim() === "") last--
  if (last < 0 || !lines[last].trimEnd().endsWith("-->")) return []
  let first = last
  while (first >= 0 && !preludeStart.test(lines[first])) {
    if (first < last && lines[first].includes("-->")) return [] // another comment
    first--
  }
  if (first < 0) return []
  const indent = /^\s*/.exec(lines[first])![0]
  const body = lines.slice(first, last + 1).map((line) => line.startsWith(indent) ? line.slice(indent.length) : line)
  body[0] = preludeStart.exec(body[0])![1]
  body[body.length - 1] = body[body.length - 1].replace(/-->\s*$/, "")
  return body.filter((line, index) => !(line.trim() === "" && (index === 0 || index === body.length - 1)))
}
