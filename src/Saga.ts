/**
 * Sagas: steps that pair a forward effect with a compensation. Inside
 * `Saga.run`, each completed step adds its compensation as a finalizer of the
 * saga's scope; the finalizer sees the saga's `Exit` and runs only when the
 * saga fails or is interrupted, never on success. Completed steps are
 * compensated in reverse order of completion; steps that ran concurrently
 * (members of a `Saga.all` / `Saga.parallel` group, or steps whose forward
 * runs overlapped) are compensated in parallel. The saga then fails with a
 * `SagaFailed` carrying the original cause and the outcome of every
 * compensation.
 *
 * Steps are ordinary effects: later steps see earlier outputs through
 * `Effect.gen`, and `Saga.leaf` makes a step a leaf of an operation tree whose
 * status then shows `compensating` / `compensated` / `compensation-failed`.
 *
 * Inside a durable workflow (`Workflow.toLayer` body), make the forward and
 * compensation effects activities (`Activity.make`): each step takes a journal
 * position in program order (members of `Saga.all` one per member fiber), its
 * forward activities are journaled under it and its compensation's activities
 * under a compensation key of it. Compensations are then journaled exactly
 * once, whatever order or concurrency they ran in, and a crash while
 * compensating resumes compensating without re-running finished
 * compensations. A workflow `cancel` runs the compensations; `terminate` and
 * engine shutdown do not (they are reported `Skipped`). Map `SagaFailed` to
 * an error of the workflow's `error` schema (it carries a `Cause`, which is
 * not journaled):
 *
 * ```ts
 * const TripLive = Trip.toLayer(() =>
 *   Saga.run("trip", Effect.gen(function*() {
 *     const hotel = yield* Saga.step("hotel", bookHotel, (id) => cancelHotel(id))
 *     yield* Saga.step("flight", bookFlight, (id) => cancelFlight(id))
 *     return hotel
 *   })).pipe(Effect.catchTag("SagaFailed", (e) => Effect.fail(new TripFailed({ reason: Saga.reasonOf(e.cause) }))))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import type * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricState from "effect/MetricState"
import type * as Schedule from "effect/Schedule"
import * as internal from "./internal/saga.js"
import * as Operation from "./Operation.js"

/**
 * The service of a running saga (its registry of completed steps and its
 * scope). `Saga.step` requires it; `Saga.run` provides it.
 *
 * @since 0.1.0
 * @category context
 */
export const Saga: typeof internal.SagaTag = internal.SagaTag

/**
 * @since 0.1.0
 * @category context
 */
export type Saga = internal.SagaTag

/**
 * How one compensation ended: `Compensated`, `Failed` (with the
 * compensation's cause, after retries), `Skipped` (not run because an earlier
 * compensation failed and the saga stops at the first failure) or
 * `Irreversible` (the step has no compensation).
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { Saga } from "effect-loom"
 * const failed = Saga.Outcome.$is("Failed")
 */
export const Outcome: typeof internal.Outcome = internal.Outcome

/**
 * @since 0.1.0
 * @category models
 */
export type Outcome = internal.Outcome

/**
 * One step's entry in a failed saga's compensation report.
 *
 * @since 0.1.0
 * @category models
 */
export type Compensation = internal.Compensation

/**
 * A compensation: receives the step's output and the cause the saga failed
 * with (an interruption cause when the saga was interrupted).
 *
 * @since 0.1.0
 * @category models
 */
export type Compensator<A, E, R> = internal.Compensator<A, E, R>

export {
  /**
   * The saga failed (or was interrupted): the original cause, and the outcome
   * of every compensation in the order they ran.
   *
   * @since 0.1.0
   * @category errors
   */
  SagaFailed
} from "./internal/saga.js"

/**
 * Options of {@link run}.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /**
   * `"continue"` (default): a failed compensation is recorded and the others
   * still run. `"stop"`: after the first failed compensation, the remaining
   * ones are recorded as `Skipped`.
   */
  readonly onCompensationFailure?: "continue" | "stop" | undefined
  /** Retries each failing compensation with this schedule (fed the compensation's error). */
  readonly compensationRetry?: Schedule.Schedule<unknown, unknown> | undefined
}

