import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Logger, LogLevel, TestClock } from "effect"
import { run } from "../examples/resilience.js"

describe("examples/resilience.ts", () => {
  it.effect("the breaker opens on the flaky stretch, the fallback answers, and a trial closes it", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(run(30, () => Effect.void).pipe(Logger.withMinimumLogLevel(LogLevel.None)))
      yield* TestClock.adjust("1 minute")
      const summary = yield* Fiber.join(fiber)
      assert.deepStrictEqual(summary.states, ["Closed", "Open", "HalfOpen", "Open", "HalfOpen", "Closed"])
      assert.deepStrictEqual(summary.answers.slice(0, 3), ["9.01", "9.02", "9.03"])
      assert.strictEqual(summary.answers[3], "last known price (PriceServiceUnavailable)")
      assert.strictEqual(summary.answers[4], "last known price (CircuitBreakerOpen)")
      assert.strictEqual(summary.answers.at(-1), "9.13")
      assert.strictEqual(summary.serviceCalls, 13)
      assert.isAtLeast(summary.rejections, 1)
    }))
})
