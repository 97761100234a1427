/**
 * Operation trees: typed `Effect`s arranged as a tree of named nodes. A leaf
 * wraps one effect; a sequence runs its children in order; a parallel group
 * runs them with a concurrency bound. Groups are fail-fast or best-effort.
 * Every node has a live status; a run can be observed, cancelled by fiber
 * interruption, and reported on.
 *
 * An `Operation` is itself an `Effect`: yield it in `Effect.gen`, pipe it,
 * provide it. Running it that way tracks status internally; use `start`,
 * `run` with `onProgress`, or `runReport` to observe it.
 *
 * Inside a durable workflow body, leaves can be activities
 * (`Operation.leaf("charge", Activity.make(…))`): each leaf's journal entries
 * are keyed by its path, so after a crash completed leaves replay from the
 * journal instead of running again, whatever worker fiber picked them, and
 * `Workflow.operationStatus(tree, history)` rebuilds the tree's status from
 * the workflow's history.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as errors from "./internal/errors.js"
import type { OperationGroupFailed, OperationInvalid, OperationTimeout } from "./internal/errors.js"
import * as introspect from "./internal/introspect.js"
import * as internal from "./internal/operation.js"
import * as metricsInternal from "./internal/operationMetrics.js"
import { isOperation as isOperationImpl, type OperationImpl, TypeId as OperationTypeId } from "./internal/operationNode.js"
import type { Progress, Report, Snapshot } from "./OperationStatus.js"
import type { Policy } from "./Policy.js"

/**
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: typeof OperationTypeId = OperationTypeId

/**
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof OperationTypeId

/**
 * A named node of an operation tree that is also an `Effect` producing `A`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Operation<out A, out E = never, out R = never> extends Effect.Effect<A, E, R> {
  readonly [TypeId]: TypeId
  readonly _tag: "Leaf" | "Sequence" | "Parallel"
  readonly name: string
  readonly children: ReadonlyArray<Any>
}

/**
 * A leaf: one effect, with its own retry, timeout and span settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Leaf<out A, out E = never, out R = never> extends Operation<A, E, R> {
  readonly _tag: "Leaf"
}

/**
 * Any operation.
 *
 * @since 0.1.0
 * @category models
 */
export type Any = Operation<unknown, unknown, unknown>

/**
 * The children of a group: a tuple/array (output is a tuple) or a record
 * (output is a record with the same keys).
 *
 * @since 0.1.0
 * @category models
 */
export type Children = ReadonlyArray<Any> | { readonly [key: string]: Any }

/**
 * @since 0.1.0
 * @category type-level
 */
export type Output<C extends Children> = {
  -readonly [K in keyof C]: C[K] extends Operation<infer A, infer _E, infer _R> ? A : never
}

type Member<C> = C extends ReadonlyArray<infer X> ? X : C[keyof C]

/**
 * The union of the children's error types (construction errors excluded).
 *
 * @since 0.1.0
 * @category type-level
 */
export type ChildError<C> = Member<C> extends infer X ? X extends Operation<infer _A, infer E, infer _R> ? Exclude<E, OperationInvalid> : never
  : never

/**
 * @since 0.1.0
 * @category type-level
 */
export type ChildContext<C> = Member<C> extends infer X ? X extends Operation<infer _A, infer _E, infer R> ? R : never
  : never

/**
 * The leaf-level errors inside a best-effort aggregate (nested aggregates are flattened).
 *
 * @since 0.1.0
 * @category type-level
 */
export type LeafError<E> = E extends OperationGroupFailed<infer X> ? X : E

/**
 * How a group reacts to a failing child.
 * - `"fail-fast"` (default): the first failure interrupts running siblings
 *   (their finalizers run), skips the pending ones, and the group fails with
 *   that child's error.
 * - `"best-effort"`: every child runs; if any failed, the group fails with an
 *   `OperationGroupFailed` listing each failed leaf's path and cause.
 *
 * @since 0.1.0
 * @category models
 */
export type FailurePolicy = "fail-fast" | "best-effort"

/**
 * @since 0.1.0
 * @category models
 */
