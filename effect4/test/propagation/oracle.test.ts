import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { arbitraryProgram, checkProgram } from "../utils/propagationOracle.js"

const runs = Number(process.env.PROPAGATION_RUNS ?? 150)

describe("propagation on Effect 4: generated programs against Effect's own tracer", () => {
  it("the user tree equals Effect's and the current user span follows Effect's, outside resolvers", async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryProgram, ([a, b]) => Effect.runPromise(checkProgram(a, b))),
      { numRuns: runs }
    )
  }, 600_000)
})
