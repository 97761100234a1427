/**
 * A timeout policy whose typed error names the operation it cut short.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as settings from "./internal/policySettings.js"
import * as internal from "./internal/timeout.js"
import type { Policy, PolicySettingInvalid } from "./Policy.js"

/**
 * The wrapped effect did not finish within `duration`; it was interrupted.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { TimeoutExceeded } from "effect-loom/Timeout"
 *
 * new TimeoutExceeded({ name: "fetch-user", duration: Duration.seconds(2) }).message
 * // 'operation "fetch-user" timed out after 2s'
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutExceeded extends Data.TaggedError("TimeoutExceeded")<{
  readonly name: string
  readonly duration: Duration.Duration
}> {
  override get message(): string {
    return `operation "${this.name}" timed out after ${Duration.format(this.duration)}`
  }
}

/**
 * Settings of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The operation's name, carried by `TimeoutExceeded`. */
  readonly name: string
  /** The longest run time allowed (positive). */
  readonly duration: Duration.DurationInput
}

/**
 * Builds a timeout policy with `Effect.timeoutFail`'s semantics: an effect
 * that runs longer than `duration` is interrupted (and awaited) and the call
 * fails with `TimeoutExceeded`. An effect that completes without suspending
 * costs no timer and no scheduler hop. The effect sees the caller's services
 * and `FiberRef`s, but `FiberRef` changes it makes do not flow back to the
 * caller (they do with `Effect.timeout`).
 * Fails with `PolicySettingInvalid` when `duration` is not positive.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Timeout from "effect-loom/Timeout"
 *
 * const program = Effect.gen(function*() {
 *   const timeout = yield* Timeout.make({ name: "fetch-user", duration: "2 seconds" })
 *   return yield* timeout(Effect.succeed("user"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Policy<TimeoutExceeded>, PolicySettingInvalid> =>
  Effect.map(
    settings.duration("Timeout", "duration", options.duration, { allowZero: false }),
    (duration): Policy<TimeoutExceeded> => {
      const onTimeout = () => new TimeoutExceeded({ name: options.name, duration })
      return internal.timeoutFail(duration, onTimeout)
    }
  )
