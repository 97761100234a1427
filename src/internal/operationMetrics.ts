import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import { KIND_LEAF, type Plan } from "./plan.js"
import { statusNames, type Tracker } from "./tracker.js"

/** @internal */
export const runDuration = Metric.histogram(
  "effect_loom.operation.duration",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 18 }),
  "Duration of operation-tree runs in seconds, by root name (operation.name) and outcome"
)

/** @internal */
export const leaves = Metric.counter("effect_loom.operation.leaves", {
  description: "Leaves of finished operation-tree runs, by root name (operation.name) and final status (outcome)",
  incremental: true
})

const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit) ? "succeeded" : Exit.isInterrupted(exit) ? "cancelled" : "failed"

/**
 * Records a finished run: one histogram sample and one counter update per leaf status
 * present — O(nodes) once per run, nothing per leaf while it runs.
 *
 * @internal
 */
export const recordRun = (plan: Plan, tracker: Tracker, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
  Effect.suspend(() => {
    const name = plan.ops[0]!.name
    const byStatus = new Array<number>(statusNames.length).fill(0)
    for (let id = 0; id < plan.size; id++) {
      if (plan.kind[id] === KIND_LEAF) byStatus[tracker.status[id]!]!++
    }
    const started = tracker.startedAt[0]!
    const ended = tracker.endedAt[0]!
    const seconds = Number.isNaN(started) || Number.isNaN(ended) ? 0 : (ended - started) / 1000
    const updates: Array<Effect.Effect<void>> = [
      Metric.update(
        runDuration.pipe(Metric.tagged("operation.name", name), Metric.tagged("outcome", outcomeOf(exit))),
        seconds
      )
    ]
    const counter = leaves.pipe(Metric.tagged("operation.name", name))
    for (let code = 0; code < byStatus.length; code++) {
      const count = byStatus[code]!
      if (count > 0) updates.push(Metric.incrementBy(counter.pipe(Metric.tagged("outcome", statusNames[code]!)), count))
    }
    return Effect.all(updates, { discard: true })
  })
