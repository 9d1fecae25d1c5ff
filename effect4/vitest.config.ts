import { fileURLToPath } from "node:url"
import { defineConfig, type Plugin } from "vitest/config"

const line = fileURLToPath(new URL(".", import.meta.url))

/**
 * Every `effect` import, those of the shared modules in ../src included, resolves as it does from
 * this directory: to effect 4, what an Effect 4 application that installs the package loads.
 */
const effect4Everywhere: Plugin = {
  name: "effect4-everywhere",
  enforce: "pre",
  resolveId(source, importer) {
    if (importer === undefined) return null
    if (importer.startsWith(line)) return null
    if (source !== "effect" && !source.startsWith("effect/")) return null
    return this.resolve(source, `${line}vitest.config.ts`, { skipSelf: true })
  }
}

export default defineConfig({
  plugins: [effect4Everywhere],
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000
  }
})
