import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// The examples and the docs' code import the package by name, as users do: each public module
// (package.json's exports) resolves to its source, as tsconfig.json's `paths` say for tsc.
const exported: Record<string, unknown> = JSON.parse(Fs.readFileSync(new URL("package.json", import.meta.url), "utf8"))
  .exports
const alias = Object.keys(exported).filter((key) => key !== "./package.json").map((key) => ({
  find: new RegExp(`^effect-user-tracing${key === "." ? "" : key.slice(1)}$`),
  replacement: fileURLToPath(new URL(key === "." ? "src/index.ts" : `src/${key.slice(2)}.ts`, import.meta.url))
}))

export default defineConfig({
  resolve: { alias },
  test: {
    include: ["test/**/*.test.ts", "scratchpad/examples/**/*.test.ts"],
    testTimeout: 30_000
  }
})
