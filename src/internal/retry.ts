import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Predicate } from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type { Policy } from "../Policy.js"
import { PolicySettingInvalid } from "../Policy.js"
import type * as Retry from "../Retry.js"
import * as settings from "./policySettings.js"

/** @internal */
export class RetryAttempt extends Context.Reference<RetryAttempt>()("effect-loom/Retry/Attempt", {
  defaultValue: () => 1
}) {}

const POLICY = "Retry"

/** @internal */
export const exponential = (
  options: Retry.ExponentialOptions
): Effect.Effect<Schedule.Schedule<Duration.Duration, unknown>, PolicySettingInvalid> =>
  Effect.gen(function*() {
    const base = yield* settings.duration(POLICY, "base", options.base, { allowZero: false })
    const factor = yield* settings.positiveNumber(POLICY, "factor", options.factor ?? 2)
    let schedule: Schedule.Schedule<Duration.Duration, unknown> = Schedule.exponential(base, factor)
    const jitter = options.jitter ?? false
    if (jitter === true) {
      schedule = Schedule.jittered(schedule)
    } else if (jitter !== false) {
      const min = yield* settings.positiveNumber(POLICY, "jitter.min", jitter.min)
      const max = yield* settings.positiveNumber(POLICY, "jitter.max", jitter.max)
      if (max < min) {
        return yield* new PolicySettingInvalid({
          policy: POLICY,
          setting: "jitter.max",
          value: max,
          expected: `a number at least jitter.min (${min})`
        })
      }
      schedule = Schedule.jitteredWith(schedule, { min, max })
    }
    if (options.cap !== undefined) {
      const cap = yield* settings.duration(POLICY, "cap", options.cap, { allowZero: false })
      schedule = Schedule.modifyDelay(schedule, (_, delay) => Duration.min(delay, cap))
    }
    if (options.maxAttempts !== undefined) {
      const maxAttempts = yield* settings.positiveInt(POLICY, "maxAttempts", options.maxAttempts)
      schedule = Schedule.intersect(schedule, Schedule.recurs(maxAttempts - 1)).pipe(Schedule.map(([delay]) => delay))
    }
    return schedule
  })

/** @internal */
export const fromSchedule = <Out>(
  schedule: Schedule.Schedule<Out, unknown>,
  shouldRetry: Predicate<unknown>
): Policy => {
  const withAttempt = <A, E, R>(self: Effect.Effect<A, E, R>, attempt: number) =>
    Effect.provideService(self, RetryAttempt, attempt)
  // Providing a service copies the context, so the first attempt only does it
  // when an enclosing retry set another number (the reference defaults to 1).
  // The context is read from the fiber: one step, where yielding the reference
  // takes three.
  const firstAttempt = <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.withFiberRuntime<A, E, R>((fiber) =>
      Context.get(fiber.currentContext, RetryAttempt) === 1 ? self : withAttempt(self, 1)
    )
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const loop = (driver: Schedule.ScheduleDriver<Out, unknown>, attempt: number) => (error: E): Effect.Effect<A, E, R> =>
      shouldRetry(error) ?
        Effect.matchEffect(driver.next(error), {
          onFailure: () => Effect.fail(error),
          onSuccess: () => Effect.catchAll(withAttempt(self, attempt + 1), loop(driver, attempt + 1))
        }) :
        Effect.fail(error)
    // The success path pays for one `catchAll`: the schedule driver is only built on the first failure.
    return Effect.catchAll(
      firstAttempt(self),
      (error) => shouldRetry(error) ? Effect.flatMap(Schedule.driver(schedule), (driver) => loop(driver, 1)(error)) : Effect.fail(error)
    )
  }
}

const always: Predicate<unknown> = () => true

/** @internal */
export const make = (options: Retry.Options): Effect.Effect<Policy, PolicySettingInvalid> =>
  "schedule" in options ?
    Effect.succeed(fromSchedule(options.schedule, options.while ?? always)) :
    Effect.map(exponential(options), (schedule) => fromSchedule(schedule, options.while ?? always))
