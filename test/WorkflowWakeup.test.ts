/**
 * Wake-ups without the poll: the engines here poll once an hour, so every completion below comes from
 * the timer of the durable sleep itself, or from a write through the same storage layer waking the
 * worker — never from the poll. A regression would hang a test until its timeout (no timing asserted).
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Activity from "../src/Activity.js"
import * as SqlWorkflowStorage from "../src/SqlWorkflowStorage.js"
import * as Workflow from "../src/Workflow.js"
import * as WorkflowEngine from "../src/WorkflowEngine.js"
import * as WorkflowStorage from "../src/WorkflowStorage.js"

const prefix = `loom-wakeup-test-${process.pid}-`
let n = 0
afterAll(() => {
  for (const f of fs.readdirSync(os.tmpdir())) if (f.startsWith(prefix)) fs.rmSync(path.join(os.tmpdir(), f), { force: true })
})

const HOUR = "1 hour"
type Storage = Context.Context<WorkflowStorage.WorkflowStorage>

/** Runs `body` with an engine (worker, or client when `client`) over the shared storage context. */
const withEngine = <A, E>(
  storage: Storage,
  workflows: Layer.Layer<never, never, WorkflowEngine.WorkflowEngine>,
  body: Effect.Effect<A, E, WorkflowEngine.WorkflowEngine>,
  client = false
): Effect.Effect<A, E> =>
  Effect.scoped(
    Effect.flatMap(
      Layer.build(Layer.fresh(
        workflows.pipe(
          Layer.provideMerge(
            client ? WorkflowEngine.layerClient({ pollInterval: HOUR }) : WorkflowEngine.layer({ pollInterval: HOUR })
          ),
          Layer.provide(Layer.succeedContext(storage)),
          Layer.orDie
        )
      )),
      (context) => Effect.provide(body, context)
    )
  )

const Nap = Workflow.make({ name: "Nap", payload: Schema.Number, success: Schema.Number })
const NapLive = Nap.toLayer((n) =>
  Effect.gen(function*() {
    const before = yield* Activity.make({ name: "Before", success: Schema.Number, execute: Effect.succeed(n) })
    yield* Workflow.sleep("300 millis", "nap")
    return yield* Activity.make({ name: "After", success: Schema.Number, execute: Effect.succeed(before + 1) })
  })
)
const Inbox = Workflow.make({ name: "Inbox", payload: Schema.Void, success: Schema.Number })
const InboxLive = Inbox.toLayer(() => Workflow.awaitEvent("n", Schema.Number))

const waitFor = (id: string, status: WorkflowStorage.WorkflowStatus) =>
  Effect.gen(function*() {
    const e = yield* WorkflowEngine.WorkflowEngine
    for (let i = 0; i < 1000; i++) {
      const r = yield* Effect.either(e.status(id))
      if (r._tag === "Right" && r.right.status === status) return r.right
      yield* Effect.sleep("5 millis")
    }
    return yield* Effect.dieMessage(`${id} never became ${status}`)
  })

const suite = (name: string, layer: () => Layer.Layer<WorkflowStorage.WorkflowStorage, unknown>) =>
  describe(`wake-ups on ${name} (poll interval: 1 hour)`, () => {
    const storage = Effect.suspend(() => Effect.orDie(Layer.build(Layer.fresh(layer()))))

    it.live("a 300 ms durable sleep fires on its own timer", () =>
      Effect.scoped(Effect.gen(function*() {
        const store = yield* storage
        const result = yield* withEngine(store, NapLive, Effect.gen(function*() {
          const e = yield* WorkflowEngine.WorkflowEngine
          yield* e.start(Nap, { id: "nap-1", payload: 41 })
          const waiting = yield* waitFor("nap-1", "waiting")
          expect(waiting.waiting?._tag).toBe("Timer")
          return yield* e.result(Nap, "nap-1")
        }))
        expect(result).toBe(42)
      })), 20_000)

    it.live("a restarted worker re-arms a pending timer at once", () =>
      Effect.scoped(Effect.gen(function*() {
        const store = yield* storage
        yield* withEngine(store, NapLive, Effect.gen(function*() {
          yield* (yield* WorkflowEngine.WorkflowEngine).start(Nap, { id: "nap-2", payload: 1 })
          yield* waitFor("nap-2", "waiting")
        }))
        const result = yield* withEngine(store, NapLive, Effect.flatMap(WorkflowEngine.WorkflowEngine, (e) => e.result(Nap, "nap-2")))
        expect(result).toBe(2)
        const history = yield* withEngine(store, Layer.empty, Effect.flatMap(WorkflowEngine.WorkflowEngine, (e) => e.history("nap-2")))
        expect(history.map((h) => `${h.kind}:${h.name}`)).toEqual(["activity:Before", "timer:nap", "activity:After"])
      })), 20_000)

    it.live("a start and a signal written by a client engine of the same process wake the worker", () =>
      Effect.scoped(Effect.gen(function*() {
        const store = yield* storage
        const result = yield* withEngine(store, InboxLive, Effect.gen(function*() {
          const worker = yield* WorkflowEngine.WorkflowEngine
          // the client stores the run `pending`; the worker claims it without waiting for its poll
          yield* withEngine(store, Layer.empty, Effect.flatMap(WorkflowEngine.WorkflowEngine, (c) =>
            c.start(Inbox, { id: "inbox-1", payload: undefined })), true)
          yield* waitFor("inbox-1", "waiting")
          yield* withEngine(store, Layer.empty, Effect.flatMap(WorkflowEngine.WorkflowEngine, (c) =>
            c.signal("inbox-1", "n", 7)), true)
          return yield* worker.result(Inbox, "inbox-1")
        }))
        expect(result).toBe(7)
      })), 20_000)
  })

suite("memory", () => WorkflowStorage.layerMemory)
suite("SQLite", () => SqlWorkflowStorage.layerSqlite({ filename: path.join(os.tmpdir(), `${prefix}${n++}.db`) }))
