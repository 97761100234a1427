/**
 * The shared shape of every resilience policy: a function from an `Effect` to
 * an `Effect`, plus the typed error that every policy constructor fails with
 * when a setting is bad.
 *
 * ## Recommended order (outermost first)
 *
 * ```text
 * fallback → cache → retry → circuit breaker → rate limit → bulkhead → timeout → call
 * ```
 *
 * - **fallback** is outermost: it only replaces the failure that is left once
 *   every other policy has given up (including `CircuitBreakerOpen`,
 *   `BulkheadRejected` and `TimeoutExceeded`).
 * - **cache** comes next: a hit skips all the work below it, and only a final,
 *   successful result (after retries) is stored.
 * - **retry** wraps the breaker, so that each attempt asks the breaker again: an
 *   open breaker fails the attempt at once instead of calling a failing
 *   dependency. Exclude `CircuitBreakerOpen` from the retry predicate (or use a
 *   schedule longer than the breaker's `resetAfter`).
 * - **circuit breaker** wraps the rate limiter and the bulkhead, so that an open
 *   breaker rejects before a token or a concurrency slot is spent, and it sees
 *   each attempt's timeout as a failure.
 * - **rate limit** comes before the bulkhead, so a call that waits for a token
 *   does not hold a concurrency slot meanwhile.
 * - **bulkhead** bounds the calls actually in flight (and the queue in front).
 * - **timeout** is innermost: it bounds one attempt's own run time (not the
 *   time spent queued), and interrupting the attempt frees its bulkhead slot.
 *
 * `compose(p1, p2, …)` applies the first policy outermost, so it reads in that
 * order: `Policy.compose(fallback, cache, retry, breaker, limiter, bulkhead, timeout)`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

/**
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("effect-loom/Policy")

/**
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * A resilience policy: wraps any `Effect`, may add errors (`E2`), requirements
 * (`R2`) or alternative results (`A2`, only fallbacks do), and keeps everything
 * else. Every policy of effect-loom (retry, timeout, circuit breaker, rate
 * limit, bulkhead, fallback) is one, so `Operation.withPolicy` and `pipe`
 * accept them all.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type * as Policy from "effect-loom/Policy"
 *
 * const logged: Policy.Policy = (self) => Effect.tap(self, () => Effect.log("done"))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy<out E2 = never, out R2 = never, out A2 = never> {
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | A2, E | E2, R | R2>
  /**
   * Type-level only (never set at run time): lets `compose` infer `E2`, `R2` and
   * `A2` from interfaces extending `Policy`, such as `CircuitBreaker`.
   */
  readonly [TypeId]?: {
    readonly _E: E2
    readonly _R: R2
    readonly _A: A2
  }
}

