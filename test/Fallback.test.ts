import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Exit } from "effect"
import * as Fallback from "effect-loom/Fallback"
import * as Policy from "effect-loom/Policy"

class Unavailable extends Data.TaggedError("Unavailable")<{}> {}
class Invalid extends Data.TaggedError("Invalid")<{}> {}

describe("Fallback", () => {
  it.effect("replaces matching errors and passes the others through", () =>
    Effect.gen(function*() {
      const fallback = Fallback.make({
        when: Policy.hasTag("Unavailable"),
        orElse: (error) => Effect.succeed(`fallback after ${(error as Unavailable)._tag}`)
      })
      assert.strictEqual(yield* fallback(Effect.fail(new Unavailable())), "fallback after Unavailable")
      assert.instanceOf(yield* Effect.flip(fallback(Effect.fail(new Invalid()))), Invalid)
      assert.strictEqual(yield* fallback(Effect.succeed("primary")), "primary")
    }))

  it.effect("without `when` replaces every typed error but never defects", () =>
    Effect.gen(function*() {
      const fallback = Fallback.make({ orElse: () => Effect.succeed(0) })
      assert.strictEqual(yield* fallback(Effect.fail("x")), 0)
      const exit = yield* Effect.exit(fallback(Effect.die("bug")))
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.effect("the fallback's own failure surfaces", () =>
    Effect.gen(function*() {
      const fallback = Fallback.make({ orElse: () => Effect.fail("fallback failed" as const) })
      assert.strictEqual(yield* Effect.flip(fallback(Effect.fail(new Unavailable()))), "fallback failed")
    }))
})
