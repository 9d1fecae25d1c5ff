// Type-checks the Effect 4 line (its sources and tests) and, with `--emit`, compiles its sources
// into ../dist/effect4. Every `effect` import resolves to effect 4 (tsconfig.json's `paths`),
// including those of the shared modules of ../src that the line imports.
//
// Two shared modules still speak Effect 3 (the settings Schema and its facade): the Effect 4 line
// imports only types from them, through the span record's `SpanLimits` and the export types, so
// their own diagnostics under effect 4 are not this line's and are left out. Every other file's are
// reported.
import * as Fs from "node:fs"
import * as Path from "node:path"
import process from "node:process"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const here = Path.dirname(fileURLToPath(import.meta.url))
const line = Path.resolve(here, "..")
const root = Path.resolve(line, "..")
const effect3Only = new Set(
  ["src/UserTracingSettings.ts", "src/internal/settings/schema.ts"].map((file) => Path.join(root, file))
)
const emit = process.argv.includes("--emit")

const configPath = Path.join(line, emit ? "tsconfig.build.json" : "tsconfig.json")
const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
    throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"))
  }
})
const program = ts.createProgram({ rootNames: config.fileNames, options: config.options })
const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) =>
  d.file === undefined || !effect3Only.has(d.file.fileName)
)

// Emitted files of the line go to dist/effect4 with their imports of the shared modules pointed at
// the Effect 3 build's copy of them: `<n x ../>src/x.js` from effect4/src is `<n-1 x ../>x.js`
// from dist/effect4. The shared modules themselves are emitted by the root build.
const outRoot = Path.join(root, "dist", "effect4")
const rewrite = (text) => text.replace(/(["'])((?:\.\.\/)*)\.\.\/src\//g, "$1$2")
let written = 0
if (emit && diagnostics.length === 0) {
  program.emit(undefined, (fileName, text) => {
    const relative = Path.relative(Path.join(config.options.outDir, "effect4", "src"), fileName)
    if (relative.startsWith("..")) return
    const target = Path.join(outRoot, relative)
    Fs.mkdirSync(Path.dirname(target), { recursive: true })
    Fs.writeFileSync(target, rewrite(text))
    written++
  })
}

if (diagnostics.length > 0) {
  process.stderr.write(ts.formatDiagnosticsWithColorAndContext(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => root,
    getNewLine: () => "\n"
  }))
  process.exit(1)
}
if (emit) process.stdout.write(`effect4: ${written} files written to ${Path.relative(root, outRoot)}\n`)
