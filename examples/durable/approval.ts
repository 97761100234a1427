/**
 * Human in the loop: ask for approval, wait up to 24 hours for the answer (a durable timer racing an
 * external event), escalate on timeout and wait again. The timer and the wait survive restarts; the
 * answer can be sent with `effect-loom workflows signal <id> ApprovalResponse '{"approved":true,"by":"ann"}'`.
 *
 * Run: npx tsx examples/durable/approval.ts
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Activity from "../../src/Activity.js"
import * as Workflow from "../../src/Workflow.js"
import * as WorkflowEngine from "../../src/WorkflowEngine.js"
import { runIfMain } from "./runtime.js"

export const ApprovalResponse = Schema.Struct({ approved: Schema.Boolean, by: Schema.String })

export const Approval = Workflow.make({
  name: "Approval",
  payload: Schema.Struct({ request: Schema.String, approver: Schema.String, escalateTo: Schema.String }),
  success: Schema.Struct({ decision: ApprovalResponse, escalated: Schema.Boolean })
})

const notify = (name: string, to: string, request: string) =>
  Activity.make({
    name,
    success: Schema.String,
    execute: Effect.as(Effect.logInfo(`${name}: asking ${to} about ${request}`), to)
  })

export const ApprovalLive = Approval.toLayer(({ approver, escalateTo, request }) =>
  Effect.gen(function*() {
    yield* notify("SendApprovalRequest", approver, request)
    const first = yield* Workflow.select([
      Effect.map(Workflow.awaitEvent("ApprovalResponse", ApprovalResponse), Option.some),
      Effect.as(Workflow.sleep("24 hours", "approval-timeout"), Option.none())
    ])
    if (Option.isSome(first.value)) return { decision: first.value.value, escalated: false }
    yield* Effect.logWarning("approval timed out, escalating")
    yield* notify("EscalateApproval", escalateTo, request)
    const decision = yield* Workflow.awaitEvent("ApprovalResponse", ApprovalResponse)
    return { decision, escalated: true }
  })
)

export const program = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  yield* engine.start(Approval, {
    id: "expense-7",
    payload: { request: "expense 7", approver: "ann", escalateTo: "bob" }
  })
  yield* engine.signal("expense-7", "ApprovalResponse", { approved: true, by: "ann" })
  return yield* engine.result(Approval, "expense-7")
})

runIfMain(import.meta.url, ApprovalLive, program)
