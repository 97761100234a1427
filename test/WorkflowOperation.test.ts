/**
 * Operation trees inside durable workflows: leaves are journaled by their path, so completed leaves
 * replay after a restart whatever worker fiber picks them, and the tree's status is rebuilt from the
 * workflow's history. Runs against the memory and the SQLite storage.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Activity from "../src/Activity.js"
import * as Operation from "../src/Operation.js"
import * as SqlWorkflowStorage from "../src/SqlWorkflowStorage.js"
import * as Workflow from "../src/Workflow.js"
import * as WorkflowEngine from "../src/WorkflowEngine.js"
import * as WorkflowStorage from "../src/WorkflowStorage.js"
import { withEngine } from "./fixtures/durable-suite.js"

const LiveClock = Clock.make()
const engine = WorkflowEngine.WorkflowEngine

let n = 0
const prefix = `loom-wf-op-${process.pid}-`
afterAll(() => {
  for (const f of fs.readdirSync(os.tmpdir())) if (f.startsWith(prefix)) fs.rmSync(path.join(os.tmpdir(), f), { force: true })
})

const storages: ReadonlyArray<readonly [string, () => Layer.Layer<WorkflowStorage.WorkflowStorage, unknown>]> = [
  ["memory", () => WorkflowStorage.layerMemory],
  ["SQLite", () => SqlWorkflowStorage.layerSqlite({ filename: path.join(os.tmpdir(), `${prefix}${Date.now()}-${n++}.db`) })]
]

const statusLines = (tree: Operation.Any, id: string) =>
  Effect.flatMap(engine, (e) =>
    Effect.zipWith(e.history(id), e.status(id), (history, record) =>
      Workflow.operationStatus(tree, history, record).map((node) => `${node.path} ${node.status}`)))

for (const [storageName, storageLayer] of storages) {
  describe(`Operation trees inside workflows (${storageName})`, () => {
    const storage: Effect.Effect<Context.Context<WorkflowStorage.WorkflowStorage>, never, Scope.Scope> = Effect.suspend(
      () => Effect.orDie(Layer.build(Layer.fresh(storageLayer())))
    )

    it.scoped("completed leaves replay after a restart; the tree's status is rebuilt from the history", () =>
      Effect.gen(function*() {
        const store = yield* storage
        const runs = new Map<string, number>()
        const act = (name: string, millis = 0) =>
          Activity.make({
            name,
            success: Schema.String,
            execute: Effect.sync(() => (runs.set(name, (runs.get(name) ?? 0) + 1), name)).pipe(
              Effect.delay(`${millis} millis`),
              Effect.withClock(LiveClock)
            )
          })
        // six leaves on two workers finishing out of order: which worker runs which leaf is timing
        const tree = Operation.sequence("job", [
          Operation.parallel(
            "fetch",
            [1, 2, 3, 4, 5, 6].map((i) => Operation.leaf(`item${i}`, act(`Item${i}`, (i % 3) * 4))),
            { concurrency: 2 }
          ),
          Operation.leaf("approve", Workflow.awaitEvent("go", Schema.String)),
          Operation.leaf("finish", act("Finish"))
        ])
        const Job = Workflow.make({ name: "TreeJob", payload: Schema.Void, success: Schema.String })
        const live = Job.toLayer(() =>
          Effect.map(Effect.orDie(Operation.run(tree)), ([items, go, done]) => [...items, go, done].join(","))
        )
        const midway = yield* withEngine(store, live, Effect.gen(function*() {
          yield* (yield* engine).start(Job, { id: "job-1", payload: undefined })
          yield* Effect.repeat((yield* engine).status("job-1"), {
            until: (r) => r.status === "waiting",
            schedule: Schedule.spaced("5 millis")
          }).pipe(Effect.withClock(LiveClock))
          return yield* statusLines(tree, "job-1")
        }))
        expect(midway).toEqual([
          "job running",
          "job/fetch succeeded",
          ...[1, 2, 3, 4, 5, 6].map((i) => `job/fetch/item${i} succeeded`),
          "job/approve running",
          "job/finish pending"
        ])
        const [result, after] = yield* withEngine(store, live, Effect.gen(function*() {
          const e = yield* engine
          yield* e.signal("job-1", "go", "ok")
          return [yield* e.result(Job, "job-1"), yield* statusLines(tree, "job-1")] as const
        }))
        expect(result).toBe("Item1,Item2,Item3,Item4,Item5,Item6,ok,Finish")
        for (const [name, count] of runs) expect([name, count]).toEqual([name, 1])
        expect(runs.size).toBe(7)
        expect(after.every((line) => line.endsWith(" succeeded"))).toBe(true)
        expect(after.length).toBe(10)
      }))

    it.scoped("a failed leaf is failed in the durable status; a leaf retry journals each attempt", () =>
      Effect.gen(function*() {
        const store = yield* storage
        let attempts = 0
        const flaky = Activity.make({
          name: "Flaky",
          success: Schema.String,
          error: Schema.String,
          execute: Effect.suspend(() => ++attempts < 2 ? Effect.fail("try again") : Effect.succeed("ok"))
        })
        const broken = Activity.make({ name: "Broken", success: Schema.String, error: Schema.String, execute: Effect.fail("broken") })
        const tree = Operation.sequence("job", [
          Operation.leaf("flaky", flaky).pipe(Operation.withRetry(Schedule.recurs(2))),
          Operation.leaf("broken", broken),
          Operation.leaf("never", flaky)
        ])
        const Job = Workflow.make({ name: "TreeFail", payload: Schema.Void, success: Schema.String, error: Schema.String })
        const live = Job.toLayer(() =>
          Effect.as(Operation.run(tree), "done").pipe(Effect.catchAll((e) => Effect.fail(typeof e === "string" ? e : e.message)))
        )
        const [history, lines] = yield* withEngine(store, live, Effect.gen(function*() {
          const e = yield* engine
          yield* e.start(Job, { id: "job-f", payload: undefined })
          yield* Effect.either(e.result(Job, "job-f"))
          return [yield* e.history("job-f"), yield* statusLines(tree, "job-f")] as const
        }))
        // the retried leaf's attempts are two journaled steps of the leaf, then its outcome
        expect(history.map((h) => `${h.step} ${h.kind} ${(h.outcome as { _tag: string })._tag}`)).toEqual([
          "1:job/flaky:1 activity Failure",
          "1:job/flaky:2 activity Success",
          "1:job/flaky:3 leaf Success",
          "1:job/broken:1 activity Failure",
          "1:job/broken:2 leaf Failure"
        ])
        expect(lines).toEqual(["job failed", "job/flaky succeeded", "job/broken failed", "job/never pending"])
      }))
  })
}
