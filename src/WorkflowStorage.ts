/**
 * Where durable workflows keep their state: one row per workflow, its journal (one entry per completed
 * step) and its inbox of external events. The database is both the journal and the coordination point;
 * engines hold no state that a restart would lose.
 *
 * `layerMemory` is for tests; `SqlWorkflowStorage.layerSqlite` is the embedded default.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as internal from "./internal/workflowStorageMemory.js"
import type { WorkflowStorageError } from "./WorkflowError.js"

/**
 * Lifecycle of a workflow run. `pending`: started, not yet claimed by a worker (no worker of this
 * workflow runs, or it has not picked the run up yet). `waiting`: blocked on a durable timer or an
 * external event (see `WorkflowRecord.waiting`). `continued`: the run ended with continue-as-new; it is
 * kept as its own record (see `runRecordId`) whose `continuedAs` pointer names the next run.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { WorkflowStorage } from "effect-loom"
 * const s: WorkflowStorage.WorkflowStatus = "running"
 */
export const WorkflowStatus = Schema.Literal(
  "pending",
  "running",
  "waiting",
  "completed",
  "failed",
  "cancelled",
  "terminated",
  "continued"
)

/**
 * @since 0.1.0
 * @category models
 * @example
 * import { WorkflowStorage } from "effect-loom"
 * const s: WorkflowStorage.WorkflowStatus = "completed"
 */
export type WorkflowStatus = typeof WorkflowStatus.Type

/**
 * Statuses from which a workflow still makes progress.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { WorkflowStorage } from "effect-loom"
 * WorkflowStorage.isActive("waiting") // true
 */
export const isActive = (status: WorkflowStatus): boolean =>
  status === "pending" || status === "running" || status === "waiting"

/**
 * What a waiting workflow waits for.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { WorkflowStorage } from "effect-loom"
 * const w: WorkflowStorage.Waiting = { _tag: "Timer", step: "3", until: 0 }
 */
export const Waiting = Schema.Union(
  Schema.TaggedStruct("Timer", { step: Schema.String, until: Schema.Number }),
  Schema.TaggedStruct("Event", { step: Schema.String, event: Schema.String })
)

/**
 * @since 0.1.0
 * @category models
 * @example
 * import { WorkflowStorage } from "effect-loom"
 * const w: WorkflowStorage.Waiting = { _tag: "Event", step: "2", event: "Approval" }
 */
export type Waiting = typeof Waiting.Type

/**
 * One stored workflow run. `payload` and `result` are JSON text; `run` counts continue-as-new restarts.
 * The record under the workflow's own id is always its latest run. When a run continues as new, the
 * finished run is copied to a record of its own, `runRecordId(id, run)`, with status `continued` (read
 * its pointer with `continuedAs`); `createdAt` is the start of the run.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { WorkflowStorage } from "effect-loom"
 * const byName = (r: WorkflowStorage.WorkflowRecord) => r.name
 */
export interface WorkflowRecord {
  readonly id: string
  readonly name: string
  readonly version: number
  readonly run: number
  readonly status: WorkflowStatus
  readonly payload: string
  readonly waiting: Waiting | null
  readonly result: string | null
  readonly cancelRequested: boolean
  readonly reason: string | null
  readonly parentId: string | null
  readonly createdAt: number
  readonly updatedAt: number
}

/**
 * The id of the record that keeps run `run` of workflow `id` after it continued as new: `<id>#<run>`.
 * Do not start workflows under ids of this form for workflows that continue as new.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { WorkflowStorage } from "effect-loom"
 * WorkflowStorage.runRecordId("monitor", 3) // "monitor#3"
 */
export const runRecordId: (id: string, run: number) => string = internal.runRecordId

/**
 * Where a run that continued as new went: the workflow id (whose record shows the latest run) and the
 * number of the next run. Stored as the `result` of a `continued` record.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { WorkflowStorage } from "effect-loom"
 * const p: WorkflowStorage.ContinuedAs = { _tag: "ContinuedAs", workflowId: "monitor", run: 4 }
 */
export const ContinuedAs = Schema.TaggedStruct("ContinuedAs", { workflowId: Schema.String, run: Schema.Number })

