/**
 * The engine runs registered workflows and is the client to start, inspect, signal and cancel them.
 * It keeps no state that matters: everything is in `WorkflowStorage`, and on start it resumes every
 * stored workflow that is still running (replaying its journal, loaded in one query).
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import * as internal from "./internal/workflowEngine.js"
import * as telemetry from "./internal/workflowTelemetry.js"
import type { ResultError, Workflow } from "./Workflow.js"
import type {
  WorkflowAlreadyExists,
  WorkflowConfigInvalid,
  WorkflowNotFound,
  WorkflowNotRegistered,
  WorkflowNotRunning,
  WorkflowPayloadInvalid,
  WorkflowPurgeInvalid,
  WorkflowStorageError
} from "./WorkflowError.js"
import type { ListFilter, PurgeFilter, WorkflowRecord, WorkflowStorage } from "./WorkflowStorage.js"

/**
 * One decoded journal entry, as `history` returns it.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { WorkflowEngine } from "effect-loom"
 * const line = (e: WorkflowEngine.HistoryEntry) => `${e.seq} ${e.kind} ${e.name}`
 */
export interface HistoryEntry {
  readonly seq: number
  readonly run: number
  /** structural key of the step (stable across replays) */
  readonly step: string
  readonly name: string
  readonly kind: string
  /**
   * `{ _tag: "Success", value }`, `{ _tag: "Failure", error }` or `{ _tag: "Die", defect }` (encoded
   * values; an event's `value` is its payload)
   */
  readonly outcome: unknown
  readonly at: number
}

/**
 * The engine's operations.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { Effect } from "effect"
 * import { WorkflowEngine } from "effect-loom"
 * const failed = Effect.flatMap(WorkflowEngine.WorkflowEngine, (e) => e.list({ status: ["failed"] }))
 */
export interface WorkflowEngineService {
  /** @internal used by `Workflow.toLayer` */
  readonly register: <P, A, E>(
    workflow: Workflow<P, A, E>,
    body: (payload: P) => Effect.Effect<A, E>
  ) => Effect.Effect<void>
  /**
   * Starts a workflow under `id` and returns the id. Idempotent: starting the same workflow with the
   * same payload again does nothing; another name or payload under that id is `WorkflowAlreadyExists`.
   * When this engine registered the workflow it runs it at once and stores it `running` (claimed in
   * the same write); else (`layerClient`) it is stored `pending` until a worker that registered it
   * claims it (when that worker starts, or at its next poll).
   */
  readonly start: <P, A, E>(
    workflow: Workflow<P, A, E>,
    options: { readonly id: string; readonly payload: P }
  ) => Effect.Effect<
    string,
    WorkflowNotRegistered | WorkflowPayloadInvalid | WorkflowAlreadyExists | WorkflowStorageError
  >
  /**
   * Waits for the workflow to finish and returns its result. For a workflow that continues as new this
   * is the result of its last run (also when `id` is the record of an earlier run, `<id>#<run>`).
   */
  readonly result: <P, A, E>(
    workflow: Workflow<P, A, E>,
    id: string
  ) => Effect.Effect<A, ResultError<E> | WorkflowNotFound | WorkflowStorageError>
  /**
   * The stored record: `pending` (started, no worker has claimed it yet), `running`, `waiting` (with the
   * timer or event in `waiting`), `completed`, `failed`, `cancelled`, `terminated`, or `continued` for
   * the record of an earlier run (`<id>#<run>`) that continued as new (`WorkflowStorage.continuedAs`
   * gives the next run). The workflow's own id always shows its latest run, with its number in `run`.
   */
  readonly status: (id: string) => Effect.Effect<WorkflowRecord, WorkflowNotFound | WorkflowStorageError>
  /** Stored records, oldest first; each finished run of a continued workflow is a `continued` record. */
  readonly list: (filter?: ListFilter) => Effect.Effect<ReadonlyArray<WorkflowRecord>, WorkflowStorageError>
  /**
   * The decoded journal of the record's run: the latest run for a workflow id, an earlier run for the
   * record `<id>#<run>` of a run that continued as new.
   */
  readonly history: (id: string) => Effect.Effect<ReadonlyArray<HistoryEntry>, WorkflowNotFound | WorkflowStorageError>
  /** Delivers an event (JSON-encodable payload) to a workflow, also while no worker runs it. */
  readonly signal: (
    id: string,
    event: string,
    payload: unknown
  ) => Effect.Effect<void, WorkflowNotFound | WorkflowNotRunning | WorkflowStorageError>
  /** Cancels a workflow: it is interrupted and its compensations run; its result is `WorkflowCancelled`. */
  readonly cancel: (
    id: string,
    reason: string
  ) => Effect.Effect<void, WorkflowNotFound | WorkflowNotRunning | WorkflowStorageError>
  /** Stops a workflow at once, without compensation. */
  readonly terminate: (
    id: string,
    reason: string
  ) => Effect.Effect<void, WorkflowNotFound | WorkflowNotRunning | WorkflowStorageError>
  /**
   * Retention: deletes the runs that ended (completed, failed, cancelled, terminated, continued) before
   * `endedBefore` (epoch milliseconds), optionally only those with one of `statuses`, with their journals
   * and events; returns how many run records were deleted. Active workflows are never deleted. A status
   * that is not an ended one, or a cut-off that is not a number, fails with `WorkflowPurgeInvalid`.
   */
  readonly purge: (filter: PurgeFilter) => Effect.Effect<number, WorkflowPurgeInvalid | WorkflowStorageError>
}

