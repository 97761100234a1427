/**
 * An activity is a journaled step of a workflow: the effect that touches the world. Its Exit is
 * recorded once; when the workflow is replayed after a restart the recorded Exit is returned and the
 * effect does not run again. Outside a workflow an activity simply runs its effect.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricState from "effect/MetricState"
import * as internal from "./internal/workflowActivity.js"
import * as telemetry from "./internal/workflowTelemetry.js"
import type { ActivityTimeout } from "./WorkflowError.js"

/**
 * How to declare an activity. `name` is journaled with the result and checked on replay; `success` and
 * `error` encode the recorded Exit. `retry` re-runs a failed attempt in process (the attempt number is
 * `Activity.attempt`; the schedule sees the activity's own errors), `timeout` bounds each attempt and
 * fails the activity with `ActivityTimeout` (a timed-out attempt is not retried: it may still be running
 * on the other side). Retries restart from attempt 1 after a crash; for retries that survive restarts,
 * loop over activities with `Workflow.sleep` between them (see `examples/durable/retry-backoff.ts`).
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { Effect, Schema } from "effect"
 * import type { Activity } from "effect-loom"
 * const o: Activity.Options<number, number, never, never, never> = {
 *   name: "Answer", success: Schema.Number, execute: Effect.succeed(42)
 * }
 */
export interface Options<A, I, E, EI, R> extends internal.ActivityOptions<A, I, E, EI, R> {}

/**
 * Declares an activity. The result is an `Effect`: yield it inside a workflow body.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Effect, Schedule, Schema } from "effect"
 * import { Activity } from "effect-loom"
 *
 * const charge = (orderId: string) =>
 *   Activity.make({
 *     name: "Charge",
 *     success: Schema.String,
 *     execute: Effect.map(Activity.idempotencyKey, (key) => `charged ${orderId} with key ${key}`),
 *     retry: Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(3))),
 *     timeout: "5 seconds"
 *   })
 */
export const make: {
  <A, I, E = never, EI = never, R = never>(
    options: Options<A, I, E, EI, R> & { readonly timeout: Duration.DurationInput }
  ): Effect.Effect<A, E | ActivityTimeout, R>
  <A, I, E = never, EI = never, R = never>(options: Options<A, I, E, EI, R>): Effect.Effect<A, E, R>
} = internal.make as never

/**
 * The attempt number of the running activity (1 for the first attempt, 2 after one retry …).
 *
 * @since 0.1.0
 * @category context
 * @example
 * import { Effect, Schema } from "effect"
 * import { Activity } from "effect-loom"
 * const flaky = Activity.make({
 *   name: "Flaky",
 *   success: Schema.Number,
 *   execute: Effect.flatMap(Activity.attempt, (n) => n < 3 ? Effect.fail("again") : Effect.succeed(n)),
 *   error: Schema.String
 * })
 */
export const attempt: Effect.Effect<number> = internal.attempt

/**
 * A key that identifies this activity in this workflow run — the same on every attempt and every
 * replay — to pass to external systems as an idempotency key.
 *
 * @since 0.1.0
 * @category context
 * @example
 * import { Effect, Schema } from "effect"
 * import { Activity } from "effect-loom"
 * const send = Activity.make({ name: "Send", success: Schema.String, execute: Activity.idempotencyKey })
 */
export const idempotencyKey: Effect.Effect<string> = internal.idempotencyKey

/**
 * Histogram `effect_loom.activity.duration` of activity executions in seconds (all attempts of one
 * execution; replayed activities are not measured), labelled `activity.name` and `outcome`
 * (`success` / `failure`).
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * import { Metric } from "effect"
 * import { Activity } from "effect-loom"
 * const charges = Metric.value(Activity.duration.pipe(Metric.tagged("activity.name", "Charge"), Metric.tagged("outcome", "success")))
 */
export const duration: Metric.Metric<
  MetricKeyType.MetricKeyType.Histogram,
  number,
  MetricState.MetricState.Histogram
> = telemetry.activityDuration
