/**
 * The live pipeline against the OpenTelemetry Collector's own OTLP receiver (main.go), started
 * from the README's Collector configuration: what the Collector decodes is what we meant to send.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Layer, Logger, Option, Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import {
  OtlpUserTraceExporter,
  RoutingMetadata,
  TestUserTracing,
  Traceparent,
  UserTraceExporter,
  UserTraceSink,
  UserTracing,
  UserTracingSettings,
  UserTracingTest
} from "../../src/index.js"
import type { AttributeValue, FinishedUserSpan, UserSpan } from "../../src/UserSpan.js"
import { counted, withPipeline } from "../utils/pipeline.js"
import { eventually } from "../utils/receiver.js"
import {
  type Collector,
  type CollectorSpan,
  readmeCollectorConfig,
  startCollector,
  tempDirectory
} from "./collector.js"

const { annotateUserSpan, currentUserSpan, logUserSpan, withUserSpan, withUserTrace } = UserTracing

/** The README's routing header: the key its batch processor and `headers_setter` use. */
const routingHeaderName = "x-user-routing"
const packageVersion: string =
  JSON.parse(Fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version

const acme = RoutingMetadata.json({ tenant: "acme", region: "eu" })
const globex = RoutingMetadata.json({ tenant: "globex" })
/** A hand-written routing value with separators HTTP gives meaning to elsewhere: sent and kept verbatim. */
const initech: RoutingMetadata.RoutingMetadata = {
  groupKey: () => "initech",
  encode: () => "tenant=initech; plan=\"gold, annual\"; next=/a/b?c=d&e=%20"
}
const inbound = Option.getOrThrow(Traceparent.parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
const inboundRandom = Option.getOrThrow(Traceparent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"))

/** The live pipeline's output for a Collector: its socket, or its URL over TCP. */
const outputFor = (
  collector: Collector,
  common?: Record<string, unknown>
): UserTracingSettings.SettingsInput["output"] =>
  (collector.url === undefined
    ? { otlpUds: { socketPath: collector.endpoint, routingHeaderName, ...common } }
    : { otlpHttp: { url: collector.url, routingHeaderName, ...common } }) as UserTracingSettings.SettingsInput["output"]

const settingsFor = (collector: Collector, common?: Record<string, unknown>): UserTracingSettings.SettingsInput => ({
  enabled: true,
  serviceName: "checkout",
  output: outputFor(collector, common)
})

/** Effect's clock, which timestamps user spans. */
const nowNanos = Clock.currentTimeNanos

/**
 * Three tenants' traces: a fresh root (every attribute type, a log, a failing child, a child marked
 * by an `error` attribute), a continued root with `tracestate` and a child, a continued root whose
 * inbound header has the random flag, and a root routed by a hand-written value. Gives the live
 * span of each, by name.
 */
const scenario = Effect.gen(function*() {
  const spans: Record<string, UserSpan> = {}
  const capture = (name: string) =>
    Effect.map(currentUserSpan, (span) => {
      spans[name] = Option.getOrThrow(span)
    })
  yield* Effect.gen(function*() {
    yield* capture("fresh")
    yield* annotateUserSpan({
      s: "text",
      i: 42,
      neg: -7,
      d: 1.5,
      b: true,
      big: 2n ** 60n,
      mixed: ["a", 1, false, 2.5, 3n],
      strings: ["x", "y"]
    })
    yield* logUserSpan({ b: "2", a: "1" })
    yield* Effect.exit(
      Effect.zipRight(capture("failing"), Effect.fail("internal detail")).pipe(
        withUserSpan("failing", { kind: "client" })
      )
    )
    yield* Effect.zipRight(capture("flagged"), annotateUserSpan("error", true)).pipe(
      withUserSpan("flagged", { kind: "producer", attributes: { n: 1 } })
    )
  }).pipe(withUserTrace("fresh", { routing: acme, kind: "server" }))
  yield* Effect.zipRight(
    capture("continued"),
    capture("continued-child").pipe(withUserSpan("continued-child", { kind: "consumer" }))
  )
    .pipe(withUserTrace("continued", { routing: globex, inbound, tracestate: "vendor=x,other=y" }))
  yield* capture("continued-random").pipe(
    withUserTrace("continued-random", { routing: globex, inbound: inboundRandom })
  )
  yield* capture("other-tenant").pipe(withUserTrace("other-tenant", { routing: initech }))
  return spans
})

const scenarioTenants: Record<string, RoutingMetadata.RoutingMetadata> = {
  fresh: acme,
  failing: acme,
  flagged: acme,
  continued: globex,
  "continued-child": globex,
  "continued-random": globex,
  "other-tenant": initech
}

const byName = (spans: ReadonlyArray<CollectorSpan>) => Object.fromEntries(spans.map((span) => [span.name, span]))

/** Checks, from the Collector's JSON, every span of `scenario` run between `t0` and `t1`. */
const expectScenario = (collector: Collector, live: Record<string, UserSpan>, t0: bigint, t1: bigint) => {
  const spans = byName(collector.spans())
  expect(Object.keys(spans).sort()).toEqual(Object.keys(scenarioTenants).sort())
  const {
    continued,
    "continued-child": continuedChild,
    "continued-random": continuedRandom,
    failing,
    flagged,
    fresh,
    "other-tenant": otherTenant
  } = spans
  for (const [name, span] of Object.entries(spans)) {
    expect(span.traceId).toBe(live[name].traceId)
    expect(span.spanId).toBe(live[name].spanId)
    expect(span.serviceName).toBe("checkout")
    expect(span.scope).toEqual({ name: "effect-user-tracing", version: packageVersion })
    expect(span.metadata[routingHeaderName]).toEqual([scenarioTenants[name].encode()])
    expect(span.metadata.traceparent).toBeUndefined()
    expect(span.startTimeUnixNano >= t0 && span.startTimeUnixNano <= span.endTimeUnixNano && span.endTimeUnixNano <= t1)
      .toBe(true)
    expect([span.droppedAttributesCount, span.droppedEventsCount, span.statusMessage]).toEqual([0, 0, ""])
  }
  // Ids and parents.
  expect(fresh.traceId).toMatch(/^[0-9a-f]{32}$/)
  expect(fresh.spanId).toMatch(/^[0-9a-f]{16}$/)
  expect(fresh.parentSpanId).toBeUndefined()
  expect([failing.traceId, flagged.traceId]).toEqual([fresh.traceId, fresh.traceId])
  expect([failing.parentSpanId, flagged.parentSpanId]).toEqual([fresh.spanId, fresh.spanId])
  expect([continued.traceId, continued.parentSpanId]).toEqual([inbound.traceId, inbound.parentId])
  expect([continuedChild.traceId, continuedChild.parentSpanId]).toEqual([inbound.traceId, continued.spanId])
  expect([continuedRandom.traceId, continuedRandom.parentSpanId]).toEqual([
    inboundRandom.traceId,
    inboundRandom.parentId
  ])
  expect(otherTenant.parentSpanId).toBeUndefined()
  expect(new Set(Object.values(spans).map((span) => span.traceId)).size).toBe(4)
  // Flags: sampled 0x01, random 0x02 (a trace id made here, or inbound with it), 0x100 "is-remote
  // known", 0x200 "parent is remote".
  expect([fresh.flags, failing.flags, flagged.flags, otherTenant.flags]).toEqual([0x103, 0x103, 0x103, 0x103])
  expect([continued.flags, continuedChild.flags, continuedRandom.flags]).toEqual([0x301, 0x101, 0x303])
  expect([continued.traceState, continuedChild.traceState, fresh.traceState]).toEqual([
    "vendor=x,other=y",
    "vendor=x,other=y",
    undefined
  ])
  // Kinds.
  expect(Object.fromEntries(Object.entries(spans).map(([name, span]) => [name, span.kind]))).toEqual({
    fresh: "server",
    failing: "client",
    flagged: "producer",
    continued: "internal",
    "continued-child": "consumer",
    "continued-random": "internal",
    "other-tenant": "internal"
  })
  // Children run inside their parent.
  for (const child of [failing, flagged]) {
    expect(fresh.startTimeUnixNano <= child.startTimeUnixNano && child.endTimeUnixNano <= fresh.endTimeUnixNano).toBe(
      true
    )
  }
  // Attributes of every type, in order: integers and bigints as int, others as double.
  expect(fresh.attributes).toEqual([
    ["s", "text"],
    ["i", 42n],
    ["neg", -7n],
    ["d", 1.5],
    ["b", true],
    ["big", 2n ** 60n],
    ["mixed", ["a", 1n, false, 2.5, 3n]],
    ["strings", ["x", "y"]]
  ])
  expect(flagged.attributes).toEqual([["n", 1n], ["error", true]])
  // logUserSpan: one "Log entry" event, fields sorted by key, timed inside the span.
  expect(fresh.events.map((event) => [event.name, event.attributes])).toEqual([["Log entry", [["a", "1"], ["b", "2"]]]])
  const [log] = fresh.events
  expect(fresh.startTimeUnixNano <= log.timeUnixNano && log.timeUnixNano <= fresh.endTimeUnixNano).toBe(true)
  // Status: a failure or an `error` attribute gives ERROR with no message; otherwise unset.
  expect(Object.fromEntries(Object.entries(spans).map(([name, span]) => [name, span.status]))).toEqual({
    fresh: "unset",
    failing: "error",
    flagged: "error",
    continued: "unset",
    "continued-child": "unset",
    "continued-random": "unset",
    "other-tenant": "unset"
  })
  // One routing group per request: no request mixes tenants.
  for (const request of collector.requests) {
    const names = request.traces.resourceSpans.flatMap((r: any) =>
      r.scopeSpans.flatMap((s: any) => s.spans.map((x: any) => x.name))
    )
    expect(new Set(names.map((name: string) => scenarioTenants[name].encode()))).toEqual(
      new Set(request.metadata[routingHeaderName])
    )
  }
}

describe.each(["unix", "tcp"] as const)("UserTracing.layer to the Collector's OTLP receiver over %s", (transport) => {
  it.live("every span arrives with its ids, parent, flags, kind, times, attributes, events, status, resource and scope", () =>
    Effect.gen(function*() {
      const collector = yield* startCollector({ transport })
      const t0 = yield* nowNanos
      const [live, delta] = yield* counted(withPipeline(settingsFor(collector), scenario))
      const t1 = yield* nowNanos
      expect(delta).toEqual({ total: 7, exported: 7, failed: 0, dropped: 0 })
      yield* collector.received(7)
      expectScenario(collector, live, t0, t1)
      if (transport === "tcp") expect(collector.requests[0].metadata.host).toEqual([collector.endpoint])
    }).pipe(Effect.scoped))

  it.live("two tenants in one batch: two requests, each with its own routing metadata", () =>
    Effect.gen(function*() {
      const collector = yield* startCollector({ transport })
      const spans = yield* finishedSpans(Effect.all([
        Effect.void.pipe(withUserTrace("a", { routing: acme })),
        Effect.void.pipe(withUserTrace("b", { routing: globex })),
        Effect.void.pipe(withUserTrace("a2", { routing: acme }))
      ]))
      yield* exportAll(settingsFor(collector), spans)
      yield* collector.received(3)
      expect(
        collector.requests.map((request) => ({
          routing: request.metadata[routingHeaderName],
          names: request.traces.resourceSpans[0].scopeSpans[0].spans.map((span: any) => span.name)
        })).sort((x, y) => x.names[0].localeCompare(y.names[0]))
      ).toEqual([
        { routing: [acme.encode()], names: ["a", "a2"] },
        { routing: [globex.encode()], names: ["b"] }
      ])
    }).pipe(Effect.scoped))
})

describe("otlpHttp with compression and static headers", () => {
  it.live("gzip bodies are inflated by the Collector; static headers arrive as metadata beside the routing header", () =>
    Effect.gen(function*() {
      const collector = yield* startCollector({ transport: "tcp" })
      const headers = { authorization: "Bearer user-traces-token", "X-Team": "payments" }
      const t0 = yield* nowNanos
      const [live, delta] = yield* counted(
        withPipeline(settingsFor(collector, { compression: "gzip", headers }), scenario)
      )
      const t1 = yield* nowNanos
      expect(delta).toEqual({ total: 7, exported: 7, failed: 0, dropped: 0 })
      yield* collector.received(7)
      expectScenario(collector, live, t0, t1)
      for (const request of collector.requests) {
        expect(request.metadata["content-encoding"]).toEqual(["gzip"])
        expect(request.metadata.authorization).toEqual(["Bearer user-traces-token"])
        expect(request.metadata["x-team"]).toEqual(["payments"])
      }
    }).pipe(Effect.scoped))
})

/** Finished span records made under `TestUserTracing`. */
const finishedSpans = (self: Effect.Effect<unknown>) =>
  Effect.zipRight(self, UserTracingTest.finishedSpans).pipe(Effect.provide(TestUserTracing))

/** Hands `spans` to the live exporter for `settings` in one synchronous go (so one batch), then flushes and closes it. */
const exportAll = (settings: UserTracingSettings.SettingsInput, spans: ReadonlyArray<FinishedUserSpan>) =>
  Effect.scoped(
    Effect.gen(function*() {
      const exporter = yield* UserTraceExporter.UserTraceExporter
      for (const span of spans) exporter.export(span)
      yield* exporter.forceFlush
    }).pipe(Effect.provide(OtlpUserTraceExporter.layer.pipe(Layer.provide(UserTracingSettings.layer(settings)))))
  )

describe("the Collector receiver program", () => {
  it.live("exits 0 on SIGTERM and removes its socket", () =>
    Effect.gen(function*() {
      const collector = yield* startCollector({ transport: "unix" })
      expect(Fs.statSync(collector.endpoint).isSocket()).toBe(true)
      expect(yield* collector.stop).toBe(0)
      expect(Fs.existsSync(collector.endpoint)).toBe(false)
    }).pipe(Effect.scoped))

  it("runs the README's receiver configuration: HTTP only, on a Unix socket, with include_metadata", () => {
    const config = readmeCollectorConfig()
    expect(config).toMatch(/^ {2}otlp\/user:\n {4}protocols:\n {6}http:\n/m)
    expect(config).toMatch(/^ {8}transport: unix\b/m)
    expect(config).toMatch(/^ {8}include_metadata: true\b/m)
    expect(config).not.toMatch(/grpc:/)
  })
})

describe("a Collector restarted mid-stream", () => {
  it.live(
    "spans finished while it is down arrive once it is back: none lost, none twice",
    () =>
      Effect.gen(function*() {
        const socketPath = Path.join(tempDirectory(), "otlp.sock")
        const first = yield* startCollector({ transport: "unix", endpoint: socketPath })
        // The second Collector outlives the pipeline, so the pipeline's final flush reaches it.
        const outer = yield* Effect.scope
        let produced = 0
        let stopping = false
        const produce = Effect.gen(function*() {
          while (!stopping) {
            yield* Effect.void.pipe(withUserTrace(`span-${produced}`, { routing: acme }))
            produced++
            // Paces the stream; the checks below wait on counts, not on time.
            yield* Effect.sleep("2 millis")
          }
        })
        const [[second, down], delta] = yield* counted(withPipeline(
          // Backoff totals at least 5 s over 8 attempts: more than the Collector is down.
          {
            enabled: true,
            serviceName: "checkout",
            output: { otlpUds: { socketPath, routingHeaderName, maxAttempts: 8 } }
          },
          Effect.gen(function*() {
            const producer = yield* Effect.fork(produce)
            yield* eventually(() => first.requests.length >= 5)
            expect(yield* first.stop).toBe(0)
            const down = { from: yield* nowNanos, to: 0n }
            const producedWhileDown = produced
            yield* eventually(() => produced >= producedWhileDown + 100)
            down.to = yield* nowNanos
            const second = yield* Scope.extend(startCollector({ transport: "unix", endpoint: socketPath }), outer)
            const producedAfter = produced
            yield* eventually(() => produced >= producedAfter + 50)
            stopping = true
            yield* producer.await
            return [second, down] as const
          })
        ))
        yield* eventually(() => first.spans().length + second.spans().length >= produced)
        const names = [...first.spans(), ...second.spans()].map((span) => span.name)
        expect(names).toHaveLength(produced)
        expect(new Set(names)).toEqual(new Set(Array.from({ length: produced }, (_, i) => `span-${i}`)))
        const endedWhileDown = second.spans().filter((span) =>
          span.endTimeUnixNano > down.from && span.endTimeUnixNano < down.to
        )
        expect(endedWhileDown.length).toBeGreaterThanOrEqual(90)
        expect(delta).toEqual({ total: produced, exported: produced, failed: 0, dropped: 0 })
      }).pipe(Effect.scoped),
    60_000
  )
})

describe("max_request_body_size", () => {
  it.live("a request over the Collector's limit is refused, and counted as failed", () =>
    Effect.gen(function*() {
      const collector = yield* startCollector({ transport: "unix", maxRequestBodySize: 256 * 1024 })
      const large = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`a${i}`, "x".repeat(4_000)]))
      const logs: Array<string> = []
      const [, delta] = yield* counted(withPipeline(
        settingsFor(collector, { maxAttempts: 1 }),
        Effect.void.pipe(withUserTrace("large", { routing: acme, attributes: large }))
      )).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message)))))
      )
      expect(collector.requests).toHaveLength(0)
      expect(delta).toEqual({ total: 1, exported: 0, failed: 1, dropped: 0 })
      // The Collector's google.rpc.Status message, decoded, not its protobuf bytes.
      expect(logs.join("\n")).toMatch(/answered 400: [^\\]*request body too large/)
    }).pipe(Effect.scoped))
})

