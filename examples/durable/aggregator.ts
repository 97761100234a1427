/**
 * Aggregator: fetch from every source in parallel, each fetch racing its own 5-second durable timer;
 * aggregate what arrived in time. Each race's winner is journaled, so a replay keeps the same sources.
 *
 * Run: npx tsx examples/durable/aggregator.ts
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Activity from "../../src/Activity.js"
import * as Workflow from "../../src/Workflow.js"
import * as WorkflowEngine from "../../src/WorkflowEngine.js"
import { runIfMain } from "./runtime.js"

export class NoDataSources extends Schema.TaggedError<NoDataSources>()("NoDataSources", {}) {}

export const Source = Schema.Struct({ name: Schema.String, latencyMillis: Schema.Number })

export const DataAggregator = Workflow.make({
  name: "DataAggregator",
  payload: Schema.Array(Source),
  success: Schema.Struct({ total: Schema.Number, from: Schema.Array(Schema.String) }),
  error: NoDataSources
})

const fetchData = (source: typeof Source.Type) =>
  Activity.make({
    name: "FetchData",
    success: Schema.Struct({ source: Schema.String, value: Schema.Number }),
    execute: Effect.as(Effect.sleep(source.latencyMillis), { source: source.name, value: source.name.length })
  })

const aggregate = (values: ReadonlyArray<{ readonly source: string; readonly value: number }>) =>
  Activity.make({
    name: "AggregateData",
    success: Schema.Struct({ total: Schema.Number, from: Schema.Array(Schema.String) }),
    execute: Effect.succeed({ total: values.reduce((s, v) => s + v.value, 0), from: values.map((v) => v.source) })
  })

export const DataAggregatorLive = DataAggregator.toLayer((sources) =>
  Effect.gen(function*() {
    const results = yield* Effect.forEach(
      sources,
      (source) =>
        Workflow.race(
          Effect.map(fetchData(source), Option.some),
          Effect.as(Workflow.sleep("5 seconds", `timeout-${source.name}`), Option.none())
        ).pipe(Effect.tap((r) => Option.isNone(r) ? Effect.logWarning(`no data from ${source.name}`) : Effect.void)),
      { concurrency: "unbounded" }
    )
    const valid = results.flatMap((r) => Option.toArray(r))
    if (valid.length === 0) return yield* new NoDataSources()
    return yield* aggregate(valid)
  })
)

export const program = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  yield* engine.start(DataAggregator, {
    id: "aggregate-1",
    payload: [
      { name: "fast", latencyMillis: 10 },
      { name: "medium", latencyMillis: 50 },
      { name: "stuck", latencyMillis: 60_000 }
    ]
  })
  return yield* engine.result(DataAggregator, "aggregate-1")
})

runIfMain(import.meta.url, DataAggregatorLive, program)
