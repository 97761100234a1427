import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  Deferred,
  Effect,
  Exit,
  Fiber,
  Metric,
  MetricState,
  Ref,
  Schema,
  Stream,
  TestClock
} from "effect"
import * as CircuitBreaker from "effect-loom/CircuitBreaker"
import * as Policy from "effect-loom/Policy"

class Boom extends Schema.TaggedError<Boom>()("Boom", {}) {}
class Ignored extends Schema.TaggedError<Ignored>()("Ignored", {}) {}

let unique = 0
const freshName = (label: string) => `${label}-${++unique}-${Math.random().toString(36).slice(2, 8)}`

/** A call that counts its runs and fails with Boom while `failing` is true. */
const makeService = Effect.gen(function*() {
  const calls = yield* Ref.make(0)
  const failing = yield* Ref.make(true)
  const call = Effect.zipRight(
    Ref.update(calls, (n) => n + 1),
    Effect.flatMap(Ref.get(failing), (fail) => fail ? Effect.fail(new Boom()) : Effect.succeed("ok"))
  )
  return { calls, failing, call }
})

const gaugeValue = (name: string) =>
  Effect.map(Metric.value(Metric.tagged(CircuitBreaker.stateMetric, "breaker", name)), (s) => s.value)

const rejectionCount = (name: string) =>
  Effect.map(Metric.value(Metric.tagged(CircuitBreaker.rejectionsMetric, "breaker", name)), (s) => s.count)

/** Collects the first `n` states of `changes`, subscribed before this returns. */
const collectChanges = (breaker: CircuitBreaker.CircuitBreaker, n: number) =>
  Effect.gen(function*() {
    const subscribed = yield* Deferred.make<void>()
    const fiber = yield* breaker.changes.pipe(
      Stream.tap(() => Deferred.succeed(subscribed, undefined)),
      Stream.take(n),
      Stream.runCollect,
      Effect.fork
    )
    yield* Deferred.await(subscribed)
    return Effect.map(Fiber.join(fiber), (states) => Chunk.toReadonlyArray(states).map((s) => s._tag))
  })

/** Collects every state of `changes` until the returned `stop` effect runs. */
const recordChanges = (breaker: CircuitBreaker.CircuitBreaker) =>
  Effect.gen(function*() {
    const subscribed = yield* Deferred.make<void>()
    const stop = yield* Deferred.make<void>()
    const fiber = yield* breaker.changes.pipe(
      Stream.tap(() => Deferred.succeed(subscribed, undefined)),
      Stream.interruptWhen(Deferred.await(stop)),
      Stream.runCollect,
      Effect.fork
    )
    yield* Deferred.await(subscribed)
    return Effect.gen(function*() {
      yield* Effect.repeatN(Effect.yieldNow(), 10)
      yield* Deferred.succeed(stop, undefined)
      const states = yield* Fiber.join(fiber)
      return Chunk.toReadonlyArray(states).map((s) => s._tag)
    })
  })

