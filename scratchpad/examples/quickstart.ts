/**
 * Quick start: user traces from a request handler to a receiver, in one file.
 *
 * A local OTLP receiver (`UserTraceSink`, the engine of the `user-tracing-sink` CLI) listens on a
 * temporary Unix socket; the live pipeline (`UserTracing.layer`) exports to it; two requests of
 * two tenants run; closing the layer flushes; the traces as received are printed.
 *
 * Run it: `npx tsx quickstart.ts`
 */
import { Effect } from "effect"
import { RoutingMetadata, UserTraceSink, UserTracing } from "effect-user-tracing"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

// A request handler. Its user spans are what the customer sees of the request.
const loadOrder = (id: string) =>
  Effect.sleep("5 millis").pipe(UserTracing.withUserSpan("load order", { attributes: { "order.id": id } }))

const chargeCard = Effect.sleep("10 millis").pipe(
  // An internal span (Effect.withSpan) and a user span of the same name.
  UserTracing.withDualSpan("charge card", { kind: "client" })
)

const checkout = (tenant: string, orderId: string) =>
  Effect.gen(function*() {
    yield* loadOrder(orderId)
    yield* chargeCard
    yield* UserTracing.logUserSpan({ outcome: "paid" })
  }).pipe(
    // One root per request; its routing decides whose trace this is.
    UserTracing.withUserTrace("POST /checkout", { routing: RoutingMetadata.json({ tenant }), kind: "server" })
  )

const routingHeaderName = "x-user-routing"

const main = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "quickstart-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  const socketPath = Path.join(dir, "otlp.sock")
  const sink = yield* UserTraceSink.make({ socketPath })

  // In a service: `Effect.provide(UserTracingLive)`, configured by the USER_TRACING_* variables.
  const UserTracingLayer = UserTracing.layer({
    enabled: true,
    serviceName: "checkout",
    output: { otlpUds: { socketPath, routingHeaderName } }
  })
  yield* Effect.all([checkout("acme", "42"), checkout("globex", "7")]).pipe(Effect.provide(UserTracingLayer))
  // The layer is closed here: every span has been exported.

  for (const trace of yield* sink.traces) {
    console.log(`${UserTraceSink.renderWaterfall(trace, { routingHeader: routingHeaderName, width: 90 })}\n`)
  }
})

Effect.runPromise(Effect.scoped(main)).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
