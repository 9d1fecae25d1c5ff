import { defineConfig } from "vitest/config"

// `npm run test:collector`: the live pipeline through a real OpenTelemetry Collector, built with
// Go from the Collector's own modules (and cached) by the global setup, started with
// docs/deployment.md's configurations, to gateways written in the tests. Needs Go; `npm test`
// does not.
export default defineConfig({
  test: {
    include: ["test/collector/**/*.collector.ts"],
    globalSetup: ["test/collector/globalSetup.ts"],
    testTimeout: 30_000
  }
})
