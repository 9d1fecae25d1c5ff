/**
 * @internal
 * The Effect 4 line's `UserTraceSink` service: the shared receiver
 * (src/internal/sink/receiver.ts: the HTTP server, its checks, decoding, answers and store) with
 * its feed of spans and the streams over it in effect 4. The options' checks, the decoding, the
 * pending traces and the trees are the shared modules too.
 */
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { optionsProblem } from "../../../../src/internal/sink/address.js"
import { toTraces } from "../../../../src/internal/sink/decode.js"
import { type PendingLimits, pendingLimitsOf, PendingTraces } from "../../../../src/internal/sink/pending.js"
import * as Receiver from "../../../../src/internal/sink/receiver.js"
import type { CompletedTracesOptions, Options, ReceivedSpan, ReceivedTrace, Service } from "../../UserTraceSink.js"

export { defaultMaxBodySize } from "../../../../src/internal/sink/address.js"

/** @internal */
export class UserTraceSinkError extends Data.TaggedError("UserTraceSinkError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** The limits of `completedTraces`' options, their defaults filled in; a bad one is a defect. */
const pendingLimits = (options: CompletedTracesOptions | undefined): Effect.Effect<PendingLimits> =>
  Effect.suspend(() => {
    const limits = pendingLimitsOf(options, (duration) => Duration.toMillis(Duration.fromInputUnsafe(duration)))
    return "problem" in limits ? Effect.die(new Error(limits.problem)) : Effect.succeed(limits)
  })

type Published = { readonly seq: number; readonly span: ReceivedSpan } | null

/** @internal */
export const make = (options: Options): Effect.Effect<Service, UserTraceSinkError, Scope.Scope> =>
  Effect.gen(function*() {
    const problem = optionsProblem(options)
    if (problem !== undefined) return yield* new UserTraceSinkError({ message: problem })

    // Published items carry a sequence number so that `spans` can replay the store and then
    // follow the live feed without a gap or a duplicate. `null` marks the end.
    const pubsub = yield* PubSub.unbounded<Published>()
    const receiver = Receiver.makeReceiver(options, (seq, span) => PubSub.publishUnsafe(pubsub, { seq, span }))
    const { store } = receiver

    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: receiver.listen,
        catch: (cause) => new UserTraceSinkError({ message: Receiver.listenFailure(options, cause), cause })
      }),
      () =>
        Effect.callback<void>((resume) =>
          receiver.close(() => {
            PubSub.publishUnsafe(pubsub, null)
            resume(Effect.void)
          })
        )
    )

    const address = receiver.address()
    const url = Receiver.tracesUrl(address)

    const spans: Stream.Stream<ReceivedSpan> = Stream.unwrap(Effect.gen(function*() {
      const subscription = yield* PubSub.subscribe(pubsub)
      // Every span with a sequence number below `from` is in the snapshot (when retained).
      const from = receiver.nextSeq()
      const snapshot = store.slice()
      if (receiver.closed()) return Stream.fromIterable(snapshot)
      const live = Stream.fromSubscription(subscription).pipe(
        Stream.takeWhile((item): item is NonNullable<Published> => item !== null),
        Stream.filter((item) => item.seq >= from),
        Stream.map((item) => item.span)
      )
      return Stream.concat(Stream.fromIterable(snapshot), live)
    }))

    const completedTraces = (completion?: CompletedTracesOptions): Stream.Stream<ReceivedTrace> =>
      Stream.unwrap(Effect.gen(function*() {
        const limits = yield* pendingLimits(completion)
        const tick = Math.max(10, Math.min(100, Math.floor(limits.quietMillis / 5)))
        const out = yield* Queue.unbounded<ReceivedTrace, Cause.Done>()
        const failures: Array<string> = []
        const pending = new PendingTraces(
          limits,
          (trace) => void Queue.offerUnsafe(out, trace),
          (traceId, error) =>
            failures.push(`trace ${traceId}: its tree could not be built, shown flat: ${Receiver.errorMessage(error)}`)
        )
        // What went wrong with one trace is logged, and the others go on.
        const guarded = (step: () => void) =>
          Effect.sync(step).pipe(
            Effect.catchDefect((defect) =>
              Effect.sync(() => failures.push(`pending traces: ${Receiver.errorMessage(defect)}`))
            ),
            Effect.andThen(Effect.suspend(() =>
              Effect.forEach(failures.splice(0), (failure) => Effect.logWarning(failure), { discard: true })
            ))
          )
        const flush = guarded(() => pending.flush()).pipe(Effect.ensuring(Queue.end(out)))
        yield* Stream.runForEachArray(spans, (chunk) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            guarded(() => {
              for (const span of chunk) pending.add(span, now)
            }))).pipe(Effect.ensuring(flush), Effect.forkScoped)
        yield* Effect.sleep(Duration.millis(tick)).pipe(
          Effect.andThen(Clock.currentTimeMillis),
          Effect.flatMap((now) => guarded(() => pending.sweep(now))),
          Effect.forever,
          Effect.forkScoped
        )
        return Stream.fromQueue(out)
      }))

    return {
      address,
      url,
      spans,
      received: Effect.sync(() => store.slice()),
      traces: Effect.sync(() => toTraces(store)),
      completedTraces,
      stats: Effect.sync(receiver.stats)
    }
  })
