/**
 * Durable workflows: Effect programs whose progress survives a crash of their process. A workflow is
 * declared with `make` (name and Schema types), implemented with `toLayer`, and performs the work that
 * touches the world through activities (`Activity.make`). The engine journals every step; after a
 * restart it replays the journal without re-running completed steps.
 *
 * Inside the body use the durable primitives of this module instead of their Effect counterparts:
 * `sleep` (a timer that survives restarts), `awaitEvent`, `select` / `race`, `child`, `now`, `random`,
 * `patched` and `withCompensation`. Concurrent steps (`Effect.all` with concurrency, fan-out) are
 * replay-safe: a step's identity comes from its place in the program, not from completion order.
 *
 * Sagas (`Saga.run` / `Saga.step` / `Saga.all`) and operation trees (`Operation.run`) work inside a
 * body: a saga step's forward and compensation activities are journaled at the step's own position, so
 * a crash while compensating resumes compensating without re-running finished compensations; a tree's
 * leaves are journaled by their path, and `operationStatus` rebuilds the tree's status from the history.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import * as internal from "./internal/workflow.js"
import type { WorkflowEngine } from "./internal/workflowEngine.js"
import * as journal from "./internal/workflowJournal.js"
import * as Operation from "./Operation.js"
import type * as OperationStatus from "./OperationStatus.js"
import type { HistoryEntry } from "./WorkflowEngine.js"
import type { WorkflowCancelled, WorkflowDefect, WorkflowNonDeterminism, WorkflowPayloadInvalid } from "./WorkflowError.js"
import type { WorkflowRecord } from "./WorkflowStorage.js"

/**
 * A declared workflow: its name, version and Schema types. Implement it with `toLayer`.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { Schema } from "effect"
 * import { Workflow } from "effect-loom"
 * const Greet: Workflow.Workflow<string, string, never> = Workflow.make({
 *   name: "Greet", payload: Schema.String, success: Schema.String
 * })
 */
export interface Workflow<P, A, E> {
  readonly name: string
  readonly version: number
  readonly payload: SchemaOf<P>
  readonly success: SchemaOf<A>
  readonly error: SchemaOf<E>
  /** JSON text of the encoded payload, or why it does not satisfy the schema. */
  readonly encodePayload: (payload: P) => Either.Either<string, WorkflowPayloadInvalid>
  readonly decodePayload: (json: string) => Either.Either<P, WorkflowPayloadInvalid>
  /** @internal */
  readonly encodeResult: (exit: Exit.Exit<A, E>) => string | undefined
  /** The outcome stored in a finished workflow's record. */
  readonly decodeResult: (record: WorkflowRecord) => Exit.Exit<A, ResultError<E>>
  /** Registers the implementation with the `WorkflowEngine`; resumes the stored runs of this workflow. */
  readonly toLayer: <R>(body: (payload: P) => Effect.Effect<A, E, R>) => Layer.Layer<never, never, WorkflowEngine | R>
  /**
   * Ends this run and starts a new one with `payload` and an empty journal (bounded replay). The ended
   * run stays visible as a `continued` record `<id>#<run>` pointing to the next run.
   */
  readonly continueAsNew: (payload: P) => Effect.Effect<never>
}

/**
 * A context-free Schema whose decoded type is `A`, whatever its encoded type (a workflow keeps its
 * schemas without exposing their encoded side).
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { Schema } from "effect"
 * import type { Workflow } from "effect-loom"
 * const s: Workflow.SchemaOf<number> = Schema.NumberFromString
 */
export type SchemaOf<A> = Schema.Schema.AnyNoContext & { readonly Type: A }

/**
 * How a workflow's result can fail: its own errors, or cancellation, non-determinism or a defect.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { Workflow } from "effect-loom"
 * type E = Workflow.ResultError<"OutOfStock">
 */
export type ResultError<E> = E | WorkflowCancelled | WorkflowNonDeterminism | WorkflowDefect

/**
 * Declares a workflow.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Effect, Schema } from "effect"
 * import { Activity, Workflow } from "effect-loom"
 *
 * const Order = Workflow.make({
 *   name: "Order",
 *   payload: Schema.Struct({ orderId: Schema.String }),
 *   success: Schema.String,
 *   error: Schema.String,
 *   version: 1
 * })
 * const OrderLive = Order.toLayer(({ orderId }) =>
 *   Effect.gen(function*() {
 *     const receipt = yield* Activity.make({ name: "Charge", success: Schema.String, execute: Effect.succeed(orderId) })
 *     yield* Workflow.sleep("1 hour")
 *     return receipt
 *   })
 * )
 */
