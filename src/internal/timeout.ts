import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRefs from "effect/FiberRefs"
import * as Runtime from "effect/Runtime"

type Locals = FiberRefs.FiberRefs["locals"]

const noFiberRefs = FiberRefs.empty()

/** Whether two sets of `FiberRef`s hold the same refs with the same current values. */
const sameValues = (self: Locals, that: Locals): boolean => {
  if (self.size !== that.size) return false
  for (const [fiberRef, stack] of self) {
    const other = that.get(fiberRef)
    if (other === undefined || other[0][1] !== stack[0][1]) return false
  }
  return true
}

/** Whether forking left every `FiberRef` as it was (`forkAs` then keeps each stack as is). */
const unchanged = (forked: Locals, parent: Locals): boolean => {
  for (const [fiberRef, stack] of forked) {
    if (parent.get(fiberRef) !== stack) return false
  }
  return true
}

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
 * The child is the floor of a call's cost: only a fiber of its own can be
 * interrupted while the caller goes on, and Effect has no way to learn that an
 * effect will suspend before running it. So the child is made as cheaply as
 * the public API allows:
 * - the runtime is read straight from the calling fiber (`Effect.runtime()`
 *   adds an effect step and an object per call);
 * - the child starts from the caller's `FiberRefs` as they are when forking
 *   them would change nothing (each `FiberRef`'s `fork` leaves its value as
 *   is, the usual case), instead of copying them once more as `Runtime.runFork`
 *   does. Whether forking changes anything is remembered for the last values
 *   seen (a `fork` is a function of the parent's value), so the check costs a
 *   lookup per `FiberRef` rather than a copy; otherwise the refs are forked as
 *   usual, for the child's own id.
 *
 * @internal
 */
export const timeoutFail = <E2>(
  duration: Duration.Duration,
  onTimeout: () => E2
) => {
  const options = { duration, onTimeout }
  const race = <A, E>(child: Fiber.RuntimeFiber<A, E>): Effect.Effect<A, E | E2> =>
    Effect.timeoutFail(Fiber.await(child), options).pipe(
      Effect.onExit(() => child.unsafePoll() === null ? Fiber.interrupt(child) : Effect.void),
      Effect.flatten
    )

  // The `FiberRef` values last seen, and whether forking them changed nothing.
  // Holds one caller's values until the next call.
  let seen: Locals = new Map()
  let forkIsIdentity = true
  const childRefs = (parent: FiberRefs.FiberRefs): (fiberRefs: FiberRefs.FiberRefs, childId: FiberId.Runtime) => FiberRefs.FiberRefs => {
    if (!sameValues(parent.locals, seen)) {
      seen = parent.locals
      forkIsIdentity = unchanged(FiberRefs.forkAs(parent, FiberId.none).locals, parent.locals)
    }
    return forkIsIdentity ? () => parent : (_, childId) => FiberRefs.forkAs(parent, childId)
  }

  return <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R> =>
    Effect.withFiberRuntime<A, E | E2, R>((parent, status) => {
      const child = Runtime.runFork(
        Runtime.make({
          // The calling fiber runs an `Effect<_, _, R>`, so its context holds `R`.
          context: parent.currentContext as Context.Context<R>,
          runtimeFlags: status.runtimeFlags,
          fiberRefs: noFiberRefs
        }),
        self,
        { updateRefs: childRefs(parent.getFiberRefs()) }
      )
      const exit = child.unsafePoll()
      return exit !== null ? exit : race(child)
    })
}
