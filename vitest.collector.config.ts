import { defineConfig } from "vitest/config"

// `npm run test:collector`: the live pipeline against the OpenTelemetry Collector's own OTLP
// receiver, a Go program built (and cached) by the global setup. Needs Go; `npm test` does not.
export default defineConfig({
  test: {
    include: ["test/collector/**/*.collector.ts"],
    globalSetup: ["test/collector/globalSetup.ts"],
    testTimeout: 30_000
  }
})