/**
 * Runs a saga body. On success returns its value and runs no compensation.
 * On failure or interruption, compensates the completed steps (reverse order
 * of completion, concurrent steps in parallel) and fails with `SagaFailed`.
 * A saga run inside another saga's body that succeeds is compensated, as a
 * unit, if the outer saga fails later.
 *
 * @since 0.1.0
 * @category running
 * @example
 * import { Saga } from "effect-loom"
 * import { Effect } from "effect"
 * const order = Saga.run("order", Effect.gen(function*() {
 *   const reservation = yield* Saga.step("reserve", Effect.succeed("r-1"), (id) => Effect.log(`release ${id}`))
 *   yield* Saga.step("charge", Effect.fail("card declined"), () => Effect.log("refund"))
 *   return reservation
 * }))
 * // Effect<string, SagaFailed<string>>
 */
export const run = <A, E, R>(
  name: string,
  body: Effect.Effect<A, E, R>,
  options?: RunOptions
): Effect.Effect<A, internal.SagaFailed<E>, Exclude<R, Saga>> => internal.run(name, body, options ?? {})

/**
 * A step: runs `forward` (in a `<name>.forward` span); once it succeeded,
 * `compensate` (given as a function or `{ compensate }`) is registered to run
 * if the saga fails later. Without a compensation the step is irreversible.
 * A step whose forward effect fails or is interrupted is not compensated.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Saga } from "effect-loom"
 * import { Effect } from "effect"
 * const charge = Saga.step("charge", Effect.succeed({ chargeId: "c-1" }), ({ chargeId }, cause) =>
 *   Effect.log(`refund ${chargeId}`))
 */
