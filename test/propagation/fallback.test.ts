import { afterAll, beforeAll } from "@effect/vitest"
import { inPlaceWrites } from "../../src/internal/span/slot.js"
import { propagationSuite } from "../utils/propagationScenarios.js"

// The mode a failed start-up self-check selects: every write installs a fresh slot.
beforeAll(() => {
  inPlaceWrites.enabled = false
})
afterAll(() => {
  inPlaceWrites.enabled = true
})

propagationSuite()
