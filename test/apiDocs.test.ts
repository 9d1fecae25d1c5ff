import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { describe, expect, it } from "vitest"

const src = fileURLToPath(new URL("../src", import.meta.url))

/** The public modules: `src/<PascalCase>.ts` and `src/index.ts`. */
const modules = Fs.readdirSync(src).filter((file) => /^([A-Z]\w*|index)\.ts$/.test(file)).sort()

/** What each export's JSDoc lacks: a sentence, `@since`, `@category`. */
const missing = (file: string): ReadonlyArray<string> => {
  const text = Fs.readFileSync(Path.join(src, file), "utf8")
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const problems: Array<string> = []
  const check = (node: ts.Node, name: string): void => {
    const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc)
    const doc = docs[docs.length - 1]
    const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1
    const where = `src/${file}:${line} ${name}`
    if (doc === undefined) return void problems.push(`${where}: no JSDoc`)
    const description = typeof doc.comment === "string"
      ? doc.comment
      : (doc.comment ?? []).map((part) => part.text).join("")
    if (description.trim() === "") problems.push(`${where}: no description`)
    const tags = (doc.tags ?? []).map((tag) => tag.tagName.text)
    if (!tags.includes("since")) problems.push(`${where}: no @since`)
    if (!tags.includes("category")) problems.push(`${where}: no @category`)
  }
  // The module's own comment: the first JSDoc of the file, with a description and `@since`.
  const first = source.statements[0]
  const moduleDoc = first === undefined ? undefined : ts.getJSDocCommentsAndTags(first).filter(ts.isJSDoc)[0]
  if (moduleDoc === undefined || !(moduleDoc.tags ?? []).some((tag) => tag.tagName.text === "since")) {
    problems.push(`src/${file}: no module comment with @since`)
  }
  for (const statement of source.statements) {
    const exported = ts.canHaveModifiers(statement) &&
      (ts.getModifiers(statement) ?? []).some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword)
    if (ts.isExportDeclaration(statement)) {
      const clause = statement.exportClause
      if (clause === undefined) problems.push(`src/${file}: export * without a name`)
      else if (ts.isNamespaceExport(clause)) check(statement, clause.name.text)
      else for (const specifier of clause.elements) check(specifier, specifier.name.text)
    } else if (exported && ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        check(statement, declaration.name.getText(source))
      }
    } else if (
      exported &&
      (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement))
    ) {
      check(statement, statement.name?.text ?? "default")
    }
  }
  return problems
}

describe("API reference", () => {
  it("every export of every public module has a JSDoc with a description, @since and @category", () => {
    expect(modules).toContain("index.ts")
    expect(modules.flatMap(missing)).toEqual([])
  })
})