export const step: {
  <A, E, R>(name: string, forward: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Saga>
  <A, E, R, E2, R2>(
    name: string,
    forward: Effect.Effect<A, E, R>,
    compensate: Compensator<NoInfer<A>, E2, R2> | { readonly compensate: Compensator<NoInfer<A>, E2, R2> }
  ): Effect.Effect<A, E, R | R2 | Saga>
} = <A, E, R, E2, R2>(
  name: string,
  forward: Effect.Effect<A, E, R>,
  compensate?: Compensator<A, E2, R2> | { readonly compensate: Compensator<A, E2, R2> }
): Effect.Effect<A, E, R | R2 | Saga> =>
  internal.makeStep(name, forward, typeof compensate === "object" ? compensate.compensate : compensate, undefined)

/**
 * A step that cannot be undone (an e-mail sent): recorded as `Irreversible`
 * when the saga compensates.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Saga } from "effect-loom"
 * import { Effect } from "effect"
 * const notify = Saga.irreversible("send-email", Effect.log("mail sent"))
 */
export const irreversible = <A, E, R>(name: string, forward: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Saga> =>
  internal.makeStep(name, forward, undefined, undefined)

/**
 * `step` as a combinator: `effect.pipe(Saga.withCompensation("charge", refund))`.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * import { Saga } from "effect-loom"
 * import { Effect } from "effect"
 * const charge = Effect.succeed("c-1").pipe(
 *   Saga.withCompensation("charge", (chargeId) => Effect.log(`refund ${chargeId}`))
 * )
 */
export const withCompensation: {
  <A, E2, R2>(
    name: string,
    compensate: Compensator<A, E2, R2>
  ): <E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | R2 | Saga>
  <A, E, R, E2, R2>(
    self: Effect.Effect<A, E, R>,
    name: string,
    compensate: Compensator<A, E2, R2>
  ): Effect.Effect<A, E, R | R2 | Saga>
} = internal.withCompensation

/**
 * Runs effects concurrently as one parallel group of the saga (like
 * `Effect.all` with `concurrency`, default `"unbounded"`): steps in different
 * members of the group are compensated in parallel even if their forward runs
 * did not overlap in time. (Outside such a group, steps are compensated in
 * parallel only when their forward runs overlapped.)
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * import { Saga } from "effect-loom"
 * import { Effect } from "effect"
 * const both = Saga.all([
 *   Saga.step("hotel", Effect.succeed("h-1"), (id) => Effect.log(`cancel ${id}`)),
 *   Saga.step("flight", Effect.succeed("f-1"), (id) => Effect.log(`cancel ${id}`))
 * ])
 */
export const all = <A, E, R>(
  effects: Iterable<Effect.Effect<A, E, R>>,
  options?: { readonly concurrency?: number | "unbounded" | undefined }
): Effect.Effect<Array<A>, E, R | Saga> => internal.all(effects, options)

/**
 * A step as a leaf of an operation tree. Run the tree inside `Saga.run`: a
 * failure anywhere in the tree compensates every completed saga leaf, and the
 * tree's status shows `compensating`, then `compensated` or
 * `compensation-failed` for each of them.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Operation, Saga } from "effect-loom"
 * import { Effect } from "effect"
 * const tree = Operation.sequence("order", [
 *   Saga.leaf("reserve", Effect.succeed("r-1"), (id) => Effect.log(`release ${id}`)),
 *   Saga.leaf("ship", Effect.fail("no courier"))
 * ])
 * const program = Saga.run("order", tree)
 */
export const leaf: {
  <A, E, R>(
    name: string,
    forward: Effect.Effect<A, E, R>,
    compensate?: undefined,
    options?: { readonly span?: boolean | undefined }
  ): Operation.Leaf<A, E | Operation.OperationInvalid, R | Saga>
  <A, E, R, E2, R2>(
    name: string,
    forward: Effect.Effect<A, E, R>,
    compensate: Compensator<NoInfer<A>, E2, R2>,
    options?: { readonly span?: boolean | undefined }
  ): Operation.Leaf<A, E | Operation.OperationInvalid, R | R2 | Saga>
} = <A, E, R, E2, R2>(
  name: string,
  forward: Effect.Effect<A, E, R>,
  compensate?: Compensator<A, E2, R2>,
  options?: { readonly span?: boolean | undefined }
): Operation.Leaf<A, E | Operation.OperationInvalid, R | R2 | Saga> =>
  Operation.leafWith(name, (node) => internal.makeStep(name, forward, compensate, node), options)

/**
 * `Operation.parallel` for saga leaves: the same group, but its members'
 * saga steps are compensated in parallel even when their forward runs did
 * not overlap in time (as with `Saga.all`). In a plain `Operation.parallel`
 * they are compensated in parallel only when they overlapped.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Operation, Saga } from "effect-loom"
 * import { Effect } from "effect"
 * const pay = Saga.parallel("pay", [
 *   Saga.leaf("card", Effect.succeed("c-1"), (id) => Effect.log(`refund ${id}`)),
 *   Saga.leaf("points", Effect.succeed(120), (n) => Effect.log(`restore ${n} points`))
 * ], { concurrency: 2 })
 */
export const parallel = <const C extends Operation.Children, const O extends Operation.ParallelOptions>(
  name: string,
  children: C,
  options: O
): Operation.Operation<Operation.Output<C>, Operation.GroupError<C, O> | Operation.OperationInvalid, Operation.ChildContext<C>> => {
  const member = (child: Operation.Any, index: number): Operation.Any =>
    Operation.withPolicy(child, internal.enterMember(index))
  const members = Array.isArray(children)
    ? (children as ReadonlyArray<Operation.Any>).map(member)
    : Object.fromEntries(Object.entries(children as Readonly<Record<string, Operation.Any>>).map(([k, c], i) => [k, member(c, i)]))
  return Operation.withPolicy(
    Operation.parallel(name, members as unknown as C, options),
    internal.enterGroup
  )
}

/**
 * Counter of compensations run, labelled `saga` and `step`.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * import { Saga } from "effect-loom"
 * import { Metric } from "effect"
 * const refunds = Metric.value(Saga.compensationsTotal.pipe(Metric.tagged("saga", "order"), Metric.tagged("step", "charge")))
 */
export const compensationsTotal: Metric.Metric.Counter<number> = internal.compensationsTotal

/**
 * Counter of compensations that failed (after retries), labelled `saga` and `step`.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * import { Saga } from "effect-loom"
 * import { Metric } from "effect"
 * const failures = Metric.value(Saga.compensationFailuresTotal.pipe(Metric.tagged("saga", "order")))
 */
export const compensationFailuresTotal: Metric.Metric.Counter<number> = internal.compensationFailuresTotal

/**
 * Histogram of compensation durations in seconds (`effect_loom.saga.compensation.duration`),
 * labelled `saga` and `step`.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * import { Saga } from "effect-loom"
 * import { Metric } from "effect"
 * const durations = Metric.value(Saga.compensationDuration.pipe(Metric.tagged("saga", "order"), Metric.tagged("step", "charge")))
 */
export const compensationDuration: Metric.Metric<
  MetricKeyType.MetricKeyType.Histogram,
  number,
  MetricState.MetricState.Histogram
> = internal.compensationDuration

/**
 * A short human reason for a cause: the error's message, its tag, or
 * `"interrupted"` (what compensation logs carry as `reason`).
 *
 * @since 0.1.0
 * @category utils
 * @example
 * import { Saga } from "effect-loom"
 * import { Cause } from "effect"
 * Saga.reasonOf(Cause.fail(new Error("card declined"))) // "card declined"
 */
export const reasonOf: (cause: Cause.Cause<unknown>) => string = internal.reasonOf
