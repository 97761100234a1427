import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"

/**
 * `Effect.timeoutFail`, minus the cost of forking two fibers on every call.
 *
 * The effect starts in a child fiber that runs at once on the current thread
 * (`Runtime.runFork` runs immediately), so an effect that completes without
 * suspending returns before any timer is started; only an effect that suspends
 * pays for the timer race. As with `Effect.timeout`, the effect sees the
 * caller's services and `FiberRef`s, a child cut by the timeout is interrupted
 * (and awaited), and interrupting the caller interrupts the child. Unlike
 * `Effect.timeout`, `FiberRef` changes made inside the effect stay there
 * (joining them back doubled the cost of a call).
 *
 * @internal
 */
export const timeoutFail = <E2>(
  duration: Duration.Duration,
  onTimeout: () => E2
) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R> =>
  Effect.flatMap(Effect.runtime<R>(), (runtime): Effect.Effect<A, E | E2, R> => {
    const child = Runtime.runFork(runtime, self)
    const exit = child.unsafePoll()
    if (exit !== null) return exit
    return Effect.timeoutFail(Fiber.await(child), { duration, onTimeout }).pipe(
      Effect.onExit(() => child.unsafePoll() === null ? Fiber.interrupt(child) : Effect.void),
      Effect.flatten
    )
  })
