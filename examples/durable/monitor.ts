/**
 * Monitor: an eternal workflow that checks a service every interval, alerts when its status changes,
 * and continues as new after each check so that its history stays bounded (one run = one check).
 *
 * Run: npx tsx examples/durable/monitor.ts   (short interval so the run ends quickly)
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Activity from "../../src/Activity.js"
import * as Workflow from "../../src/Workflow.js"
import * as WorkflowEngine from "../../src/WorkflowEngine.js"
import { runIfMain } from "./runtime.js"

export const MonitorState = Schema.Struct({
  checkCount: Schema.Number,
  lastStatus: Schema.String,
  startTime: Schema.NullOr(Schema.Number),
  intervalMillis: Schema.Number,
  totalMillis: Schema.Number
})

export const Monitor = Workflow.make({ name: "Monitor", payload: MonitorState, success: Schema.String })

/** The probe's answers: healthy, except every third check. */
export const alerts: Array<string> = []

const checkHealth = (n: number) =>
  Activity.make({
    name: "CheckServiceHealth",
    success: Schema.String,
    execute: Effect.succeed(n % 3 === 2 ? "degraded" : "healthy")
  })

const sendAlert = (message: string) =>
  Activity.make({ name: "SendAlert", success: Schema.Void, execute: Effect.sync(() => void alerts.push(message)) })

export const MonitorLive = Monitor.toLayer((state) =>
  Effect.gen(function*() {
    const startTime = state.startTime ?? (yield* Workflow.now)
    const status = yield* checkHealth(state.checkCount)
    if (status !== state.lastStatus) yield* sendAlert(`status changed from ${state.lastStatus} to ${status}`)
    yield* Workflow.sleep(state.intervalMillis, "next-check")
    const elapsed = (yield* Workflow.now) - startTime
    if (elapsed < state.totalMillis) {
      return yield* Monitor.continueAsNew({ ...state, checkCount: state.checkCount + 1, lastStatus: status, startTime })
    }
    return `Monitoring complete after ${state.checkCount + 1} checks`
  })
)

export const program = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  yield* engine.start(Monitor, {
    id: "monitor-api",
    payload: { checkCount: 0, lastStatus: "unknown", startTime: null, intervalMillis: 20, totalMillis: 200 }
  })
  const result = yield* engine.result(Monitor, "monitor-api")
  const history = yield* engine.history("monitor-api")
  return { result, alerts, historyOfLastRun: history.map((h) => `${h.kind}:${h.name}`) }
})

runIfMain(import.meta.url, MonitorLive, program)
