/**
 * Saga: create resources one after the other; when a later step fails, undo the finished ones in
 * reverse order. Compensations are journaled activities: a crash while compensating resumes
 * compensating and never repeats a finished compensation. `cancel` runs them too; `terminate` does not.
 *
 * Run: npx tsx examples/durable/saga.ts
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Activity from "../../src/Activity.js"
import * as Workflow from "../../src/Workflow.js"
import * as WorkflowEngine from "../../src/WorkflowEngine.js"
import { runIfMain } from "./runtime.js"

export class LinkFailed extends Schema.TaggedError<LinkFailed>()("LinkFailed", { a: Schema.String, b: Schema.String }) {}

export const SagaTransaction = Workflow.make({
  name: "SagaTransaction",
  payload: Schema.Struct({ data: Schema.String, failLink: Schema.Boolean }),
  success: Schema.String,
  error: LinkFailed
})

/** What the compensations did, for the example's output and tests. */
export const deleted: Array<string> = []

const create = (kind: string, data: string) =>
  Activity.make({ name: `Create${kind}`, success: Schema.String, execute: Effect.succeed(`${kind}-${data}`) })

const remove = (id: string) =>
  Activity.make({ name: "DeleteResource", success: Schema.Void, execute: Effect.sync(() => void deleted.push(id)) })

export const SagaTransactionLive = SagaTransaction.toLayer(({ data, failLink }) =>
  Effect.gen(function*() {
    const a = yield* create("A", data).pipe(Workflow.withCompensation((id) => remove(id)))
    const b = yield* create("B", a).pipe(Workflow.withCompensation((id) => remove(id)))
    const link = yield* Activity.make({
      name: "LinkResources",
      success: Schema.String,
      error: LinkFailed,
      execute: failLink ? Effect.fail(new LinkFailed({ a, b })) : Effect.succeed(`${a}<->${b}`)
    })
    return `Transaction complete: ${link}`
  })
)

export const program = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  yield* engine.start(SagaTransaction, { id: "saga-ok", payload: { data: "x", failLink: false } })
  yield* engine.start(SagaTransaction, { id: "saga-fail", payload: { data: "y", failLink: true } })
  return {
    ok: yield* engine.result(SagaTransaction, "saga-ok"),
    failed: yield* Effect.either(engine.result(SagaTransaction, "saga-fail")),
    compensated: deleted
  }
})

runIfMain(import.meta.url, SagaTransactionLive, program)
