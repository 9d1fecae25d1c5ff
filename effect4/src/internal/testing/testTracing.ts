import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { buildForest } from "../../../../src/internal/shared/tree.js"
import { UserSpanRecord } from "../../../../src/internal/span/record.js"
import type { FinishedUserSpan } from "../../../../src/UserSpan.js"
import * as UserHarness from "../../UserHarness.js"
import { UserTraceExporter } from "../../UserTraceExporter.js"
import { defaultSpanLimits } from "../../UserTracingSettings.js"
import type { TestTrace, TestTraceOptions } from "../../UserTracingTest.js"

/** @internal the finished spans of one `TestUserTracing` layer; empty when none is provided */
export const TestSpans = Context.Reference<ReadonlyArray<FinishedUserSpan>>(
  "effect-user-tracing/UserTracingTest/TestSpans",
  { defaultValue: () => [] }
)

/** @internal */
export const layer: Layer.Layer<UserTraceExporter> = Layer.effectContext(
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

/** @internal */
export const finishedSpans: Effect.Effect<ReadonlyArray<FinishedUserSpan>> = Effect.map(
  TestSpans,
  (spans) => spans.slice()
)

// The trees are built as the Effect 3 line builds them (the same function, to be shared once its
// module no longer loads Effect 3).
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
  Effect.map(TestSpans, (spans) => toTraces(spans, options))
