import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref, TestClock } from "effect"
import * as ResultCache from "effect-loom/ResultCache"

const counter = Effect.map(Ref.make(0), (runs) => ({
  runs,
  load: (value: string) => Effect.as(Ref.update(runs, (n) => n + 1), value)
}))

describe("ResultCache", () => {
  it.effect("hits within the TTL, misses after it (TestClock)", () =>
    Effect.gen(function*() {
      const { runs, load } = yield* counter
      const cache = yield* ResultCache.make<string, string>({ timeToLive: "1 minute", capacity: 10 })
      assert.strictEqual(yield* cache.get("a", load("A")), "A")
      assert.strictEqual(yield* cache.get("a", load("other")), "A")
      assert.strictEqual(yield* Ref.get(runs), 1)
      assert.deepStrictEqual(yield* cache.stats, { hits: 1, misses: 1, size: 1 })

      yield* TestClock.adjust("59 seconds")
      assert.strictEqual(yield* cache.get("a", load("other")), "A")
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* cache.get("a", load("fresh")), "fresh")
      assert.strictEqual(yield* Ref.get(runs), 2)
    }))

  it.effect("keys by the key function", () =>
    Effect.gen(function*() {
      const { runs, load } = yield* counter
      const cache = yield* ResultCache.make<{ readonly id: number; readonly trace: string }, string>({
        timeToLive: "1 minute",
        capacity: 10,
        key: (request) => request.id
      })
      yield* load("one").pipe(cache.keyed({ id: 1, trace: "t1" }))
      const second = yield* load("again").pipe(cache.keyed({ id: 1, trace: "t2" }))
      assert.strictEqual(second, "one")
      yield* load("two").pipe(cache.keyed({ id: 2, trace: "t3" }))
      assert.strictEqual(yield* Ref.get(runs), 2)
    }))

  it.effect("does not keep failures", () =>
    Effect.gen(function*() {
      const cache = yield* ResultCache.make<string, string, string>({ timeToLive: "1 minute", capacity: 10 })
      assert.strictEqual(yield* Effect.flip(cache.get("k", Effect.fail("down"))), "down")
      assert.strictEqual(yield* cache.get("k", Effect.succeed("up")), "up")
    }))

  it.effect("concurrent calls for one key share one run", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const gate = yield* Deferred.make<void>()
      const cache = yield* ResultCache.make<string, number>({ timeToLive: "1 minute", capacity: 10 })
      const slow = Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.as(Deferred.await(gate), 42))
      const fibers = yield* Effect.forEach(Array.from({ length: 10 }), () => Effect.fork(cache.get("k", slow)))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      const values = yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(values, Array.from({ length: 10 }, () => 42))
      assert.strictEqual(yield* Ref.get(runs), 1)
    }))

  it.effect("invalidate and capacity", () =>
    Effect.gen(function*() {
      const { runs, load } = yield* counter
      const cache = yield* ResultCache.make<string, string>({ timeToLive: "1 hour", capacity: 2 })
      yield* cache.get("a", load("a"))
      yield* cache.invalidate("a")
      yield* cache.get("a", load("a"))
      assert.strictEqual(yield* Ref.get(runs), 2)
      yield* cache.get("b", load("b"))
      yield* cache.get("c", load("c"))
      assert.isAtMost((yield* cache.stats).size, 2)
      yield* cache.invalidateAll
      assert.strictEqual((yield* cache.stats).size, 0)
    }))
})
