import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
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

/** @internal builds trees: roots are spans whose parent is not in the sink; siblings by start time */
export const toTraces = (
  spans: ReadonlyArray<FinishedUserSpan>,
  options?: TestTraceOptions
): ReadonlyArray<TestTrace> => {
  const byStart = spans.slice().sort((a, b) =>
    a.startTime < b.startTime ? -1 : a.startTime > b.startTime ? 1 : sequenceOf(a) - sequenceOf(b)
  )
  const ids = new Set(byStart.map((span) => `${span.traceId}/${span.spanId}`))
  const children = new Map<string, Array<FinishedUserSpan>>()
  const roots: Array<FinishedUserSpan> = []
  for (const span of byStart) {
    const parentKey = span.parentSpanId === undefined ? undefined : `${span.traceId}/${span.parentSpanId}`
    if (parentKey === undefined || !ids.has(parentKey)) {
      roots.push(span)
    } else {
      const siblings = children.get(parentKey)
      if (siblings === undefined) children.set(parentKey, [span])
      else siblings.push(span)
    }
  }
  const names = options?.includeLinks === true
    ? new Map(spans.map((span) => [`${span.traceId}/${span.spanId}`, span.name]))
    : undefined
  const build = (span: FinishedUserSpan): TestTrace => ({
    name: span.name,
    attributes: options?.includeAttributes === true ? Array.from(span.attributes) : [],
    logs: options?.includeLogs === true ? logsOf(span) : [],
    children: (children.get(`${span.traceId}/${span.spanId}`) ?? []).map(build),
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
          const key = `${link.traceId}/${link.spanId}`
          return { to: names?.get(key) ?? key, attributes: link.attributes }
        })
      }
      : {})
  })
  return roots.map(build)
}

/** @internal */
export const userTraces = (options?: TestTraceOptions): Effect.Effect<ReadonlyArray<TestTrace>> =>
  Effect.map(TestSpans, (spans) => toTraces(spans, options))
