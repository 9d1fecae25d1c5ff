/**
 * The whole documented path: UserTracing.layer -> the Collector (main.go) started from
 * docs/deployment.md -> a gateway that decodes with the official OTLP definitions. What reaches
 * the gateway, under which routing header, is what we meant to send.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Layer, Logger, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Yaml from "yaml"
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
import { type Collector, documentedConfig, scopedTempDirectory } from "./collector.js"
import { deployment, routingHeaderName } from "./fixtures.js"
import type { Gateway, GatewaySpan } from "./gateway.js"

const { annotateUserSpan, currentUserSpan, logUserSpan, withUserSpan, withUserTrace } = UserTracing

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

const byName = (spans: ReadonlyArray<GatewaySpan>) => Object.fromEntries(spans.map((span) => [span.name, span]))

/** Checks, as the gateway decoded them, every span of `scenario` run between `t0` and `t1`. */
const expectScenario = (gateway: Gateway, live: Record<string, UserSpan>, t0: bigint, t1: bigint) => {
  expect(gateway.spans()).toHaveLength(7)
  const spans = byName(gateway.spans())
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
    expect(span.headers[routingHeaderName]).toEqual([scenarioTenants[name].encode()])
    // Nothing of the service's or the Collector's own tracing reaches the customer.
    expect(span.headers.traceparent).toBeUndefined()
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
  for (const request of gateway.requests) {
    expect(new Set(request.spans.map((span) => scenarioTenants[span.name].encode()))).toEqual(
      new Set(request.headers[routingHeaderName])
    )
  }
}

describe.each(["unix", "tcp"] as const)(
  "UserTracing.layer -> the documented Collector (receiver over %s) -> a gateway",
  (transport) => {
    it.live("every span arrives with its ids, parent, flags, kind, times, attributes, events, status, resource, scope and routing header", () =>
      Effect.gen(function*() {
        const { collector, gateway } = yield* deployment({ transport })
        const t0 = yield* nowNanos
        const [live, delta] = yield* counted(withPipeline(settingsFor(collector), scenario))
        const t1 = yield* nowNanos
        expect(delta).toEqual({ total: 7, exported: 7, failed: 0, dropped: 0 })
        yield* gateway.received(7)
        expectScenario(gateway, live, t0, t1)
      }).pipe(Effect.scoped))

    it.live("two tenants in one batch: two requests, each under its own routing header", () =>
      Effect.gen(function*() {
        const { collector, gateway } = yield* deployment({ transport })
        const spans = yield* finishedSpans(Effect.all([
          Effect.void.pipe(withUserTrace("a", { routing: acme })),
          Effect.void.pipe(withUserTrace("b", { routing: globex })),
          Effect.void.pipe(withUserTrace("a2", { routing: acme }))
        ]))
        yield* exportAll(settingsFor(collector), spans)
        yield* gateway.received(3)
        expect(
          gateway.requests.map((request) => ({
            routing: request.headers[routingHeaderName],
            names: request.spans.map((span) => span.name)
          })).sort((x, y) => x.names[0].localeCompare(y.names[0]))
        ).toEqual([
          { routing: [acme.encode()], names: ["a", "a2"] },
          { routing: [globex.encode()], names: ["b"] }
        ])
      }).pipe(Effect.scoped))
  }
)

