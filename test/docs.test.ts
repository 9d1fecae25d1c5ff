import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { docBlocks } from "./utils/docBlocks.js"

const root = fileURLToPath(new URL("..", import.meta.url))

/** README.md and docs/**.md, less the generated API reference, docs/modules (docgen checks its examples). */
const markdownFiles = (): ReadonlyArray<string> => {
  const found = ["README.md"]
  const walk = (dir: string): void => {
    for (const entry of Fs.readdirSync(Path.join(root, dir), { withFileTypes: true })) {
      const path = Path.join(dir, entry.name)
      if (entry.isDirectory() && path !== Path.join("docs", "modules")) walk(path)
      else if (entry.isFile() && entry.name.endsWith(".md")) found.push(path)
    }
  }
  walk("docs")
  return found.sort()
}

describe("docs that cannot drift", () => {
  it("every ```ts block of README.md and docs/ type-checks (with its prelude) against the sources", () => {
    const dir = Path.join(root, ".scratch", "doc-blocks")
    Fs.rmSync(dir, { recursive: true, force: true })
    Fs.mkdirSync(dir, { recursive: true })
    // Which doc line each generated file's line 1 stands for, less the prelude's lines.
    const origins = new Map<string, { readonly doc: string; readonly line: number; readonly offset: number }>()
    let count = 0
    for (const doc of markdownFiles()) {
      for (const block of docBlocks(Fs.readFileSync(Path.join(root, doc), "utf8"))) {
        const file = `${doc.replace(/[/\\.]/g, "_")}_${block.line}.ts`
        Fs.writeFileSync(Path.join(dir, file), block.source)
        origins.set(file, { doc, line: block.line, offset: block.offset })
        count++
      }
    }
    expect(count).toBeGreaterThan(0)
    Fs.writeFileSync(
      Path.join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: "../../tsconfig.json",
        // Fragments declare what they show, and use only part of it.
        compilerOptions: { noUnusedLocals: false, noUnusedParameters: false },
        include: ["*.ts"]
      })
    )
    const tsc = Path.join(root, "node_modules", "typescript", "bin", "tsc")
    const result = ChildProcess.spawnSync(process.execPath, [tsc, "--noEmit", "--pretty", "false", "-p", dir], {
      cwd: root,
      encoding: "utf8"
    })
    // `file(line,col): error TS...` back to the doc's own line (the prelude is not on the page).
    const errors = result.stdout.split("\n").filter((line) => line.trim() !== "").map((line) => {
      const at = /^(?:.*[/\\])?([^/\\(]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line)
      const origin = at === null ? undefined : origins.get(at[1])
      if (at === null || origin === undefined) return line
      const inBlock = Number(at[2]) - origin.offset
      const where = inBlock >= 1
        ? `${origin.doc}:${origin.line + inBlock}`
        : `${origin.doc}:${origin.line} (prelude line ${at[2]})`
      return `${where}: ${at[4]}`
    })
    expect(errors).toEqual([])
    expect(result.status).toBe(0)
  }, 120_000)
})
