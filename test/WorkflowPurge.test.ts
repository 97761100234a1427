/**
 * Retention: `purge` deletes ended runs (with their journals and events) that ended before a cut-off,
 * never an active one; bad requests fail typed and delete nothing. Same suite on memory and SQLite.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as Activity from "../src/Activity.js"
import * as SqlWorkflowStorage from "../src/SqlWorkflowStorage.js"
import * as Workflow from "../src/Workflow.js"
import * as WorkflowEngine from "../src/WorkflowEngine.js"
import * as WorkflowStorage from "../src/WorkflowStorage.js"

const prefix = `loom-purge-test-${process.pid}-`
let n = 0
afterAll(() => {
  for (const f of fs.readdirSync(os.tmpdir())) if (f.startsWith(prefix)) fs.rmSync(path.join(os.tmpdir(), f), { force: true })
})

const DAY = 86_400_000
const Job = Workflow.make({ name: "Job", payload: Schema.Boolean, success: Schema.String, error: Schema.String })
const Looper = Workflow.make({ name: "Looper", payload: Schema.Number, success: Schema.Number })
const Inbox = Workflow.make({ name: "Inbox", payload: Schema.Void, success: Schema.Number })
const workflows = Layer.mergeAll(
  Job.toLayer((ok) =>
    Activity.make({
      name: "Work",
      success: Schema.String,
      error: Schema.String,
      execute: ok ? Effect.succeed("done") : Effect.fail("broken")
    })
  ),
  Looper.toLayer((i) =>
    Effect.gen(function*() {
      yield* Activity.make({ name: `Round${i}`, success: Schema.Number, execute: Effect.succeed(i) })
      return i < 2 ? yield* Looper.continueAsNew(i + 1) : i
    })
  ),
  Inbox.toLayer(() => Workflow.awaitEvent("n", Schema.Number))
)

const liveClock = Clock.make()
const waitUntil = (e: WorkflowEngine.WorkflowEngineService, id: string, status: WorkflowStorage.WorkflowStatus) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      if ((yield* e.status(id)).status === status) return
      yield* Effect.sleep("5 millis")
    }
    return yield* Effect.dieMessage(`${id} never became ${status}`)
  }).pipe(Effect.withClock(liveClock))

/** A worker engine (polling once an hour) over a fresh storage; returns the engine and the storage context. */
const engineOn = (layer: () => Layer.Layer<WorkflowStorage.WorkflowStorage, unknown>) =>
  Effect.gen(function*() {
    const storage = yield* Effect.orDie(Layer.build(Layer.fresh(layer())))
    const context = yield* Layer.build(Layer.fresh(workflows.pipe(
      Layer.provideMerge(WorkflowEngine.layer({ pollInterval: "1 hour" })),
      Layer.provide(Layer.succeedContext(storage)),
      Layer.orDie
    )))
    return { e: Context.get(context, WorkflowEngine.WorkflowEngine), storage }
  })

const suite = (name: string, layer: () => Layer.Layer<WorkflowStorage.WorkflowStorage, unknown>) =>
  describe(`purge on ${name}`, () => {
    it.scoped("deletes runs that ended before the cut-off with their journals, keeps the rest", () =>
      Effect.gen(function*() {
        const { e, storage: storageContext } = yield* engineOn(layer)
        const storage = Context.get(storageContext, WorkflowStorage.WorkflowStorage)
        // day 0: a completed, a failed, a run that continued as new twice, an event consumed by a run
        yield* e.start(Job, { id: "ok", payload: true })
        yield* e.start(Job, { id: "bad", payload: false })
        yield* e.start(Looper, { id: "loop", payload: 0 })
        yield* e.start(Inbox, { id: "mail", payload: undefined })
        yield* Effect.exit(e.result(Job, "ok"))
        yield* Effect.exit(e.result(Job, "bad"))
        yield* e.result(Looper, "loop")
        yield* waitUntil(e, "mail", "waiting")
        yield* e.signal("mail", "n", 1)
        yield* e.result(Inbox, "mail")
        // day 2: one more completed run, and one still waiting
        yield* TestClock.adjust(2 * DAY)
        yield* e.start(Job, { id: "recent", payload: true })
        yield* e.result(Job, "recent")
        yield* e.start(Inbox, { id: "open", payload: undefined })
        yield* waitUntil(e, "open", "waiting")

        const ids = Effect.map(e.list(), (records) => records.map((r) => r.id).sort())
        expect(yield* ids).toEqual(["bad", "loop", "loop#0", "loop#1", "mail", "ok", "open", "recent"])
        const now = yield* Clock.currentTimeMillis
        // only the failed one, first
        expect(yield* e.purge({ endedBefore: now - DAY, statuses: ["failed"] })).toBe(1)
        expect(yield* Effect.flip(e.status("bad"))).toMatchObject({ _tag: "WorkflowNotFound" })
        expect(yield* e.purge({ endedBefore: now - DAY })).toBe(5)
        expect(yield* ids).toEqual(["open", "recent"])
        for (const [id, run] of [["ok", 0], ["loop", 0], ["loop", 1], ["loop", 2], ["mail", 0]] as const) {
          expect(yield* storage.journal(id, run)).toEqual([])
        }
        expect((yield* e.history("recent")).map((h) => h.name)).toEqual(["Work"])
        // nothing left to purge before the cut-off; the active run is never purged, whatever the time
        expect(yield* e.purge({ endedBefore: now - DAY })).toBe(0)
        expect(yield* e.purge({ endedBefore: now + DAY })).toBe(1)
        expect(yield* ids).toEqual(["open"])
        // SQLite: the consumed event of the purged run is gone too
        const sql = Option.getOrUndefined(yield* Effect.serviceOption(SqlClient.SqlClient).pipe(Effect.provide(storageContext)))
        if (sql !== undefined) {
          const rows = yield* Effect.orDie(sql<{ n: number }>`SELECT COUNT(*) AS n FROM loom_event WHERE workflow_id = ${"mail"}`)
          expect(Number(rows[0]!.n)).toBe(0)
        }
        yield* e.signal("open", "n", 2)
        expect(yield* e.result(Inbox, "open")).toBe(2)
      }))

    it.scoped("bad requests fail with WorkflowPurgeInvalid and delete nothing", () =>
      Effect.gen(function*() {
        const { e } = yield* engineOn(layer)
        yield* e.start(Job, { id: "ok", payload: true })
        yield* e.result(Job, "ok")
        const later = (yield* Clock.currentTimeMillis) + DAY
        const errors = yield* Effect.forEach([
          { endedBefore: Number.NaN },
          { endedBefore: later, statuses: [] },
          { endedBefore: later, statuses: ["completed", "running"] as const },
          { endedBefore: later, statuses: ["bogus" as WorkflowStorage.WorkflowStatus] }
        ], (filter) => Effect.flip(e.purge(filter)))
        expect(errors.map((x) => x._tag)).toEqual(Array(4).fill("WorkflowPurgeInvalid"))
        expect(errors[2]!.message).toContain("running is not an ended status")
        expect((yield* e.list()).map((r) => r.id)).toEqual(["ok"])
      }))
  })

suite("memory", () => WorkflowStorage.layerMemory)
suite("SQLite", () => SqlWorkflowStorage.layerSqlite({ filename: path.join(os.tmpdir(), `${prefix}${n++}.db`) }))