describe("CircuitBreaker", () => {
  it.scoped("opens after maxFailures consecutive failures and rejects without calling", () =>
    Effect.gen(function*() {
      const name = freshName("opens")
      const service = yield* makeService
      const breaker = yield* CircuitBreaker.make({ name, maxFailures: 3, resetAfter: "10 seconds" })
      for (let i = 0; i < 3; i++) {
        const error = yield* Effect.flip(breaker(service.call))
        assert.strictEqual(error._tag, "Boom")
      }
      assert.strictEqual((yield* breaker.state)._tag, "Open")
      const rejected = yield* Effect.flip(breaker(service.call))
      assert.strictEqual(rejected._tag, "CircuitBreakerOpen")
      assert.instanceOf(rejected, CircuitBreaker.CircuitBreakerOpen)
      assert.include(rejected.message, name)
      assert.strictEqual(yield* Ref.get(service.calls), 3)
    }))

  it.scoped("a success resets the consecutive failure count", () =>
    Effect.gen(function*() {
      const service = yield* makeService
      const breaker = yield* CircuitBreaker.make({ name: freshName("reset"), maxFailures: 3, resetAfter: "1 second" })
      yield* Effect.exit(breaker(service.call))
      yield* Effect.exit(breaker(service.call))
      yield* breaker(Effect.succeed(1))
      yield* Effect.exit(breaker(service.call))
      yield* Effect.exit(breaker(service.call))
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
      yield* Effect.exit(breaker(service.call))
      assert.strictEqual((yield* breaker.state)._tag, "Open")
    }))

  it.scoped("half-opens after resetAfter (TestClock), closes on success, re-opens on failure", () =>
    Effect.gen(function*() {
      const name = freshName("cycle")
      const service = yield* makeService
      const breaker = yield* CircuitBreaker.make({ name, maxFailures: 2, resetAfter: "30 seconds" })
      const changes = yield* collectChanges(breaker, 6)
      yield* Effect.exit(breaker(service.call))
      yield* Effect.exit(breaker(service.call))
      assert.strictEqual((yield* breaker.state)._tag, "Open")

      yield* TestClock.adjust("29 seconds")
      assert.strictEqual((yield* breaker.state)._tag, "Open")
      assert.strictEqual((yield* Effect.flip(breaker(service.call)))._tag, "CircuitBreakerOpen")

      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* breaker.state)._tag, "HalfOpen")
      assert.strictEqual(yield* gaugeValue(name), 1)

      // A trial failure re-opens the breaker.
      assert.strictEqual((yield* Effect.flip(breaker(service.call)))._tag, "Boom")
      const reopened = yield* breaker.state
      assert.strictEqual(reopened._tag, "Open")
      assert.strictEqual(reopened._tag === "Open" && reopened.openedAt, 30_000)

      yield* TestClock.adjust("30 seconds")
      yield* Ref.set(service.failing, false)
      assert.strictEqual(yield* breaker(service.call), "ok")
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
      assert.strictEqual(yield* gaugeValue(name), 0)

      assert.deepStrictEqual(yield* changes, ["Closed", "Open", "HalfOpen", "Open", "HalfOpen", "Closed"])
    }))

  it.scoped("half-open admits at most halfOpenMaxCalls trials and closes when all succeed", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: freshName("trials"),
        maxFailures: 1,
        resetAfter: "5 seconds",
        halfOpenMaxCalls: 2
      })
      yield* Effect.exit(breaker(Effect.fail(new Boom())))
      yield* TestClock.adjust("5 seconds")
      const gate1 = yield* Deferred.make<void>()
      const gate2 = yield* Deferred.make<void>()
      const t1 = yield* Effect.fork(breaker(Effect.as(Deferred.await(gate1), "trial")))
      const t2 = yield* Effect.fork(breaker(Effect.as(Deferred.await(gate2), "trial")))
      yield* Effect.yieldNow()
      const third = yield* Effect.flip(breaker(Effect.succeed("third")))
      assert.strictEqual(third._tag, "CircuitBreakerOpen")
      assert.strictEqual(third.state._tag, "HalfOpen")
      yield* Deferred.succeed(gate1, undefined)
      assert.strictEqual(yield* Fiber.join(t1), "trial")
      assert.strictEqual((yield* breaker.state)._tag, "HalfOpen")
      yield* Deferred.succeed(gate2, undefined)
      assert.strictEqual(yield* Fiber.join(t2), "trial")
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
    }))

  it.scoped("an interrupted trial frees its slot and counts as neither outcome", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: freshName("interrupt"), maxFailures: 1, resetAfter: "1 second" })
      yield* Effect.exit(breaker(Effect.fail(new Boom())))
      yield* TestClock.adjust("1 second")
      const trial = yield* Effect.fork(breaker(Effect.never))
      yield* Effect.yieldNow()
      assert.strictEqual((yield* Effect.flip(breaker(Effect.void)))._tag, "CircuitBreakerOpen")
      yield* Fiber.interrupt(trial)
      assert.strictEqual((yield* breaker.state)._tag, "HalfOpen")
      yield* breaker(Effect.void)
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
    }))

  it.scoped("opens on the failure ratio over a sliding window, after minimumCalls", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: freshName("ratio"),
        failureRatio: { threshold: 0.5, window: 4, minimumCalls: 4 },
        resetAfter: "1 minute"
      })
      const fail = Effect.exit(breaker(Effect.fail(new Boom())))
      const succeed = breaker(Effect.void)
      yield* fail
      yield* succeed
      yield* fail
      assert.strictEqual((yield* breaker.state)._tag, "Closed") // 2/3 failed but only 3 calls
      yield* succeed
      yield* fail // window [S, F, S, F] -> 2/4 >= 0.5
      assert.strictEqual((yield* breaker.state)._tag, "Open")
    }))

  it.scoped("old outcomes slide out of the window", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: freshName("slide"),
        failureRatio: { threshold: 0.75, window: 4 },
        resetAfter: "1 minute"
      })
      const fail = Effect.exit(breaker(Effect.fail(new Boom())))
      const succeed = breaker(Effect.void)
      yield* fail
      yield* fail
      yield* succeed
      yield* succeed
      yield* succeed
      yield* fail // window [S, S, S, F]: 1/4
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
      assert.deepStrictEqual((yield* breaker.snapshot).recent, [false, false, false, true])
      yield* fail
      yield* fail // [S, F, F, F]: 3/4
      assert.strictEqual((yield* breaker.state)._tag, "Open")
    }))

  it.scoped("isFailure decides which errors count; defects always count", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: freshName("isFailure"),
        maxFailures: 2,
        resetAfter: "1 minute",
        isFailure: (e) => !Policy.hasTag("Ignored")(e)
      })
      for (let i = 0; i < 5; i++) yield* Effect.exit(breaker(Effect.fail(new Ignored())))
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
      yield* Effect.exit(breaker(Effect.die("defect")))
      yield* Effect.exit(breaker(Effect.fail(new Boom())))
      assert.strictEqual((yield* breaker.state)._tag, "Open")
    }))

  it.scoped("one breaker is shared by many fibers: one transition, every later call rejected", () =>
    Effect.gen(function*() {
      const name = freshName("shared")
      const service = yield* makeService
      const breaker = yield* CircuitBreaker.make({ name, maxFailures: 5, resetAfter: "1 minute" })
      const changes = yield* recordChanges(breaker)
      const gate = yield* Deferred.make<void>()
      const gated = Effect.zipRight(Deferred.await(gate), service.call)
      const fibers = yield* Effect.forEach(Array.from({ length: 50 }), () => Effect.fork(breaker(gated)))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      const exits = yield* Effect.forEach(fibers, Fiber.await)
      assert.isTrue(exits.every((exit) => Exit.isFailure(exit)))
      assert.strictEqual(yield* Ref.get(service.calls), 50)

      const rejectedBefore = yield* rejectionCount(name)
      const results = yield* Effect.all(Array.from({ length: 30 }, () => Effect.flip(breaker(service.call))), {
        concurrency: "unbounded"
      })
      assert.isTrue(results.every((e) => e._tag === "CircuitBreakerOpen"))
      assert.strictEqual(yield* Ref.get(service.calls), 50)
      assert.strictEqual((yield* rejectionCount(name)) - rejectedBefore, 30)
      // The 45 failures that finished after the breaker opened were not counted again.
      assert.deepStrictEqual(yield* changes, ["Closed", "Open"])
      assert.strictEqual((yield* breaker.snapshot).consecutiveFailures, 0)
    }))

  it.scoped("reports state and rejections in the metric snapshot", () =>
    Effect.gen(function*() {
      const name = freshName("metrics")
      const breaker = yield* CircuitBreaker.make({ name, maxFailures: 1, resetAfter: "1 minute" })
      yield* Effect.exit(breaker(Effect.fail(new Boom())))
      yield* Effect.exit(breaker(Effect.void))
      yield* Effect.exit(breaker(Effect.void))
      const pairs = yield* Metric.snapshot
      const find = (metric: string) =>
        pairs.find((pair) =>
          pair.metricKey.name === metric &&
          pair.metricKey.tags.some((tag) => tag.key === "breaker" && tag.value === name)
        )
      const state = find("effect_loom.circuit_breaker.state")
      const rejections = find("effect_loom.circuit_breaker.rejections")
      assert.isDefined(state)
      assert.isDefined(rejections)
      assert.isTrue(MetricState.isGaugeState(state!.metricState))
      assert.strictEqual((state!.metricState as MetricState.MetricState.Gauge<number>).value, 2)
      assert.strictEqual((rejections!.metricState as MetricState.MetricState.Counter<number>).count, 2)
    }))

  it.scoped("saves its state as JSON and restores it, reset timer included", () =>
    Effect.gen(function*() {
      const name = freshName("save")
      const first = yield* CircuitBreaker.make({
        name,
        maxFailures: 3,
        failureRatio: { threshold: 0.9, window: 10, minimumCalls: 10 },
        resetAfter: "1 minute"
      })
      yield* Effect.exit(first(Effect.fail(new Boom())))
      yield* first(Effect.void)
      yield* Effect.exit(first(Effect.fail(new Boom())))
      const json = JSON.stringify(first)
      const saved = Schema.decodeUnknownSync(CircuitBreaker.Snapshot)(JSON.parse(json))
      assert.deepStrictEqual(saved, {
        state: { _tag: "Closed" },
        consecutiveFailures: 1,
        recent: [true, false, true]
      })

      const restored = yield* CircuitBreaker.make({
        name,
        maxFailures: 3,
        failureRatio: { threshold: 0.9, window: 10, minimumCalls: 10 },
        resetAfter: "1 minute",
        initialState: saved
      })
      yield* Effect.exit(restored(Effect.fail(new Boom())))
      yield* Effect.exit(restored(Effect.fail(new Boom())))
      assert.strictEqual((yield* restored.state)._tag, "Open") // 1 saved + 2 new consecutive failures

      yield* TestClock.adjust("20 seconds")
      const openJson = JSON.parse(JSON.stringify(restored))
      const third = yield* CircuitBreaker.make({
        name,
        maxFailures: 3,
        failureRatio: { threshold: 0.9, window: 10, minimumCalls: 10 },
        resetAfter: "1 minute",
        initialState: Schema.decodeUnknownSync(CircuitBreaker.Snapshot)(openJson)
      })
      assert.strictEqual((yield* Effect.flip(third(Effect.void)))._tag, "CircuitBreakerOpen")
      const changes = yield* collectChanges(third, 2)
      yield* TestClock.adjust("40 seconds") // 60s after it opened
      assert.deepStrictEqual(yield* changes, ["Open", "HalfOpen"])
    }))

  it.scoped("refuses a saved window longer than the configured one", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(CircuitBreaker.make({
        name: freshName("bad-restore"),
        failureRatio: { threshold: 0.5, window: 2 },
        resetAfter: "1 second",
        initialState: { state: { _tag: "Closed" }, consecutiveFailures: 0, recent: [true, true, true] }
      }))
      assert.strictEqual(error._tag, "PolicySettingInvalid")
      assert.strictEqual(error.setting, "initialState.recent")
    }))

  it.scoped("the reset timer stops with the breaker's scope", () =>
    Effect.gen(function*() {
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ name: freshName("scope"), maxFailures: 1, resetAfter: "1 second" })
        yield* Effect.exit(breaker(Effect.fail(new Boom())))
        return breaker
      }))
      yield* TestClock.adjust("2 seconds")
      // The breaker still answers (lazily half-opening) even though its timer fiber is gone.
      assert.strictEqual((yield* result.state)._tag, "HalfOpen")
    }))
})
