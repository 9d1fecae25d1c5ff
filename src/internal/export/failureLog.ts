import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

const LOG_INTERVAL_MILLIS = 10_000

/** @internal export failures logged as warnings, at most one line per interval; the others are counted */
export interface FailureLog {
  readonly log: (message: string) => Effect.Effect<void>
  /** Lines not logged since the last line that was, or since the last call; resets the count. */
  readonly takeSuppressed: () => number
}

/** @internal */
export const makeFailureLog = (): FailureLog => {
  let lastLogAt = Number.NEGATIVE_INFINITY
  let suppressed = 0
  return {
    log: (message) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (now - lastLogAt < LOG_INTERVAL_MILLIS) {
          suppressed++
          return Effect.void
        }
        lastLogAt = now
        const notLogged = suppressed
        suppressed = 0
        return Effect.logWarning(notLogged > 0 ? `${message} (${notLogged} similar failures not logged)` : message)
      }),
    takeSuppressed: () => {
      const notLogged = suppressed
      suppressed = 0
      return notLogged
    }
  }
}
