/**
 * What keeping the current user span costs on Effect 4, per span region, by design (run with
 * `node effect4/bench/slot.mjs`, which bundles this file with effect 4):
 *
 * - `provideService`: the span in a `Context.Reference`, scoped with `Effect.provideService`, the
 *   span ended by `Effect.onExit`: the plain reading of "a Reference scoped with provideService".
 * - `ours`: the line's region (`withUserSpan`): one `Context.add` (an overlay, nothing copied), the
 *   exit frame pushed before the context changes, restoring the previous context and ending the
 *   span in place (no effect to run at exit).
 * - `span record only`: the record made and ended, never current: what neither design can save.
 * - `Effect.withSpan`: Effect's own span, native tracer, for scale; `inactive`: `withUserSpan`
 *   with no user root; `bare`: the loop alone.
 *
 * Each region wraps `Effect.void` in one `Effect.gen` loop; the same span record is made in both
 * designs (a live harness whose exporter discards), so the difference is the slot mechanism.
 * Rounds alternate the cases; the best of the rounds is shown (a noisy shared machine).
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { RoutingMetadata, UserHarness, UserTracing, UserTracingSettings } from "../src/index.js"
import { Current, currentSpan, CurrentUserSpan, nowNanos } from "../src/internal/span/current.js"
import { makeChild } from "../src/internal/span/regions.js"

const calls = Number(process.env.SLOT_CALLS ?? 200_000)
const rounds = Number(process.env.SLOT_ROUNDS ?? 7)

const harness = UserHarness.make({
  enabled: true,
  limits: UserTracingSettings.defaultSpanLimits,
  exporter: { export: () => {}, forceFlush: Effect.void }
})
const active = Layer.succeed(UserHarness.UserHarness, harness)
const routing = RoutingMetadata.json({ tenant: "acme" })

/** The plain design: `provideService` of the Reference, `onExit` to end the span. */
const withUserSpanProvideService = <A, E, R>(self: Effect.Effect<A, E, R>, name: string) =>
  Effect.withFiber<A, E, R>((fiber) => {
    const parent = currentSpan(fiber)
    if (parent === undefined) return self
    const span = makeChild(parent, fiber, name, undefined)
    return Effect.onExit(
      Effect.provideService(self, CurrentUserSpan, new Current(span, fiber)),
      (exit) => Effect.sync(() => span.end(nowNanos(fiber), Exit.isFailure(exit)))
    )
  })

/** The span record alone: made and ended around the effect, never current (no slot at all). */
const recordOnly = <A, E, R>(self: Effect.Effect<A, E, R>, name: string) =>
  Effect.withFiber<A, E, R>((fiber) => {
    const parent = currentSpan(fiber)
    if (parent === undefined) return self
    const span = makeChild(parent, fiber, name, undefined)
    return Effect.onExitPrimitive(self, (exit) => {
      span.end(nowNanos(fiber), Exit.isFailure(exit))
      return undefined
    })
  })

const loop = (region: Effect.Effect<void>) =>
  Effect.gen(function*() {
    for (let i = 0; i < calls; i++) yield* region
  })

const cases: ReadonlyArray<readonly [string, Effect.Effect<void>, boolean]> = [
  ["bare Effect.void", Effect.void, true],
  ["withUserSpan, no user root (inactive)", UserTracing.withUserSpan(Effect.void, "span"), false],
  ["ours: withUserSpan", UserTracing.withUserSpan(Effect.void, "span"), true],
  ["provideService + onExit", withUserSpanProvideService(Effect.void, "span"), true],
  ["span record only, never current", recordOnly(Effect.void, "span"), true],
  ["Effect.withSpan (native tracer)", Effect.withSpan(Effect.void, "span"), true]
]

const timeOf = (region: Effect.Effect<void>, inRoot: boolean): number => {
  const program = inRoot ? loop(region).pipe(UserTracing.withUserTrace("root", { routing })) : loop(region)
  const start = process.hrtime.bigint()
  Effect.runSync(Effect.provide(program, active))
  return Number(process.hrtime.bigint() - start) / calls
}

const best = new Map<string, number>()
for (let round = 0; round < rounds; round++) {
  for (const [name, region, inRoot] of cases) {
    const ns = timeOf(region, inRoot)
    best.set(name, Math.min(best.get(name) ?? Infinity, ns))
  }
}
const bare = best.get("bare Effect.void")!
const withSpan = best.get("Effect.withSpan (native tracer)")! - bare
console.log(`per region, above the bare loop (best of ${rounds} rounds of ${calls} calls; Node ${process.version})`)
for (const [name] of cases) {
  const ns = best.get(name)! - bare
  console.log(
    `${name.padEnd(40)} ${ns.toFixed(0).padStart(7)} ns  ${
      name === "bare Effect.void" ? "" : `1/${(withSpan / ns).toFixed(1)} of Effect.withSpan`
    }`
  )
}