export const make: <P, PI, A, AI, E = never, EI = never>(options: {
  readonly name: string
  readonly payload: Schema.Schema<P, PI>
  readonly success: Schema.Schema<A, AI>
  readonly error?: Schema.Schema<E, EI>
  readonly version?: number
}) => Workflow<P, A, E> = internal.make

/**
 * A durable timer: the due time is journaled, so after a restart the workflow sleeps only what is left
 * (or not at all when it is past). The workflow's status shows it waiting on this timer.
 *
 * @since 0.1.0
 * @category durable primitives
 * @example
 * import { Workflow } from "effect-loom"
 * const wait = Workflow.sleep("24 hours", "approval-timeout")
 */
export const sleep: (duration: Duration.DurationInput, name?: string) => Effect.Effect<void> = internal.sleep

/**
 * Waits for the external event `name` (delivered with `WorkflowEngine.signal`, also while no worker
 * runs). Events are consumed in arrival order; a payload that does not decode with `schema` is skipped.
 *
 * @since 0.1.0
 * @category durable primitives
 * @example
 * import { Schema } from "effect"
 * import { Workflow } from "effect-loom"
 * const approval = Workflow.awaitEvent("Approval", Schema.Struct({ approved: Schema.Boolean }))
 */
export const awaitEvent: <A, I>(name: string, schema: Schema.Schema<A, I>) => Effect.Effect<A> = internal.awaitEvent

/**
 * Runs the branches concurrently; the first to finish wins and the others are interrupted. The winner
 * is journaled, so a replay runs only the winning branch and returns the same outcome.
 *
 * @since 0.1.0
 * @category durable primitives
 * @example
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "effect-loom"
 * const approvalOrTimeout = Workflow.select([
 *   Workflow.awaitEvent("Approval", Schema.Boolean),
 *   Effect.as(Workflow.sleep("24 hours"), false)
 * ])
 */
export const select: <Eff extends Effect.Effect<unknown, unknown, unknown>>(
  branches: ReadonlyArray<Eff>
) => Effect.Effect<
  { readonly index: number; readonly value: Effect.Effect.Success<Eff> },
  Effect.Effect.Error<Eff>,
  Effect.Effect.Context<Eff>
> = internal.select as never

/**
 * `select` returning only the winner's value.
 *
 * @since 0.1.0
 * @category durable primitives
 * @example
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "effect-loom"
 * const reply = Workflow.race(Workflow.awaitEvent("Reply", Schema.String), Effect.as(Workflow.sleep("5 seconds"), "timeout"))
 */
export const race: <A, E, R, A2, E2, R2>(
  self: Effect.Effect<A, E, R>,
  that: Effect.Effect<A2, E2, R2>
) => Effect.Effect<A | A2, E | E2, R | R2> = internal.race

/**
 * Starts a child workflow (its id defaults to `<parent id>/<run>/<step>`, so a replay finds the same
 * child) and waits for its result, which is journaled in the parent.
 *
 * @since 0.1.0
 * @category durable primitives
 * @example
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "effect-loom"
 * const Child = Workflow.make({ name: "Child", payload: Schema.Number, success: Schema.Number })
 * const parentBody = (n: number) => Workflow.child(Child, { payload: n })
 */
export const child: <P, A, E>(
  workflow: Workflow<P, A, E>,
  options: { readonly payload: P; readonly id?: string }
) => Effect.Effect<A, ResultError<E> | WorkflowPayloadInvalid> = internal.child

/**
 * Ends the current run and starts a new one of the same workflow (same id) with `payload` and an
 * empty journal, so that eternal workflows replay a bounded history. The workflow id then shows the new
 * run (`run` + 1); the ended run is kept as a record `<id>#<run>` with status `continued` (its journal
 * stays readable with `history`, `WorkflowStorage.continuedAs` points to the next run). Same as
 * `workflow.continueAsNew`.
 *
 * @since 0.1.0
 * @category durable primitives
 * @example
 * import { Schema } from "effect"
 * import { Workflow } from "effect-loom"
 * const Monitor = Workflow.make({ name: "Monitor", payload: Schema.Number, success: Schema.Number })
 * const next = (checks: number) => Workflow.continueAsNew(Monitor, checks + 1)
 */
export const continueAsNew: <P, A, E>(workflow: Workflow<P, A, E>, payload: P) => Effect.Effect<never> =
  internal.continueAsNew

/**
 * Versioning: `true` in executions that reach this point with the new code (a marker is journaled),
 * `false` in executions whose history was recorded past this point by the old code. Keep both branches
 * until no old execution is running.
 *
 * @since 0.1.0
 * @category durable primitives
 * @example
 * import { Effect } from "effect"
 * import { Workflow } from "effect-loom"
 * const body = Effect.gen(function*() {
 *   if (yield* Workflow.patched("send-sms")) {
 *     // new step
 *   }
 * })
 */
