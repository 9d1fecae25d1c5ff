// Type-checks the Effect 4 line (its sources and tests) and, with `--emit <dir>`, compiles its
// sources into <dir> (default ../dist/esm/effect4), which sits beside the Effect 3 build's modules.
// Every `effect` import resolves to effect 4 (tsconfig.json's `paths`), including those of the
// shared modules of ../src that the line imports.
//
// Some modules of ../src are the Effect 3 line's own (its public modules, its Schema, its sink
// service): the Effect 4 line imports only types through them (the span record's `SpanLimits`, the
// sink's span types), so their own diagnostics under effect 4 are not this line's. Reported: every
// file of effect4/, and every shared module the line loads at run time (followed through imports
// that are not type-only), which must work on effect 4. `--list` prints the shared modules of each
// kind.
import * as Fs from "node:fs"
import * as Path from "node:path"
import process from "node:process"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const here = Path.dirname(fileURLToPath(import.meta.url))
const line = Path.resolve(here, "..")
const root = Path.resolve(line, "..")
const emit = process.argv.includes("--emit")

const configPath = Path.join(line, emit ? "tsconfig.build.json" : "tsconfig.json")
const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
    throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"))
  }
})
const program = ts.createProgram({ rootNames: config.fileNames, options: config.options })

/** The modules `file` loads when it runs: its imports and re-exports that are not type-only, and `import()`s. */
const runtimeImports = (file) => {
  const specifiers = []
  const visit = (node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause
      const typeOnly = clause !== undefined && (clause.isTypeOnly ||
        (clause.name === undefined && clause.namedBindings !== undefined &&
          ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 &&
          clause.namedBindings.elements.every((element) => element.isTypeOnly)))
      if (!typeOnly) specifiers.push(node.moduleSpecifier.text)
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined) {
      const typeOnly = node.isTypeOnly ||
        (node.exportClause !== undefined && ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 && node.exportClause.elements.every((element) => element.isTypeOnly))
      if (!typeOnly) specifiers.push(node.moduleSpecifier.text)
    } else if (
      ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0])
    ) {
      specifiers.push(node.arguments[0].text)
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
  return specifiers.flatMap((specifier) => {
    const resolved = ts.resolveModuleName(specifier, file.fileName, config.options, ts.sys).resolvedModule
    // An effect module that effect 4 does not have resolves to effect 3's, in the root's node_modules.
    if (/^effect(\/|$)/.test(specifier) && (resolved === undefined || !ownFile(resolved.resolvedFileName))) {
      notOnEffect4.push(`${Path.relative(root, file.fileName)} loads ${specifier}, which effect 4 does not have`)
    }
    return resolved === undefined || resolved.isExternalLibraryImport ? [] : [resolved.resolvedFileName]
  })
}
const notOnEffect4 = []

const ownFile = (fileName) => !Path.relative(line, fileName).startsWith("..")
const loaded = new Set()
const pending = program.getSourceFiles().filter((file) => ownFile(file.fileName)).map((file) => file.fileName)
while (pending.length > 0) {
  const fileName = pending.pop()
  if (loaded.has(fileName)) continue
  loaded.add(fileName)
  const file = program.getSourceFile(fileName)
  if (file !== undefined) { for (const next of runtimeImports(file)) pending.push(next) }
}
const checked = (fileName) => ownFile(fileName) || loaded.has(fileName)

if (process.argv.includes("--list")) {
  const shared = program.getSourceFiles().map((file) => file.fileName).filter((fileName) =>
    !ownFile(fileName) && fileName.startsWith(root) && !fileName.includes("node_modules")
  )
  for (const fileName of shared.sort()) {
    process.stdout.write(`${loaded.has(fileName) ? "loaded   " : "types    "} ${Path.relative(root, fileName)}\n`)
  }
}

if (notOnEffect4.length > 0) {
  process.stderr.write(`${[...new Set(notOnEffect4)].join("\n")}\n`)
  process.exit(1)
}

const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || checked(d.file.fileName))

// Emitted files of the line go to dist/esm/effect4 with their imports of the shared modules pointed at
// the Effect 3 build's copy of them: `<n x ../>src/x.js` from effect4/src is `<n-1 x ../>x.js`
// from dist/esm/effect4. The shared modules themselves are emitted by the root build.
const emitAt = process.argv.indexOf("--emit")
const outRoot = Path.resolve(
  root,
  process.argv[emitAt + 1]?.startsWith("--") === false ? process.argv[emitAt + 1] : "dist/esm/effect4"
)
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
if (emit && written === 0) {
  process.stderr.write("effect4: nothing emitted\n")
  process.exit(1)
}
