import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Ref, TestClock } from "effect"
import * as RateLimit from "effect-loom/RateLimit"

/** Starts `n` calls through `limit` at once and returns the TestClock times at which each started. */
const startTimes = (limit: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>, n: number) =>
  Effect.gen(function*() {
    const times = yield* Ref.make<ReadonlyArray<number>>([])
    const fiber = yield* Effect.fork(
      Effect.all(
        Array.from({ length: n }, () =>
          limit(Effect.flatMap(Clock.currentTimeMillis, (t) => Ref.update(times, (ts) => [...ts, t])))),
        { concurrency: "unbounded" }
      )
    )
    return { times, fiber }
  })

/** Lets the forked calls run as far as they can at the current (test) time. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("RateLimit", () => {
  it.scoped("token bucket spaces calls evenly over the interval (TestClock)", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({ limit: 2, interval: "1 second" })
      const { fiber, times } = yield* startTimes(limit, 4)
      yield* settle
      assert.deepStrictEqual(yield* Ref.get(times), [0, 0])
      yield* TestClock.adjust("500 millis")
      assert.deepStrictEqual(yield* Ref.get(times), [0, 0, 500])
      yield* TestClock.adjust("500 millis")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* Ref.get(times), [0, 0, 500, 1000])
    }))

  it.scoped("fixed window lets `limit` calls through per interval", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({ limit: 3, interval: "1 second", algorithm: "fixed-window" })
      const { fiber, times } = yield* startTimes(limit, 7)
      yield* settle
      assert.deepStrictEqual(yield* Ref.get(times), [0, 0, 0])
      yield* TestClock.adjust("999 millis")
      assert.strictEqual((yield* Ref.get(times)).length, 3)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Ref.get(times), [0, 0, 0, 1000, 1000, 1000])
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* Ref.get(times), [0, 0, 0, 1000, 1000, 1000, 2000])
    }))

  it.scoped("withCost spends several tokens per call", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({ limit: 4, interval: "1 second", algorithm: "fixed-window" })
      yield* limit(Effect.void).pipe(RateLimit.withCost(4))
      const next = yield* Effect.fork(limit(Clock.currentTimeMillis))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(next), 1000)
    }))
})
