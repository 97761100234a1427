/**
 * A cache of effect results by key, with a time to live and a capacity, over
 * Effect's `Cache`: concurrent calls for the same key share one run, only
 * successes are kept, and a key function chooses what "the same key" means.
 *
 * @since 0.1.0
 */
import * as Cache from "effect/Cache"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Hash from "effect/Hash"
import * as settings from "./internal/policySettings.js"
import type { PolicySettingInvalid } from "./Policy.js"

/**
 * Settings of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<Key> {
  /** How long a success is kept (positive). */
  readonly timeToLive: Duration.DurationInput
  /** How many keys are kept at most (positive integer); the least recently used go first. */
  readonly capacity: number
  /**
   * Maps a key to the value compared with `Equal.equals` (identity by
   * default), e.g. `(req) => req.userId` to ignore the rest of a request.
   */
  readonly key?: ((key: Key) => unknown) | undefined
}

/**
 * Hits, misses and the number of keys held.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly hits: number
  readonly misses: number
  readonly size: number
}

/**
 * A result cache for effects producing `A` or failing with `E`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResultCache<in Key, in out A, in out E = never> {
  /** The cached result of `self` under `key`, running `self` on a miss. */
  readonly get: <R>(key: Key, self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** `get` as a wrapper, for `pipe`: `effect.pipe(cache.keyed(id), retry)`. */
  readonly keyed: (key: Key) => <R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Forgets one key. */
  readonly invalidate: (key: Key) => Effect.Effect<void>
  /** Forgets every key. */
  readonly invalidateAll: Effect.Effect<void>
  /** Hits, misses and size. */
  readonly stats: Effect.Effect<Stats>
}

/** A cache key carrying the effect to run on a miss; equal and hashed by `id` only. */
class Entry<A, E> implements Equal.Equal {
  constructor(readonly id: unknown, readonly run: Effect.Effect<A, E>) {}
  [Equal.symbol](that: Equal.Equal): boolean {
    return that instanceof Entry && Equal.equals(this.id, that.id)
  }
  [Hash.symbol](): number {
    return Hash.hash(this.id)
  }
}

/**
 * Builds a result cache. Failures are not kept (the next call runs again);
 * concurrent calls for one key wait for the same run. Time comes from the
 * calling fiber's `Clock`, so `TestClock` drives expiry. Fails with
 * `PolicySettingInvalid` on a bad setting.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as ResultCache from "effect-loom/ResultCache"
 *
 * const program = Effect.gen(function*() {
 *   const cache = yield* ResultCache.make<string, number>({ timeToLive: "1 minute", capacity: 1_000 })
 *   const price = (sku: string) => Effect.succeed(sku.length).pipe(cache.keyed(sku))
 *   return yield* price("apple")
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <Key, A, E = never>(
  options: Options<Key>
): Effect.Effect<ResultCache<Key, A, E>, PolicySettingInvalid> =>
  Effect.gen(function*() {
    const timeToLive = yield* settings.duration("ResultCache", "timeToLive", options.timeToLive, { allowZero: false })
    const capacity = yield* settings.positiveInt("ResultCache", "capacity", options.capacity)
    const toId = options.key ?? ((key: Key): unknown => key)
    const cache = yield* Cache.makeWith({
      capacity,
      lookup: (entry: Entry<A, E>) => entry.run,
      timeToLive: (exit: Exit.Exit<A, E>) => Exit.isSuccess(exit) ? timeToLive : Duration.zero
    })
    const get = <R>(key: Key, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.contextWithEffect((context) => {
        const entry = new Entry<A, E>(toId(key), Effect.provide(self, context))
        // A failure may be seen by later calls in the same millisecond: forget it at once.
        return Effect.tapErrorCause(cache.get(entry), () => cache.invalidate(entry))
      })
    const probe = (key: Key) => new Entry<A, E>(toId(key), Effect.never)
    return {
      get,
      keyed: (key) => (self) => get(key, self),
      invalidate: (key) => cache.invalidate(probe(key)),
      invalidateAll: cache.invalidateAll,
      stats: cache.cacheStats
    }
  })