export interface GroupOptions {
  readonly failure?: FailurePolicy | undefined
  /** A span for this group (default `true`). */
  readonly span?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ParallelOptions extends GroupOptions {
  /** How many children run at once: a positive integer or `"unbounded"`. */
  readonly concurrency: number | "unbounded"
}

/**
 * The error type of a group given its children and options.
 *
 * @since 0.1.0
 * @category type-level
 */
export type GroupError<C, O> = O extends { readonly failure: "best-effort" } ? OperationGroupFailed<LeafError<ChildError<C>>>
  : ChildError<C>

export {
  /**
   * A best-effort group had failures: each failed leaf's path and cause.
   *
   * @since 0.1.0
   * @category errors
   */
  OperationGroupFailed,
  /**
   * The tree is malformed (empty or duplicate sibling names, a bad concurrency
   * bound). Raised before any node runs, naming the offending node's path.
   *
   * @since 0.1.0
   * @category errors
   */
  OperationInvalid,
  /**
   * A node exceeded its timeout; names the node's path.
   *
   * @since 0.1.0
   * @category errors
   */
  OperationTimeout
} from "./internal/errors.js"

/**
 * A failed node in an `OperationGroupFailed`.
 *
 * @since 0.1.0
 * @category errors
 */
export type NodeFailure<E> = errors.NodeFailure<E>

/**
 * @since 0.1.0
 * @category guards
 */
export const isOperation: (u: unknown) => u is Any = isOperationImpl as unknown as (u: unknown) => u is Any

/**
 * A leaf wrapping one effect. Leaves get no span of their own unless
 * `span: true` is given or `LeafSpans` is set (a span per leaf costs far more
 * than the leaf's bookkeeping).
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect } from "effect"
 * const charge = Operation.leaf("charge", Effect.succeed(42))
 */
export const leaf = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  options?: { readonly span?: boolean | undefined }
): Leaf<A, E | OperationInvalid, R> =>
  internal.leaf(name, effect as Effect.Effect<unknown, unknown, unknown>, options) as unknown as Leaf<
    A,
    E | OperationInvalid,
    R
  >

/**
 * What a leaf built with `leafWith` sees of its own node: its path, and a way
 * to report compensation states into the tree's status (sagas use it).
 *
 * @since 0.1.0
 * @category models
 */
export type NodeHandle = import("./internal/operationNode.js").NodeHandle

/**
 * A leaf whose effect is built, each time it runs, from its node handle.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect } from "effect"
 * const step = Operation.leafWith("reserve", (node) => Effect.log(`running ${node.path}`))
 */
export const leafWith = <A, E, R>(
  name: string,
  build: (node: NodeHandle) => Effect.Effect<A, E, R>,
  options?: { readonly span?: boolean | undefined }
): Leaf<A, E | OperationInvalid, R> =>
  internal.leafWith(name, build as (node: NodeHandle) => Effect.Effect<unknown, unknown, unknown>, options) as unknown as Leaf<
    A,
    E | OperationInvalid,
    R
  >

/**
 * Runs children one after the other. Fail-fast by default: a failure skips
 * the rest.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect } from "effect"
 * const billing = Operation.sequence("billing", [
 *   Operation.leaf("invoice", Effect.succeed("inv-1")),
 *   Operation.leaf("payment", Effect.succeed(100))
 * ])
 * // Operation<[string, number], OperationInvalid, never>
 */
export const sequence = <const C extends Children, const O extends GroupOptions = {}>(
  name: string,
  children: C,
  options?: O
): Operation<Output<C>, GroupError<C, O> | OperationInvalid, ChildContext<C>> =>
  internal.group("Sequence", name, children as unknown as ReadonlyArray<OperationImpl>, options) as unknown as Operation<
    Output<C>,
    GroupError<C, O> | OperationInvalid,
    ChildContext<C>
  >

/**
 * Runs children concurrently, at most `concurrency` at a time.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect } from "effect"
 * const fanOut = Operation.parallel("fan-out", {
 *   user: Operation.leaf("user", Effect.succeed({ id: 1 })),
 *   stock: Operation.leaf("stock", Effect.succeed(7))
 * }, { concurrency: 4, failure: "best-effort" })
 */
export const parallel = <const C extends Children, const O extends ParallelOptions>(
  name: string,
  children: C,
  options: O
): Operation<Output<C>, GroupError<C, O> | OperationInvalid, ChildContext<C>> =>
  internal.group("Parallel", name, children as unknown as ReadonlyArray<OperationImpl>, options) as unknown as Operation<
    Output<C>,
    GroupError<C, O> | OperationInvalid,
    ChildContext<C>
  >

/**
 * Retries a leaf with a `Schedule` fed by the leaf's errors. Each attempt is
 * counted in the node's status; the node stays `running` between attempts.
 * A timeout on the same leaf applies to each attempt.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect, Schedule } from "effect"
 * const flaky = Operation.leaf("inventory", Effect.fail("busy")).pipe(
 *   Operation.withRetry(Schedule.recurs(3))
 * )
 */
