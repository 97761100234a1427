/**
 * A fallback: when the wrapped effect fails with an error the predicate
 * accepts, run an alternative instead. Other errors, defects and
 * interruptions pass through unchanged.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { Predicate } from "effect/Predicate"
import type { Policy } from "./Policy.js"

/**
 * Settings of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A2, E2, R2> {
  /** Which typed errors to replace (all by default), e.g. `Policy.hasTag("CircuitBreakerOpen")`. */
  readonly when?: Predicate<unknown> | undefined
  /** The alternative, given the error it replaces. */
  readonly orElse: (error: unknown) => Effect.Effect<A2, E2, R2>
}

/**
 * Builds a fallback policy. It has no state and no setting to check, so it is
 * a plain function rather than an effect. The wrapped effect's error type is
 * kept (a predicate over `unknown` cannot narrow it); use `Effect.catchTag`
 * when you need the narrowing on one call.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Fallback from "effect-loom/Fallback"
 * import * as Policy from "effect-loom/Policy"
 *
 * const cachedPrice = Fallback.make({
 *   when: Policy.hasTag("CircuitBreakerOpen", "TimeoutExceeded"),
 *   orElse: () => Effect.succeed(9.99)
 * })
 * const price = cachedPrice(Effect.fail({ _tag: "TimeoutExceeded" as const }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A2, E2 = never, R2 = never>(options: Options<A2, E2, R2>): Policy<E2, R2, A2> => {
  const when = options.when
  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | A2, E | E2, R | R2> =>
    Effect.catchAll(
      self,
      (error): Effect.Effect<A2, E | E2, R2> => when === undefined || when(error) ? options.orElse(error) : Effect.fail(error)
    )
}