describe("otlpHttp with compression and static headers", () => {
  it.live("gzip bodies are inflated by the Collector; static headers stay with the Collector, only the routing header goes on", () =>
    Effect.gen(function*() {
      const { collector, gateway } = yield* deployment({ transport: "tcp" })
      const headers = { authorization: "Bearer user-traces-token", "X-Team": "payments" }
      const t0 = yield* nowNanos
      const [live, delta] = yield* counted(
        withPipeline(settingsFor(collector, { compression: "gzip", headers }), scenario)
      )
      const t1 = yield* nowNanos
      expect(delta).toEqual({ total: 7, exported: 7, failed: 0, dropped: 0 })
      yield* gateway.received(7)
      expectScenario(gateway, live, t0, t1)
      for (const request of gateway.requests) {
        expect(request.headers.authorization).toBeUndefined()
        expect(request.headers["x-team"]).toBeUndefined()
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

describe("the Collector program", () => {
  it.live("exits 0 on SIGTERM and removes its socket", () =>
    Effect.gen(function*() {
      const { collector } = yield* deployment()
      expect(Fs.statSync(collector.endpoint).isSocket()).toBe(true)
      expect(yield* collector.stop()).toBe(0)
      expect(Fs.existsSync(collector.endpoint)).toBe(false)
    }).pipe(Effect.scoped))

  it("docs/deployment.md's configuration: HTTP only on a Unix socket with include_metadata, batches and forwards by the routing header", () => {
    const config = documentedConfig("user")
    expect(config).toMatch(/^ {2}otlp\/user:\n {4}protocols:\n {6}http:\n/m)
    expect(config).toMatch(/^ {8}transport: unix\b/m)
    expect(config).toMatch(/^ {8}include_metadata: true\b/m)
    expect(config).not.toMatch(/grpc:/)
    expect(config).toMatch(/^ {4}metadata_keys: \[x-user-routing\]/m)
    expect(config).toMatch(/^ {8}from_context: x-user-routing\b/m)
    // The exporter under the name this release gives it: the old `otlphttp` is a deprecated alias.
    expect(config).toMatch(/^ {2}otlp_http\/user:/m)
    expect(config).not.toMatch(/otlphttp/)
    // Its queue is bounded in bytes, not in (many, small, per-customer) requests, and it does
    // not batch (unpartitioned, that merges customers).
    expect(config).toMatch(/^ {4}sending_queue:\n {6}sizer: bytes\b/m)
    expect(config).not.toMatch(/^ +batch:/m)
  })

  it("the README shows that same configuration", () => {
    const readme = Fs.readFileSync(new URL("../../README.md", import.meta.url), "utf8")
    const block = /<!-- collector-config: readme -->\n```yaml\n([\s\S]*?)```/.exec(readme)
    expect(block, "the README's marked YAML block").not.toBeNull()
    expect(Yaml.parse(block![1])).toEqual(Yaml.parse(documentedConfig("user")))
  })
})

describe("max_request_body_size", () => {
  it.live("a request over the Collector's limit is refused, and counted as failed", () =>
    Effect.gen(function*() {
      const { collector, gateway } = yield* deployment({ maxRequestBodySize: 256 * 1024 })
      const large = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`a${i}`, "x".repeat(4_000)]))
      const logs: Array<string> = []
      const [, delta] = yield* counted(withPipeline(
        settingsFor(collector, { maxAttempts: 1 }),
        Effect.void.pipe(withUserTrace("large", { routing: acme, attributes: large }))
      )).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message)))))
      )
      expect(delta).toEqual({ total: 1, exported: 0, failed: 1, dropped: 0 })
      expect(gateway.requests).toHaveLength(0)
      // The Collector's google.rpc.Status message, decoded, not its protobuf bytes.
      expect(logs.join("\n")).toMatch(/answered 400: [^\\]*request body too large/)
    }).pipe(Effect.scoped))
})

describe("maxBatchBytes below the Collector's max_request_body_size", () => {
  it.live("large spans are split into requests the Collector accepts: none refused", () =>
    Effect.gen(function*() {
      const { collector, gateway } = yield* deployment({ maxRequestBodySize: 256 * 1024 })
      // About 40 KB per span, 1.2 MB in all: one default batch would be refused.
      const large = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`a${i}`, "x".repeat(4_000)]))
      const [, delta] = yield* counted(withPipeline(
        settingsFor(collector, { maxBatchBytes: 200 * 1024, maxAttempts: 1 }),
        Effect.forEach(Array.from({ length: 30 }, (_, i) => i), (i) =>
          Effect.void.pipe(withUserTrace(`large-${i}`, { routing: acme, attributes: large })), { discard: true })
      ))
      // One attempt per request: a request over the limit would have been counted as failed.
      expect(delta).toEqual({ total: 30, exported: 30, failed: 0, dropped: 0 })
      yield* gateway.received(30)
      expect(
        gateway.spans().map((span) =>
          span.name
        ).sort()
      ).toEqual(
        Array.from({ length: 30 }, (_, i) => `large-${i}`).sort()
      )
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

describe("cross-check: UserTraceSink and the Collector's gateway", () => {
  it.live("the same spans decode the same, sent straight to the sink or through the Collector (ids, names, times, attributes, events, status, routing)", () =>
    Effect.gen(function*() {
      const { collector, gateway } = yield* deployment()
      const sink = yield* UserTraceSink.make({ socketPath: Path.join(yield* scopedTempDirectory, "sink.sock") })
      if (sink.address._tag !== "Unix") throw new Error("not a socket sink")
      const spans = yield* finishedSpans(scenario)
      const sinkSettings: UserTracingSettings.SettingsInput = {
        enabled: true,
        serviceName: "checkout",
        output: { otlpUds: { socketPath: sink.address.socketPath, routingHeaderName } }
      }
      yield* exportAll(settingsFor(collector), spans)
      yield* exportAll(sinkSettings, spans)
      yield* gateway.received(7)
      const fromCollector = bySpanId(gateway.spans()).map((span) =>
        comparable(span, span.headers[routingHeaderName]?.join(", "))
      )
      const fromSink = bySpanId(yield* sink.received).map((span) => comparable(span, span.headers[routingHeaderName]))
      expect(fromCollector).toHaveLength(7)
      expect(fromCollector).toEqual(fromSink)
      expect(fromCollector).toEqual(bySpanId(spans).map(expectedOnTheWire))
    }).pipe(Effect.scoped))
})
