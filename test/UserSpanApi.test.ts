import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Queue, Stream, TestClock } from "effect"
import officialRoot from "otlp-transformer-0214/build/src/generated/root.js"
import { TestUserTracing, Traceparent, UserHarness, UserTracing, UserTracingTest } from "../src/index.js"
import { defaultLimits } from "../src/internal/settings/schema.js"
import { toReceivedSpans, toTraces } from "../src/internal/sink/decode.js"
import { decodeTraceRequest } from "../src/internal/sink/proto.js"
import { renderTrace, spanJson } from "../src/internal/viewer/waterfall.js"
import type { FinishedUserSpan } from "../src/UserSpan.js"
import { encodeTraceRequest } from "./utils/encodeRequest.js"
import { routing, withRecordingTracer } from "./utils/helpers.js"

const { withUserSpan, withUserTrace } = UserTracing

const byName = Effect.map(UserTracingTest.finishedSpans, (spans) => new Map(spans.map((span) => [span.name, span])))

const inbound = Option.getOrThrow(Traceparent.parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03"))

/** An active harness with small limits, keeping what it exports. */
const limitedHarness = (exported: Array<FinishedUserSpan>) =>
  Layer.succeed(UserHarness.UserHarness, {
    enabled: true,
    limits: { ...defaultLimits, maxLinks: 2, maxLinkAttributes: 1, maxAttributeValueLength: 5 },
    export: (span) => {
      exported.push(span)
    },
    forceFlush: Effect.void
  })

describe("handles", () => {
  it.effect("makeUserSpan: a child that is not current and ends when told, once", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const handle = yield* UserTracing.makeUserSpan("connection", { kind: "client" })
        expect(Option.map(yield* UserTracing.currentUserSpan, (s) => s.name)).toEqual(Option.some("request"))
        yield* TestClock.adjust("5 millis")
        yield* UserTracing.endUserSpan(handle, { exit: Exit.fail("boom") })
        yield* UserTracing.endUserSpan(handle)
        const other = yield* UserTracing.makeUserSpan("explicit-end")
        yield* UserTracing.endUserSpan(other, { endTime: 123_000_000n })
      }).pipe(withUserTrace("request", { routing }))
      const spans = yield* byName
      const connection = spans.get("connection")!
      expect(connection.parentSpanId).toBe(spans.get("request")!.spanId)
      expect(connection.endTime - connection.startTime).toBe(5_000_000n)
      expect(connection.status).toBe("error")
      expect(connection.statusMessage).toBe("")
      expect(connection.kind).toBe("client")
      expect(spans.get("explicit-end")!.endTime).toBe(123_000_000n)
      expect(yield* UserTracingTest.finishedSpans).toHaveLength(3)
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("useUserSpan and makeUserSpanScoped end on exit and with the scope", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const seen = yield* UserTracing.useUserSpan("used", (span) => Effect.succeed(span.name))
        expect(seen).toBe("used")
        yield* Effect.exit(UserTracing.useUserSpan("used-failing", { kind: "producer" }, () => Effect.fail("x")))
        yield* Effect.scoped(Effect.gen(function*() {
          yield* UserTracing.makeUserSpanScoped("scoped")
          expect((yield* UserTracingTest.finishedSpans).map((s) => s.name)).not.toContain("scoped")
        }))
      }).pipe(withUserTrace("request", { routing }))
      const spans = yield* byName
      expect(spans.get("used")!.status).toBe("unset")
      expect(spans.get("used-failing")!.status).toBe("error")
      expect(spans.get("scoped")!.parentSpanId).toBe(spans.get("request")!.spanId)
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("withUserSpanScoped: current for the effect, ended when the scope closes", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Effect.void.pipe(withUserSpan("inside"), UserTracing.withUserSpanScoped("subscription"))
        expect((yield* UserTracingTest.finishedSpans).map((s) => s.name)).toEqual(["inside"])
      })).pipe(withUserTrace("request", { routing }))
      const spans = yield* byName
      expect(spans.get("inside")!.parentSpanId).toBe(spans.get("subscription")!.spanId)
      expect(spans.get("subscription")!.parentSpanId).toBe(spans.get("request")!.spanId)
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("withParentUserSpan: a consumer started at boot attaches its work to the request that enqueued it", () =>
    Effect.gen(function*() {
      const queue = yield* Queue.unbounded<{ readonly parent: UserTracing.UserSpan; readonly job: string }>()
      // The consumer runs outside any user trace.
      const consumer = yield* Effect.fork(
        Effect.forever(
          Effect.flatMap(
            Queue.take(queue),
            ({ job, parent }) => Effect.void.pipe(withUserSpan(`handle ${job}`), UserTracing.withParentUserSpan(parent))
          )
        )
      )
      for (const tenant of ["A", "B"]) {
        yield* Effect.flatMap(
          UserTracing.currentUserSpan,
          (current) => Queue.offer(queue, { parent: Option.getOrThrow(current), job: tenant })
        ).pipe(
          withUserTrace(`request ${tenant}`, { routing: { groupKey: () => tenant, encode: () => tenant } })
        )
      }
      while ((yield* UserTracingTest.finishedSpans).length < 4) yield* Effect.yieldNow()
      const spans = yield* byName
      for (const tenant of ["A", "B"]) {
        const handled = spans.get(`handle ${tenant}`)!
        expect(handled.parentSpanId).toBe(spans.get(`request ${tenant}`)!.spanId)
        expect(handled.traceId).toBe(spans.get(`request ${tenant}`)!.traceId)
        expect(handled.routing.encode()).toBe(tenant)
      }
      yield* Queue.shutdown(queue)
      yield* Effect.exit(consumer.await)
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("with no active user span: inactive handles, nothing recorded, nothing made current", () =>
    Effect.gen(function*() {
      const handle = yield* UserTracing.makeUserSpan("x")
      expect(handle).toBe(yield* UserTracing.makeUserSpan("y"))
      expect(handle.traceId).toBe("00000000000000000000000000000000")
      yield* UserTracing.endUserSpan(handle)
      yield* Effect.void.pipe(withUserSpan("under-inactive"), UserTracing.withParentUserSpan(handle))
      yield* UserTracing.useUserSpan("used", () => Effect.void)
      yield* Effect.scoped(UserTracing.makeUserSpanScoped("scoped"))
      yield* UserTracing.setUserSpanStatus({ code: "ok" })
      yield* UserTracing.addUserSpanEvent("e", { a: 1 })
      yield* UserTracing.linkUserSpans({ span: inbound })
      yield* Stream.runDrain(Stream.make(1, 2).pipe(UserTracing.withUserSpanStream("stream")))
      yield* Effect.void.pipe(withUserSpan("annotated"), UserTracing.annotateUserSpans("k", "v"))
      expect(yield* UserTracingTest.finishedSpans).toEqual([])
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("links", () => {
  it.effect("to a handle and to an inbound traceparent, with attributes, trace state and flags", () =>
    Effect.gen(function*() {
      const producer = yield* UserTracing.currentUserSpan.pipe(
        Effect.map(Option.getOrThrow),
        withUserTrace("producer", { routing, inbound, tracestate: "vendor=abc" })
      )
      yield* UserTracing.linkUserSpans({ span: inbound, attributes: { "messaging.batch": 1 }, tracestate: "other=1" })
        .pipe(
          withUserTrace("consumer", { routing, links: [{ span: producer, attributes: { why: "batch" } }] })
        )
      const traces = yield* UserTracingTest.userTraces({ includeLinks: true })
      expect(traces.find((t) => t.name === "consumer")!.links).toEqual([
        { to: "producer", attributes: [["why", "batch"]] },
        { to: `${inbound.traceId}/${inbound.parentId}`, attributes: [["messaging.batch", 1]] }
      ])
      const consumer = (yield* byName).get("consumer")!
      expect(consumer.links.map(({ remote, traceFlags, traceState }) => ({ remote, traceFlags, traceState }))).toEqual([
        { remote: false, traceFlags: 0x03, traceState: "vendor=abc" },
        { remote: true, traceFlags: 0x03, traceState: "other=1" }
      ])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("maxLinks and maxLinkAttributes cut and count", () =>
    Effect.gen(function*() {
      const exported: Array<FinishedUserSpan> = []
      yield* UserTracing.linkUserSpans([
        { span: inbound, attributes: { a: "long value", b: 2 } },
        { span: inbound },
        { span: inbound }
      ]).pipe(withUserTrace("r", { routing }), Effect.provide(limitedHarness(exported)))
      const [span] = exported
      expect(span.links).toHaveLength(2)
      expect(span.droppedLinksCount).toBe(1)
      expect(span.links[0].attributes).toEqual([["a", "long "]])
      expect(span.links[0].droppedAttributesCount).toBe(1)
    }))
})

describe("status", () => {
  it.effect("an application message on error; ok is final; unset is ignored; failures keep the message", () =>
    Effect.gen(function*() {
      yield* UserTracing.setUserSpanStatus({ code: "error", message: "card declined" }).pipe(
        withUserTrace("declined", { routing })
      )
      yield* Effect.exit(
        UserTracing.setUserSpanStatus({ code: "error", message: "upstream timeout" }).pipe(
          Effect.zipRight(Effect.fail("internal cause text")),
          withUserTrace("failed-with-message", { routing })
        )
      )
      yield* Effect.exit(
        Effect.gen(function*() {
          yield* UserTracing.setUserSpanStatus({ code: "ok" })
          yield* UserTracing.setUserSpanStatus({ code: "error", message: "ignored" })
          yield* UserTracing.annotateUserSpan("error", true)
          return yield* Effect.fail("after ok")
        }).pipe(withUserTrace("ok-final", { routing }))
      )
      yield* Effect.exit(
        UserTracing.setUserSpanStatus({ code: "unset", message: "nothing" }).pipe(
          Effect.zipRight(Effect.fail("x")),
          withUserTrace("unset-ignored", { routing })
        )
      )
      yield* UserTracing.setUserSpanFinishCallback((span) =>
        span.setStatus({ code: "error", message: "from callback" })
      )
        .pipe(withUserTrace("callback", { routing }))
      const traces = yield* UserTracingTest.userTraces({ includeStatus: true })
      expect(Object.fromEntries(traces.map((t) => [t.name, t.status]))).toEqual({
        "declined": { code: "error", message: "card declined" },
        "failed-with-message": { code: "error", message: "upstream timeout" },
        "ok-final": { code: "ok", message: "" },
        "unset-ignored": { code: "error", message: "" },
        "callback": { code: "error", message: "from callback" }
      })
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("events", () => {
  it.effect("typed attributes, now or at a given time, with the span limits", () =>
    Effect.gen(function*() {
      const exported: Array<FinishedUserSpan> = []
      yield* Effect.gen(function*() {
        yield* UserTracing.addUserSpanEvent("cache miss", { key: "abcdefgh", size: 12, hit: false, ids: [1n, 2n] })
        yield* UserTracing.addUserSpanEvent("scheduled", undefined, { time: 42n })
      }).pipe(withUserTrace("r", { routing }), Effect.provide(limitedHarness(exported)))
      const [span] = exported
      expect(span.events.map((e) => [e.name, e.attributes])).toEqual([
        ["cache miss", [["key", "abcde"], ["size", 12], ["hit", false], ["ids", [1n, 2n]]]],
        ["scheduled", []]
      ])
      expect(span.events[1].time).toBe(42n)
    }))

  it.effect("userTraces can show them (Log entry events stay in logs)", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        yield* UserTracing.logUserSpan({ a: "b" })
        yield* UserTracing.addUserSpanEvent("retry", { attempt: 2 })
      }).pipe(withUserTrace("r", { routing }))
      const [trace] = yield* UserTracingTest.userTraces({ includeEvents: true, includeLogs: true })
      expect(trace.events).toEqual([{ name: "retry", attributes: [["attempt", 2]] }])
      expect(trace.logs).toEqual([["a", "b"]])
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("fn and userFn", () => {
  it.effect("generator and plain bodies, pipeables, a dual span per call; userFn opens no internal span", () =>
    Effect.gen(function*() {
      const gen = UserTracing.fn("gen")(function*(n: number) {
        yield* Effect.void
        return n + 1
      }, Effect.map((n) => n * 10))
      const plain = UserTracing.fn("plain", { kind: "client" })((n: number) => Effect.succeed(n * 2))
      const userOnly = UserTracing.userFn("user-only")(function*() {
        return yield* Effect.succeed("u")
      })
      const [values, internal] = yield* withRecordingTracer(
        Effect.all([gen(1), plain(2), userOnly()]).pipe(withUserTrace("r", { routing }))
      )
      expect(values).toEqual([20, 4, "u"])
      expect(gen.length).toBe(1)
      expect(internal).toEqual(["gen", "plain"])
      const spans = yield* byName
      expect([...spans.keys()].sort()).toEqual(["gen", "plain", "r", "user-only"])
      expect(spans.get("plain")!.kind).toBe("client")
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("the internal span's stack points at the definition and the call, not into the library", () =>
    Effect.gen(function*() {
      const failing = UserTracing.fn("failing")(function*() {
        return yield* Effect.fail(new Error("boom"))
      })
      const exit = yield* Effect.exit(failing())
      expect(Exit.isFailure(exit)).toBe(true)
      const pretty = Cause.pretty((exit as Exit.Failure<never, Error>).cause)
      expect(pretty).toContain("at failing")
      expect(pretty).toContain("UserSpanApi.test.ts")
      expect(pretty).not.toContain("userFn.ts")
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("regions", () => {
  it.effect("annotateUserSpans: every user span opened inside starts with them, roots included", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        yield* Effect.void.pipe(
          withUserSpan("inner", { attributes: { own: 1 } }),
          UserTracing.annotateUserSpans({ region: "eu", own: 0 })
        )
        yield* Effect.void.pipe(withUserSpan("outside"))
      }).pipe(withUserTrace("r", { routing }))
      yield* Effect.void.pipe(
        withUserTrace("root-inside", { routing }),
        UserTracing.annotateUserSpans("tenant", "acme")
      )
      const spans = yield* byName
      expect([...spans.get("inner")!.attributes]).toEqual([["region", "eu"], ["own", 1]])
      expect(spans.get("outside")!.attributes.size).toBe(0)
      expect([...spans.get("root-inside")!.attributes]).toEqual([["tenant", "acme"]])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("withUserTracingEnabled(false) records nothing inside; true re-enables roots", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        yield* Effect.gen(function*() {
          yield* Effect.void.pipe(withUserSpan("hidden-child"))
          yield* Effect.void.pipe(withUserTrace("hidden-root", { routing }))
          yield* Effect.void.pipe(withUserTrace("re-enabled", { routing }), UserTracing.withUserTracingEnabled(true))
          expect(yield* UserTracing.userTraceparent).toEqual(Option.none())
        }).pipe(UserTracing.withUserTracingEnabled(false))
        yield* Effect.void.pipe(withUserSpan("after"))
      }).pipe(withUserTrace("r", { routing }))
      const names = (yield* UserTracingTest.finishedSpans).map((s) => s.name).sort()
      expect(names).toEqual(["after", "r", "re-enabled"])
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("startTime in options", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1 second")
      yield* Effect.void.pipe(withUserSpan("child", { startTime: 10n }), withUserTrace("r", { routing, startTime: 5n }))
      const spans = yield* byName
      expect(spans.get("r")!.startTime).toBe(5n)
      expect(spans.get("child")!.startTime).toBe(10n)
      expect(spans.get("child")!.endTime).toBe(1_000_000_000n)
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("withUserSpanStream", () => {
  it.effect("covers the consumption: the upstream's spans are its children, the consumer's are not", () =>
    Effect.gen(function*() {
      const stream = Stream.range(1, 3).pipe(
        Stream.mapEffect((n) => Effect.as(Effect.void.pipe(withUserSpan(`produce ${n}`)), n)),
        UserTracing.withUserSpanStream("response body")
      )
      const consumed = yield* Stream.runForEach(stream, (n) => Effect.void.pipe(withUserSpan(`consume ${n}`))).pipe(
        Effect.zipRight(Effect.succeed("done")),
        withUserTrace("request", { routing })
      )
      expect(consumed).toBe("done")
      const spans = yield* byName
      const body = spans.get("response body")!
      expect(body.parentSpanId).toBe(spans.get("request")!.spanId)
      for (const n of [1, 2, 3]) {
        expect(spans.get(`produce ${n}`)!.parentSpanId).toBe(body.spanId)
        expect(spans.get(`consume ${n}`)!.parentSpanId).toBe(spans.get("request")!.spanId)
      }
      expect(body.endTime).toBeGreaterThanOrEqual(spans.get("produce 3")!.endTime)
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("a failing stream ends its span with error status", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Stream.runCollect(
          Stream.concat(Stream.make(1), Stream.fail("broken")).pipe(UserTracing.withUserSpanStream("s"))
        ).pipe(
          withUserTrace("r", { routing })
        )
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect((yield* byName).get("s")!.status).toBe("error")
    }).pipe(Effect.provide(TestUserTracing)))
})

describe("the wire", () => {
  const official = (officialRoot as any).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest
  const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString("hex")

  it.effect("links, status messages, ok, and typed event attributes through the official OTLP definitions", () =>
    Effect.gen(function*() {
      const producer = yield* UserTracing.currentUserSpan.pipe(
        Effect.map(Option.getOrThrow),
        withUserTrace("producer", { routing })
      )
      yield* Effect.gen(function*() {
        yield* UserTracing.linkUserSpans([
          { span: producer, attributes: { n: 1 } },
          { span: inbound, tracestate: "k=v" }
        ])
        yield* UserTracing.addUserSpanEvent("typed", { i: 7, d: 0.5, b: true, s: "x", a: ["p", "q"] })
        yield* UserTracing.setUserSpanStatus({ code: "error", message: "card declined" })
      }).pipe(withUserTrace("consumer", { routing }))
      yield* UserTracing.setUserSpanStatus({ code: "ok" }).pipe(withUserTrace("fine", { routing }))
      const body = encodeTraceRequest({ serviceName: "svc" }, yield* UserTracingTest.finishedSpans)
      const decoded = official.toObject(official.decode(body), { longs: String })
      const spans = new Map<string, any>(decoded.resourceSpans[0].scopeSpans[0].spans.map((s: any) => [s.name, s]))
      const consumer = spans.get("consumer")
      expect(consumer.links.map((l: any) => ({
        traceId: hex(l.traceId),
        spanId: hex(l.spanId),
        traceState: l.traceState,
        flags: l.flags,
        attributes: l.attributes
      }))).toEqual([
        {
          traceId: producer.traceId,
          spanId: producer.spanId,
          traceState: undefined,
          flags: 0x103,
          attributes: [{ key: "n", value: { intValue: "1" } }]
        },
        { traceId: inbound.traceId, spanId: inbound.parentId, traceState: "k=v", flags: 0x303, attributes: undefined }
      ])
      expect(consumer.status).toEqual({ code: 2, message: "card declined" })
      expect(consumer.events[0].attributes).toEqual([
        { key: "i", value: { intValue: "7" } },
        { key: "d", value: { doubleValue: 0.5 } },
        { key: "b", value: { boolValue: true } },
        { key: "s", value: { stringValue: "x" } },
        { key: "a", value: { arrayValue: { values: [{ stringValue: "p" }, { stringValue: "q" }] } } }
      ])
      expect(spans.get("fine").status).toEqual({ code: 1 })
    }).pipe(Effect.provide(TestUserTracing)))

  it.effect("the local viewer shows links, status messages and typed event attributes", () =>
    Effect.gen(function*() {
      yield* Effect.gen(function*() {
        yield* UserTracing.linkUserSpans({ span: inbound, attributes: { "messaging.batch": 3 } })
        yield* UserTracing.addUserSpanEvent("retry", { attempt: 2, backoff: 0.25 })
        yield* UserTracing.setUserSpanStatus({ code: "error", message: "card declined" })
      }).pipe(withUserTrace("charge", { routing }))
      const body = encodeTraceRequest({ serviceName: "svc" }, yield* UserTracingTest.finishedSpans)
      const { spans } = toReceivedSpans(decodeTraceRequest(body), {})
      const text = renderTrace(toTraces(spans)[0], { color: false, width: 160 })
      expect(text).toContain(`↗ link ${inbound.traceId}/${inbound.parentId} (remote)`)
      expect(text).toContain("messaging.batch=3")
      expect(text).toContain("✗ error: card declined")
      expect(text).toContain("attempt=2")
      expect(text).toContain("backoff=0.25")
      const json = spanJson(spans[0], undefined) as any
      expect(json.links[0]).toMatchObject({ spanId: inbound.parentId, flags: 0x303 })
      expect(json.statusMessage).toBe("card declined")
    }).pipe(Effect.provide(TestUserTracing)))
})
