import * as Effect from "effect/Effect"

/**
 * @internal
 * `dual` for a combinator `(self, a, b?)` / `(a, b?) => (self) => …` whose data-first form is
 * told by `self` being an Effect, as `dual((args) => Effect.isEffect(args[0]), body)` does, but
 * with fixed parameters: `dual`'s data-last closure spreads `arguments`, which showed on the span
 * path in `npm run bench`. The one dual helper for combinators over an Effect; `dual` from
 * `effect/Function` serves the others (a `Stream`, a `Tracestate`).
 */
export const effectDual = <
  DataLast extends (...args: Array<any>) => any,
  DataFirst extends (...args: Array<any>) => any
>(body: (self: any, a: any, b: any) => unknown): DataLast & DataFirst =>
  function(a: unknown, b?: unknown, c?: unknown): unknown {
    if (Effect.isEffect(a)) return body(a, b, c)
    return (self: unknown) => body(self, a, b)
  } as DataLast & DataFirst
