/**
 * Retry with exponential durable backoff: each attempt is its own activity and the waits between them
 * are durable timers, so a restart neither repeats a finished attempt nor restarts the backoff.
 * (For quick in-process retries of one activity, give `Activity.make` a `retry` Schedule instead.)
 *
 * Run: npx tsx examples/durable/retry-backoff.ts
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Activity from "../../src/Activity.js"
import * as Workflow from "../../src/Workflow.js"
import * as WorkflowEngine from "../../src/WorkflowEngine.js"
import { runIfMain } from "./runtime.js"

export class AllAttemptsFailed extends Schema.TaggedError<AllAttemptsFailed>()("AllAttemptsFailed", {
  attempts: Schema.Number,
  last: Schema.String
}) {}

export const RetryWithBackoff = Workflow.make({
  name: "RetryWithBackoff",
  payload: Schema.Struct({ input: Schema.String, failures: Schema.Number, maxAttempts: Schema.Number }),
  success: Schema.String,
  error: AllAttemptsFailed
})

/** When each attempt ran (the unreliable service's log). */
export const attemptsLog: Array<string> = []

const unreliable = (input: string, attempt: number, failures: number) =>
  Activity.make({
    name: "UnreliableActivity",
    success: Schema.String,
    error: Schema.String,
    execute: Effect.suspend(() => {
      attemptsLog.push(`${input}#${attempt}`)
      return attempt <= failures ? Effect.fail(`attempt ${attempt} failed`) : Effect.succeed(`${input} ok on attempt ${attempt}`)
    })
  })

export const RetryWithBackoffLive = RetryWithBackoff.toLayer(({ failures, input, maxAttempts }) =>
  Effect.gen(function*() {
    let delay = Duration.seconds(1)
    for (let attempt = 1;; attempt++) {
      const result = yield* Effect.either(unreliable(input, attempt, failures))
      if (result._tag === "Right") return result.right
      if (attempt >= maxAttempts) return yield* new AllAttemptsFailed({ attempts: attempt, last: result.left })
      yield* Effect.logWarning(`${result.left}, retrying in ${Duration.format(delay)}`)
      yield* Workflow.sleep(delay, `backoff-${attempt}`)
      delay = Duration.times(delay, 2)
    }
  })
)

export const program = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  yield* engine.start(RetryWithBackoff, { id: "retry-1", payload: { input: "job", failures: 2, maxAttempts: 3 } })
  return yield* engine.result(RetryWithBackoff, "retry-1")
})

runIfMain(import.meta.url, RetryWithBackoffLive, program)
