import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// Every `effect` import, those of the shared modules in ../src included, is effect 4: what an
// Effect 4 application that installs the package loads.
const effect = fileURLToPath(new URL("node_modules/effect/dist/", import.meta.url))

export default defineConfig({
  resolve: {
    alias: [
      { find: /^effect$/, replacement: `${effect}index.js` },
      { find: /^effect\/(.*)$/, replacement: `${effect}$1.js` }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000
  }
})
