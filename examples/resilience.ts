/**
 * Resilience policies around a flaky price service: fallback → retry →
 * circuit breaker → rate limit → bulkhead → timeout. The service fails for a
 * while (calls 4 to 7), so the breaker opens, the fallback answers with the
 * last known price, and after `resetAfter` a trial call closes the breaker.
 *
 *   npx tsx examples/resilience.ts
 */
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Bulkhead from "../src/Bulkhead.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Fallback from "../src/Fallback.js"
import * as Policy from "../src/Policy.js"
import type { PolicySettingInvalid } from "../src/Policy.js"
import * as RateLimit from "../src/RateLimit.js"
import * as Retry from "../src/Retry.js"
import * as Timeout from "../src/Timeout.js"

/** What the simulated price service fails with. */
export class PriceServiceUnavailable extends Data.TaggedError("PriceServiceUnavailable")<{ readonly call: number }> {
  override get message() {
    return `price service unavailable (call ${this.call})`
  }
}

/** What a run reports. */
export interface Summary {
  readonly answers: ReadonlyArray<string>
  readonly serviceCalls: number
  readonly states: ReadonlyArray<CircuitBreaker.State["_tag"]>
  readonly rejections: number
}

/** Makes `calls` requests, 200 ms apart, through the policies; `print` shows each answer. */
export const run = (
  calls = 30,
  print: (line: string) => Effect.Effect<void> = Console.log
): Effect.Effect<Summary, PolicySettingInvalid> =>
  Effect.scoped(Effect.gen(function*() {
    const serviceCalls = yield* Ref.make(0)
    const fetchPrice = Effect.gen(function*() {
      const call = yield* Ref.updateAndGet(serviceCalls, (n) => n + 1)
      if (call >= 4 && call <= 7) return yield* new PriceServiceUnavailable({ call })
      return `9.${String(call).padStart(2, "0")}`
    })

    const breaker = yield* CircuitBreaker.make({ name: "prices", maxFailures: 3, resetAfter: "2 seconds" })
    const states = yield* Ref.make<ReadonlyArray<CircuitBreaker.State["_tag"]>>([])
    yield* breaker.changes.pipe(
      Stream.runForEach((state) => Ref.update(states, (s) => [...s, state._tag])),
      Effect.forkScoped
    )
    yield* Effect.yieldNow()

    const resilient = Policy.compose(
      Fallback.make({
        when: Policy.hasTag("CircuitBreakerOpen", "PriceServiceUnavailable"),
        orElse: (error) => Effect.succeed(`last known price (${(error as { _tag: string })._tag})`)
      }),
      yield* Retry.make({ base: "50 millis", maxAttempts: 2, while: Policy.hasTag("PriceServiceUnavailable") }),
      breaker,
      yield* RateLimit.make({ limit: 50, interval: "1 second" }),
      yield* Bulkhead.make({ name: "prices", maxConcurrent: 4, maxQueued: 16 }),
      yield* Timeout.make({ name: "fetch-price", duration: "1 second" })
    )

    const answers: Array<string> = []
    for (let i = 1; i <= calls; i++) {
      const answer = yield* resilient(fetchPrice).pipe(Effect.orDie)
      answers.push(answer)
      yield* print(`request ${String(i).padStart(2)}: ${answer}`)
      yield* Effect.sleep("200 millis")
    }
    yield* Effect.yieldNow()
    const rejections = yield* Metric.value(Metric.tagged(CircuitBreaker.rejectionsMetric, "breaker", "prices"))
    return {
      answers,
      serviceCalls: yield* Ref.get(serviceCalls),
      states: yield* Ref.get(states),
      rejections: rejections.count
    }
  }))

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(
    Effect.flatMap(run(), (summary) =>
      Console.log(
        `\nservice calls: ${summary.serviceCalls}, rejected by the breaker: ${summary.rejections}\n` +
          `breaker states: ${summary.states.join(" → ")}`
      ))
  )
}
