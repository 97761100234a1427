/**
 * Workflow telemetry: run spans with activity and wait spans as children, the link of a resumed run to
 * its first execution (across two engines on one SQLite file), and the workflow metrics.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Activity from "../src/Activity.js"
import * as SqlWorkflowStorage from "../src/SqlWorkflowStorage.js"
import * as Workflow from "../src/Workflow.js"
import * as WorkflowEngine from "../src/WorkflowEngine.js"
import type * as WorkflowStorage from "../src/WorkflowStorage.js"
import { withEngine } from "./fixtures/durable-suite.js"
import { inMemoryTracer } from "./utils/spans.js"

let n = 0
const prefix = `loom-wf-tel-${process.pid}-`
afterAll(() => {
  for (const f of fs.readdirSync(os.tmpdir())) if (f.startsWith(prefix)) fs.rmSync(path.join(os.tmpdir(), f), { force: true })
})
const sqliteFile = () => path.join(os.tmpdir(), `${prefix}${Date.now()}-${n++}.db`)

const engine = WorkflowEngine.WorkflowEngine

/** A SQLite store kept open across the engines of one test. */
const sqlite = (file: string) =>
  Effect.orDie(Layer.build(Layer.fresh(SqlWorkflowStorage.layerSqlite({ filename: file })))) as Effect.Effect<
    Context.Context<WorkflowStorage.WorkflowStorage>,
    never,
    Scope.Scope
  >

const step = (name: string, fail = false) =>
  Activity.make({
    name,
    success: Schema.String,
    error: Schema.String,
    execute: fail ? Effect.fail(`${name} failed`) : Effect.succeed(name)
  })

/** Succeeds on its second attempt. */
const flaky = Activity.make({
  name: "Flaky",
  success: Schema.String,
  error: Schema.String,
  execute: Effect.flatMap(Activity.attempt, (attempt) => attempt < 2 ? Effect.fail("again") : Effect.succeed("Flaky")),
  retry: Schedule.recurs(2)
})

const byName = (spans: ReadonlyArray<ReadableSpan>, name: string) => spans.filter((s) => s.name === name)
const parentOf = (spans: ReadonlyArray<ReadableSpan>, span: ReadableSpan) =>
  spans.find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId)

