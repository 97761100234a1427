/** Shared pieces of the SIGKILL crash tests: waiting on a worker's output and talking to its SQLite file. */
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlClient as SqlClientTag } from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlWorkflowStorage from "../../src/SqlWorkflowStorage.js"
import * as WorkflowEngine from "../../src/WorkflowEngine.js"

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `check` every 25 ms, `attempts` times at most, then throws naming `what`. */
export const waitFor = async (check: () => boolean | Promise<boolean>, what: string, attempts = 800) => {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return
    await sleep(25)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Waits until a worker printed exactly `text`. */
export const line = (text: string) => (lines: ReadonlyArray<string>) => waitFor(() => lines.includes(text), text)

/**
 * Runs `f` with an engine and the SQL client on the SQLite `file`, from the test process: `"client"`
 * registers no workflow and runs none; `"worker"` is a full engine (with no workflow registered).
 */
export const onFile = <A, E>(
  file: string,
  kind: "client" | "worker",
  f: (engine: WorkflowEngine.WorkflowEngineService, sql: SqlClient.SqlClient) => Effect.Effect<A, E>
) =>
  Effect.runPromise(
    Effect.gen(function*() {
      return yield* f(yield* WorkflowEngine.WorkflowEngine, yield* SqlClientTag)
    }).pipe(
      Effect.provide(
        (kind === "client" ? WorkflowEngine.layerClient() : WorkflowEngine.layer()).pipe(
          Layer.provideMerge(SqlWorkflowStorage.layerSqlite({ filename: file }))
        )
      ),
      Effect.orDie
    )
  )
