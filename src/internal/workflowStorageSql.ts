import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Cause from "effect/Cause"
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
import {
  continuedResult,
  ENDED,
  journalOwner,
  makeChangeSignal,
  runRecordId
} from "./workflowStorageMemory.js"

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

type Op<A> = (conn: Connection) => Effect.Effect<A, SqlError>

interface Item {
  readonly atomic: boolean
  readonly operation: string
  readonly run: Op<unknown>
  /** resumes the writer (cheaper than a Deferred per write) */
  readonly resume: (exit: Exit.Exit<unknown, WorkflowStorageError>) => void
}

/** How many empty scheduler turns the writer fiber keeps the connection reserved before releasing it. */
const LINGER = 2

/**
 * SQL storage: reads go straight to the database; writes go through a group-commit queue, one
 * transaction per batch of concurrently submitted writes, each acknowledged after its batch committed.
 *
 * Writes run on a connection reserved once per burst of writes (`SqlClient.reserve`) with statements
 * compiled once for the client's dialect: a statement costs a prepared-statement lookup, not a
 * template compilation, a span and a connection acquisition each.
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

    // statements compiled once in the client's dialect (placeholders `?` or `$n`)
    const text = (statement: Statement.Statement<unknown>) => statement.compile()[0]
    const Q = {
      get: text(sql`SELECT * FROM loom_workflow WHERE id = ${""}`),
      insertWorkflow: text(sql`INSERT INTO loom_workflow (id, name, version, run, status, payload, waiting, result,
        cancel_requested, reason, parent_id, created_at, updated_at)
        VALUES (${""}, ${""}, ${0}, ${0}, ${""}, ${""}, ${""}, ${""}, ${0}, ${""}, ${""}, ${0}, ${0})
        ON CONFLICT DO NOTHING`),
      insertEntry: text(sql`INSERT INTO loom_journal (workflow_id, run, step_key, seq, name, kind, exit, created_at)
        VALUES (${""}, ${0}, ${""}, ${0}, ${""}, ${""}, ${""}, ${0}) ON CONFLICT DO NOTHING`),
      newRun: text(sql`UPDATE loom_workflow SET run = ${0}, payload = ${""}, status = 'running', waiting = NULL,
        created_at = ${0}, updated_at = ${0} WHERE id = ${""} AND run = ${0}`),
      insertEvent: text(sql`INSERT INTO loom_event (workflow_id, name, payload, consumed, created_at)
        VALUES (${""}, ${""}, ${""}, 0, ${0})`),
      nextEvent: text(sql`SELECT seq, payload FROM loom_event
        WHERE workflow_id = ${""} AND name = ${""} AND consumed = 0 ORDER BY seq LIMIT 1`),
      consume: text(sql`UPDATE loom_event SET consumed = 1 WHERE seq = ${0}`),
      requestCancel: text(sql`UPDATE loom_workflow SET cancel_requested = 1, reason = ${""}, updated_at = ${0}
        WHERE id = ${""}`),
      terminate: text(sql`UPDATE loom_workflow SET status = 'terminated', waiting = NULL, reason = ${""},
        updated_at = ${0} WHERE id = ${""}`),
      deleteJournal: text(sql`DELETE FROM loom_journal WHERE workflow_id = ${""} AND run = ${0}`),
      deleteEvents: text(sql`DELETE FROM loom_event WHERE workflow_id = ${""}`),
      deleteWorkflow: text(sql`DELETE FROM loom_workflow WHERE id = ${""}`)
    }
    const change = makeChangeSignal()
    /** wakes in-process workers after a write they must pick up */
    const notifying = <A>(effect: Effect.Effect<A, WorkflowStorageError>, when: (a: A) => boolean) =>
      Effect.tap(effect, (a) => {
        if (when(a)) change.notify()
      })
    const delivered = (d: Delivery) => d._tag === "Delivered"
    const PURGE_CHUNK = 500
    const begin = sql.onDialectOrElse({ sqlite: () => "BEGIN IMMEDIATE", orElse: () => "BEGIN" })

    const rowsOf = <A>(conn: Connection, query: string, params: ReadonlyArray<unknown>) =>
      conn.execute(query, params, undefined) as Effect.Effect<ReadonlyArray<A>, SqlError>
    const changed = (conn: Connection, query: string, params: ReadonlyArray<unknown>) =>
      Effect.map(conn.executeRaw(query, params), changes)

    const inTransaction = <A>(conn: Connection, run: Effect.Effect<A, SqlError>): Effect.Effect<A, SqlError> =>
      Effect.zipRight(conn.executeRaw(begin, []), run).pipe(
        Effect.zipLeft(conn.executeRaw("COMMIT", [])),
        Effect.onError(() => Effect.ignore(conn.executeRaw("ROLLBACK", [])))
      )

    // Group commit by one writer fiber: woken by the first write submitted while it is idle, it yields
    // once so that concurrently running fibers can enqueue their writes, reserves the connection, then
    // commits everything pending in one transaction per batch and acknowledges each write after its
    // commit. It keeps the connection for LINGER more turns, so that a workflow that writes again right
    // after its acknowledgement (sequential steps) finds it still reserved.
    const pending: Array<Item> = []
    let awake = false
    let wake = Deferred.unsafeMake<void>(FiberId.none)
    const runOne = (conn: Connection, item: Item) =>
      Effect.map(
        Effect.exit(item.atomic ? item.run(conn) : inTransaction(conn, item.run(conn))),
        (exit) => item.resume(Exit.mapError(exit, storageError(item.operation)))
      )
    const flushBatch = (conn: Connection, items: ReadonlyArray<Item>): Effect.Effect<void> => {
      if (items.length === 1) return runOne(conn, items[0]!)
      const results: Array<unknown> = []
      return inTransaction(
        conn,
        Effect.forEach(items, (item) => Effect.map(item.run(conn), (a) => results.push(a)), { discard: true })
      ).pipe(
        Effect.exit,
        Effect.flatMap((exit) =>
          Exit.isSuccess(exit)
            ? Effect.sync(() => items.forEach((item, i) => item.resume(Exit.succeed(results[i]))))
            // one write failed: retry each alone so that only the failing one reports the error
            : Effect.forEach(items, (item) => runOne(conn, item), { discard: true })
        )
      )
    }
    const sleep = Effect.sync(() => {
      awake = false
      wake = Deferred.unsafeMake<void>(FiberId.none)
    })
    const drain = (conn: Connection, idle: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (pending.length > 0) return Effect.zipRight(flushBatch(conn, pending.splice(0, options.maxBatch)), drain(conn, 0))
        return idle < LINGER ? Effect.zipRight(Effect.yieldNow(), drain(conn, idle + 1)) : sleep
      })
    // the connection could not be reserved: every pending write fails with that error
    const failPending = (cause: Cause.Cause<SqlError>) =>
      Effect.suspend(() => {
        const error = storageError("connect")(Cause.squash(cause))
        return Effect.zipRight(
          Effect.sync(() => pending.splice(0).forEach((item) => item.resume(Exit.fail(error)))),
          sleep
        )
      })
    const flush = Effect.uninterruptible(
      Effect.zipRight(
        Effect.yieldNow(),
        Effect.catchAllCause(Effect.scoped(Effect.flatMap(sql.reserve, (conn) => drain(conn, 0))), failPending)
      )
    )
    // once the layer closes, writes fail instead of waiting for a writer that is gone
    let closed = false
    yield* Effect.forkScoped(
      Effect.forever(Effect.zipRight(Effect.suspend(() => Deferred.await(wake)), flush)).pipe(
        Effect.ensuring(Effect.sync(() => {
          closed = true
          const error = new WorkflowStorageError({ operation: "write", detail: "the storage layer is closed" })
          for (const item of pending.splice(0)) item.resume(Exit.fail(error))
        }))
      )
    )

    /** `atomic`: a single statement, which needs no explicit transaction when it is alone. */
    const write = <A>(operation: string, run: Op<A>, atomic = false): Effect.Effect<A, WorkflowStorageError> =>
      Effect.async<A, WorkflowStorageError>((resume) => {
        if (closed) {
          return resume(Effect.fail(new WorkflowStorageError({ operation, detail: "the storage layer is closed" })))
        }
        pending.push({ operation, run, resume: resume as Item["resume"], atomic })
        if (!awake) {
          awake = true
          Deferred.unsafeDone(wake, Exit.void)
        }
      })

    const read = <A>(operation: string, run: Effect.Effect<A, SqlError>): Effect.Effect<A, WorkflowStorageError> =>
      Effect.mapError(run, storageError(operation)).pipe(Effect.withTracerEnabled(false))

    const getRow = (conn: Connection, id: string) =>
      Effect.map(rowsOf<WorkflowRow>(conn, Q.get, [id]), (rows) => rows[0] === undefined ? undefined : fromRow(rows[0]))

    // UPDATE statements by the set of columns they change, compiled on first use
    const updates = new Map<string, string>()
    const updateRow = (conn: Connection, id: string, u: WorkflowUpdate) => {
      const set: Record<string, unknown> = { updated_at: u.updatedAt }
      if (u.status !== undefined) set.status = u.status
      if (u.waiting !== undefined) set.waiting = encodeWaiting(u.waiting)
      if (u.result !== undefined) set.result = u.result
      if (u.reason !== undefined) set.reason = u.reason
      if (u.cancelRequested !== undefined) set.cancel_requested = u.cancelRequested ? 1 : 0
      const columns = Object.keys(set).join(",")
      const params = [...Object.values(set), id, ...ACTIVE]
      let query = updates.get(columns)
      if (query === undefined) {
        const [compiled, compiledParams] =
          sql`UPDATE loom_workflow SET ${sql.update(set)} WHERE id = ${id} AND status IN ${sql.in(ACTIVE)}`.compile()
        // cached only when its parameters come in the order assumed above
        if (compiledParams.length === params.length && compiledParams.every((p, i) => p === params[i])) {
          updates.set(columns, compiled)
        }
        query = compiled
        return Effect.map(changed(conn, query, compiledParams), (n) => n > 0)
      }
      return Effect.map(changed(conn, query, params), (n) => n > 0)
    }

    const insertEntry = (conn: Connection, e: JournalEntry) =>
      conn.executeRaw(Q.insertEntry, [e.workflowId, e.run, e.key, e.seq, e.name, e.kind, e.exit, e.createdAt])

    const insertWorkflow = (conn: Connection, r: WorkflowRecord) =>
      changed(conn, Q.insertWorkflow, [
        r.id,
        r.name,
        r.version,
        r.run,
        r.status,
        r.payload,
        encodeWaiting(r.waiting),
        r.result,
        r.cancelRequested ? 1 : 0,
        r.reason,
        r.parentId,
        r.createdAt,
        r.updatedAt
      ])

    const deliver = (
      conn: Connection,
      id: string,
      f: Effect.Effect<unknown, SqlError>
    ): Effect.Effect<Delivery, SqlError> =>
      Effect.flatMap(getRow(conn, id), (r): Effect.Effect<Delivery, SqlError> =>
        r === undefined
          ? Effect.succeed({ _tag: "NotFound" })
          : !ACTIVE.includes(r.status as typeof ACTIVE[number])
          ? Effect.succeed({ _tag: "NotActive", status: r.status })
          : Effect.as(f, { _tag: "Delivered" }))

    const service: WorkflowStorageService = {
      create: (r) =>
        notifying(
          write("create", (conn) =>
            Effect.flatMap(insertWorkflow(conn, r), (n) => n > 0 ? Effect.succeed(undefined) : getRow(conn, r.id))),
          (existing) => existing === undefined && r.status === "pending"
        ),
      get: (id) => read("get", Effect.map(sql<WorkflowRow>`SELECT * FROM loom_workflow WHERE id = ${id}`, (rows) =>
        rows[0] === undefined ? undefined : fromRow(rows[0]))),
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
          (conn) => {
            const first = entries[0]
            const inserts = entries.length === 1 && first !== undefined
              ? insertEntry(conn, first)
              : Effect.forEach(entries, (e) => insertEntry(conn, e), { discard: true })
            return update !== undefined && first !== undefined
              ? Effect.zipRight(inserts, updateRow(conn, first.workflowId, update))
              : inserts
          },
          entries.length === 1 && update === undefined
        ),
      update: (id, u) => write("update", (conn) => updateRow(conn, id, u), true),
      continueAsNew: (id, run, payload, now) =>
        write("continueAsNew", (conn) =>
          Effect.gen(function*() {
            const r = yield* getRow(conn, id)
            if (r === undefined || r.run !== run) return
            yield* insertWorkflow(conn, {
              ...r,
              id: runRecordId(id, run),
              run,
              status: "continued",
              waiting: null,
              result: continuedResult(id, run),
              updatedAt: now
            })
            yield* conn.executeRaw(Q.newRun, [run + 1, payload, now, now, id, run])
          })),
      sendEvent: (id, name, payload, now) =>
        notifying(
          write("sendEvent", (conn) => deliver(conn, id, conn.executeRaw(Q.insertEvent, [id, name, payload, now]))),
          delivered
        ),
      consumeEvent: (id, name, accept, entry) =>
        write("consumeEvent", (conn) =>
          Effect.gen(function*() {
            while (true) {
              const rows = yield* rowsOf<{ seq: number; payload: string }>(conn, Q.nextEvent, [id, name])
              const row = rows[0]
              if (row === undefined) return undefined
              yield* conn.executeRaw(Q.consume, [row.seq])
              if (!accept(row.payload)) continue
              yield* insertEntry(conn, entry(row.payload))
              return row.payload
            }
          })),
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
        notifying(
          write("requestCancel", (conn) => deliver(conn, id, conn.executeRaw(Q.requestCancel, [reason, now, id]))),
          delivered
        ),
      terminate: (id, reason, now) =>
        notifying(
          write("terminate", (conn) => deliver(conn, id, conn.executeRaw(Q.terminate, [reason, now, id]))),
          delivered
        ),
      purge: (filter) => {
        const statuses = ENDED.filter((s) => filter.statuses === undefined || filter.statuses.includes(s))
        if (statuses.length === 0) return Effect.succeed(0)
        const [select, params] = sql`SELECT * FROM loom_workflow WHERE status IN ${sql.in(statuses)}
          AND updated_at < ${filter.endedBefore} ORDER BY updated_at LIMIT ${PURGE_CHUNK}`.compile()
        // one transaction per chunk of runs, so that a large purge does not hold the writer for long
        const chunk = write("purge", (conn) =>
          Effect.flatMap(rowsOf<WorkflowRow>(conn, select, params), (rows) =>
            Effect.as(
              Effect.forEach(rows, (row) => {
                const r = fromRow(row)
                return Effect.all([
                  conn.executeRaw(Q.deleteJournal, [journalOwner(r), r.run]),
                  r.status === "continued" ? Effect.void : conn.executeRaw(Q.deleteEvents, [r.id]),
                  conn.executeRaw(Q.deleteWorkflow, [r.id])
                ], { discard: true })
              }, { discard: true }),
              rows.length
            )))
        const loop = (total: number): Effect.Effect<number, WorkflowStorageError> =>
          Effect.flatMap(chunk, (n) => n < PURGE_CHUNK ? Effect.succeed(total + n) : loop(total + n))
        return loop(0)
      },
      subscribeChanges: change.subscribe
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
