import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

/** The output with what varies from run to run masked: times, ids, paths, the bars' lengths. */
const masked = (output: string): string =>
  output
    .replace(/^timestamp=\S+/m, "timestamp=<now>")
    .replace(/ fiber=#\d+ /, " fiber=#<n> ")
    .replace(/\/\S*\/otlp\.sock/, "<dir>/otlp.sock")
    .replace(/trace [0-9a-f]{32}/g, "trace <id>")
    .replace(/\d+(\.\d+)? (ms|µs|ns|s)\b/g, "<t>")
    .replace(/ *[█▏▎▍▌▋▊▉]+[█▏▎▍▌▋▊▉ ]*/g, " <bar> ")
    .replace(/^ +0 +<t>$/mg, "<axis>")
    .replace(/ +$/mg, "")

describe("quick start", () => {
  it("runs as a user runs it (tsx) and prints both tenants' traces as the receiver got them", () => {
    const output = ChildProcess.execFileSync(
      process.execPath,
      ["--import", "tsx", "scratchpad/examples/quickstart.ts"],
      { cwd: root, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "", NO_COLOR: "1" } }
    )
    // Everything else is what the README shows.
    expect(masked(output)).toBe(`timestamp=<now> level=INFO fiber=#<n> message="user tracing is enabled: \
service \\"checkout\\", OTLP/HTTP over the Unix socket <dir>/otlp.sock, routing header x-user-routing"
trace <id>  checkout · 3 spans · <t>
  x-user-routing: {"tenant":"acme"}
<axis>
POST /checkout server <bar> <t>
│  ◆ Log entry +<t>  outcome=paid
├─ load order <bar> <t>
│     order.id=42
└─ charge card client <bar> <t>

trace <id>  checkout · 3 spans · <t>
  x-user-routing: {"tenant":"globex"}
<axis>
POST /checkout server <bar> <t>
│  ◆ Log entry +<t>  outcome=paid
├─ load order <bar> <t>
│     order.id=7
└─ charge card client <bar> <t>

`)
  }, 60_000)
})
