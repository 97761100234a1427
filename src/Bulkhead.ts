/**
 * A bulkhead: at most `maxConcurrent` calls run at once, at most `maxQueued`
 * more wait for a slot, and any call beyond that is rejected at once with a
 * typed `BulkheadRejected`. Waiters get slots in arrival order.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as settings from "./internal/policySettings.js"
import type { Policy, PolicySettingInvalid } from "./Policy.js"

/**
 * The bulkhead was full: `maxConcurrent` calls running and `maxQueued` waiting.
 *
 * @example
 * ```ts
 * import { BulkheadRejected } from "effect-loom/Bulkhead"
 *
 * new BulkheadRejected({ name: "db", maxConcurrent: 10, maxQueued: 0 }).message
 * // 'bulkhead "db" is full (10 running, 0 queued)'
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class BulkheadRejected extends Data.TaggedError("BulkheadRejected")<{
  readonly name: string
  readonly maxConcurrent: number
  readonly maxQueued: number
}> {
  override get message(): string {
    return `bulkhead "${this.name}" is full (${this.maxConcurrent} running, ${this.maxQueued} queued)`
  }
}

/**
 * Settings of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Used in errors and the `bulkhead` metric label. */
  readonly name: string
  /** Calls allowed to run at once (positive integer). */
  readonly maxConcurrent: number
  /** Calls allowed to wait for a slot (non-negative integer, default 0). */
  readonly maxQueued?: number | undefined
}

/**
 * A bulkhead: a {@link Policy} adding `BulkheadRejected`, with its load.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bulkhead extends Policy<BulkheadRejected> {
  /** Calls running now. */
  readonly running: Effect.Effect<number>
  /** Calls waiting for a slot now. */
  readonly queued: Effect.Effect<number>
}

interface Handlers<A, E> {
  readonly onFailure: (cause: Cause.Cause<E>) => Effect.Effect<never, E>
  readonly onSuccess: (value: A) => Effect.Effect<A>
}

interface Waiter {
  granted: boolean
  readonly wake: () => void
}

/**
 * The counter of calls rejected by bulkheads, labelled `bulkhead`.
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import * as Bulkhead from "effect-loom/Bulkhead"
 *
 * const rejected = Metric.value(Metric.tagged(Bulkhead.rejectionsMetric, "bulkhead", "db"))
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const rejectionsMetric: Metric.Metric.Counter<number> = Metric.counter(
  "effect_loom.bulkhead.rejections",
  { description: "Calls rejected by a full bulkhead", incremental: true }
)

/**
 * Builds a bulkhead shared by every fiber calling it. Fails with
 * `PolicySettingInvalid` when `maxConcurrent` is not a positive integer or
 * `maxQueued` not a non-negative one.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as Bulkhead from "effect-loom/Bulkhead"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ name: "db", maxConcurrent: 10, maxQueued: 100 })
 *   return yield* bulkhead(Effect.succeed("row"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Bulkhead, PolicySettingInvalid> =>
  Effect.gen(function*() {
    const maxConcurrent = yield* settings.positiveInt("Bulkhead", "maxConcurrent", options.maxConcurrent)
    const maxQueued = yield* settings.nonNegativeInt("Bulkhead", "maxQueued", options.maxQueued ?? 0)
    const rejections = Metric.tagged(rejectionsMetric, "bulkhead", options.name)
    const rejected = new BulkheadRejected({ name: options.name, maxConcurrent, maxQueued })
    // Slots and queue are counted by hand rather than with a `Semaphore`, whose
    // `take` is an async operation on every call: here a free slot costs one
    // uninterruptible region. Only touched synchronously.
    let running = 0
    const waiters: Array<Waiter> = []
    const releaseSlot = (): void => {
      const next = waiters.shift()
      if (next === undefined) {
        running--
      } else {
        // The slot passes to the oldest waiter; `running` stays the same.
        next.granted = true
        next.wake()
      }
    }
    // One handler pair for every call: the slot is given back on any outcome.
    const release = {
      onFailure: <E>(cause: Cause.Cause<E>): Effect.Effect<never, E> => {
        releaseSlot()
        return Effect.failCause(cause)
      },
      onSuccess: <A>(value: A): Effect.Effect<A> => {
        releaseSlot()
        return Effect.succeed(value)
      }
    }
    const runInSlot = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
      const handlers: Handlers<A, E> = release
      return Effect.matchCauseEffect(self, handlers)
    }
    const waitForSlot = Effect.async<void>((resume) => {
      const waiter: Waiter = { granted: false, wake: () => resume(Effect.void) }
      waiters.push(waiter)
      return Effect.sync(() => {
        if (waiter.granted) {
          releaseSlot() // interrupted after being handed a slot: pass it on
        } else {
          const index = waiters.indexOf(waiter)
          if (index >= 0) waiters.splice(index, 1)
        }
      })
    })
    const bulkhead = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadRejected, R> =>
      // The mask's body runs on every call, so it reads the counters afresh.
      Effect.uninterruptibleMask((restore): Effect.Effect<A, E | BulkheadRejected, R> => {
        if (running < maxConcurrent) {
          running++
          return runInSlot(restore(self))
        }
        if (waiters.length >= maxQueued) {
          rejections.unsafeUpdate(1, [])
          return Effect.fail(rejected)
        }
        return Effect.zipRight(restore(waitForSlot), runInSlot(restore(self)))
      })
    return Object.assign(bulkhead, {
      running: Effect.sync(() => running),
      queued: Effect.sync(() => waiters.length)
    })
  })
