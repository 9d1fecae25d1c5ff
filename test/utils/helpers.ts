import { Effect, Tracer } from "effect"
import { RoutingMetadata } from "../../src/index.js"

/** A routing value for tests. */
export const routing = RoutingMetadata.json({ tenant: "acme" })

/** Names of the internal (Effect tracer) spans started while `self` runs, in start order. */
export const withRecordingTracer = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<readonly [A, ReadonlyArray<string>], E, R> =>
  Effect.flatMap(Effect.tracer, (native) => {
    const names: Array<string> = []
    const recording = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        names.push(name)
        return native.span(name, parent, context, links, startTime, kind, options)
      },
      context: (f, fiber) => native.context(f, fiber)
    })
    return Effect.map(Effect.withTracer(self, recording), (a) => [a, names] as const)
  })