describe("Workflow telemetry", () => {
  it.scopedLive("a run is a span with its activities and durable waits as children", () => {
    // the exporter forgets its spans when the SDK shuts down: assert inside the layer's lifetime
    const tracer = inMemoryTracer()
    return Effect.gen(function*() {
      const store = yield* sqlite(sqliteFile())
      const Tel = Workflow.make({ name: "TelSpans", payload: Schema.String, success: Schema.String, error: Schema.String })
      const live = Tel.toLayer((input) =>
        Effect.gen(function*() {
          const a = yield* step("Fetch")
          yield* Workflow.sleep("5 millis", "nap")
          const b = yield* flaky
          return `${input}:${a}:${b}`
        })
      )
      const result = yield* withEngine(store, live, Effect.flatMap(engine, (e) =>
        Effect.zipRight(e.start(Tel, { id: "tel-1", payload: "x" }), e.result(Tel, "tel-1"))))
      expect(result).toBe("x:Fetch:Flaky")
      const spans = tracer.spans()
      const [run] = byName(spans, "workflow TelSpans")
      expect(run).toBeDefined()
      expect(run!.attributes).toMatchObject({
        "workflow.id": "tel-1",
        "workflow.name": "TelSpans",
        "workflow.run": 0,
        "workflow.resumed": false
      })
      for (const name of ["activity Fetch", "activity Flaky", "workflow.sleep nap"]) {
        const [span] = byName(spans, name)
        expect(span, name).toBeDefined()
        expect(parentOf(spans, span!)?.name, name).toBe("workflow TelSpans")
        expect(span!.spanContext().traceId).toBe(run!.spanContext().traceId)
      }
      expect(byName(spans, "activity Fetch")[0]!.attributes).toMatchObject({
        "activity.name": "Fetch",
        "activity.attempt": 1,
        "workflow.id": "tel-1"
      })
      expect(byName(spans, "activity Flaky")[0]!.attributes["activity.attempt"]).toBe(2)
    }).pipe(Effect.provide(tracer.layer))
  })

  it.scopedLive("a run resumed by a new engine links its span to the first execution's span", () => {
    const tracer = inMemoryTracer()
    return Effect.gen(function*() {
      const store = yield* sqlite(sqliteFile())
      const Tel = Workflow.make({ name: "TelResume", payload: Schema.Void, success: Schema.String })
      const live = Tel.toLayer(() =>
        Effect.gen(function*() {
          const a = yield* Effect.orDie(step("Before"))
          const go = yield* Workflow.awaitEvent("go", Schema.String)
          const b = yield* Effect.orDie(step("After"))
          return `${a}:${go}:${b}`
        })
      )
      // first engine: runs until the event wait, then stops (its run span ends interrupted)
      const history = yield* withEngine(store, live, Effect.gen(function*() {
        const e = yield* engine
        yield* e.start(Tel, { id: "tel-r", payload: undefined })
        for (let i = 0; i < 400 && (yield* e.status("tel-r")).status !== "waiting"; i++) yield* Effect.sleep("5 millis")
        return yield* e.history("tel-r")
      }))
      expect(history.map((h) => h.kind)).toEqual(["trace", "activity"])
      // second engine on the same file: signal, finish
      const result = yield* withEngine(store, live, Effect.flatMap(engine, (e) =>
        Effect.zipRight(e.signal("tel-r", "go", "yes"), e.result(Tel, "tel-r"))))
      expect(result).toBe("Before:yes:After")
      const runs = byName(tracer.spans(), "workflow TelResume")
      expect(runs.length).toBe(2)
      const [first, resumed] = runs
      expect(first!.links).toEqual([])
      expect(resumed!.attributes["workflow.resumed"]).toBe(true)
      expect(resumed!.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([
        [first!.spanContext().traceId, first!.spanContext().spanId]
      ])
      // the replayed activity is not executed (no span) in the resumed run; the new one is its child
      expect(byName(tracer.spans(), "activity Before").length).toBe(1)
      const [after] = byName(tracer.spans(), "activity After")
      expect(parentOf(tracer.spans(), after!)?.spanContext().spanId).toBe(resumed!.spanContext().spanId)
      expect(byName(tracer.spans(), "workflow.event go").length).toBeGreaterThanOrEqual(1)
    }).pipe(Effect.provide(tracer.layer))
  })

  it.scopedLive("a run that continued as new links its span to the run before it", () => {
    const tracer = inMemoryTracer()
    return Effect.gen(function*() {
      const store = yield* sqlite(sqliteFile())
      const Tel = Workflow.make({ name: "TelContinue", payload: Schema.Number, success: Schema.String })
      const live = Tel.toLayer((round) =>
        Effect.gen(function*() {
          const done = yield* Effect.orDie(step(`Round${round}`))
          return round < 2 ? yield* Workflow.continueAsNew(Tel, round + 1) : done
        })
      )
      const result = yield* withEngine(store, live, Effect.flatMap(engine, (e) =>
        Effect.zipRight(e.start(Tel, { id: "tel-c", payload: 1 }), e.result(Tel, "tel-c"))))
      expect(result).toBe("Round2")
      const runs = byName(tracer.spans(), "workflow TelContinue")
      expect(runs.map((r) => r.attributes["workflow.run"])).toEqual([0, 1])
      const [first, second] = runs
      expect(first!.links).toEqual([])
      expect(second!.links.map((l) => [l.context.traceId, l.context.spanId, l.attributes?.["workflow.link"]])).toEqual([
        [first!.spanContext().traceId, first!.spanContext().spanId, "previous-run"]
      ])
    }).pipe(Effect.provide(tracer.layer))
  })

  it.scopedLive("without a tracer no span ids are journaled", () =>
    Effect.gen(function*() {
      const store = yield* sqlite(sqliteFile())
      const Tel = Workflow.make({ name: "TelOff", payload: Schema.Void, success: Schema.String, error: Schema.String })
      const live = Tel.toLayer(() => step("Only"))
      const history = yield* withEngine(store, live, Effect.flatMap(engine, (e) =>
        Effect.zipRight(Effect.zipRight(e.start(Tel, { id: "off", payload: undefined }), e.result(Tel, "off")), e.history("off"))))
      expect(history.map((h) => `${h.kind} ${h.name}`)).toEqual(["activity Only"])
    }))

  it.scopedLive("metrics: starts, completions, failures, activity durations, queue depth", () =>
    Effect.gen(function*() {
      const store = yield* sqlite(sqliteFile())
      const Tel = Workflow.make({ name: "TelMetrics", payload: Schema.Boolean, success: Schema.String, error: Schema.String })
      const live = Tel.toLayer((fail) => Effect.zipRight(step("Work"), step("Finish", fail)))
      const tagged = <T, I, O>(metric: Metric.Metric<T, I, O>) => metric.pipe(Metric.tagged("workflow.name", "TelMetrics"))
      const results = yield* withEngine(store, live, Effect.gen(function*() {
        const e = yield* engine
        yield* e.start(Tel, { id: "m-ok-1", payload: false })
        yield* e.start(Tel, { id: "m-ok-2", payload: false })
        yield* e.start(Tel, { id: "m-ok-2", payload: false }) // a repeated start is not a start
        yield* e.start(Tel, { id: "m-bad", payload: true })
        return yield* Effect.all([
          Effect.either(e.result(Tel, "m-ok-1")),
          Effect.either(e.result(Tel, "m-ok-2")),
          Effect.either(e.result(Tel, "m-bad"))
        ])
      }))
      expect(results).toEqual([Either.right("Finish"), Either.right("Finish"), Either.left("Finish failed")])
      expect((yield* Metric.value(tagged(WorkflowEngine.workflowStarts))).count).toBe(3)
      expect((yield* Metric.value(tagged(WorkflowEngine.workflowCompletions))).count).toBe(2)
      expect((yield* Metric.value(tagged(WorkflowEngine.workflowFailures))).count).toBe(1)
      const duration = (name: string, outcome: string) =>
        Metric.value(Activity.duration.pipe(Metric.tagged("activity.name", name), Metric.tagged("outcome", outcome)))
      expect((yield* duration("Work", "success")).count).toBe(3)
      expect((yield* duration("Finish", "success")).count).toBe(2)
      expect((yield* duration("Finish", "failure")).count).toBe(1)

      // queue depth: a client stores workflows `pending`; the next poll of an engine counts them
      const Other = Workflow.make({ name: "TelQueued", payload: Schema.Void, success: Schema.Void })
      const depth = yield* Effect.scoped(
        Effect.flatMap(
          Layer.build(Layer.fresh(WorkflowEngine.layerClient({ pollInterval: "20 millis" }).pipe(
            Layer.provide(Layer.succeedContext(store)),
            Layer.orDie
          ))),
          (context) =>
            Effect.gen(function*() {
              const client = yield* Effect.provide(engine, context)
              yield* client.start(Other, { id: "q-1", payload: undefined })
              yield* client.start(Other, { id: "q-2", payload: undefined })
              yield* Effect.sleep("100 millis")
              return (yield* Metric.value(WorkflowEngine.queueDepth)).value
            })
        )
      )
      expect(depth).toBe(2)
    }))
})
