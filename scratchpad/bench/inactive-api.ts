// The cost of every user tracing call with no active user span (no root, the default no-op
// harness): what a service pays for the instrumentation on requests that are not user-traced.
// Each call wraps or precedes `Effect.void` in one `Effect.gen` loop under `Effect.runSync`, after a
// warm-up; reported as ns per call above the bare loop and as a fraction of `Effect.withSpan`.
import { Effect, Option } from "effect"
import { RoutingMetadata, Traceparent, UserTracing } from "../../src/index.js"

const calls = Number(process.env.BENCH_INACTIVE_CALLS ?? 200_000)
const reps = Number(process.env.BENCH_INACTIVE_REPS ?? 5)

const link = { span: Option.getOrThrow(Traceparent.parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")) }
const userFn = UserTracing.userFn("user fn")(() => Effect.void)
const routing = RoutingMetadata.json({ tenant: "bench" })

const cases: ReadonlyArray<readonly [string, Effect.Effect<void>]> = [
  ["bare Effect.void", Effect.void],
  ["Effect.withSpan (native tracer)", Effect.withSpan(Effect.void, "span")],
  ["withUserSpan", UserTracing.withUserSpan(Effect.void, "span")],
  [
    "makeUserSpan + endUserSpan",
    Effect.flatMap(UserTracing.makeUserSpan("span"), (span) => UserTracing.endUserSpan(span))
  ],
  ["useUserSpan", UserTracing.useUserSpan("span", () => Effect.void)],
  [
    "withParentUserSpan (inactive handle)",
    Effect.flatMap(UserTracing.makeUserSpan("span"), (span) => UserTracing.withParentUserSpan(Effect.void, span))
  ],
  ["annotateUserSpans", UserTracing.annotateUserSpans(Effect.void, "key", "value")],
  ["annotateUserSpan", Effect.zipRight(UserTracing.annotateUserSpan("key", "value"), Effect.void)],
  ["logUserSpan", Effect.zipRight(UserTracing.logUserSpan({ key: "value" }), Effect.void)],
  ["addUserSpanEvent", Effect.zipRight(UserTracing.addUserSpanEvent("event", { key: 1 }), Effect.void)],
  ["setUserSpanStatus", Effect.zipRight(UserTracing.setUserSpanStatus({ code: "ok" }), Effect.void)],
  ["linkUserSpans", Effect.zipRight(UserTracing.linkUserSpans(link), Effect.void)],
  ["userFn call", Effect.suspend(() => userFn())],
  ["withDeferredUserTrace (no harness)", UserTracing.withDeferredUserTrace(Effect.void)],
  ["activateUserTrace (no deferred root)", Effect.asVoid(UserTracing.activateUserTrace("root", { routing }))],
  ["discardUserSpan", Effect.zipRight(UserTracing.discardUserSpan, Effect.void)]
]

const loop = (effect: Effect.Effect<void>) =>
  Effect.gen(function*() {
    for (let i = 0; i < calls; i++) yield* effect
  })

const nsPerCall = (effect: Effect.Effect<void>): number => {
  const program = loop(effect)
  Effect.runSync(program)
  const samples: Array<number> = []
  for (let r = 0; r < reps; r++) {
    const start = process.hrtime.bigint()
    Effect.runSync(program)
    samples.push(Number(process.hrtime.bigint() - start) / calls)
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)]
}

const results = cases.map(([name, effect]) => [name, nsPerCall(effect)] as const)
const bare = results[0][1]
const withSpan = results[1][1] - bare
console.log(`no active user span: ns per call above the bare loop (${calls} calls, median of ${reps})`)
console.log(`${"call".padEnd(40)} ${"ns".padStart(8)}  vs Effect.withSpan`)
for (const [name, ns] of results.slice(1)) {
  const extra = ns - bare
  console.log(`${name.padEnd(40)} ${extra.toFixed(0).padStart(8)}  1/${(withSpan / Math.max(extra, 1)).toFixed(0)}`)
}