/**
 * @since 0.1.0
 * @category models
 * @example
 * import type { WorkflowStorage } from "effect-loom"
 * const next = (p: WorkflowStorage.ContinuedAs) => `${p.workflowId} run ${p.run}`
 */
export type ContinuedAs = typeof ContinuedAs.Type

const decodeContinuedAs = Schema.decodeUnknownOption(Schema.parseJson(ContinuedAs))

/**
 * The pointer to the next run of a `continued` record; `undefined` for any other record.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { WorkflowStorage } from "effect-loom"
 * const nextRun = (r: WorkflowStorage.WorkflowRecord) => WorkflowStorage.continuedAs(r)?.run
 */
export const continuedAs = (record: WorkflowRecord): ContinuedAs | undefined => {
  if (record.status !== "continued" || record.result === null) return undefined
  const decoded = decodeContinuedAs(record.result)
  return decoded._tag === "Some" ? decoded.value : undefined
}

/**
 * One journal entry: the recorded outcome (`exit`, JSON text) of the step with the structural `key`
 * (stable across replays) in run `run`. `seq` orders entries as they were written.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { WorkflowStorage } from "effect-loom"
 * const label = (e: WorkflowStorage.JournalEntry) => `${e.kind}:${e.name}`
 */
export interface JournalEntry {
  readonly workflowId: string
  readonly run: number
  readonly key: string
  readonly seq: number
  readonly name: string
  readonly kind: string
  readonly exit: string
  readonly createdAt: number
}

/**
 * A change to a workflow row. Fields left out are kept.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { WorkflowStorage } from "effect-loom"
 * const done: WorkflowStorage.WorkflowUpdate = { status: "completed", result: "{}", updatedAt: 0 }
 */
export interface WorkflowUpdate {
  readonly status?: WorkflowStatus
  readonly waiting?: Waiting | null
  readonly result?: string | null
  readonly reason?: string | null
  readonly cancelRequested?: boolean
  readonly updatedAt: number
}

/**
 * Filter for `list`. Times are epoch milliseconds on `createdAt`.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { WorkflowStorage } from "effect-loom"
 * const f: WorkflowStorage.ListFilter = { name: "Order", status: ["failed"], limit: 10 }
 */
export interface ListFilter {
  readonly name?: string
  readonly status?: ReadonlyArray<WorkflowStatus>
  readonly createdAfter?: number
  readonly createdBefore?: number
  readonly limit?: number
}

/**
 * Which ended runs `purge` deletes: those whose last change (`updatedAt`, the time they ended) is before
 * `endedBefore` (epoch milliseconds) and whose status is one of `statuses` (default: every ended status,
 * see `endedStatuses`). Active runs are never purged.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { WorkflowStorage } from "effect-loom"
 * const f: WorkflowStorage.PurgeFilter = { endedBefore: Date.now() - 7 * 86_400_000, statuses: ["completed"] }
 */
export interface PurgeFilter {
  readonly endedBefore: number
  readonly statuses?: ReadonlyArray<WorkflowStatus>
}

/**
 * Statuses of runs that ended; `purge` deletes only runs in one of these.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { WorkflowStorage } from "effect-loom"
 * WorkflowStorage.endedStatuses.includes("completed") // true
 */
export const endedStatuses: ReadonlyArray<WorkflowStatus> = ["completed", "failed", "cancelled", "terminated", "continued"]

/**
 * Outcome of a request addressed to an existing workflow (signal, cancel).
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { WorkflowStorage } from "effect-loom"
 * const ok = (o: WorkflowStorage.Delivery) => o._tag === "Delivered"
 */
export type Delivery =
  | { readonly _tag: "Delivered" }
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "NotActive"; readonly status: WorkflowStatus }

/**
 * The storage operations the engine needs. Every write is atomic; an implementation may group the
 * writes of concurrent callers into one transaction but acknowledges each only after it committed.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { Effect } from "effect"
 * import { WorkflowStorage } from "effect-loom"
 * const count = Effect.flatMap(WorkflowStorage.WorkflowStorage, (s) => s.list({})).pipe(Effect.map((l) => l.length))
 */