/**
 * The engine Tag.
 *
 * @since 0.1.0
 * @category tags
 * @example
 * import { Effect } from "effect"
 * import { WorkflowEngine } from "effect-loom"
 * const show = (id: string) => Effect.flatMap(WorkflowEngine.WorkflowEngine, (e) => e.status(id))
 */
export const WorkflowEngine: typeof internal.WorkflowEngine = internal.WorkflowEngine

/**
 * @since 0.1.0
 * @category tags
 * @example
 * import type { WorkflowEngine } from "effect-loom"
 * type Engine = WorkflowEngine.WorkflowEngine
 */
export type WorkflowEngine = internal.WorkflowEngine

/**
 * Engine options. `pollInterval` (default 1 second) is how often the engine looks in storage for work
 * that other processes created: signals and cancel requests sent by the CLI, workflows started
 * elsewhere. Signals sent through this engine wake the workflow at once, and so do starts, signals and
 * cancels written through the same storage layer by another engine of this process (e.g. a client
 * engine). Durable timers do not depend on it: a waiting run sleeps until its timer is due.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { WorkflowEngine } from "effect-loom"
 * const o: WorkflowEngine.Options = { pollInterval: "200 millis" }
 */
export interface Options {
  readonly pollInterval?: Duration.DurationInput
}

/**
 * The engine layer. Provide storage below it and the workflow implementations (`Workflow.toLayer`)
 * above it; the engine resumes stored runs as each workflow registers.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { Layer } from "effect"
 * import { WorkflowEngine, WorkflowStorage } from "effect-loom"
 * const engine = WorkflowEngine.layer().pipe(Layer.provide(WorkflowStorage.layerMemory))
 */
export const layer = (
  options: Options = {}
): Layer.Layer<WorkflowEngine, WorkflowConfigInvalid, WorkflowStorage> =>
  Layer.scoped(internal.WorkflowEngine, internal.make(options))

/**
 * A client engine, for processes that start and inspect workflows that other processes run (a web
 * server, a CLI): `start` of a workflow this process did not register stores it `pending`, and a worker
 * (`layer` with the workflow's `toLayer`) on the same storage claims it on start or at its next poll.
 * Workflows registered with it still run here.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { Layer } from "effect"
 * import { WorkflowEngine, WorkflowStorage } from "effect-loom"
 * const client = WorkflowEngine.layerClient().pipe(Layer.provide(WorkflowStorage.layerMemory))
 */
export const layerClient = (
  options: Options = {}
): Layer.Layer<WorkflowEngine, WorkflowConfigInvalid, WorkflowStorage> =>
  Layer.scoped(internal.WorkflowEngine, internal.make({ ...options, client: true }))

