import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Metric, Ref } from "effect"
import * as Bulkhead from "effect-loom/Bulkhead"

describe("Bulkhead", () => {
  it.effect("runs at most maxConcurrent calls, queues maxQueued, rejects the rest", () =>
    Effect.gen(function*() {
      const name = `full-${Math.random()}`
      const bulkhead = yield* Bulkhead.make({ name, maxConcurrent: 2, maxQueued: 1 })
      const gate = yield* Deferred.make<void>()
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const work = Effect.gen(function*() {
        const now = yield* Ref.updateAndGet(running, (n) => n + 1)
        yield* Ref.update(peak, (p) => Math.max(p, now))
        yield* Deferred.await(gate)
        yield* Ref.update(running, (n) => n - 1)
        return "done"
      })
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(bulkhead(work)))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* bulkhead.running, 2)
      assert.strictEqual(yield* bulkhead.queued, 1)
      const rejected = yield* Effect.flip(bulkhead(work))
      assert.instanceOf(rejected, Bulkhead.BulkheadRejected)
      assert.deepStrictEqual(
        { name: rejected.name, maxConcurrent: rejected.maxConcurrent, maxQueued: rejected.maxQueued },
        { name, maxConcurrent: 2, maxQueued: 1 }
      )
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(results, ["done", "done", "done"])
      assert.strictEqual(yield* Ref.get(peak), 2)
      assert.strictEqual(yield* bulkhead.running, 0)
      assert.strictEqual(yield* bulkhead.queued, 0)
      const rejections = yield* Metric.value(Metric.tagged(Bulkhead.rejectionsMetric, "bulkhead", name))
      assert.strictEqual(rejections.count, 1)
      // Slots are free again.
      assert.strictEqual(yield* bulkhead(Effect.succeed(1)), 1)
    }))

  it.effect("with no queue, the first extra call is rejected", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ name: "no-queue", maxConcurrent: 1 })
      const fiber = yield* Effect.fork(bulkhead(Effect.never))
      yield* Effect.yieldNow()
      const exit = yield* Effect.exit(bulkhead(Effect.void))
      assert.isTrue(Exit.isFailure(exit))
      yield* Fiber.interrupt(fiber)
      // An interrupted call gives its slot back.
      yield* bulkhead(Effect.void)
    }))

  it.effect("failures and defects give their slot back", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ name: "release", maxConcurrent: 1 })
      yield* Effect.exit(bulkhead(Effect.fail("boom")))
      yield* Effect.exit(bulkhead(Effect.die("defect")))
      assert.strictEqual(yield* bulkhead(Effect.succeed("ok")), "ok")
    }))

  it.effect("an interrupted waiter leaves the queue; slots go to waiters in arrival order", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ name: "order", maxConcurrent: 1, maxQueued: 3 })
      const gate = yield* Deferred.make<void>()
      const order = yield* Ref.make<ReadonlyArray<string>>([])
      const holder = yield* Effect.fork(bulkhead(Deferred.await(gate)))
      yield* Effect.yieldNow()
      const record = (label: string) => bulkhead(Ref.update(order, (o) => [...o, label]))
      const first = yield* Effect.fork(record("first"))
      yield* Effect.yieldNow()
      const leaving = yield* Effect.fork(record("leaving"))
      yield* Effect.yieldNow()
      const second = yield* Effect.fork(record("second"))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* bulkhead.queued, 3)
      yield* Fiber.interrupt(leaving)
      assert.strictEqual(yield* bulkhead.queued, 2)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      assert.deepStrictEqual(yield* Ref.get(order), ["first", "second"])
      assert.strictEqual(yield* bulkhead.running, 0)
    }))

  it.effect("many fibers share one bulkhead: never more than maxConcurrent at once", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ name: "many", maxConcurrent: 3, maxQueued: 100 })
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const work = Effect.gen(function*() {
        const now = yield* Ref.updateAndGet(running, (n) => n + 1)
        yield* Ref.update(peak, (p) => Math.max(p, now))
        yield* Effect.yieldNow()
        yield* Ref.update(running, (n) => n - 1)
      })
      yield* Effect.all(Array.from({ length: 60 }, () => bulkhead(work)), { concurrency: "unbounded" })
      assert.strictEqual(yield* Ref.get(peak), 3)
      assert.strictEqual(yield* bulkhead.running, 0)
    }))
})