export interface WorkflowStorageService {
  /** Inserts the row unless the id exists; returns the existing row when it does. */
  readonly create: (record: WorkflowRecord) => Effect.Effect<WorkflowRecord | undefined, WorkflowStorageError>
  readonly get: (id: string) => Effect.Effect<WorkflowRecord | undefined, WorkflowStorageError>
  readonly list: (filter: ListFilter) => Effect.Effect<ReadonlyArray<WorkflowRecord>, WorkflowStorageError>
  /** The whole journal of one run, ordered by `seq`, in one query. */
  readonly journal: (id: string, run: number) => Effect.Effect<ReadonlyArray<JournalEntry>, WorkflowStorageError>
  /** Appends entries and optionally updates the workflow row, atomically. */
  readonly append: (
    entries: ReadonlyArray<JournalEntry>,
    update?: WorkflowUpdate
  ) => Effect.Effect<void, WorkflowStorageError>
  /** Updates an active workflow; returns false when it is not active any more (nothing changed). */
  readonly update: (id: string, update: WorkflowUpdate) => Effect.Effect<boolean, WorkflowStorageError>
  /**
   * Starts run `run + 1` of the workflow with a new payload, atomically: the record of run `run` is
   * copied to `runRecordId(id, run)` with status `continued` and a `ContinuedAs` result; its journal is
   * kept (readable by `history`), the new run starts with an empty one. No-op unless `run` is current.
   */
  readonly continueAsNew: (
    id: string,
    run: number,
    payload: string,
    now: number
  ) => Effect.Effect<void, WorkflowStorageError>
  /** Stores an event in the inbox of an active workflow. */
  readonly sendEvent: (
    id: string,
    name: string,
    payload: string,
    now: number
  ) => Effect.Effect<Delivery, WorkflowStorageError>
  /**
   * Takes the oldest unconsumed event `name` of the workflow that `accept` accepts (rejected ones are
   * marked and skipped) and records `entry(payload)` in the journal, atomically.
   */
  readonly consumeEvent: (
    id: string,
    name: string,
    accept: (payload: string) => boolean,
    entry: (payload: string) => JournalEntry
  ) => Effect.Effect<string | undefined, WorkflowStorageError>
  /** Ids of active workflows with unconsumed events. */
  readonly withPendingEvents: Effect.Effect<ReadonlyArray<string>, WorkflowStorageError>
  /** Marks an active workflow for cancellation. */
  readonly requestCancel: (id: string, reason: string, now: number) => Effect.Effect<Delivery, WorkflowStorageError>
  /** Marks an active workflow terminated, immediately. */
  readonly terminate: (id: string, reason: string, now: number) => Effect.Effect<Delivery, WorkflowStorageError>
  /**
   * Deletes the ended runs that `filter` selects with their journals (and, for a workflow's own record,
   * its events); returns how many records were deleted. `filter.statuses` must hold ended statuses only.
   */
  readonly purge: (filter: PurgeFilter) => Effect.Effect<number, WorkflowStorageError>
  /**
   * Subscribes to the writes through this storage instance that a worker must pick up (a `pending` run,
   * an event, a cancel request, a termination): returns an effect that completes at the first such write
   * made after the subscription. In-process only: workers still poll for the writes of other processes.
   */
  readonly subscribeChanges: Effect.Effect<Effect.Effect<void>>
}

/**
 * The storage Tag. Provide `layerMemory` or `SqlWorkflowStorage.layerSqlite`.
 *
 * @since 0.1.0
 * @category tags
 * @example
 * import { Effect } from "effect"
 * import { WorkflowStorage } from "effect-loom"
 * const program = Effect.flatMap(WorkflowStorage.WorkflowStorage, (s) => s.get("order-1"))
 */
export class WorkflowStorage extends Context.Tag("effect-loom/WorkflowStorage/WorkflowStorage")<
  WorkflowStorage,
  WorkflowStorageService
>() {}

/**
 * In-memory storage for tests: same semantics as the SQL layers, nothing survives the process.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { WorkflowStorage } from "effect-loom"
 * const layer = WorkflowStorage.layerMemory
 */
export const layerMemory: Layer.Layer<WorkflowStorage> = internal.layerMemory(WorkflowStorage)
