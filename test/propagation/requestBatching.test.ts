// Effect's request batching resumes a blocked region's continuation in another fiber: the user span
// must follow Effect's own span there, tenant by tenant, on the wire and in the headers sent out.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option, Queue, Request, RequestResolver } from "effect"
import { RoutingMetadata, UserTracing, UserTracingTest } from "../../src/index.js"
import { settingsFor, withPipeline } from "../utils/pipeline.js"
import { makeReceiver } from "../utils/receiver.js"

const { annotateUserSpan, userTraceHeaders, withDualSpan, withUserSpan, withUserTrace, withoutUserTrace } = UserTracing
const tenant = (name: string) => ({ routing: RoutingMetadata.json({ tenant: name }) })

interface GetUser extends Request.Request<string> {
  readonly _tag: "GetUser"
  readonly id: string
}
const GetUser = Request.tagged<GetUser>("GetUser")

/** A resolver shared by every tenant, as a DataLoader is: it records what it saw of the user pipeline. */
const makeUsers = () => {
  const seen: Array<{ readonly ids: ReadonlyArray<string>; readonly headers: Record<string, string> }> = []
  const resolver = RequestResolver.makeBatched((requests: ReadonlyArray<GetUser>) =>
    Effect.gen(function*() {
      seen.push({ ids: requests.map((r) => r.id), headers: yield* userTraceHeaders })
      yield* annotateUserSpan("resolver.ids", requests.map((r) => r.id).join(","))
      yield* Effect.void.pipe(withUserSpan("resolver-span"))
      yield* Effect.forEach(requests, (r) => Request.succeed(r, `user-${r.id}`), { discard: true })
    })
  )
  return { seen, get: (id: string) => Effect.request(GetUser({ id }), resolver) }
}

/** The spans on the wire, each with the routing header of the request that carried it. */
const wireSpans = (receiver: { readonly requests: ReadonlyArray<any> }) =>
  receiver.requests.flatMap((request) =>
    request.decoded.resourceSpans[0].scopeSpans[0].spans.map((span: any) => ({
      name: span.name as string,
      routing: request.headers["x-user-routing"] as string,
      spanId: Buffer.from(span.spanId).toString("hex"),
      parentSpanId: span.parentSpanId == null ? "" : Buffer.from(span.parentSpanId).toString("hex"),
      attributes: Object.fromEntries(span.attributes.map((kv: any) => [kv.key, kv.value.stringValue])) as Record<
        string,
        string
      >
    }))
  )

