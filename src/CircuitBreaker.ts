/**
 * A circuit breaker shared by every fiber that calls through it: closed, open,
 * or half-open with a bounded number of trial calls. It opens on consecutive
 * failures and/or on a failure ratio over a sliding window of recent calls,
 * rejects with a typed `CircuitBreakerOpen`, streams its state changes, can be
 * saved and restored, and reports its state and rejections as metrics.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Metric from "effect/Metric"
import type { Predicate } from "effect/Predicate"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/circuitBreaker.js"
import type { Policy, PolicySettingInvalid } from "./Policy.js"

/**
 * The closed state: calls go through and their outcomes are counted.
 *
 * @example
 * ```ts
 * import * as CircuitBreaker from "effect-loom/CircuitBreaker"
 *
 * const state: CircuitBreaker.State = CircuitBreaker.Closed.make({})
 * ```
 *
 * @since 0.1.0
 * @category states
 */
export const Closed: Schema.TaggedStruct<"Closed", {}> = internal.Closed

/**
 * The open state: calls are rejected until `resetAfter` has passed since
 * `openedAt` (epoch milliseconds of the breaker's `Clock`).
 *
 * @example
 * ```ts
 * import * as CircuitBreaker from "effect-loom/CircuitBreaker"
 *
 * const state: CircuitBreaker.State = CircuitBreaker.Open.make({ openedAt: 0 })
 * ```
 *
 * @since 0.1.0
 * @category states
 */
export const Open: Schema.TaggedStruct<"Open", { openedAt: typeof Schema.Number }> = internal.Open

/**
 * The half-open state: up to `halfOpenMaxCalls` trial calls go through; the
 * breaker closes when all of them succeed and opens again on the first failure.
 *
 * @example
 * ```ts
 * import * as CircuitBreaker from "effect-loom/CircuitBreaker"
 *
 * const state: CircuitBreaker.State = CircuitBreaker.HalfOpen.make({})
 * ```
 *
 * @since 0.1.0
 * @category states
 */
export const HalfOpen: Schema.TaggedStruct<"HalfOpen", {}> = internal.HalfOpen

/**
 * The state of a breaker, as a `Schema` so it can be journaled or sent over HTTP.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as CircuitBreaker from "effect-loom/CircuitBreaker"
 *
 * const decode = Schema.decodeUnknownSync(CircuitBreaker.State)
 * decode({ _tag: "Open", openedAt: 1_700_000_000_000 })
 * ```
 *
 * @since 0.1.0
 * @category states
 */
export const State: Schema.Union<[typeof Closed, typeof Open, typeof HalfOpen]> = internal.State

/**
 * @since 0.1.0
 * @category states
 */
export type State = typeof State.Type

/**
 * What a breaker saves and restores (`toJSON()` / `initialState`): its state,
 * the current run of consecutive failures, and the outcomes in the ratio
 * window (oldest first, `true` for a failure).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as CircuitBreaker from "effect-loom/CircuitBreaker"
 *
 * const saved = Schema.decodeUnknownSync(CircuitBreaker.Snapshot)(
 *   JSON.parse('{"state":{"_tag":"Closed"},"consecutiveFailures":2,"recent":[false,true,true]}')
 * )
 * ```
 *
 * @since 0.1.0
 * @category snapshots
 */
export const Snapshot: Schema.Struct<{
  state: typeof State
  consecutiveFailures: typeof Schema.NonNegativeInt
  recent: Schema.Array$<typeof Schema.Boolean>
}> = internal.Snapshot

/**
 * @since 0.1.0
 * @category snapshots
 */
export type Snapshot = typeof Snapshot.Type

/**
 * The breaker rejected a call: it is open, or half-open with all its trial
 * calls taken. `state` is the state that rejected it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { CircuitBreakerOpen } from "effect-loom/CircuitBreaker"
 *
 * const fallback = (e: CircuitBreakerOpen) => Effect.succeed(`skipped: ${e.message}`)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const CircuitBreakerOpen: typeof internal.CircuitBreakerOpen = internal.CircuitBreakerOpen

/**
 * @since 0.1.0
 * @category errors
 */
