/**
 * Fan-out / fan-in: process items in parallel and aggregate. The number of branches is decided at run
 * time (dynamic fan-out). Each branch is an activity with its own journal entry, identified by its
 * place in the program, so a replay matches results to branches whatever order they completed in.
 *
 * Run: npx tsx examples/durable/batch-processor.ts
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Activity from "../../src/Activity.js"
import * as Workflow from "../../src/Workflow.js"
import * as WorkflowEngine from "../../src/WorkflowEngine.js"
import { runIfMain } from "./runtime.js"

export const BatchProcessor = Workflow.make({
  name: "BatchProcessor",
  payload: Schema.Array(Schema.String),
  success: Schema.Struct({ successful: Schema.Number, failed: Schema.Number })
})

export const processItem = (item: string) =>
  Activity.make({
    name: "ProcessItem",
    success: Schema.String,
    error: Schema.String,
    execute: item.startsWith("bad") ? Effect.fail(`cannot process ${item}`) : Effect.succeed(item.toUpperCase())
  })

export const BatchProcessorLive = BatchProcessor.toLayer((items) =>
  Effect.gen(function*() {
    const results = yield* Effect.forEach(items, (item) => Effect.either(processItem(item)), {
      concurrency: "unbounded"
    })
    const successful = results.filter((r) => r._tag === "Right").length
    return { successful, failed: results.length - successful }
  })
)

export const DynamicFanOut = Workflow.make({ name: "DynamicFanOut", payload: Schema.Number, success: Schema.String })

export const DynamicFanOutLive = DynamicFanOut.toLayer((count) =>
  Effect.gen(function*() {
    const results = yield* Effect.forEach(
      Array.from({ length: count }, (_, i) => `task-${i}`),
      (task) => Activity.make({ name: "ProcessTask", success: Schema.String, execute: Effect.succeed(`${task} done`) }),
      { concurrency: 10 }
    )
    return `Completed ${results.length} tasks`
  })
)

export const program = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  yield* engine.start(BatchProcessor, { id: "batch-1", payload: ["a", "bad-b", "c"] })
  yield* engine.start(DynamicFanOut, { id: "fan-1", payload: 25 })
  return {
    batch: yield* engine.result(BatchProcessor, "batch-1"),
    fanOut: yield* engine.result(DynamicFanOut, "fan-1")
  }
})

export const layer = Layer.mergeAll(BatchProcessorLive, DynamicFanOutLive)

runIfMain(import.meta.url, layer, program)
