import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"
import type { UserSpanOptions } from "../../../../src/UserSpan.js"
import { withUserSpan } from "./regions.js"

// `Effect.fn` with the user span inside its internal span. Written out rather than wrapping
// `Effect.fn`, which records the line that calls it as the definition site: that would be this
// module's line, not the application's.

/** An `Error` whose stack is the function that calls this one and its caller (two frames). */
const callerFrame = (): Error => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 2
  const error = new Error()
  Error.captureStackTrace(error, callerFrame)
  Error.stackTraceLimit = limit
  return error
}

/** The definition and call sites, formatted as `Effect.fn` records them. */
const stackOf = (definition: Error, call: Error): () => string | undefined => {
  let cached: string | undefined
  return () => {
    if (cached !== undefined || call.stack === undefined) return cached
    const frame = (error: Error) => {
      const line = (error.stack ?? "").trim().split("\n").slice(2).join("\n").trim()
      return line.includes("(") ? line : line.replace(/at (.*)/, "at ($1)")
    }
    cached = `${frame(definition)}\n${frame(call)}`
    return cached
  }
}

/** The body's effect, as `Effect.fn` evaluates generator and plain bodies, then the pipeables. */
const apply = (
  self: unknown,
  body: Function,
  args: Array<unknown>,
  pipeables: Array<Function>
): unknown => {
  let effect: unknown = Effect.suspend(() => {
    const result = body.apply(self, args)
    return Effect.isEffect(result) ? result : Effect.gen(() => result)
  })
  for (const pipeable of pipeables) effect = pipeable(effect, ...args)
  return effect
}

const withLength = <F extends Function>(length: number, f: F): F =>
  Object.defineProperty(f, "length", { value: length, configurable: true })

/** `Effect.fn`'s `(options: { self }, body, ...pipeables)` form: the body bound to `self`. */
const bodyOf = (bodyOrOptions: Function | { readonly self: unknown }, pipeables: Array<Function>): Function =>
  typeof bodyOrOptions === "function" ? bodyOrOptions : pipeables.shift()!.bind(bodyOrOptions.self)

/** @internal */
export const fn = (name: string, options?: Tracer.SpanOptionsNoTrace): Effect.fn.Traced => {
  const definition = callerFrame()
  // Only the kind crosses over, as in `withDualSpan`.
  const userOptions: UserSpanOptions | undefined = options?.kind === undefined ? undefined : { kind: options.kind }
  return ((bodyOrOptions: Function | { readonly self: unknown }, ...pipeables: Array<Function>) => {
    const body = bodyOf(bodyOrOptions, pipeables)
    return withLength(body.length, function(this: unknown, ...args: Array<unknown>) {
      const call = callerFrame()
      const effect = apply(this, body, args, pipeables)
      if (!Effect.isEffect(effect)) return effect
      return Effect.withSpan(withUserSpan(effect, name, userOptions), name, {
        ...options,
        captureStackTrace: stackOf(definition, call)
      })
    })
  }) as unknown as Effect.fn.Traced
}

/** @internal */
export const userFn = (name: string, options?: UserSpanOptions): Effect.fn.Traced =>
  ((bodyOrOptions: Function | { readonly self: unknown }, ...pipeables: Array<Function>) => {
    const body = bodyOf(bodyOrOptions, pipeables)
    return withLength(body.length, function(this: unknown, ...args: Array<unknown>) {
      const effect = apply(this, body, args, pipeables)
      return Effect.isEffect(effect) ? withUserSpan(effect, name, options) : effect
    })
  }) as unknown as Effect.fn.Traced
