import { Effect, Tracer } from "effect"
import { RoutingMetadata } from "../../src/index.js"

/** A routing value for tests. */
export const routing = RoutingMetadata.json({ tenant: "acme" })

/** Names of the internal (Effect tracer) spans started while `self` runs, in start order. */
export const withRecordingTracer = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<readonly [A, ReadonlyArray<string>], E, R> =>
  Effect.suspend(() => {
    const names: Array<string> = []
    const recording = Tracer.make({
      span: (options) => {
        names.push(options.name)
        return Tracer.nativeTracer.span(options)
      }
    })
    return Effect.map(Effect.withTracer(self, recording), (a) => [a, names] as const)
  })

/** Whether the fiber running it is interruptible now. */
export const isInterruptible: Effect.Effect<boolean> = Effect.withFiber((fiber) =>
  Effect.succeed((fiber as unknown as { readonly interruptible: boolean }).interruptible)
)
