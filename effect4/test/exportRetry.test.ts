// The retry schedule of one export request on the Effect 4 line (its effect 4 `Schedule` over the
// shared verdicts), on the test clock, in the Effect 3 line's scenarios: connection failures are
// retried until the receiver answers (or the shutdown deadline), answers keep maxAttempts and
// Retry-After.
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { UserTracingSettings } from "../src/index.js"
import { exportRequest } from "../src/internal/export/request.js"
import { type Answer, ExportRequestError, type Transport } from "../src/internal/export/transport.js"

const output: UserTracingSettings.OutputCommon = {
  routingHeaderName: "x-user-routing",
  numTasks: 1,
  maxBatchSize: 512,
  maxBatchBytes: 4 * 1024 * 1024,
  requestTimeout: Duration.seconds(10),
  maxAttempts: 2,
  compression: "none"
}

type Reply = "refused" | number

/** A transport that answers each attempt as `reply(attempt, now)` says, and records when each came. */
const scripted = (reply: (attempt: number, now: number) => Reply, retryAfter?: string) => {
  const attempts: Array<number> = []
  const transport: Transport = {
    prepare: Effect.succeed,
    released: () => true,
    send: () =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        attempts.push(now)
        const answer = reply(attempts.length, now)
        if (answer === "refused") {
          return Effect.fail(new ExportRequestError({ reason: "transport", message: "connect ECONNREFUSED" }))
        }
        const result: Answer = {
          status: answer,
          contentType: undefined,
          retryAfter: answer === 503 ? retryAfter : undefined,
          body: new Uint8Array(0),
          truncated: false
        }
        return Effect.succeed(result)
      }),
    close: () => {}
  }
  return { transport, attempts }
}

/** Runs one request of 3 spans, moving the test clock a second at a time for `seconds`. */
const runFor = (
  transport: Transport,
  seconds: number,
  options?: { readonly maxAttempts?: number; readonly closing?: Deferred.Deferred<number> }
) =>
  Effect.gen(function*() {
    const closing = options?.closing ?? (yield* Deferred.make<number>())
    const fiber = yield* Effect.forkChild(
      exportRequest(
        transport,
        { ...output, maxAttempts: options?.maxAttempts ?? output.maxAttempts },
        closing,
        "{}",
        new Uint8Array(1),
        3
      )
    )
    for (let i = 0; i < seconds; i++) yield* TestClock.adjust("1 second")
    return yield* Fiber.join(fiber)
  })

describe("a receiver that is not there yet", () => {
  it.effect("refused for 20 s, then answering: exported, though maxAttempts is 2", () =>
    Effect.gen(function*() {
      const { attempts, transport } = scripted((_, now) => (now < 20_000 ? "refused" : 200))
      const outcome = yield* runFor(transport, 30)
      expect(outcome).toEqual({ exported: 3, failed: 0, message: undefined })
      // Backoff: more than maxAttempts tries, but spaced out (the waits grow to 5 s at most).
      expect(attempts.length).toBeGreaterThan(6)
      expect(attempts.length).toBeLessThan(25)
      const waits = attempts.slice(1).map((at, i) => at - attempts[i])
      expect(Math.max(...waits)).toBeLessThanOrEqual(5_000)
      expect(waits.at(-1)!).toBeGreaterThanOrEqual(1_000)
      expect(attempts.at(-1)!).toBeGreaterThanOrEqual(20_000)
    }))

  it.effect("answers use up maxAttempts, connection failures between them do not", () =>
    Effect.gen(function*() {
      // refused, 503, refused, 503, refused, 503, ...
      const { attempts, transport } = scripted((n) => (n % 2 === 1 ? "refused" : 503))
      const outcome = yield* runFor(transport, 60, { maxAttempts: 3 })
      expect(outcome.exported).toBe(0)
      expect(outcome.failed).toBe(3)
      expect(outcome.message).toContain("503")
      expect(attempts).toHaveLength(6)
    }))

  it.effect("Retry-After sets the wait before the next attempt", () =>
    Effect.gen(function*() {
      const { attempts, transport } = scripted((n) => (n === 1 ? 503 : 200), "7")
      const outcome = yield* runFor(transport, 10)
      expect(outcome).toEqual({ exported: 3, failed: 0, message: undefined })
      expect(attempts).toEqual([0, 7_000])
    }))

  it.effect("once closing, a long wait ends by half the time left, and no attempt starts after the deadline", () =>
    Effect.gen(function*() {
      const { attempts, transport } = scripted(() => 503, "60")
      const closing = yield* Deferred.make<number>()
      const fiber = yield* Effect.forkChild(
        exportRequest(transport, { ...output, maxAttempts: 100 }, closing, "{}", new Uint8Array(1), 3)
      )
      yield* TestClock.adjust("1 second")
      // Closing starts mid-wait, with 4 s left: the 60 s wait ends 2 s later.
      yield* Deferred.succeed(closing, 5_000)
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("1 second")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome.failed).toBe(3)
      expect(attempts[1]).toBe(3_000)
      expect(Math.max(...attempts)).toBeLessThan(5_000)
    }))

  it.effect("refused until the shutdown deadline: failed then, not before", () =>
    Effect.gen(function*() {
      const { attempts, transport } = scripted(() => "refused")
      const closing = yield* Deferred.make<number>()
      const fiber = yield* Effect.forkChild(exportRequest(transport, output, closing, "{}", new Uint8Array(1), 3))
      for (let i = 0; i < 60; i++) yield* TestClock.adjust("1 second")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* Deferred.succeed(closing, 63_000)
      for (let i = 0; i < 5; i++) yield* TestClock.adjust("1 second")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome).toMatchObject({ exported: 0, failed: 3 })
      expect(outcome.message).toContain("ECONNREFUSED")
      expect(Math.max(...attempts)).toBeLessThan(63_000)
    }))
})
