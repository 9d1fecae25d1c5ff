import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { checkInPlaceWrites, inPlaceWritesEnabled } from "../../src/internal/span/slot.js"
import { propagationSuite } from "../utils/propagationScenarios.js"

propagationSuite()

describe("the in-place write self-check", () => {
  it("holds on this effect release", () => {
    expect(checkInPlaceWrites()).toBe(true)
    expect(inPlaceWritesEnabled()).toBe(true)
  })

  it("fails when a FiberRefs snapshot would share the fiber's own FiberRefs object", () => {
    const prototype: { getFiberRefs: () => unknown } = Effect.runSync(
      Effect.withFiberRuntime((fiber) => Effect.succeed(Object.getPrototypeOf(fiber)))
    )
    const getFiberRefs = prototype.getFiberRefs
    prototype.getFiberRefs = function(this: { _fiberRefs: unknown }) {
      return this._fiberRefs
    }
    try {
      expect(checkInPlaceWrites()).toBe(false)
    } finally {
      prototype.getFiberRefs = getFiberRefs
    }
    expect(checkInPlaceWrites()).toBe(true)
  })
})
