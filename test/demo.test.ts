import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))

describe("the demo (npm start)", () => {
  it("runs to the end: its own checks hold, with the public API only", () => {
    const output = ChildProcess.execFileSync(process.execPath, ["--import", "tsx", "scratchpad/demo.ts"], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, NODE_OPTIONS: "", NO_COLOR: "1" }
    })
    const checks = output.split("\n").filter((line) => /^[✓✗] /.test(line))
    expect(checks.length).toBeGreaterThanOrEqual(5)
    expect(checks.filter((line) => line.startsWith("✗"))).toEqual([])
    expect(output).toContain("continues remote parent")
  }, 120_000)
})
