import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { WorkflowStorageError } from "../WorkflowError.js"
import type {
  Delivery,
  JournalEntry,
  ListFilter,
  WorkflowRecord,
  WorkflowStatus,
  WorkflowStorageService,
  WorkflowUpdate
} from "../WorkflowStorage.js"
import { Waiting } from "../WorkflowStorage.js"
import { continuedResult, runRecordId } from "./workflowStorageMemory.js"

const ACTIVE = ["pending", "running", "waiting"] as const

/** @internal */
export const migrations = Migrator.fromRecord({
  "1_loom_workflows": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS loom_workflow (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      version INTEGER NOT NULL,
      run INTEGER NOT NULL,
      status TEXT NOT NULL,
      payload TEXT NOT NULL,
      waiting TEXT,
      result TEXT,
      cancel_requested INTEGER NOT NULL,
      reason TEXT,
      parent_id TEXT,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS loom_workflow_status ON loom_workflow (status, name, created_at)`
    // SQLite: WITHOUT ROWID clusters entries by their key, so an appended entry writes one b-tree, not two
    const journalColumns = `workflow_id TEXT NOT NULL,
      run INTEGER NOT NULL,
      step_key TEXT NOT NULL,
      seq INTEGER NOT NULL,
      name TEXT NOT NULL,
      kind TEXT NOT NULL,
      exit TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      PRIMARY KEY (workflow_id, run, step_key)`
    yield* sql.onDialectOrElse({
      sqlite: () => sql.unsafe(`CREATE TABLE IF NOT EXISTS loom_journal (${journalColumns}) WITHOUT ROWID`),
      orElse: () => sql.unsafe(`CREATE TABLE IF NOT EXISTS loom_journal (${journalColumns})`)
    })
    yield* sql.onDialectOrElse({
      pg: () =>
        sql`CREATE TABLE IF NOT EXISTS loom_event (
          seq BIGSERIAL PRIMARY KEY,
          workflow_id TEXT NOT NULL,
          name TEXT NOT NULL,
          payload TEXT NOT NULL,
          consumed INTEGER NOT NULL,
          created_at BIGINT NOT NULL
        )`,
      orElse: () =>
        sql`CREATE TABLE IF NOT EXISTS loom_event (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          workflow_id TEXT NOT NULL,
          name TEXT NOT NULL,
          payload TEXT NOT NULL,
          consumed INTEGER NOT NULL,
          created_at BIGINT NOT NULL
        )`
    })
    yield* sql`CREATE INDEX IF NOT EXISTS loom_event_pending ON loom_event (workflow_id, name, consumed, seq)`
  })
})

interface WorkflowRow {
  readonly id: string
  readonly name: string
  readonly version: number
  readonly run: number
  readonly status: string
  readonly payload: string
  readonly waiting: string | null
  readonly result: string | null
  readonly cancel_requested: number
  readonly reason: string | null
  readonly parent_id: string | null
  readonly created_at: number | string
  readonly updated_at: number | string
}

interface JournalRow {
  readonly workflow_id: string
  readonly run: number
  readonly step_key: string
  readonly seq: number
  readonly name: string
  readonly kind: string
  readonly exit: string
  readonly created_at: number | string
}

const decodeWaiting = Schema.decodeUnknownSync(Schema.parseJson(Waiting))
const encodeWaiting = (w: WorkflowRecord["waiting"]) => w === null ? null : JSON.stringify(w)

const fromRow = (r: WorkflowRow): WorkflowRecord => ({
  id: r.id,
  name: r.name,
  version: Number(r.version),
  run: Number(r.run),
  status: r.status as WorkflowStatus,
  payload: r.payload,
  waiting: r.waiting === null ? null : decodeWaiting(r.waiting),
  result: r.result,
  cancelRequested: Number(r.cancel_requested) !== 0,
  reason: r.reason,
  parentId: r.parent_id,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at)
})

const fromJournalRow = (r: JournalRow): JournalEntry => ({
  workflowId: r.workflow_id,
  run: Number(r.run),
  key: r.step_key,
  seq: Number(r.seq),
  name: r.name,
  kind: r.kind,
  exit: r.exit,
  createdAt: Number(r.created_at)
})

const storageError = (operation: string) => (e: SqlError | unknown) =>
  new WorkflowStorageError({ operation, detail: e instanceof Error ? `${e.message} ${String(e.cause ?? "")}` : String(e) })

interface Item {
  readonly atomic: boolean
  readonly operation: string
  readonly run: Effect.Effect<unknown, SqlError>
  readonly deferred: Deferred.Deferred<unknown, WorkflowStorageError>
}

/**
 * SQL storage: reads go straight to the database; writes go through a group-commit queue, one
 * transaction per batch of concurrently submitted writes, each acknowledged after its batch committed.
 *
 * @internal
 */
export const make = (options: { readonly maxBatch: number }): Effect.Effect<
  WorkflowStorageService,
  WorkflowStorageError,
  SqlClient.SqlClient | Scope.Scope
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* Migrator.make({})({ loader: migrations, table: "loom_migrations" }).pipe(
      Effect.mapError(storageError("migrate"))
    )

    // Group commit without a dedicated fiber: the first writer to find no flush in progress becomes the
    // leader; it yields once so that concurrently running fibers can enqueue their writes, then commits
    // everything pending in one transaction per batch and acknowledges each write after its commit.
    const pending: Array<Item> = []
    let flushing = false
    const runOne = (item: Item) =>
      (item.atomic ? item.run : sql.withTransaction(item.run)).pipe(
        Effect.exit,
        Effect.flatMap((exit) => Deferred.done(item.deferred, Exit.mapError(exit, storageError(item.operation))))
      )
    const flushBatch = (items: ReadonlyArray<Item>): Effect.Effect<void> => {
      if (items.length === 1) return runOne(items[0]!)
      const results: Array<unknown> = []
      return sql.withTransaction(
        Effect.forEach(items, (item) => Effect.map(item.run, (a) => results.push(a)), { discard: true })
      ).pipe(
        Effect.exit,
        Effect.flatMap((exit) =>
          Exit.isSuccess(exit)
            ? Effect.forEach(items, (item, i) => Deferred.succeed(item.deferred, results[i]), { discard: true })
            // one write failed: retry each alone so that only the failing one reports the error
            : Effect.forEach(items, runOne, { discard: true })
        )
      )
    }
    const flushAll: Effect.Effect<void> = Effect.suspend(() => {
      if (pending.length === 0) {
        flushing = false
        return Effect.void
      }
      return Effect.zipRight(flushBatch(pending.splice(0, options.maxBatch)), flushAll)
    })
    // per-statement spans cost more than the statements here; the engine's own spans cover storage
    const leader = Effect.uninterruptible(Effect.zipRight(Effect.yieldNow(), flushAll)).pipe(Effect.withTracerEnabled(false))

    /** `atomic`: a single statement, which needs no explicit transaction when it is alone. */
    const write = <A>(
      operation: string,
      run: Effect.Effect<A, SqlError>,
      atomic = false
    ): Effect.Effect<A, WorkflowStorageError> =>
      Effect.suspend(() => {
        const deferred = Deferred.unsafeMake<unknown, WorkflowStorageError>(FiberId.none)
        pending.push({ operation, run, deferred, atomic })
        const wait = Deferred.await(deferred) as Effect.Effect<A, WorkflowStorageError>
        if (flushing) return wait
        flushing = true
        return Effect.zipRight(leader, wait)
      })

    const read = <A>(operation: string, run: Effect.Effect<A, SqlError>): Effect.Effect<A, WorkflowStorageError> =>
      Effect.mapError(run, storageError(operation)).pipe(Effect.withTracerEnabled(false))

    const getRow = (id: string) =>
      Effect.map(sql<WorkflowRow>`SELECT * FROM loom_workflow WHERE id = ${id}`, (rows) =>
        rows[0] === undefined ? undefined : fromRow(rows[0]))

    const updateRow = (id: string, u: WorkflowUpdate) => {
      const set: Record<string, unknown> = { updated_at: u.updatedAt }
      if (u.status !== undefined) set.status = u.status
      if (u.waiting !== undefined) set.waiting = encodeWaiting(u.waiting)
      if (u.result !== undefined) set.result = u.result
      if (u.reason !== undefined) set.reason = u.reason
      if (u.cancelRequested !== undefined) set.cancel_requested = u.cancelRequested ? 1 : 0
      return Effect.map(
        sql`UPDATE loom_workflow SET ${sql.update(set)} WHERE id = ${id} AND status IN ${sql.in(ACTIVE)}`.raw,
        (r) => changes(r) > 0
      )
    }

    const insertEntry = (e: JournalEntry) =>
      sql`INSERT INTO loom_journal (workflow_id, run, step_key, seq, name, kind, exit, created_at)
          VALUES (${e.workflowId}, ${e.run}, ${e.key}, ${e.seq}, ${e.name}, ${e.kind}, ${e.exit}, ${e.createdAt})
          ON CONFLICT DO NOTHING`

    const deliver = (id: string, f: Effect.Effect<unknown, SqlError>): Effect.Effect<Delivery, SqlError> =>
      Effect.flatMap(getRow(id), (r): Effect.Effect<Delivery, SqlError> =>
        r === undefined
          ? Effect.succeed({ _tag: "NotFound" })
          : !ACTIVE.includes(r.status as typeof ACTIVE[number])
          ? Effect.succeed({ _tag: "NotActive", status: r.status })
          : Effect.as(f, { _tag: "Delivered" }))

    const service: WorkflowStorageService = {
      create: (r) =>
        write(
          "create",
          sql`INSERT INTO loom_workflow ${
            sql.insert({
              id: r.id,
              name: r.name,
              version: r.version,
              run: r.run,
              status: r.status,
              payload: r.payload,
              waiting: encodeWaiting(r.waiting),
              result: r.result,
              cancel_requested: r.cancelRequested ? 1 : 0,
              reason: r.reason,
              parent_id: r.parentId,
              created_at: r.createdAt,
              updated_at: r.updatedAt
            })
          } ON CONFLICT DO NOTHING`.raw.pipe(
            Effect.flatMap((raw) => changes(raw) > 0 ? Effect.succeed(undefined) : getRow(r.id))
          )
        ),
      get: (id) => read("get", getRow(id)),
      list: (f: ListFilter) =>
        read(
          "list",
          Effect.map(
            sql<WorkflowRow>`SELECT * FROM loom_workflow WHERE ${
              sql.and([
                f.name !== undefined ? sql`name = ${f.name}` : sql`1 = 1`,
                f.status !== undefined && f.status.length > 0 ? sql`status IN ${sql.in(f.status)}` : sql`1 = 1`,
                f.createdAfter !== undefined ? sql`created_at >= ${f.createdAfter}` : sql`1 = 1`,
                f.createdBefore !== undefined ? sql`created_at < ${f.createdBefore}` : sql`1 = 1`
              ])
            } ORDER BY created_at, id ${f.limit !== undefined ? sql`LIMIT ${f.limit}` : sql``}`,
            (rows) => rows.map(fromRow)
          )
        ),
      journal: (id, run) =>
        read(
          "journal",
          Effect.map(
            sql<JournalRow>`SELECT * FROM loom_journal WHERE workflow_id = ${id} AND run = ${run} ORDER BY seq`,
            (rows) => rows.map(fromJournalRow)
          )
        ),
      append: (entries, update) =>
        write(
          "append",
          Effect.gen(function*() {
            for (const e of entries) yield* insertEntry(e)
            const first = entries[0]
            if (update !== undefined && first !== undefined) yield* updateRow(first.workflowId, update)
          }),
          entries.length === 1 && update === undefined
        ),
      update: (id, u) => write("update", updateRow(id, u), true),
      continueAsNew: (id, run, payload, now) =>
        write(
          "continueAsNew",
          Effect.gen(function*() {
            const r = yield* getRow(id)
            if (r === undefined || r.run !== run) return
            yield* sql`INSERT INTO loom_workflow ${
              sql.insert({
                id: runRecordId(id, run),
                name: r.name,
                version: r.version,
                run,
                status: "continued",
                payload: r.payload,
                waiting: null,
                result: continuedResult(id, run),
                cancel_requested: r.cancelRequested ? 1 : 0,
                reason: r.reason,
                parent_id: r.parentId,
                created_at: r.createdAt,
                updated_at: now
              })
            } ON CONFLICT DO NOTHING`
            yield* sql`UPDATE loom_workflow SET run = ${run + 1}, payload = ${payload}, status = 'running',
                       waiting = NULL, created_at = ${now}, updated_at = ${now} WHERE id = ${id} AND run = ${run}`
          })
        ),
      sendEvent: (id, name, payload, now) =>
        write(
          "sendEvent",
          deliver(
            id,
            sql`INSERT INTO loom_event (workflow_id, name, payload, consumed, created_at)
                VALUES (${id}, ${name}, ${payload}, 0, ${now})`
          )
        ),
      consumeEvent: (id, name, accept, entry) =>
        write(
          "consumeEvent",
          Effect.gen(function*() {
            while (true) {
              const rows = yield* sql<{ seq: number; payload: string }>`SELECT seq, payload FROM loom_event
                WHERE workflow_id = ${id} AND name = ${name} AND consumed = 0 ORDER BY seq LIMIT 1`
              const row = rows[0]
              if (row === undefined) return undefined
              yield* sql`UPDATE loom_event SET consumed = 1 WHERE seq = ${row.seq}`
              if (!accept(row.payload)) continue
              yield* insertEntry(entry(row.payload))
              return row.payload
            }
          })
        ),
      withPendingEvents: read(
        "withPendingEvents",
        Effect.map(
          sql<{ workflow_id: string }>`SELECT DISTINCT e.workflow_id FROM loom_event e
            JOIN loom_workflow w ON w.id = e.workflow_id
            WHERE e.consumed = 0 AND w.status IN ${sql.in(ACTIVE)}`,
          (rows) => rows.map((r) => r.workflow_id)
        )
      ),
      requestCancel: (id, reason, now) =>
        write(
          "requestCancel",
          deliver(
            id,
            sql`UPDATE loom_workflow SET cancel_requested = 1, reason = ${reason}, updated_at = ${now} WHERE id = ${id}`
          )
        ),
      terminate: (id, reason, now) =>
        write(
          "terminate",
          deliver(
            id,
            sql`UPDATE loom_workflow SET status = 'terminated', waiting = NULL, reason = ${reason},
                updated_at = ${now} WHERE id = ${id}`
          )
        )
    }
    return service
  })

const changes = (raw: unknown): number => {
  if (typeof raw === "object" && raw !== null) {
    if ("changes" in raw && typeof raw.changes === "number") return raw.changes
    if ("count" in raw && typeof raw.count === "number") return raw.count
  }
  return 1
}
