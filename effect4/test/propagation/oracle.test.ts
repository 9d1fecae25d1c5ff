import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { runtime } from "../../src/internal/span/current.js"
import { arbitraryProgram, checkProgram } from "../utils/propagationOracle.js"

const runs = Number(process.env.PROPAGATION_RUNS ?? 150)

describe("propagation on Effect 4: generated programs against Effect's own tracer", () => {
  it("the user tree equals Effect's and the current user span follows Effect's, outside resolvers", async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryProgram, ([a, b, deferral]) => Effect.runPromise(checkProgram(a, b, deferral))),
      { numRuns: runs }
    )
  }, 600_000)
})

describe("propagation on Effect 4 when the runtime check fails (another effect release)", () => {
  it("the user pipeline records less than Effect, never anything else", async () => {
    const saved = { checked: runtime.checked, recognisesBatches: runtime.recognisesBatches }
    runtime.checked = true
    runtime.recognisesBatches = false
    try {
      await fc.assert(
        fc.asyncProperty(arbitraryProgram, ([a, b, deferral]) => Effect.runPromise(checkProgram(a, b, deferral, true))),
        { numRuns: runs }
      )
    } finally {
      runtime.checked = saved.checked
      runtime.recognisesBatches = saved.recognisesBatches
    }
  }, 600_000)
})