describe("maxBatchBytes below the Collector's max_request_body_size", () => {
  it.live("large spans are split into requests the Collector accepts: none refused", () =>
    Effect.gen(function*() {
      const collector = yield* startCollector({ transport: "unix", maxRequestBodySize: 256 * 1024 })
      // About 40 KB per span, 1.2 MB in all: one default batch would be refused.
      const large = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`a${i}`, "x".repeat(4_000)]))
      const [, delta] = yield* counted(withPipeline(
        settingsFor(collector, { maxBatchBytes: 200 * 1024, maxAttempts: 1 }),
        Effect.forEach(Array.from({ length: 30 }, (_, i) => i), (i) =>
          Effect.void.pipe(withUserTrace(`large-${i}`, { routing: acme, attributes: large })), { discard: true })
      ))
      expect(delta).toEqual({ total: 30, exported: 30, failed: 0, dropped: 0 })
      yield* collector.received(30)
      expect(
        new Set(
          collector.spans().map((span) =>
            span.name
          )
        )
      ).toEqual(
        new Set(Array.from({ length: 30 }, (_, i) => `large-${i}`))
      )
      expect(collector.requests.length).toBeGreaterThanOrEqual(6)
      for (const request of collector.requests) {
        expect(Number(request.metadata["content-length"][0])).toBeLessThanOrEqual(200 * 1024)
      }
    }).pipe(Effect.scoped))
})

