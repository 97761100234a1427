/**
 * Retry presets over Effect's `Schedule`: exponential back-off with jitter and
 * a cap, retrying only the errors a predicate accepts, with the attempt number
 * readable by the retried effect.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { Predicate } from "effect/Predicate"
import type * as Schedule from "effect/Schedule"
import * as internal from "./internal/retry.js"
import type { Policy, PolicySettingInvalid } from "./Policy.js"

/**
 * Settings of the exponential preset. Delays are `base * factor^n`, then
 * jittered, then capped (the cap is a hard bound, jitter included).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExponentialOptions {
  /** The first delay (positive). */
  readonly base: Duration.DurationInput
  /** The growth factor (positive, default 2). */
  readonly factor?: number | undefined
  /** The longest delay (positive); none by default. */
  readonly cap?: Duration.DurationInput | undefined
  /**
   * `true` multiplies each delay by a random factor in [0.8, 1.2]; `{ min, max }`
   * picks the range. Default: no jitter.
   */
  readonly jitter?: boolean | { readonly min: number; readonly max: number } | undefined
  /** Total attempts, the first one included (positive integer); unbounded by default. */
  readonly maxAttempts?: number | undefined
}

/**
 * Options of {@link make}: either the exponential preset's settings or any
 * `Schedule` over the error, plus `while`, the predicate choosing which errors
 * are retried (all typed failures by default; defects and interruptions never).
 *
 * @since 0.1.0
 * @category models
 */
export type Options =
  | (ExponentialOptions & { readonly while?: Predicate<unknown> | undefined })
  | {
    readonly schedule: Schedule.Schedule<unknown, unknown>
    readonly while?: Predicate<unknown> | undefined
  }

/**
 * The exponential preset as a plain `Schedule`, for use with `Effect.retry` or
 * `Effect.repeat`. Fails with `PolicySettingInvalid` on a bad setting.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Retry from "effect-loom/Retry"
 *
 * const program = Effect.gen(function*() {
 *   const schedule = yield* Retry.exponential({ base: "50 millis", cap: "2 seconds", jitter: true, maxAttempts: 5 })
 *   return yield* Effect.retry(Effect.succeed(1), schedule)
 * })
 * ```
 *
 * @since 0.1.0
 * @category schedules
 */
export const exponential: (
  options: ExponentialOptions
) => Effect.Effect<Schedule.Schedule<Duration.Duration, unknown>, PolicySettingInvalid> = internal.exponential

/**
 * Builds a retry policy. The success path costs a `catchAll` and a read of the
 * attempt number; the schedule is only started on the first failure. Each
 * attempt sees its number through {@link attempt}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Policy from "effect-loom/Policy"
 * import * as Retry from "effect-loom/Retry"
 *
 * const program = Effect.gen(function*() {
 *   const retry = yield* Retry.make({
 *     base: "100 millis",
 *     cap: "5 seconds",
 *     jitter: true,
 *     maxAttempts: 4,
 *     while: Policy.hasTag("ServiceUnavailable")
 *   })
 *   return yield* retry(Effect.succeed("ok"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Policy, PolicySettingInvalid> = internal.make

/**
 * The number of the running attempt (1 for the first call, 2 for the first
 * retry…), as seen by an effect wrapped by a retry policy; 1 outside any retry.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Retry from "effect-loom/Retry"
 *
 * const call = Effect.flatMap(Retry.attempt, (n) => n < 3 ? Effect.fail("flaky") : Effect.succeed(n))
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const attempt: Effect.Effect<number> = internal.RetryAttempt

/**
 * The `Context.Reference` holding the attempt number; provide it to simulate a
 * given attempt in tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Retry from "effect-loom/Retry"
 *
 * const third = Effect.provideService(Retry.attempt, Retry.Attempt, 3)
 * ```
 *
 * @since 0.1.0
 * @category references
 */
export const Attempt: typeof internal.RetryAttempt = internal.RetryAttempt
