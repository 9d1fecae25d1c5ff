// The export core and the sink are one code for both lines: the Effect 4 line's export and sink
// modules are adapters over the shared modules of ../src, which import no effect module (so they
// run the same under effect 3 and effect 4), and the line holds no HTTP client, server or
// settings rules of its own.
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))
const line = Path.join(root, "effect4", "src")

/** The module specifiers a source file imports or re-exports, `import()` included; with `loaded`, not those of types only. */
const importsOf = (file: string, loaded = false): Array<string> => {
  const text = Fs.readFileSync(file, "utf8")
  return [
    ...text.matchAll(
      /^(import|export)(\s+type)?\b[^";]*?\bfrom\s+"([^"]+)"|^import\s+"([^"]+)"|\bimport\s*\(\s*"([^"]+)"/gm
    )
  ].flatMap((
    match
  ) =>
    match[3] === undefined
      ? [match[4] ?? match[5]]
      : loaded && match[2] !== undefined
      ? []
      : [match[3]]
  )
}

const sourcesUnder = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => Path.join(dir, name))

/** The shared modules that hold what the two lines would otherwise each implement. */
const sharedCores = [
  "src/internal/export/transportCore.ts",
  "src/internal/export/requestCore.ts",
  "src/internal/sink/receiver.ts",
  "src/internal/sink/address.ts",
  "src/internal/sink/pending.ts",
  "src/internal/settings/rules.ts",
  "src/internal/settings/check.ts",
  "src/internal/settings/environment.ts",
  "src/internal/settings/notices.ts"
]

describe("the Effect 4 line shares the export core, the sink and the settings rules", () => {
  it("each adapter imports the shared core it wraps", () => {
    const adapters: ReadonlyArray<readonly [string, string]> = [
      ["internal/export/transport.ts", "src/internal/export/transportCore.js"],
      ["internal/export/request.ts", "src/internal/export/requestCore.js"],
      ["internal/sink/server.ts", "src/internal/sink/receiver.js"],
      ["internal/settings/settings.ts", "src/internal/settings/check.js"],
      ["internal/settings/settings.ts", "src/internal/settings/environment.js"],
      ["internal/settings/settings.ts", "src/internal/settings/notices.js"]
    ]
    for (const [adapter, core] of adapters) {
      const resolved = importsOf(Path.join(line, adapter)).map((specifier) =>
        Path.relative(root, Path.resolve(Path.dirname(Path.join(line, adapter)), specifier))
      )
      expect(resolved, adapter).toContain(core)
    }
  })

  it("no module of the line dispatches HTTP, serves it, compresses or encodes protobuf itself", () => {
    const own = ["undici", "node:http", "node:net", "node:zlib", "protobufjs", "protobufjs/minimal.js"]
    for (const file of sourcesUnder(line)) {
      const found = importsOf(file).filter((specifier) => own.includes(specifier))
      expect(found, Path.relative(root, file)).toEqual([])
    }
    // The settings' rules and the variables' table live in ../src only.
    expect(sourcesUnder(Path.join(line, "internal", "settings")).map((file) => Path.basename(file))).toEqual([
      "settings.ts"
    ])
  })

  it("the shared cores load no effect module, nor do the modules they load", () => {
    const pending = sharedCores.map((core) => Path.join(root, core))
    const seen = new Set<string>()
    while (pending.length > 0) {
      const file = pending.pop()!
      if (seen.has(file)) continue
      seen.add(file)
      const loaded = importsOf(file, true)
      expect(loaded.filter((specifier) => /^effect(\/|$)/.test(specifier)), Path.relative(root, file)).toEqual([])
      for (const specifier of loaded) {
        if (specifier.startsWith(".")) pending.push(Path.resolve(Path.dirname(file), specifier).replace(/\.js$/, ".ts"))
      }
    }
    expect(seen.size).toBeGreaterThan(sharedCores.length)
  })
})