export const withRetry: {
  <O, E0, R2>(
    schedule: Schedule.Schedule<O, E0, R2>
  ): <A, E extends E0 | OperationInvalid, R>(self: Leaf<A, E, R>) => Leaf<A, E, R | R2>
  <A, E, R, O, R2>(
    self: Leaf<A, E, R>,
    schedule: Schedule.Schedule<O, Exclude<E, OperationInvalid>, R2>
  ): Leaf<A, E, R | R2>
} = internal.withRetry as never

type AddError<Self, E2> = Self extends Leaf<infer A, infer E, infer R> ? Leaf<A, E | E2, R>
  : Self extends Operation<infer A, infer E, infer R> ? Operation<A, E | E2, R>
  : never

/**
 * Fails the node with `OperationTimeout` (naming its path) if it runs longer
 * than `duration`; the node's running children are interrupted and cancelled.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect } from "effect"
 * const slow = Operation.leaf("slow", Effect.never).pipe(Operation.withTimeout("2 seconds"))
 */
export const withTimeout: {
  (duration: Duration.DurationInput): <Self extends Any>(self: Self) => AddError<Self, OperationTimeout>
  <Self extends Any>(self: Self, duration: Duration.DurationInput): AddError<Self, OperationTimeout>
} = internal.withTimeout as never

type AddPolicy<Self, E2, R2, A2> = Self extends Leaf<infer A, infer E, infer R> ? Leaf<A | A2, E | E2, R | R2>
  : Self extends Operation<infer A, infer E, infer R> ? Operation<A | A2, E | E2, R | R2>
  : never

/**
 * Applies a resilience policy (circuit breaker, bulkhead, rate limit,
 * timeout, fallback …) to this node's effect. On a leaf it wraps each
 * attempt (inside `withRetry`); on a group it wraps the whole group. The node
 * keeps its place, name and status in the tree.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * import { Bulkhead, Operation } from "effect-loom"
 * import { Effect } from "effect"
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ name: "billing", maxConcurrent: 2 })
 *   return yield* Operation.leaf("charge", Effect.succeed(1)).pipe(Operation.withPolicy(bulkhead))
 * }))
 */
export const withPolicy: {
  <E2, R2, A2>(policy: Policy<E2, R2, A2>): <Self extends Any>(self: Self) => AddPolicy<Self, E2, R2, A2>
  <Self extends Any, E2, R2, A2>(self: Self, policy: Policy<E2, R2, A2>): AddPolicy<Self, E2, R2, A2>
} = internal.withWrapper as never

/**
 * Turns this node's span on or off (groups default on, leaves default to
 * `LeafSpans`). Spans are named by the node's path.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect } from "effect"
 * const traced = Operation.leaf("charge", Effect.void).pipe(Operation.withSpan(true))
 */
export const withSpan: {
  (enabled: boolean): <Self extends Any>(self: Self) => Self
  <Self extends Any>(self: Self, enabled: boolean): Self
} = internal.withSpan as never

/**
 * Whether leaves without an explicit `span` setting get a span. Default
 * `false`. Provide `true` to trace every leaf:
 * `Effect.provideService(program, Operation.LeafSpans, true)`.
 *
 * @since 0.1.0
 * @category references
 */
export const LeafSpans: typeof internal.LeafSpans = internal.LeafSpans

/**
 * The metrics every finished tree run records, tagged with the root's name
 * (`operation.name`) and `outcome`: `effect_loom.operation.duration` (seconds;
 * outcome `succeeded` / `failed` / `cancelled`) and `effect_loom.operation.leaves`
 * (leaves by final status). They are recorded once per run, never per leaf.
 * Keep root names low-cardinality (no ids in them).
 *
 * @example
 * import { Metric } from "effect"
 * import { Operation } from "effect-loom"
 * const failedLeaves = Metric.value(
 *   Operation.metrics.leaves.pipe(Metric.tagged("operation.name", "bulk-update"), Metric.tagged("outcome", "failed"))
 * )
 *
 * @since 0.1.0
 * @category observability
 */
export const metrics = { duration: metricsInternal.runDuration, leaves: metricsInternal.leaves } as const

/**
 * Options for observed runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /**
   * Called with batches of events and a snapshot, every `interval` while
   * something changed, and once at the end. Runs in order, never concurrently.
   */
  readonly onProgress?: ((progress: Progress) => Effect.Effect<void>) | undefined
  /** Sampling interval for progress (default 100 millis). */
  readonly interval?: Duration.DurationInput | undefined
}