/** A span as both receivers can say it: the fields the cross-check compares. */
const comparable = (span: {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly traceState: string | undefined
  readonly flags: number
  readonly name: string
  readonly kind: string
  readonly startTimeUnixNano: bigint
  readonly endTimeUnixNano: bigint
  readonly attributes: ReadonlyArray<readonly [string, unknown]>
  readonly events: ReadonlyArray<
    {
      readonly name: string
      readonly timeUnixNano: bigint
      readonly attributes: ReadonlyArray<readonly [string, unknown]>
    }
  >
  readonly status: string
  readonly statusMessage: string
  readonly serviceName: string | undefined
  readonly scope: { readonly name: string; readonly version: string }
}, routing: string | undefined) => ({
  traceId: span.traceId,
  spanId: span.spanId,
  parentSpanId: span.parentSpanId,
  traceState: span.traceState,
  flags: span.flags,
  name: span.name,
  kind: span.kind,
  start: span.startTimeUnixNano,
  end: span.endTimeUnixNano,
  attributes: span.attributes,
  events: span.events.map((event) => ({ name: event.name, time: event.timeUnixNano, attributes: event.attributes })),
  status: span.status,
  statusMessage: span.statusMessage,
  serviceName: span.serviceName,
  scope: span.scope,
  routing
})