/**
 * A policy constructor was given a bad setting: a threshold or capacity that
 * is not a positive integer, a ratio outside (0, 1], a negative duration….
 * Settings are never clamped silently.
 *
 * @example
 * ```ts
 * import { PolicySettingInvalid } from "effect-loom/Policy"
 *
 * const error = new PolicySettingInvalid({
 *   policy: "CircuitBreaker",
 *   setting: "maxFailures",
 *   value: 0,
 *   expected: "a positive integer"
 * })
 * // error.message === 'CircuitBreaker: setting "maxFailures" must be a positive integer, got 0'
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class PolicySettingInvalid extends Data.TaggedError("PolicySettingInvalid")<{
  readonly policy: string
  readonly setting: string
  readonly value: unknown
  readonly expected: string
}> {
  override get message(): string {
    return `${this.policy}: setting "${this.setting}" must be ${this.expected}, got ${formatValue(this.value)}`
  }
}

const formatValue = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "bigint") return `${value}n`
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/**
 * Composes policies, the first one outermost: `compose(a, b, c)(effect)` is
 * `a(b(c(effect)))`. See the module docs for the recommended order.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Policy from "effect-loom/Policy"
 * import * as Retry from "effect-loom/Retry"
 * import * as Timeout from "effect-loom/Timeout"
 *
 * const program = Effect.gen(function*() {
 *   const retry = yield* Retry.make({ base: "100 millis", maxAttempts: 3 })
 *   const timeout = yield* Timeout.make({ name: "fetch", duration: "1 second" })
 *   const resilient = Policy.compose(retry, timeout)
 *   return yield* resilient(Effect.succeed(42))
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export function compose(): Policy
export function compose<E1, R1, A1>(p1: Policy<E1, R1, A1>): Policy<E1, R1, A1>
export function compose<E1, R1, A1, E2, R2, A2>(
  p1: Policy<E1, R1, A1>,
  p2: Policy<E2, R2, A2>
): Policy<E1 | E2, R1 | R2, A1 | A2>
export function compose<E1, R1, A1, E2, R2, A2, E3, R3, A3>(
  p1: Policy<E1, R1, A1>,
  p2: Policy<E2, R2, A2>,
  p3: Policy<E3, R3, A3>
): Policy<E1 | E2 | E3, R1 | R2 | R3, A1 | A2 | A3>
export function compose<E1, R1, A1, E2, R2, A2, E3, R3, A3, E4, R4, A4>(
  p1: Policy<E1, R1, A1>,
  p2: Policy<E2, R2, A2>,
  p3: Policy<E3, R3, A3>,
  p4: Policy<E4, R4, A4>
): Policy<E1 | E2 | E3 | E4, R1 | R2 | R3 | R4, A1 | A2 | A3 | A4>
export function compose<E1, R1, A1, E2, R2, A2, E3, R3, A3, E4, R4, A4, E5, R5, A5>(
  p1: Policy<E1, R1, A1>,
  p2: Policy<E2, R2, A2>,
  p3: Policy<E3, R3, A3>,
  p4: Policy<E4, R4, A4>,
  p5: Policy<E5, R5, A5>
): Policy<E1 | E2 | E3 | E4 | E5, R1 | R2 | R3 | R4 | R5, A1 | A2 | A3 | A4 | A5>
export function compose<E1, R1, A1, E2, R2, A2, E3, R3, A3, E4, R4, A4, E5, R5, A5, E6, R6, A6>(
  p1: Policy<E1, R1, A1>,
  p2: Policy<E2, R2, A2>,
  p3: Policy<E3, R3, A3>,
  p4: Policy<E4, R4, A4>,
  p5: Policy<E5, R5, A5>,
  p6: Policy<E6, R6, A6>
): Policy<E1 | E2 | E3 | E4 | E5 | E6, R1 | R2 | R3 | R4 | R5 | R6, A1 | A2 | A3 | A4 | A5 | A6>
export function compose<E1, R1, A1, E2, R2, A2, E3, R3, A3, E4, R4, A4, E5, R5, A5, E6, R6, A6, E7, R7, A7>(
  p1: Policy<E1, R1, A1>,
  p2: Policy<E2, R2, A2>,
  p3: Policy<E3, R3, A3>,
  p4: Policy<E4, R4, A4>,
  p5: Policy<E5, R5, A5>,
  p6: Policy<E6, R6, A6>,
  p7: Policy<E7, R7, A7>
): Policy<
  E1 | E2 | E3 | E4 | E5 | E6 | E7,
  R1 | R2 | R3 | R4 | R5 | R6 | R7,
  A1 | A2 | A3 | A4 | A5 | A6 | A7
>
export function compose(
  ...policies: ReadonlyArray<Policy<unknown, unknown, unknown>>
): Policy<unknown, unknown, unknown> {
  return (self) =>
  policies.reduceRight<Effect.Effect<unknown, unknown, unknown>>((effect, policy) => policy(effect), self)
}

/**
 * A predicate that holds for values carrying one of the given `_tag`s, for the
 * `while` / `when` / `isFailure` options of the policies.
 *
 * @example
 * ```ts
 * import * as Policy from "effect-loom/Policy"
 *
 * const transient = Policy.hasTag("TimeoutExceeded", "ServiceUnavailable")
 * transient({ _tag: "TimeoutExceeded" }) // true
 * transient(new Error("boom")) // false
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const hasTag = (...tags: ReadonlyArray<string>) => (u: unknown): boolean =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && tags.includes(u._tag)