/**
 * Runs a tree, feeding `onProgress`. Without options this is the same as
 * yielding the operation itself.
 *
 * @since 0.1.0
 * @category running
 * @example
 * import { Operation, OperationStatus } from "effect-loom"
 * import { Effect } from "effect"
 * const tree = Operation.leaf("one", Effect.succeed(1))
 * const program = Operation.run(tree, {
 *   onProgress: ({ snapshot }) => Effect.log(OperationStatus.renderProgressBar(snapshot))
 * })
 */
export const run = <A, E, R>(self: Operation<A, E, R>, options?: RunOptions): Effect.Effect<A, E, R> =>
  internal.run(self as unknown as OperationImpl, options ?? {}) as Effect.Effect<A, E, R>

/**
 * A running tree.
 *
 * @since 0.1.0
 * @category models
 */
export interface Execution<A, E> {
  /** The fiber running the tree; interrupt it to cancel the run. */
  readonly fiber: Fiber.RuntimeFiber<A, E>
  /** The status right now (exact, not sampled). */
  readonly snapshot: Effect.Effect<Snapshot>
  /** Sampled snapshots: the current one, then one per interval with changes; ends after the final one. */
  readonly changes: Stream.Stream<Snapshot>
  /** Waits for the end and returns the report (never fails). */
  readonly await: Effect.Effect<Report<A, E>>
}

/**
 * Starts a tree on a fiber in the current scope (closing the scope cancels
 * it) and returns a handle to observe, await or interrupt it.
 *
 * @since 0.1.0
 * @category running
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect, Fiber } from "effect"
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const execution = yield* Operation.start(Operation.leaf("wait", Effect.never))
 *   yield* Fiber.interrupt(execution.fiber)
 *   const report = yield* execution.await
 *   return report.snapshot.root.status // "cancelled"
 * }))
 */
export const start = <A, E, R>(
  self: Operation<A, E, R>,
  options?: RunOptions
): Effect.Effect<Execution<A, E>, OperationInvalid, R | Scope.Scope> =>
  internal.start(self as unknown as OperationImpl, options ?? {}) as unknown as Effect.Effect<
    Execution<A, E>,
    OperationInvalid,
    R | Scope.Scope
  >

/**
 * Runs a tree to the end and returns its report (exit, final snapshot,
 * duration) instead of failing.
 *
 * @since 0.1.0
 * @category running
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect } from "effect"
 * const report = Operation.runReport(Operation.leaf("one", Effect.succeed(1)))
 */
export const runReport = <A, E, R>(self: Operation<A, E, R>, options?: RunOptions): Effect.Effect<Report<A, E>, never, R> =>
  internal.runReport(self as unknown as OperationImpl, options ?? {}) as Effect.Effect<Report<A, E>, never, R>

/**
 * Checks a tree without running it.
 *
 * @since 0.1.0
 * @category introspection
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect, Either } from "effect"
 * const bad = Operation.parallel("p", [Operation.leaf("a", Effect.void)], { concurrency: 0 })
 * Either.isLeft(Operation.validate(bad)) // true
 */
export const validate = (self: Any): Either.Either<void, OperationInvalid> =>
  internal.validate(self as unknown as OperationImpl)

/**
 * A node as seen without running: path, name, kind, depth.
 *
 * @since 0.1.0
 * @category introspection
 */
export type NodeInfo = introspect.NodeInfo

/**
 * Every node of the tree in depth-first pre-order.
 *
 * @since 0.1.0
 * @category introspection
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect } from "effect"
 * Operation.nodes(Operation.sequence("s", [Operation.leaf("a", Effect.void)])).map((n) => n.path) // ["s", "s/a"]
 */
export const nodes = (self: Any): ReadonlyArray<NodeInfo> => introspect.nodes(self as unknown as OperationImpl)

/**
 * @since 0.1.0
 * @category introspection
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect } from "effect"
 * Operation.leafCount(Operation.leaf("a", Effect.void)) // 1
 */
export const leafCount = (self: Any): number => introspect.leafCount(self as unknown as OperationImpl)

/**
 * The tree as indented text, with each group's kind and policies.
 *
 * @since 0.1.0
 * @category introspection
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect } from "effect"
 * Operation.render(Operation.sequence("s", [Operation.leaf("a", Effect.void)]))
 * // s (sequence)
 * // └─ a
 */
export const render = (self: Any): string => introspect.render(self as unknown as OperationImpl)

/**
 * The tree as a Mermaid flowchart.
 *
 * @since 0.1.0
 * @category introspection
 * @example
 * import { Operation } from "effect-loom"
 * import { Effect } from "effect"
 * Operation.toMermaid(Operation.leaf("a", Effect.void)) // 'flowchart TD\n  n0["a"]'
 */
export const toMermaid = (self: Any): string => introspect.toMermaid(self as unknown as OperationImpl)