export type CircuitBreakerOpen = internal.CircuitBreakerOpen

/**
 * Settings of {@link make}. At least one threshold applies: with neither
 * `maxFailures` nor `failureRatio`, `maxFailures` is 5.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Used in errors, logs and the `breaker` metric label. */
  readonly name: string
  /** Open after this many consecutive failures (positive integer). */
  readonly maxFailures?: number | undefined
  /**
   * Open when, over the last `window` calls (positive integer), failures make up
   * at least `threshold` (in (0, 1]) of them, once at least `minimumCalls`
   * (positive integer ≤ `window`, default `window`) calls are counted.
   */
  readonly failureRatio?: {
    readonly threshold: number
    readonly window: number
    readonly minimumCalls?: number | undefined
  } | undefined
  /** How long the breaker stays open before letting trial calls through (non-negative). */
  readonly resetAfter: Duration.DurationInput
  /** Trial calls admitted while half-open (positive integer, default 1); all must succeed to close. */
  readonly halfOpenMaxCalls?: number | undefined
  /**
   * Which typed errors count as failures (all by default). Errors it rejects
   * count as successes; defects always count as failures; interruptions never count.
   */
  readonly isFailure?: Predicate<unknown> | undefined
  /** A state saved by `toJSON()` / `snapshot`, to restore. */
  readonly initialState?: Snapshot | undefined
}

/**
 * A circuit breaker: a {@link Policy} adding `CircuitBreakerOpen`, with its
 * state, a stream of state changes and a saveable snapshot.
 *
 * @since 0.1.0
 * @category models
 */
export interface CircuitBreaker extends Policy<CircuitBreakerOpen> {
  /** The breaker's name. */
  readonly name: string
  /** The current state (moving Open → HalfOpen if `resetAfter` has passed). */
  readonly state: Effect.Effect<State>
  /** The current state, then every change, for as long as the stream is consumed. */
  readonly changes: Stream.Stream<State>
  /** The state to save. */
  readonly snapshot: Effect.Effect<Snapshot>
  /** The state to save, for `JSON.stringify(breaker)`. */
  toJSON(): Snapshot
}

/**
 * Builds a circuit breaker living in the current scope (its reset timers are
 * scoped fibers). Every fiber calling the returned breaker shares its state.
 * Time comes from the `Clock` at construction, so `TestClock` drives it.
 * Fails with `PolicySettingInvalid` on a bad setting.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as CircuitBreaker from "effect-loom/CircuitBreaker"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({
 *     name: "payments",
 *     maxFailures: 5,
 *     failureRatio: { threshold: 0.5, window: 20, minimumCalls: 10 },
 *     resetAfter: "30 seconds",
 *     halfOpenMaxCalls: 2
 *   })
 *   return yield* breaker(Effect.succeed("charged"))
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<CircuitBreaker, PolicySettingInvalid, Scope.Scope> =
  internal.make

/**
 * The gauge of every breaker's state (0 closed, 1 half-open, 2 open), labelled
 * `breaker`. Read one breaker's with `Metric.tagged(stateMetric, "breaker", name)`.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import * as CircuitBreaker from "effect-loom/CircuitBreaker"
 *
 * const state = Metric.value(Metric.tagged(CircuitBreaker.stateMetric, "breaker", "payments"))
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const stateMetric: Metric.Metric.Gauge<number> = internal.stateGauge

/**
 * The counter of calls rejected by breakers, labelled `breaker`.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import * as CircuitBreaker from "effect-loom/CircuitBreaker"
 *
 * const rejected = Metric.value(Metric.tagged(CircuitBreaker.rejectionsMetric, "breaker", "payments"))
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const rejectionsMetric: Metric.Metric.Counter<number> = internal.rejectionCounter
