/**
 * State management with continue-as-new: process a large job one batch per run; each run processes a
 * batch in parallel and continues as new with the updated state, so the journal never holds more than
 * one batch.
 *
 * Run: npx tsx examples/durable/batch-state.ts
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Activity from "../../src/Activity.js"
import * as Workflow from "../../src/Workflow.js"
import * as WorkflowEngine from "../../src/WorkflowEngine.js"
import { runIfMain } from "./runtime.js"

export const BatchState = Schema.Struct({
  itemsProcessed: Schema.Number,
  totalItems: Schema.Number,
  batchSize: Schema.Number,
  results: Schema.Array(Schema.String)
})

export const BatchWorkflow = Workflow.make({ name: "BatchWorkflow", payload: BatchState, success: Schema.String })

const processItem = (i: number) =>
  Activity.make({ name: "ProcessItem", success: Schema.String, execute: Effect.succeed(`item-${i}`) })

export const BatchWorkflowLive = BatchWorkflow.toLayer((state) =>
  Effect.gen(function*() {
    const end = Math.min(state.itemsProcessed + state.batchSize, state.totalItems)
    const batch = Array.from({ length: end - state.itemsProcessed }, (_, i) => state.itemsProcessed + i)
    const processed = yield* Effect.forEach(batch, processItem, { concurrency: "unbounded" })
    const next = { ...state, itemsProcessed: end, results: [...state.results, ...processed] }
    if (next.itemsProcessed < next.totalItems) return yield* BatchWorkflow.continueAsNew(next)
    return `Processed ${next.totalItems} items with ${next.results.length} results`
  })
)

export const program = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  yield* engine.start(BatchWorkflow, {
    id: "batch-job",
    payload: { itemsProcessed: 0, totalItems: 95, batchSize: 10, results: [] }
  })
  const result = yield* engine.result(BatchWorkflow, "batch-job")
  const record = yield* engine.status("batch-job")
  const history = yield* engine.history("batch-job")
  return { result, runs: record.run + 1, journalEntriesOfLastRun: history.length }
})

runIfMain(import.meta.url, BatchWorkflowLive, program)
