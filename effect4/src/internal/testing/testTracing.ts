// The Effect 3 line's test layer and views (src/internal/testing/testTracing.ts) on effect 4; the
// views (toView, toTraces) are the same code, to be one module once they are apart from the layer.
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { buildForest } from "../../../../src/internal/shared/tree.js"
import { UserSpanRecord } from "../../../../src/internal/span/record.js"
import type { RoutingMetadata } from "../../RoutingMetadata.js"
import * as UserHarness from "../../UserHarness.js"
import type { FinishedUserSpan } from "../../UserSpan.js"
import { UserTraceExporter } from "../../UserTraceExporter.js"
import { defaultSpanLimits } from "../../UserTracingSettings.js"
import type { TestTrace, TestTraceOptions } from "../../UserTracingTest.js"

/** @internal the finished spans of one `TestUserTracing` layer */
export class TestSpans extends Context.Service<TestSpans, ReadonlyArray<FinishedUserSpan>>()(
  "effect-user-tracing/UserTracingTest/TestSpans"
) {}

/** @internal */
export const layer: Layer.Layer<UserTraceExporter | TestSpans> = Layer.effectContext(
  Effect.sync(() => {
    // A fresh sink per build: tests running in parallel never see each other's spans.
    const spans: Array<FinishedUserSpan> = []
    const exporter = UserTraceExporter.of({
      export: (span) => {
        spans.push(span)
      },
      forceFlush: Effect.void
    })
    const harness = UserHarness.make({ enabled: true, limits: defaultSpanLimits, exporter })
    return Context.make(UserHarness.UserHarness, harness).pipe(
      Context.add(UserTraceExporter, exporter),
      Context.add(TestSpans, spans)
    )
  })
)

const notProvided = (view: string) =>
  `UserTracingTest.${view}: no TestUserTracing layer is provided to this effect, so nothing could be ` +
  `recorded. Provide it to each test's effect: \`Effect.provide(TestUserTracing)\` (\`it.live\` and ` +
  `\`it.scopedLive\` get nothing from an enclosing \`layer(...)\` block).`

/**
 * The sink of the provided test layer. A view read without one dies: an empty result would let a
 * test that traced nothing pass.
 */
const recorded = (view: string): Effect.Effect<ReadonlyArray<FinishedUserSpan>> =>
  Effect.flatMap(
    Effect.serviceOption(TestSpans),
    (spans) => Option.isSome(spans) ? Effect.succeed(spans.value) : Effect.die(new Error(notProvided(view)))
  )

/**
 * Shows its encoded value (in `util.inspect`, snapshots and JSON) and works as the routing it
 * wraps.
 */
class RoutingView implements RoutingMetadata {
  constructor(private readonly routing: RoutingMetadata) {}
  groupKey(): string {
    return this.routing.groupKey()
  }
  encode(): string {
    return this.routing.encode()
  }
  toJSON(): string {
    try {
      return this.routing.encode()
    } catch {
      return "<encode() threw>"
    }
  }
  [NodeInspectSymbol](): string {
    return this.toJSON()
  }
}

/** A finished span as the plain object its type documents, in the order a reader wants it. */
const toView = (span: FinishedUserSpan, routings: Map<RoutingMetadata, RoutingView>): FinishedUserSpan => {
  let routing = routings.get(span.routing)
  if (routing === undefined) {
    routing = new RoutingView(span.routing)
    routings.set(span.routing, routing)
  }
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    name: span.name,
    kind: span.kind,
    status: span.status,
    statusMessage: span.statusMessage,
    startTime: span.startTime,
    endTime: span.endTime,
    attributes: new Map(span.attributes),
    events: span.events.slice(),
    links: span.links.slice(),
    routing,
    remoteParent: span.remoteParent,
    traceFlags: span.traceFlags,
    traceState: span.traceState,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount
  }
}

/** @internal */
export const finishedSpans: Effect.Effect<ReadonlyArray<FinishedUserSpan>> = Effect.map(
  recorded("finishedSpans"),
  (spans) => {
    // One view per routing: spans of one trace share it, as they share the routing.
    const routings = new Map<RoutingMetadata, RoutingView>()
    return spans.map((span) => toView(span, routings))
  }
)

const logsOf = (span: FinishedUserSpan): ReadonlyArray<readonly [string, string]> =>
  span.events.filter((event) => event.name === "Log entry").flatMap((event) =>
    event.attributes.map(([key, value]) => [key, String(value)] as const)
  )

// Under a TestClock siblings share a start time; creation order breaks the tie.
const sequenceOf = (span: FinishedUserSpan): number => span instanceof UserSpanRecord ? span.sequence : 0

const keyOf = (traceId: string, spanId: string): string => `${traceId}/${spanId}`

type MutableTestTrace = TestTrace & { readonly children: Array<TestTrace> }

/** @internal builds trees: roots are spans whose parent is not in the sink; siblings by start time, then creation */
export const toTraces = (
  spans: ReadonlyArray<FinishedUserSpan>,
  options?: TestTraceOptions
): ReadonlyArray<TestTrace> => {
  const names = options?.includeLinks === true
    ? new Map(spans.map((span) => [keyOf(span.traceId, span.spanId), span.name]))
    : undefined
  const node = (span: FinishedUserSpan): MutableTestTrace => ({
    name: span.name,
    attributes: options?.includeAttributes === true ? Array.from(span.attributes) : [],
    logs: options?.includeLogs === true ? logsOf(span) : [],
    children: [],
    ...(options?.includeStatus === true ? { status: { code: span.status, message: span.statusMessage } } : {}),
    ...(options?.includeEvents === true
      ? {
        events: span.events.filter((event) => event.name !== "Log entry").map((event) => ({
          name: event.name,
          attributes: event.attributes
        }))
      }
      : {}),
    ...(options?.includeLinks === true
      ? {
        links: span.links.map((link) => {
          const key = keyOf(link.traceId, link.spanId)
          return { to: names?.get(key) ?? key, attributes: link.attributes }
        })
      }
      : {})
  })
  // In creation order: the builder breaks start-time ties by input order.
  const byCreation = spans.slice().sort((a, b) => sequenceOf(a) - sequenceOf(b))
  return buildForest<FinishedUserSpan, MutableTestTrace>(byCreation, {
    id: (span) => keyOf(span.traceId, span.spanId),
    parentId: (span) => span.parentSpanId === undefined ? undefined : keyOf(span.traceId, span.parentSpanId),
    start: (span) => span.startTime,
    node,
    addChild: (parent, child) => void parent.children.push(child)
  })
}

/** @internal */
export const userTraces = (options?: TestTraceOptions): Effect.Effect<ReadonlyArray<TestTrace>> =>
  Effect.map(recorded("userTraces"), (spans) => toTraces(spans, options))
