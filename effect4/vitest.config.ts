import { fileURLToPath } from "node:url"
import { defineConfig, type Plugin } from "vitest/config"

const line = fileURLToPath(new URL(".", import.meta.url))

/** Effect 3's modules that shared modules still import, which effect 4 does not have: our stand-ins. */
export const effect3Shims: Readonly<Record<string, string>> = {
  "effect/GlobalValue": `${line}src/internal/shims/GlobalValue.ts`
}

/**
 * Every `effect` import, those of the shared modules in ../src included, resolves as it does from
 * this directory: to effect 4, what an Effect 4 application that installs the package loads.
 */
const effect4Everywhere: Plugin = {
  name: "effect4-everywhere",
  enforce: "pre",
  resolveId(source, importer) {
    if (importer === undefined) return null
    const shim = effect3Shims[source]
    if (shim !== undefined) return shim
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