export const patched: (patchId: string) => Effect.Effect<boolean> = internal.patched

/**
 * The current time in milliseconds, journaled: a replay sees the same value.
 *
 * @since 0.1.0
 * @category durable primitives
 * @example
 * import { Workflow } from "effect-loom"
 * const startedAt = Workflow.now
 */
export const now: Effect.Effect<number> = internal.now

/**
 * A pseudo-random number in [0, 1) that is the same on every replay (seeded from the workflow id and
 * the position in the program).
 *
 * @since 0.1.0
 * @category durable primitives
 * @example
 * import { Workflow } from "effect-loom"
 * const jitter = Workflow.random
 */
export const random: Effect.Effect<number> = internal.random

/**
 * Attaches a compensation to a step: when the workflow later fails or is cancelled, compensations run
 * in reverse order. Activities inside the compensation are journaled under the step's own key, so a
 * crash while compensating resumes compensating without re-running finished compensations.
 * `terminate` skips compensations.
 *
 * @since 0.1.0
 * @category sagas
 * @example
 * import { Effect, Schema } from "effect"
 * import { Activity, Workflow } from "effect-loom"
 * const reserve = Activity.make({ name: "Reserve", success: Schema.String, execute: Effect.succeed("r-1") })
 * const release = (id: string) => Activity.make({ name: "Release", success: Schema.Void, execute: Effect.log(id) })
 * const step = reserve.pipe(Workflow.withCompensation((id) => release(id)))
 */
export const withCompensation: {
  <A, R2>(
    compensate: (value: A, cause: Cause.Cause<unknown>) => Effect.Effect<unknown, unknown, R2>
  ): <E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | R2>
  <A, E, R, R2>(
    self: Effect.Effect<A, E, R>,
    compensate: (value: A, cause: Cause.Cause<unknown>) => Effect.Effect<unknown, unknown, R2>
  ): Effect.Effect<A, E, R | R2>
} = internal.withCompensation

/**
 * The durable status of an operation tree run inside a workflow, rebuilt from the workflow's history
 * (`WorkflowEngine.history`), also while no worker runs it or after a crash.
 *
 * Inside a workflow body, `Operation.run(tree)` journals each leaf's steps under the leaf's path (step
 * keys `<k>:<leaf path>:<n>`, whichever worker fiber picked the leaf) and the leaf's outcome as a
 * `leaf` entry named by its path. So a tree whose leaves are activities (`Operation.leaf("charge",
 * Activity.make(…))`) resumes after a crash without re-running completed leaves, and this function
 * gives each node's status from the latest run of `tree` in `history`: a leaf `succeeded` / `failed`
 * once its outcome is journaled, `running` when some of its steps are journaled but not its outcome
 * (or it was interrupted by a failing sibling), `pending` otherwise. A `Saga.leaf` run under `Saga.run`
 * whose compensation journaled steps is `compensated` (or `compensation-failed` when one of them
 * failed; a compensation of several activities shows `compensated` from its first). A group is `failed`
 * when a child failed, `succeeded` when all did, `pending` when none started, `running` until all
 * ended, then `compensated` / `compensation-failed`. Nodes are in depth-first pre-order, as
 * `Operation.nodes(tree)` lists them. Pass the workflow's record (`engine.status(id)`) too so that a
 * leaf waiting on a durable timer or event (nothing journaled yet) shows `running`.
 *
 * @since 0.1.0
 * @category operation trees
 * @example
 * import { Effect, Schema } from "effect"
 * import { Activity, Operation, Workflow, WorkflowEngine } from "effect-loom"
 *
 * const fetch = (name: string) => Activity.make({ name, success: Schema.String, execute: Effect.succeed(name) })
 * const tree = Operation.parallel("fetch", { user: Operation.leaf("user", fetch("User")), stock: Operation.leaf("stock", fetch("Stock")) }, { concurrency: 2 })
 * const Load = Workflow.make({ name: "Load", payload: Schema.Void, success: Schema.Void })
 * const LoadLive = Load.toLayer(() => Effect.asVoid(Effect.orDie(Operation.run(tree))))
 * const status = (id: string) =>
 *   Effect.flatMap(WorkflowEngine.WorkflowEngine, (engine) =>
 *     Effect.zipWith(engine.history(id), engine.status(id), (history, record) => Workflow.operationStatus(tree, history, record)))
 */
export const operationStatus = (
  tree: Operation.Any,
  history: ReadonlyArray<HistoryEntry>,
  record?: WorkflowRecord
): ReadonlyArray<OperationStatus.NodeState> =>
  journal.treeStatus(
    Operation.nodes(tree),
    history,
    record?.waiting === null || record?.waiting === undefined ? undefined : { step: record.waiting.step, at: record.updatedAt }
  )
