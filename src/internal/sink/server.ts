/**
 * @internal
 * The Effect 3 line's `UserTraceSink` service: the shared receiver (`receiver.ts`: the HTTP server,
 * its checks, decoding, answers and store) with its feed of spans and the streams over it (trees:
 * `decode.ts`; pending traces: `pending.ts`).
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { CompletedTracesOptions, Options, ReceivedSpan, ReceivedTrace, Service } from "../../UserTraceSink.js"
import { optionsProblem } from "./address.js"
import { toTraces } from "./decode.js"
import { UserTraceSinkError } from "./errors.js"
import { type PendingLimits, pendingLimitsOf, PendingTraces } from "./pending.js"
import * as Receiver from "./receiver.js"

export { defaultMaxBodySize } from "./address.js"
export { UserTraceSinkError }

/** The limits of `completedTraces`' options, their defaults filled in; a bad one is a defect. */
const pendingLimits = (options: CompletedTracesOptions | undefined): Effect.Effect<PendingLimits> =>
  Effect.suspend(() => {
    const limits = pendingLimitsOf(options, (duration) => Duration.toMillis(Duration.decode(duration)))
    return "problem" in limits ? Effect.dieMessage(limits.problem) : Effect.succeed(limits)
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
    const receiver = Receiver.makeReceiver(options, (seq, span) => pubsub.unsafeOffer({ seq, span }))
    const { store } = receiver

    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: receiver.listen,
        catch: (cause) => new UserTraceSinkError({ message: Receiver.listenFailure(options, cause), cause })
      }),
      () =>
        Effect.async<void>((resume) =>
          receiver.close(() => {
            pubsub.unsafeOffer(null)
            resume(Effect.void)
          })
        )
    )

    const address = receiver.address()
    const url = Receiver.tracesUrl(address)

    const spans: Stream.Stream<ReceivedSpan> = Stream.unwrapScoped(Effect.gen(function*() {
      const subscription = yield* PubSub.subscribe(pubsub)
      // Every span with a sequence number below `from` is in the snapshot (when retained).
      const from = receiver.nextSeq()
      const snapshot = store.slice()
      if (receiver.closed()) return Stream.fromIterable(snapshot)
      const live = Stream.fromQueue(subscription).pipe(
        Stream.takeWhile((item) => item !== null),
        Stream.filterMap((item) => item !== null && item.seq >= from ? Option.some(item.span) : Option.none())
      )
      return Stream.concat(Stream.fromIterable(snapshot), live)
    }))

    const completedTraces = (completion?: CompletedTracesOptions): Stream.Stream<ReceivedTrace> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const limits = yield* pendingLimits(completion)
        const tick = Math.max(10, Math.min(100, Math.floor(limits.quietMillis / 5)))
        const out = yield* Queue.unbounded<Option.Option<ReceivedTrace>>()
        const failures: Array<string> = []
        const pending = new PendingTraces(
          limits,
          (trace) => out.unsafeOffer(Option.some(trace)),
          (traceId, error) =>
            failures.push(`trace ${traceId}: its tree could not be built, shown flat: ${Receiver.errorMessage(error)}`)
        )
        // What went wrong with one trace is logged, and the others go on.
        const guarded = (step: () => void) =>
          Effect.sync(step).pipe(
            Effect.catchAllDefect((defect) =>
              Effect.sync(() => failures.push(`pending traces: ${Receiver.errorMessage(defect)}`))
            ),
            Effect.zipRight(Effect.suspend(() =>
              Effect.forEach(failures.splice(0), (failure) => Effect.logWarning(failure), { discard: true })
            ))
          )
        const flush = guarded(() => pending.flush()).pipe(Effect.ensuring(out.offer(Option.none())))
        yield* Stream.runForEachChunk(spans, (chunk) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            guarded(() => {
              for (const span of chunk) pending.add(span, now)
            }))).pipe(Effect.ensuring(flush), Effect.forkScoped)
        yield* Effect.sleep(Duration.millis(tick)).pipe(
          Effect.zipRight(Clock.currentTimeMillis),
          Effect.flatMap((now) => guarded(() => pending.sweep(now))),
          Effect.forever,
          Effect.forkScoped
        )
        return Stream.fromQueue(out).pipe(Stream.takeWhile(Option.isSome), Stream.filterMap(identity))
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