describe("request batching across tenants", () => {
  it.scopedLive("after Effect.all with batching, outside both roots nothing is current: no span, no attribute, no header", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const users = makeUsers()
      let outsideHeaders: Record<string, string> | undefined
      yield* withPipeline(
        settingsFor(receiver.socketPath),
        Effect.gen(function*() {
          const branch = (name: string) =>
            users.get(name).pipe(withUserSpan(`get-${name}`), withUserTrace(`root-${name}`, tenant(name)))
          yield* Effect.all([branch("A"), branch("B")], { batching: true })
          yield* Effect.void.pipe(withUserSpan("outside-span"))
          yield* annotateUserSpan("outside.attr", "secret")
          outsideHeaders = yield* userTraceHeaders
        })
      )
      const spans = wireSpans(receiver)
      expect(spans.map((s) => s.name).sort()).toEqual(["get-A", "get-B", "root-A", "root-B"])
      for (const span of spans) {
        expect(span.routing).toBe(JSON.stringify({ tenant: span.name.slice(-1) }))
        expect(span.attributes["outside.attr"]).toBeUndefined()
        // The resolver serves both tenants: it is in neither trace.
        expect(span.attributes["resolver.ids"]).toBeUndefined()
      }
      expect(outsideHeaders).toEqual({})
      expect(users.seen).toEqual([{ ids: ["A", "B"], headers: {} }])
    }))

  it.scopedLive("inside each tenant, after the batched region exits, its root is current again", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const users = makeUsers()
      const headers = new Map<string, Record<string, string>>()
      yield* withPipeline(
        settingsFor(receiver.socketPath),
        Effect.all(
          ["A", "B"].map((name) =>
            Effect.gen(function*() {
              yield* users.get(name).pipe(withDualSpan(`get-${name}`))
              yield* Effect.void.pipe(withUserSpan(`after-get-${name}`))
              headers.set(name, yield* userTraceHeaders)
            }).pipe(withUserTrace(`root-${name}`, tenant(name)))
          ),
          { batching: true, concurrency: "unbounded" }
        )
      )
      const spans = wireSpans(receiver)
      const byName = new Map(spans.map((s) => [s.name, s]))
      for (const name of ["A", "B"]) {
        const root = byName.get(`root-${name}`)!
        expect(byName.get(`after-get-${name}`)!.parentSpanId).toBe(root.spanId)
        expect(byName.get(`get-${name}`)!.parentSpanId).toBe(root.spanId)
        expect(headers.get(name)!.traceparent.split("-")[2]).toBe(root.spanId)
      }
    }))

  it.scopedLive("a consumer loop: tenants A and B in one batch, then tenant C with no trace records nothing and sends no traceparent", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const users = makeUsers()
      let headersOfC: Record<string, string> | undefined
      interface Message {
        readonly tenant: string
        readonly traced: boolean
      }
      const handle = (message: Message) => {
        const work = Effect.gen(function*() {
          yield* users.get(message.tenant)
          yield* Effect.void.pipe(
            withUserSpan(`handle-${message.tenant}`, { attributes: { [`${message.tenant}.card`]: "4111" } })
          )
          if (message.tenant === "C") headersOfC = yield* userTraceHeaders
        })
        return message.traced ? work.pipe(withUserTrace(`message-${message.tenant}`, tenant(message.tenant))) : work
      }
      yield* withPipeline(
        settingsFor(receiver.socketPath),
        Effect.gen(function*() {
          const queue = yield* Queue.unbounded<ReadonlyArray<Message>>()
          yield* Queue.offerAll(queue, [
            [{ tenant: "A", traced: true }, { tenant: "B", traced: true }],
            [{ tenant: "C", traced: false }]
          ])
          for (let batch = 0; batch < 2; batch++) {
            yield* Effect.forEach(yield* Queue.take(queue), handle, { batching: true, discard: true })
          }
        })
      )
      const spans = wireSpans(receiver)
      expect(spans.map((s) => s.name).sort()).toEqual(["handle-A", "handle-B", "message-A", "message-B"])
      for (const span of spans) expect(span.routing).toBe(JSON.stringify({ tenant: span.name.slice(-1) }))
      expect(spans.some((s) => "C.card" in s.attributes)).toBe(false)
      expect(headersOfC).toEqual({})
    }))

  it.effect("request caching: a tenant served from another tenant's cached request stays in its own trace", () =>
    Effect.gen(function*() {
      const users = makeUsers()
      const branch = (name: string) =>
        Effect.gen(function*() {
          yield* users.get("shared").pipe(withUserSpan(`get-${name}`))
          yield* Effect.void.pipe(withUserSpan(`after-${name}`))
        }).pipe(withUserTrace(`root-${name}`, tenant(name)))
      yield* Effect.gen(function*() {
        yield* branch("A")
        yield* branch("B")
      }).pipe(
        Effect.withRequestCaching(true),
        Effect.withRequestCache(yield* Request.makeCache({ capacity: 10, timeToLive: "1 minute" }))
      )
      const spans = yield* UserTracingTest.finishedSpans
      const byName = new Map(spans.map((s) => [s.name, s]))
      expect(users.seen).toHaveLength(1)
      for (const name of ["A", "B"]) {
        const root = byName.get(`root-${name}`)!
        expect(byName.get(`after-${name}`)!.parentSpanId).toBe(root.spanId)
        expect(byName.get(`get-${name}`)!.routing.encode()).toBe(JSON.stringify({ tenant: name }))
      }
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("a batched request inside a finalizer: Effect restores the finalizer's refs on the fiber that began it, so both pipelines stay in the span that added it", () =>
    Effect.gen(function*() {
      const users = makeUsers()
      const seen: Array<readonly [string | undefined, string | undefined]> = []
      const observe = Effect.all([Effect.option(Effect.currentSpan), UserTracing.currentUserSpan]).pipe(
        Effect.map(([effect, user]) => {
          seen.push([Option.getOrUndefined(effect)?.name, Option.getOrUndefined(user)?.name])
        })
      )
      const body = Effect.gen(function*() {
        yield* Effect.scoped(withDualSpan(Effect.addFinalizer(() => users.get("x")), "adds-finalizer"))
        yield* observe
      }).pipe(withDualSpan("outer"))
      yield* Effect.all([body], { batching: true }).pipe(
        withUserTrace("root-A", tenant("A")),
        Effect.withSpan("root-A")
      )
      // Upstream behaviour, the same in both pipelines and within one tenant's trace.
      expect(seen).toEqual([["adds-finalizer", "adds-finalizer"]])
    }).pipe(Effect.provide(UserTracingTest.layer)))
})

describe("shared resources built lazily inside a request", () => {
  /**
   * A DataLoader: callers queue their ids, a daemon fiber made with the loader runs one load per
   * batch in a user span. Like Effect's own spans, the daemon keeps the span current where it was
   * forked.
   */
  const makeLoader = Effect.gen(function*() {
    const queue = yield* Queue.unbounded<readonly [string, Deferred.Deferred<string>]>()
    yield* Effect.forkDaemon(Effect.forever(Effect.gen(function*() {
      const batch = yield* Queue.takeBetween(queue, 1, 100)
      yield* Effect.forEach(batch, ([id, deferred]) => Deferred.succeed(deferred, `user-${id}`), { discard: true })
        .pipe(
          withUserSpan("load", { attributes: { ids: Array.from(batch, ([id]) => id).join(",") } })
        )
    })))
    return (id: string) =>
      Effect.flatMap(
        Deferred.make<string>(),
        (deferred) => Effect.zipRight(Queue.offer(queue, [id, deferred]), Deferred.await(deferred))
      )
  })

  const serveTenants = (loader: Effect.Effect<(id: string) => Effect.Effect<string>>) =>
    Effect.forEach(
      ["t0", "t1", "t2", "t3"],
      (name) =>
        Effect.flatMap(loader, (load) => load(`${name}-id`)).pipe(
          withUserSpan("lookup"),
          withUserTrace(name, tenant(name))
        ),
      { discard: true }
    )

  const loadsByTenant = Effect.map(
    UserTracingTest.finishedSpans,
    (spans) =>
      spans.filter((s) => s.name === "load").map((
        s
      ) => [JSON.parse(s.routing.encode()).tenant, s.attributes.get("ids")])
  )

  it.effect("built with Effect.cached inside the first request: its daemon records every later tenant's ids in that request's trace", () =>
    Effect.gen(function*() {
      const loader = yield* Effect.cached(makeLoader)
      const daemons = yield* Effect.fork(serveTenants(loader))
      yield* Fiber.join(daemons)
      const loads = yield* loadsByTenant
      expect(loads.length).toBeGreaterThan(1)
      // The snapshot rule, as Effect's own tracer applies it: every load is in t0's trace.
      expect(loads.every(([owner]) => owner === "t0")).toBe(true)
      expect(loads.map(([, ids]) => ids)).toContain("t1-id")
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("built with withoutUserTrace: no tenant's trace holds another tenant's ids", () =>
    Effect.gen(function*() {
      const loader = yield* Effect.cached(withoutUserTrace(makeLoader))
      yield* serveTenants(loader)
      expect(yield* loadsByTenant).toEqual([])
      const spans = yield* UserTracingTest.finishedSpans
      expect(spans.filter((s) => s.name === "lookup").map((s) => JSON.parse(s.routing.encode()).tenant)).toEqual([
        "t0",
        "t1",
        "t2",
        "t3"
      ])
    }).pipe(Effect.provide(UserTracingTest.layer)))

  it.effect("withoutUserTrace hides the current span, and a root opened inside starts a trace of its own", () =>
    Effect.gen(function*() {
      const [inside, nested] = yield* Effect.gen(function*() {
        const inside = yield* UserTracing.currentUserSpan
        const nested = yield* UserTracing.currentUserSpan.pipe(withUserTrace("job", tenant("jobs")))
        return [inside, nested] as const
      }).pipe(withoutUserTrace, withUserTrace("request", tenant("A")))
      expect(Option.isNone(inside)).toBe(true)
      expect(Option.map(nested, (s) => s.name)).toEqual(Option.some("job"))
      const spans = yield* UserTracingTest.finishedSpans
      expect(spans.find((s) => s.name === "job")!.parentSpanId).toBeUndefined()
    }).pipe(Effect.provide(UserTracingTest.layer)))
})
