/**
 * Shared plumbing of the durable examples: run a program against an engine on a fresh SQLite file
 * (in the OS temp directory) with the given workflows registered.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlWorkflowStorage from "../../src/SqlWorkflowStorage.js"
import * as WorkflowEngine from "../../src/WorkflowEngine.js"
import * as WorkflowStorage from "../../src/WorkflowStorage.js"

/** The engine with `workflows` registered, on the given storage. */
export const engineWith = <E, R>(
  workflows: Layer.Layer<never, E, R>,
  storage: Layer.Layer<WorkflowStorage.WorkflowStorage, unknown> = WorkflowStorage.layerMemory
) =>
  Layer.fresh(
    workflows.pipe(
      Layer.provideMerge(WorkflowEngine.layer({ pollInterval: "100 millis" })),
      Layer.provide(storage),
      Layer.orDie
    )
  )

/** Runs `program` on a temporary SQLite file when `moduleUrl` is the entry point (`npx tsx <file>`). */
export const runIfMain = <A, E, R>(
  moduleUrl: string,
  workflows: Layer.Layer<never, never, R>,
  program: Effect.Effect<A, E, WorkflowEngine.WorkflowEngine>
): void => {
  if (process.argv[1] === undefined || pathToFileURL(path.resolve(process.argv[1])).href !== moduleUrl) return
  const file = path.join(os.tmpdir(), `effect-loom-example-${process.pid}.db`)
  const layer = engineWith(workflows as Layer.Layer<never, never, never>, SqlWorkflowStorage.layerSqlite({ filename: file }))
  Effect.runPromise(program.pipe(Effect.provide(layer))).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
    },
    (error) => {
      process.stderr.write(`${String(error)}\n`)
      process.exitCode = 1
    }
  ).finally(() => {
    for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(file + suffix, { force: true })
  })
}