/** What the wire should carry for a value: safe integers and bigints as int64, other numbers as double. */
const wireValue = (value: AttributeValue): unknown =>
  Array.isArray(value)
    ? value.map(wireValue)
    : typeof value === "number"
    ? (Number.isSafeInteger(value) ? BigInt(value) : value)
    : typeof value === "bigint"
    ? BigInt.asIntN(64, value)
    : value

/** A finished span record as the wire should carry it. */
const expectedOnTheWire = (span: FinishedUserSpan) =>
  comparable({
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    traceState: span.traceState,
    flags: span.traceFlags | 0x100 | (span.remoteParent ? 0x200 : 0),
    name: span.name,
    kind: span.kind,
    startTimeUnixNano: span.startTime,
    endTimeUnixNano: span.endTime,
    attributes: [...span.attributes].map(([key, value]) => [key, wireValue(value)] as const),
    events: span.events.map((event) => ({
      name: event.name,
      timeUnixNano: event.time,
      attributes: event.attributes.map(([key, value]) => [key, wireValue(value)] as const)
    })),
    status: span.status,
    statusMessage: "",
    serviceName: "checkout",
    scope: { name: "effect-user-tracing", version: packageVersion }
  }, span.routing.encode())

const bySpanId = <A extends { readonly spanId: string }>(spans: ReadonlyArray<A>) =>
  [...spans].sort((x, y) => x.spanId.localeCompare(y.spanId))

