/**
 * The demo: a few simulated requests traced under `TestUserTracing`, then the user trace trees
 * the in-memory sink recorded.
 */
import { Effect, Option } from "effect"
import { RoutingMetadata, TestUserTracing, Traceparent, UserTracing, UserTracingTest } from "../src/index.js"

const loadUser = UserTracing.fn("load-user")(function*(id: string) {
  yield* UserTracing.annotateUserSpan("user.id", id)
  yield* Effect.sleep("5 millis")
  return { id }
})

const handle = (path: string) =>
  Effect.gen(function*() {
    const user = yield* loadUser("42")
    yield* Effect.all([
      Effect.sleep("3 millis").pipe(UserTracing.withUserSpan("cache.lookup")),
      Effect.sleep("4 millis").pipe(UserTracing.withUserSpan("db.query", { kind: "client" }))
    ], { concurrency: 2 })
    yield* UserTracing.logUserSpan({ path, user: user.id })
    return user
  })

const program = Effect.gen(function*() {
  const inbound = Traceparent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
  yield* handle("/a").pipe(
    UserTracing.withUserTrace("GET /a", { routing: RoutingMetadata.json({ tenant: "acme" }), kind: "server" })
  )
  yield* handle("/b").pipe(
    UserTracing.withUserTrace("GET /b", {
      routing: RoutingMetadata.json({ tenant: "globex" }),
      kind: "server",
      inbound: Option.getOrUndefined(inbound)
    })
  )
  const traces = yield* UserTracingTest.userTraces({ includeAttributes: true, includeLogs: true })
  const print = (trace: UserTracingTest.TestTrace, depth: number): void => {
    const attributes = trace.attributes.map(([k, v]) => `${k}=${String(v)}`).join(" ")
    const logs = trace.logs.map(([k, v]) => `${k}=${v}`).join(" ")
    console.log(`${"  ".repeat(depth)}${trace.name}${attributes ? `  {${attributes}}` : ""}${logs ? `  log{${logs}}` : ""}`)
    for (const child of trace.children) print(child, depth + 1)
  }
  for (const trace of traces) print(trace, 0)
})

Effect.runPromise(program.pipe(Effect.provide(TestUserTracing)))