/**
 * Shorthand: start a workflow with the engine from the context.
 *
 * @since 0.1.0
 * @category client
 * @example
 * import { Schema } from "effect"
 * import { Workflow, WorkflowEngine } from "effect-loom"
 * const Greet = Workflow.make({ name: "Greet", payload: Schema.String, success: Schema.String })
 * const started = WorkflowEngine.start(Greet, { id: "g-1", payload: "Ada" })
 */
export const start = <P, A, E>(
  workflow: Workflow<P, A, E>,
  options: { readonly id: string; readonly payload: P }
): Effect.Effect<
  string,
  WorkflowNotRegistered | WorkflowPayloadInvalid | WorkflowAlreadyExists | WorkflowStorageError,
  WorkflowEngine
> => internal.WorkflowEngine.pipe(Effect.flatMap((e) => e.start(workflow, options)))

/**
 * Shorthand: wait for a workflow's result with the engine from the context.
 *
 * @since 0.1.0
 * @category client
 * @example
 * import { Schema } from "effect"
 * import { Workflow, WorkflowEngine } from "effect-loom"
 * const Greet = Workflow.make({ name: "Greet", payload: Schema.String, success: Schema.String })
 * const greeting = WorkflowEngine.result(Greet, "g-1")
 */
export const result = <P, A, E>(
  workflow: Workflow<P, A, E>,
  id: string
): Effect.Effect<A, ResultError<E> | WorkflowNotFound | WorkflowStorageError, WorkflowEngine> =>
  internal.WorkflowEngine.pipe(Effect.flatMap((e) => e.result(workflow, id)))


/**
 * Counter `effect_loom.workflow.starts` of workflows started (children included; a repeated start of an
 * existing id is not counted), labelled `workflow.name`.
 *
 * Telemetry of the engine: a run of a workflow is a span `workflow <name>` (attributes `workflow.id`,
 * `workflow.name`, `workflow.run`, `workflow.resumed`), its activities are child spans
 * `activity <name>` (`activity.name`, `activity.attempt`, `workflow.step`) and its durable waits
 * `workflow.sleep <name>` / `workflow.event <name>`. Spans are made only when a tracer is installed
 * (e.g. the OpenTelemetry layer); then the first execution of a run journals its trace and span ids
 * (a history entry of kind `trace`), and an execution resuming the run after a crash or restart links
 * its span to that first one; the first execution of a run that continued as new links to the run before.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * import { Metric } from "effect"
 * import { WorkflowEngine } from "effect-loom"
 * const orders = Metric.value(WorkflowEngine.workflowStarts.pipe(Metric.tagged("workflow.name", "Order")))
 */
export const workflowStarts: Metric.Metric.Counter<number> = telemetry.workflowStarts

/**
 * Counter `effect_loom.workflow.completions` of workflows that completed successfully, labelled
 * `workflow.name`.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * import { Metric } from "effect"
 * import { WorkflowEngine } from "effect-loom"
 * const done = Metric.value(WorkflowEngine.workflowCompletions.pipe(Metric.tagged("workflow.name", "Order")))
 */
export const workflowCompletions: Metric.Metric.Counter<number> = telemetry.workflowCompletions

/**
 * Counter `effect_loom.workflow.failures` of workflows that failed (their error, a defect or
 * non-determinism; cancelled and terminated workflows are not counted), labelled `workflow.name`.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * import { Metric } from "effect"
 * import { WorkflowEngine } from "effect-loom"
 * const failed = Metric.value(WorkflowEngine.workflowFailures.pipe(Metric.tagged("workflow.name", "Order")))
 */
export const workflowFailures: Metric.Metric.Counter<number> = telemetry.workflowFailures

/**
 * Gauge `effect_loom.workflow.queue_depth`: runnable workflows (`pending` or `running`) in storage, as
 * seen by the engine's last poll.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * import { Metric } from "effect"
 * import { WorkflowEngine } from "effect-loom"
 * const depth = Metric.value(WorkflowEngine.queueDepth)
 */
export const queueDepth: Metric.Metric.Gauge<number> = telemetry.queueDepth
