/**
 * `WorkflowStorage` on `@effect/sql`. The SQL is portable (SQLite now, PostgreSQL next); schema
 * migrations run when the layer starts. Writes from concurrent workflows are group-committed: one
 * transaction per batch, each write acknowledged only after its batch committed.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/workflowStorageSql.js"
import { WorkflowConfigInvalid, WorkflowStorageError } from "./WorkflowError.js"
import { WorkflowStorage } from "./WorkflowStorage.js"

/**
 * Options of the SQL storage.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { SqlWorkflowStorage } from "effect-loom"
 * const o: SqlWorkflowStorage.Options = { maxBatch: 256 }
 */
export interface Options {
  /** Most writes grouped in one transaction (default 512). */
  readonly maxBatch?: number
}

/**
 * Options of the embedded SQLite storage.
 *
 * `synchronous` defaults to `"FULL"`: in WAL mode every commit is fsync'd before a step is acknowledged,
 * so a completed activity is never run again even after a power loss or an OS crash. `"NORMAL"` is
 * about 6× faster on single commits and still survives a crash of the process (the WAL is in the OS
 * cache), but the last commits can roll back on power loss — and then completed steps run again.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { SqlWorkflowStorage } from "effect-loom"
 * const o: SqlWorkflowStorage.SqliteOptions = { filename: "/tmp/loom.db", synchronous: "FULL" }
 */
export interface SqliteOptions extends Options {
  readonly filename: string
  readonly synchronous?: "FULL" | "NORMAL"
  /** How long a writer waits for another process's lock, in milliseconds (default 5000). */
  readonly busyTimeoutMillis?: number
}

const validateBatch = (maxBatch: number | undefined) =>
  maxBatch !== undefined && (!Number.isInteger(maxBatch) || maxBatch < 1)
    ? Effect.fail(new WorkflowConfigInvalid({ setting: "maxBatch", detail: `must be a positive integer, got ${maxBatch}` }))
    : Effect.succeed(maxBatch ?? 512)

/**
 * Storage on whatever `SqlClient` is provided (migrations run on start).
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { SqlWorkflowStorage } from "effect-loom"
 * const storage = SqlWorkflowStorage.layer({ maxBatch: 128 })
 */
export const layer = (
  options: Options = {}
): Layer.Layer<WorkflowStorage, WorkflowStorageError | WorkflowConfigInvalid, SqlClient.SqlClient> =>
  Layer.scoped(
    WorkflowStorage,
    Effect.flatMap(validateBatch(options.maxBatch), (maxBatch) => internal.make({ maxBatch }))
  )

/**
 * The embedded default: a SQLite file in WAL mode (see `SqliteOptions` for `synchronous`). Also provides
 * the `SqlClient`, so applications can keep their own tables in the same file.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import * as os from "node:os"
 * import * as path from "node:path"
 * import { SqlWorkflowStorage } from "effect-loom"
 * const storage = SqlWorkflowStorage.layerSqlite({ filename: path.join(os.tmpdir(), "loom.db") })
 */
export const layerSqlite = (
  options: SqliteOptions
): Layer.Layer<WorkflowStorage | SqlClient.SqlClient, WorkflowStorageError | WorkflowConfigInvalid> => {
  const client = Layer.unwrapEffect(Effect.gen(function*() {
    if (options.filename.length === 0) {
      return yield* new WorkflowConfigInvalid({ setting: "filename", detail: "must not be empty" })
    }
    const synchronous = options.synchronous ?? "FULL"
    if (synchronous !== "FULL" && synchronous !== "NORMAL") {
      return yield* new WorkflowConfigInvalid({ setting: "synchronous", detail: `must be FULL or NORMAL, got ${String(synchronous)}` })
    }
    const busy = options.busyTimeoutMillis ?? 5000
    if (!Number.isInteger(busy) || busy < 0) {
      return yield* new WorkflowConfigInvalid({ setting: "busyTimeoutMillis", detail: `must be a non-negative integer, got ${busy}` })
    }
    const pragmas = Layer.effectDiscard(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`PRAGMA busy_timeout = ${busy}`)
      yield* sql.unsafe(`PRAGMA synchronous = ${synchronous}`)
    }).pipe(Effect.mapError((e) => new WorkflowStorageError({ operation: "open", detail: e.message }))))
    const sqlite = SqliteClient.layer({ filename: options.filename }).pipe(
      Layer.mapError((e) => new WorkflowStorageError({ operation: "open", detail: String(e) }))
    )
    return Layer.provideMerge(pragmas, sqlite)
  }))
  return Layer.provideMerge(layer(options), client)
}
