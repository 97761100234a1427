import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Fiber, Ref, TestClock } from "effect"
import * as Bulkhead from "effect-loom/Bulkhead"
import * as CircuitBreaker from "effect-loom/CircuitBreaker"
import * as Fallback from "effect-loom/Fallback"
import * as Policy from "effect-loom/Policy"
import * as RateLimit from "effect-loom/RateLimit"
import * as ResultCache from "effect-loom/ResultCache"
import * as Retry from "effect-loom/Retry"
import * as Timeout from "effect-loom/Timeout"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}

describe("Policy", () => {
  it.effect("compose applies the first policy outermost", () =>
    Effect.gen(function*() {
      const trace = yield* Ref.make<ReadonlyArray<string>>([])
      const mark = (label: string): Policy.Policy => (self) =>
        Effect.zipRight(Ref.update(trace, (t) => [...t, `${label}:in`]), Effect.tap(self, () => Ref.update(trace, (t) => [...t, `${label}:out`])))
      const composed = Policy.compose(mark("a"), mark("b"), mark("c"))
      yield* composed(Ref.update(trace, (t) => [...t, "call"]))
      assert.deepStrictEqual(yield* Ref.get(trace), ["a:in", "b:in", "c:in", "call", "c:out", "b:out", "a:out"])
      assert.strictEqual(yield* Policy.compose()(Effect.succeed(1)), 1)
    }))

  it.scoped("the recommended stack: timeouts are retried, count in the breaker, and the fallback answers last", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const fallback = Fallback.make({
        when: Policy.hasTag("CircuitBreakerOpen", "TimeoutExceeded"),
        orElse: (error) => Effect.succeed(`fallback (${(error as { _tag: string })._tag})`)
      })
      const retry = yield* Retry.make({
        base: "100 millis",
        maxAttempts: 3,
        while: Policy.hasTag("TimeoutExceeded", "Unavailable")
      })
      const breaker = yield* CircuitBreaker.make({ name: `stack-${Math.random()}`, maxFailures: 3, resetAfter: "1 minute" })
      const limit = yield* RateLimit.make({ limit: 100, interval: "1 second" })
      const bulkhead = yield* Bulkhead.make({ name: "stack", maxConcurrent: 4, maxQueued: 4 })
      const timeout = yield* Timeout.make({ name: "slow-call", duration: "1 second" })
      const resilient = Policy.compose(fallback, retry, breaker, limit, bulkhead, timeout)

      const slow = Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.as(Effect.sleep("10 seconds"), "slow"))
      const first = yield* Effect.fork(resilient(slow))
      yield* TestClock.adjust("5 seconds")
      // Three attempts, each cut by the timeout; the last TimeoutExceeded reaches the fallback.
      assert.strictEqual(yield* Fiber.join(first), "fallback (TimeoutExceeded)")
      assert.strictEqual(yield* Ref.get(calls), 3)
      assert.strictEqual((yield* breaker.state)._tag, "Open")

      // The open breaker rejects before the call runs; CircuitBreakerOpen is not retried.
      assert.strictEqual(yield* resilient(slow), "fallback (CircuitBreakerOpen)")
      assert.strictEqual(yield* Ref.get(calls), 3)
    }))

  it.effect("a cache in front of retry keeps only the final success", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const cache = yield* ResultCache.make<string, string, Unavailable>({ timeToLive: "1 minute", capacity: 10 })
      const retry = yield* Retry.make({ base: "10 millis", maxAttempts: 5 })
      const flaky = Effect.flatMap(Ref.updateAndGet(attempts, (n) => n + 1), (n) =>
        n < 3 ? Effect.fail(new Unavailable()) : Effect.succeed(`value after ${n}`))
      const fiber = yield* Effect.fork(flaky.pipe(retry, cache.keyed("k")))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "value after 3")
      assert.strictEqual(yield* flaky.pipe(retry, cache.keyed("k")), "value after 3")
      assert.strictEqual(yield* Ref.get(attempts), 3)
    }))

  describe("bad settings fail at construction with a typed error naming the setting", () => {
    const cases: ReadonlyArray<readonly [string, Effect.Effect<unknown, Policy.PolicySettingInvalid, never>, string]> = [
      ["breaker maxFailures 0", Effect.scoped(CircuitBreaker.make({ name: "b", maxFailures: 0, resetAfter: 1 })), "maxFailures"],
      ["breaker maxFailures 2.5", Effect.scoped(CircuitBreaker.make({ name: "b", maxFailures: 2.5, resetAfter: 1 })), "maxFailures"],
      [
        "breaker ratio 1.5",
        Effect.scoped(CircuitBreaker.make({ name: "b", failureRatio: { threshold: 1.5, window: 10 }, resetAfter: 1 })),
        "failureRatio.threshold"
      ],
      [
        "breaker ratio -0.1",
        Effect.scoped(CircuitBreaker.make({ name: "b", failureRatio: { threshold: -0.1, window: 10 }, resetAfter: 1 })),
        "failureRatio.threshold"
      ],
      [
        "breaker window 0",
        Effect.scoped(CircuitBreaker.make({ name: "b", failureRatio: { threshold: 0.5, window: 0 }, resetAfter: 1 })),
        "failureRatio.window"
      ],
      [
        "breaker minimumCalls > window",
        Effect.scoped(
          CircuitBreaker.make({ name: "b", failureRatio: { threshold: 0.5, window: 5, minimumCalls: 6 }, resetAfter: 1 })
        ),
        "failureRatio.minimumCalls"
      ],
      ["breaker resetAfter -1", Effect.scoped(CircuitBreaker.make({ name: "b", resetAfter: -1 })), "resetAfter"],
      [
        "breaker resetAfter '-5 seconds'",
        Effect.scoped(CircuitBreaker.make({ name: "b", resetAfter: "-5 seconds" })),
        "resetAfter"
      ],
      [
        "breaker halfOpenMaxCalls 0",
        Effect.scoped(CircuitBreaker.make({ name: "b", resetAfter: 1, halfOpenMaxCalls: 0 })),
        "halfOpenMaxCalls"
      ],
      ["bulkhead maxConcurrent 0", Bulkhead.make({ name: "b", maxConcurrent: 0 }), "maxConcurrent"],
      ["bulkhead maxQueued -1", Bulkhead.make({ name: "b", maxConcurrent: 1, maxQueued: -1 }), "maxQueued"],
      ["rate limit 0", Effect.scoped(RateLimit.make({ limit: 0, interval: "1 second" })), "limit"],
      ["rate limit interval 0", Effect.scoped(RateLimit.make({ limit: 1, interval: 0 })), "interval"],
      ["timeout -1", Timeout.make({ name: "t", duration: -1 }), "duration"],
      ["timeout 0", Timeout.make({ name: "t", duration: "0 millis" }), "duration"],
      ["retry base -10", Retry.make({ base: -10 }), "base"],
      ["retry factor 0", Retry.make({ base: 10, factor: 0 }), "factor"],
      ["retry cap negative", Retry.make({ base: 10, cap: [-1, 0] }), "cap"],
      ["retry maxAttempts 0", Retry.make({ base: 10, maxAttempts: 0 }), "maxAttempts"],
      ["retry jitter max < min", Retry.make({ base: 10, jitter: { min: 1.2, max: 0.8 } }), "jitter.max"],
      ["cache capacity 0", ResultCache.make({ timeToLive: "1 minute", capacity: 0 }), "capacity"],
      ["cache ttl unparsable", ResultCache.make({ timeToLive: "soon" as "1 minute", capacity: 1 }), "timeToLive"]
    ]
    for (const [label, construct, setting] of cases) {
      it.effect(label, () =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(construct)
          assert.instanceOf(error, Policy.PolicySettingInvalid)
          assert.strictEqual(error.setting, setting)
          assert.include(error.message, setting)
        }))
    }
  })

  it("hasTag matches tagged values only", () => {
    const transient = Policy.hasTag("A", "B")
    assert.isTrue(transient({ _tag: "B" }))
    assert.isFalse(transient({ _tag: "C" }))
    assert.isFalse(transient("A"))
    assert.isFalse(transient(null))
  })
})
