import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

describe("quick start", () => {
  it("runs as a user runs it (tsx) and prints both tenants' traces as the receiver got them", () => {
    const output = ChildProcess.execFileSync(
      process.execPath,
      ["--import", "tsx", "scratchpad/examples/quickstart.ts"],
      { cwd: root, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } }
    )
    // Times vary from run to run: everything else is what the README shows.
    const shown = output.replace(/\d+\.\d ms/g, "_ ms").replace(/trace [0-9a-f]{32}/g, "trace <id>")
      .replace(/^timestamp=\S+/m, "timestamp=<now>").replace(/ fiber=#\d+ /, " fiber=#<n> ").replace(
        /\/\S*\/otlp\.sock/,
        "<dir>/otlp.sock"
      )
    expect(shown).toBe(
      `timestamp=<now> level=INFO fiber=#<n> message="user tracing is enabled: service \\"checkout\\", \
OTLP/HTTP over the Unix socket <dir>/otlp.sock, routing header x-user-routing"
trace <id>  service checkout  x-user-routing: {"tenant":"acme"}
  POST /checkout (server, _ ms)
    · Log entry outcome=paid
    load order (internal, _ ms) order.id=42
    charge card (client, _ ms)
trace <id>  service checkout  x-user-routing: {"tenant":"globex"}
  POST /checkout (server, _ ms)
    · Log entry outcome=paid
    load order (internal, _ ms) order.id=7
    charge card (client, _ ms)
`
    )
  }, 60_000)
})
