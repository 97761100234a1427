import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, FiberRef, Ref, TestClock } from "effect"
import * as Timeout from "effect-loom/Timeout"

describe("Timeout", () => {
  it.effect("fails with TimeoutExceeded naming the operation and interrupts the effect", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(false)
      const timeout = yield* Timeout.make({ name: "fetch-user", duration: "2 seconds" })
      const slow = Effect.sleep("5 seconds").pipe(Effect.onInterrupt(() => Ref.set(interrupted, true)))
      const fiber = yield* Effect.fork(Effect.flip(timeout(slow)))
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(fiber)
      assert.instanceOf(error, Timeout.TimeoutExceeded)
      assert.strictEqual(error.name, "fetch-user")
      assert.isTrue(Duration.equals(error.duration, Duration.seconds(2)))
      assert.strictEqual(error.message, `operation "fetch-user" timed out after 2s`)
      assert.isTrue(yield* Ref.get(interrupted))
    }))

  it.effect("lets a fast effect through with its own result and error", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.make({ name: "fast", duration: "2 seconds" })
      const fiber = yield* Effect.fork(timeout(Effect.as(Effect.sleep("1 second"), "done")))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "done")
      assert.strictEqual(yield* Effect.flip(timeout(Effect.fail("own error"))), "own error")
    }))

  it.effect("interrupting the caller interrupts the timed effect", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(false)
      const timeout = yield* Timeout.make({ name: "cancel", duration: "1 minute" })
      const fiber = yield* Effect.fork(timeout(Effect.never.pipe(Effect.onInterrupt(() => Ref.set(interrupted, true)))))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      assert.isTrue(yield* Ref.get(interrupted))
    }))

  it.effect("the timed effect sees the caller's services and FiberRefs; its FiberRef changes stay inside", () =>
    Effect.gen(function*() {
      class Greeting extends Context.Tag("test/Greeting")<Greeting, string>() {}
      const ref = FiberRef.unsafeMake(0)
      const timeout = yield* Timeout.make({ name: "refs", duration: "1 minute" })
      const seen = yield* timeout(Effect.zip(Greeting, FiberRef.getAndSet(ref, 1))).pipe(
        Effect.provideService(Greeting, "hello"),
        Effect.locally(ref, 7)
      )
      assert.deepStrictEqual(seen, ["hello", 7])
      assert.strictEqual(yield* FiberRef.get(ref), 0)
      const fiber = yield* Effect.fork(
        Effect.zipRight(timeout(Effect.zipRight(Effect.sleep("1 second"), FiberRef.set(ref, 2))), FiberRef.get(ref))
      )
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), 0)
    }))

  it.effect("FiberRefs are forked into the timed effect as by Effect.fork, call after call", () =>
    Effect.gen(function*() {
      const plain = FiberRef.unsafeMake("plain")
      const counted = FiberRef.unsafeMake(0, { fork: (n) => n + 1 })
      const timeout = yield* Timeout.make({ name: "fork", duration: "1 minute" })
      const read = Effect.zip(FiberRef.get(plain), FiberRef.get(counted))
      const forked = Effect.flatMap(Effect.fork(read), Fiber.join)
      const seen = (locally: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) =>
        Effect.gen(function*() {
          const [timed, byFork] = yield* locally(Effect.zip(timeout(read), forked))
          assert.deepStrictEqual(timed, byFork)
          return timed
        })
      // A ref left at its initial value is not forked; a set one is, on every call, for that call's value.
      assert.deepStrictEqual(yield* seen((self) => self), ["plain", 0])
      assert.deepStrictEqual(yield* seen(Effect.locally(plain, "changed")), ["changed", 0])
      assert.deepStrictEqual(yield* seen(Effect.locally(counted, 10)), ["plain", 11])
      assert.deepStrictEqual(yield* seen(Effect.locally(counted, 10)), ["plain", 11])
      assert.deepStrictEqual(yield* seen(Effect.locally(counted, 20)), ["plain", 21])
      assert.deepStrictEqual(yield* seen((self) => Effect.locally(Effect.locally(self, counted, 20), plain, "x")), [
        "x",
        21
      ])
      // `locally` puts the old value back explicitly, so the ref is now set and forked.
      assert.deepStrictEqual(yield* seen((self) => self), ["plain", 1])
    }))

  it.effect("defects and failures of a synchronous effect pass through", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.make({ name: "sync", duration: "1 second" })
      const exit = yield* Effect.exit(timeout(Effect.die("bug")))
      assert.isTrue(exit._tag === "Failure" && exit.cause._tag === "Die")
    }))
})