describe("cross-check: UserTraceSink and the Collector", () => {
  it.live("the same requests decode to the same spans (ids, names, times, attributes, events, status, routing)", () =>
    Effect.gen(function*() {
      const collector = yield* startCollector({ transport: "unix" })
      const sink = yield* UserTraceSink.make({ socketPath: Path.join(tempDirectory(), "sink.sock") })
      if (sink.address._tag !== "Unix") throw new Error("not a socket sink")
      const spans = yield* finishedSpans(scenario)
      const sinkSettings: UserTracingSettings.SettingsInput = {
        enabled: true,
        serviceName: "checkout",
        output: { otlpUds: { socketPath: sink.address.socketPath, routingHeaderName } }
      }
      // The encoding is deterministic: both receivers get byte-identical requests.
      yield* exportAll(settingsFor(collector), spans)
      yield* exportAll(sinkSettings, spans)
      yield* collector.received(7)
      const fromCollector = bySpanId(collector.spans()).map((span) =>
        comparable(span, span.metadata[routingHeaderName]?.join(", "))
      )
      const fromSink = bySpanId(yield* sink.received).map((span) => comparable(span, span.headers[routingHeaderName]))
      expect(fromCollector).toHaveLength(7)
      expect(fromCollector).toEqual(fromSink)
      expect(fromCollector).toEqual(bySpanId(spans).map(expectedOnTheWire))
    }).pipe(Effect.scoped))
})
