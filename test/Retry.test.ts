import { assert, describe, it } from "@effect/vitest"
import { Clock, Data, Duration, Effect, Fiber, Ref, Schedule, TestClock } from "effect"
import * as Policy from "effect-loom/Policy"
import * as Retry from "effect-loom/Retry"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
class Invalid extends Data.TaggedError("Invalid")<{}> {}

/** Fails with `error` on attempts before `succeedOn`, recording each attempt's number and time. */
const flaky = <E>(error: E, succeedOn: number) =>
  Effect.gen(function*() {
    const seen = yield* Ref.make<ReadonlyArray<{ attempt: number; at: number }>>([])
    const call = Effect.gen(function*() {
      const attempt = yield* Retry.attempt
      const at = yield* Clock.currentTimeMillis
      yield* Ref.update(seen, (s) => [...s, { attempt, at }])
      return attempt >= succeedOn ? yield* Effect.succeed(`ok on ${attempt}`) : yield* Effect.fail(error)
    })
    return { seen, call }
  })

describe("Retry", () => {
  it.effect("retries with exponential delays, exposing the attempt number", () =>
    Effect.gen(function*() {
      const { call, seen } = yield* flaky(new Unavailable(), 4)
      const retry = yield* Retry.make({ base: "100 millis", factor: 2, maxAttempts: 5 })
      const fiber = yield* Effect.fork(retry(call))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "ok on 4")
      assert.deepStrictEqual(yield* Ref.get(seen), [
        { attempt: 1, at: 0 },
        { attempt: 2, at: 100 },
        { attempt: 3, at: 300 },
        { attempt: 4, at: 700 }
      ])
    }))

  it.effect("caps the delay", () =>
    Effect.gen(function*() {
      const { call, seen } = yield* flaky(new Unavailable(), 5)
      const retry = yield* Retry.make({ base: "1 second", factor: 10, cap: "3 seconds" })
      const fiber = yield* Effect.fork(retry(call))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual((yield* Ref.get(seen)).map((s) => s.at), [0, 1000, 4000, 7000, 10000])
    }))

  it.effect("jitter stays within its range and under the cap", () =>
    Effect.gen(function*() {
      const schedule = yield* Retry.exponential({
        base: "1 second",
        factor: 2,
        cap: "5 seconds",
        jitter: { min: 0.5, max: 1.5 },
        maxAttempts: 6
      })
      const delays = yield* Schedule.run(Schedule.delays(schedule), 0, [1, 2, 3, 4, 5, 6, 7])
      // Schedule.run also reports the final output; the first five are the five retries' delays.
      const millis = Array.from(delays, Duration.toMillis).slice(0, 5)
      assert.strictEqual(millis.length, 5)
      const bases = [1000, 2000, 4000, 8000, 16000]
      millis.forEach((d, i) => {
        assert.isAtLeast(d, Math.min(bases[i]! * 0.5, 5000))
        assert.isAtMost(d, 5000)
        assert.isAtMost(d, bases[i]! * 1.5)
      })
    }))

  it.effect("gives up after maxAttempts with the last error", () =>
    Effect.gen(function*() {
      const { call, seen } = yield* flaky(new Unavailable(), 10)
      const retry = yield* Retry.make({ base: "10 millis", maxAttempts: 3 })
      const fiber = yield* Effect.fork(Effect.flip(retry(call)))
      yield* TestClock.adjust("1 second")
      assert.instanceOf(yield* Fiber.join(fiber), Unavailable)
      assert.strictEqual((yield* Ref.get(seen)).length, 3)
    }))

  it.effect("retries only the errors the predicate accepts", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.make({ base: "10 millis", maxAttempts: 5, while: Policy.hasTag("Unavailable") })
      const invalid = yield* flaky(new Invalid(), 3)
      const error = yield* Effect.flip(retry(invalid.call))
      assert.instanceOf(error, Invalid)
      assert.strictEqual((yield* Ref.get(invalid.seen)).length, 1)

      const unavailable = yield* flaky(new Unavailable(), 3)
      const fiber = yield* Effect.fork(retry(unavailable.call))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "ok on 3")
    }))

  it.effect("accepts any Schedule", () =>
    Effect.gen(function*() {
      const { call, seen } = yield* flaky(new Unavailable(), 3)
      const retry = yield* Retry.make({ schedule: Schedule.spaced("1 second") })
      const fiber = yield* Effect.fork(retry(call))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual((yield* Ref.get(seen)).map((s) => s.at), [0, 1000, 2000])
    }))

  it.effect("the attempt number is 1 outside any retry and can be provided", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Retry.attempt, 1)
      assert.strictEqual(yield* Effect.provideService(Retry.attempt, Retry.Attempt, 7), 7)
    }))

  it.effect("defects are not retried", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const retry = yield* Retry.make({ base: "10 millis", maxAttempts: 5 })
      const exit = yield* Effect.exit(retry(Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.die("bug"))))
      assert.isTrue(exit._tag === "Failure")
      assert.strictEqual(yield* Ref.get(runs), 1)
    }))
})
