import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"
import { isGeneratorFunction } from "effect/Utils"
import type { UserSpanOptions } from "../../UserSpan.js"
import { withUserSpan } from "./regions.js"

// `Effect.fn` with the user span inside its internal span. Written out rather than wrapping
// `Effect.fn`, whose stack frames would then point into this module instead of the caller's.

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
): Effect.Effect<unknown, unknown, unknown> => {
  let effect: Effect.Effect<unknown, unknown, unknown>
  if (isGeneratorFunction(body)) {
    effect = Effect.gen(() => body.apply(self, args))
  } else {
    try {
      const result = body.apply(self, args)
      // A transpiled generator body returns an iterator: run it once, then call the body again.
      let first = true
      effect = Effect.isEffect(result) ? result : Effect.gen(() => {
        if (!first) return body.apply(self, args)
        first = false
        return result
      })
    } catch (error) {
      effect = Effect.die(error)
    }
  }
  try {
    for (const pipeable of pipeables) effect = pipeable(effect, ...args)
  } catch (error) {
    effect = Effect.die(error)
  }
  return effect
}

const named = <F extends Function>(name: string, length: number, f: F): F => {
  Object.defineProperty(f, "name", { value: name, configurable: true })
  return Object.defineProperty(f, "length", { value: length, configurable: true })
}

/** @internal */
export const fn = (name: string, options?: Tracer.SpanOptions): Effect.fn.Gen & Effect.fn.NonGen => {
  const definition = callerFrame()
  // Only the kind crosses over, as in `withDualSpan`.
  const userOptions: UserSpanOptions | undefined = options?.kind === undefined ? undefined : { kind: options.kind }
  return ((body: Function, ...pipeables: Array<Function>) =>
    named(name, body.length, function(this: unknown, ...args: Array<unknown>) {
      const call = callerFrame()
      const effect = withUserSpan(apply(this, body, args, pipeables), name, userOptions)
      return Effect.withSpan(effect, name, { captureStackTrace: stackOf(definition, call), ...options })
    })) as Effect.fn.Gen & Effect.fn.NonGen
}

/** @internal */
export const userFn = (name: string, options?: UserSpanOptions): Effect.fn.Gen & Effect.fn.NonGen =>
  ((body: Function, ...pipeables: Array<Function>) =>
    named(name, body.length, function(this: unknown, ...args: Array<unknown>) {
      return withUserSpan(apply(this, body, args, pipeables), name, options)
    })) as Effect.fn.Gen & Effect.fn.NonGen
