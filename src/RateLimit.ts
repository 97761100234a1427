/**
 * A rate limit over Effect's `RateLimiter`: token bucket (calls spread evenly
 * over the interval) or fixed window (up to `limit` calls per interval). Only
 * the start of a call is limited: a call waits for its token, it is never
 * rejected.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as RateLimiter from "effect/RateLimiter"
import type * as Duration from "effect/Duration"
import type * as Scope from "effect/Scope"
import * as settings from "./internal/policySettings.js"
import type { Policy, PolicySettingInvalid } from "./Policy.js"

/**
 * The algorithm of a rate limit.
 *
 * @since 0.1.0
 * @category models
 */
export type Algorithm = "token-bucket" | "fixed-window"

/**
 * Settings of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Calls allowed per `interval` (positive integer). */
  readonly limit: number
  /** The interval (positive). */
  readonly interval: Duration.DurationInput
  /** `"token-bucket"` (default) or `"fixed-window"`. */
  readonly algorithm?: Algorithm | undefined
}

/**
 * Builds a rate limit living in the current scope, shared by every fiber
 * calling it. Fails with `PolicySettingInvalid` on a bad setting.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as RateLimit from "effect-loom/RateLimit"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const limit = yield* RateLimit.make({ limit: 10, interval: "1 second", algorithm: "fixed-window" })
 *   return yield* limit(Effect.succeed("sent"))
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Policy, PolicySettingInvalid, Scope.Scope> =>
  Effect.gen(function*() {
    const limit = yield* settings.positiveInt("RateLimit", "limit", options.limit)
    const interval = yield* settings.duration("RateLimit", "interval", options.interval, { allowZero: false })
    const algorithm = options.algorithm ?? "token-bucket"
    if (algorithm !== "token-bucket" && algorithm !== "fixed-window") {
      return yield* settings.invalid("RateLimit", "algorithm", algorithm, `"token-bucket" or "fixed-window"`)
    }
    const limiter = yield* RateLimiter.make({ limit, interval, algorithm })
    return (self) => limiter(self)
  })

/**
 * Gives the calls of an effect a cost other than 1 token (Effect's
 * `RateLimiter.withCost`), for credit-based limits.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as RateLimit from "effect-loom/RateLimit"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const limit = yield* RateLimit.make({ limit: 100, interval: "1 minute" })
 *   return yield* limit(Effect.succeed("bulk")).pipe(RateLimit.withCost(5))
 * }))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withCost: (cost: number) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =
  RateLimiter.withCost
