/**
 * The `Saga` module inside durable workflows: forward steps and compensations that are activities are
 * journaled at positions that depend only on the program (not on timing), so compensations are
 * recorded once and replay after a restart. Runs against the memory and the SQLite storage.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Activity from "../src/Activity.js"
import * as Operation from "../src/Operation.js"
import * as Saga from "../src/Saga.js"
import * as SqlWorkflowStorage from "../src/SqlWorkflowStorage.js"
import * as Workflow from "../src/Workflow.js"
import * as WorkflowEngine from "../src/WorkflowEngine.js"
import * as WorkflowStorage from "../src/WorkflowStorage.js"
import { eventually, LiveClock, withEngine } from "./fixtures/durable-suite.js"

const engine = WorkflowEngine.WorkflowEngine

class TripFailed extends Schema.TaggedError<TripFailed>()("TripFailed", {
  reason: Schema.String,
  compensations: Schema.Array(Schema.String)
}) {}

/** Maps the saga's failure to a journaled (Schema) error: the step outcomes in the order they ran. */
const toTripFailed = (e: Saga.SagaFailed<unknown>) =>
  new TripFailed({ reason: Saga.reasonOf(e.cause), compensations: e.compensations.map((c) => `${c.step}:${c.outcome._tag}`) })

class Counter {
  readonly counts = new Map<string, number>()
  hit(name: string) {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1)
  }
  get(name: string) {
    return this.counts.get(name) ?? 0
  }
}


const statusIs = (id: string, status: string) =>
  Effect.flatMap(engine, (e) =>
    Effect.map(e.status(id), (r) => r.status === status).pipe(
      Effect.catchTag("WorkflowNotFound", () => Effect.succeed(false))
    ))

let n = 0
const prefix = `loom-wf-saga-${process.pid}-`
afterAll(() => {
  for (const f of fs.readdirSync(os.tmpdir())) if (f.startsWith(prefix)) fs.rmSync(path.join(os.tmpdir(), f), { force: true })
})

const storages: ReadonlyArray<readonly [string, () => Layer.Layer<WorkflowStorage.WorkflowStorage, unknown>]> = [
  ["memory", () => WorkflowStorage.layerMemory],
  ["SQLite", () => SqlWorkflowStorage.layerSqlite({ filename: path.join(os.tmpdir(), `${prefix}${Date.now()}-${n++}.db`) })]
]

for (const [storageName, storageLayer] of storages) {
  describe(`Saga module inside workflows (${storageName})`, () => {
    const storage: Effect.Effect<Context.Context<WorkflowStorage.WorkflowStorage>, never, Scope.Scope> = Effect.suspend(
      () => Effect.orDie(Layer.build(Layer.fresh(storageLayer())))
    )

    const make = (counter: Counter, order: Array<string>) => {
      const book = (name: string, millis = 0) =>
        Activity.make({
          name: `Book${name}`,
          success: Schema.String,
          execute: Effect.sync(() => (counter.hit(`Book${name}`), `${name}-1`)).pipe(
            Effect.delay(`${millis} millis`),
            Effect.withClock(LiveClock)
          )
        })
      const cancel = (id: string) =>
        Activity.make({
          name: `Cancel`,
          success: Schema.Void,
          execute: Effect.sync(() => {
            counter.hit(`Cancel ${id}`)
            order.push(id)
          })
        })
      const failing = Activity.make({
        name: "BookCar",
        success: Schema.String,
        error: Schema.String,
        execute: Effect.sync(() => counter.hit("BookCar")).pipe(Effect.zipRight(Effect.fail("no cars left")))
      })
      return { book, cancel, failing }
    }

    it.scoped("a failure at step 3 journals the compensations of steps 2 and 1 as activities, once", () =>
      Effect.gen(function*() {
        const store = yield* storage
        const counter = new Counter()
        const order: Array<string> = []
        const { book, cancel, failing } = make(counter, order)
        const Trip = Workflow.make({ name: "Trip", payload: Schema.Void, success: Schema.String, error: TripFailed })
        const live = Trip.toLayer(() =>
          Saga.run(
            "trip",
            Effect.gen(function*() {
              yield* Saga.step("hotel", book("Hotel"), (id) => cancel(id))
              yield* Saga.step("flight", book("Flight"), (id) => cancel(id))
              return yield* Saga.step("car", failing, (id) => cancel(id))
            })
          ).pipe(Effect.catchTag("SagaFailed", (e) => Effect.fail(toTripFailed(e))))
        )
        const [result, history] = yield* withEngine(store, live, Effect.gen(function*() {
          const e = yield* engine
          yield* e.start(Trip, { id: "trip-1", payload: undefined })
          return [yield* Effect.either(e.result(Trip, "trip-1")), yield* e.history("trip-1")] as const
        }))
        expect(result).toEqual(Either.left(new TripFailed({ reason: "no cars left", compensations: ["flight:Compensated", "hotel:Compensated"] })))
        expect(order).toEqual(["Flight-1", "Hotel-1"])
        // forward steps under their step's key, compensations under `<key>~c/`, in the order they ran
        expect(history.map((h) => [h.step, h.kind, h.name, (h.outcome as { _tag: string })._tag])).toEqual([
          ["1/1", "activity", "BookHotel", "Success"],
          ["2/1", "activity", "BookFlight", "Success"],
          ["3/1", "activity", "BookCar", "Failure"],
          ["2~c/1", "activity", "Cancel", "Success"],
          ["1~c/1", "activity", "Cancel", "Success"]
        ])
        // a later engine on the same store finds it finished and runs nothing again
        yield* withEngine(store, live, Effect.flatMap(engine, (e) => e.status("trip-1")))
        expect([...counter.counts]).toEqual([
          ["BookHotel", 1],
          ["BookFlight", 1],
          ["BookCar", 1],
          ["Cancel Flight-1", 1],
          ["Cancel Hotel-1", 1]
        ])
      }))

    it.scoped("parallel members (Saga.all) replay after a restart and are compensated once each", () =>
      Effect.gen(function*() {
        const store = yield* storage
        const counter = new Counter()
        const order: Array<string> = []
        const { book, cancel, failing } = make(counter, order)
        const Trip = Workflow.make({ name: "Trip2", payload: Schema.Void, success: Schema.String, error: TripFailed })
        const live = Trip.toLayer(() =>
          Saga.run(
            "trip",
            Effect.gen(function*() {
              // completion order (flight first) differs from program order
              yield* Saga.all([
                Saga.step("hotel", book("Hotel", 20), (id) => cancel(id)),
                Saga.step("flight", book("Flight", 1), (id) => cancel(id))
              ])
              yield* Workflow.awaitEvent("go", Schema.Boolean)
              return yield* Saga.step("car", failing, (id) => cancel(id))
            })
          ).pipe(Effect.catchTag("SagaFailed", (e) => Effect.fail(toTripFailed(e))))
        )
        yield* withEngine(store, live, Effect.gen(function*() {
          yield* (yield* engine).start(Trip, { id: "trip-2", payload: undefined })
          yield* eventually(statusIs("trip-2", "waiting"))
        }))
        const [result, history] = yield* withEngine(store, live, Effect.gen(function*() {
          const e = yield* engine
          yield* e.signal("trip-2", "go", true)
          return [yield* Effect.either(e.result(Trip, "trip-2")), yield* e.history("trip-2")] as const
        }))
        expect(Either.isLeft(result) && result.left._tag === "TripFailed" && [...result.left.compensations].sort())
          .toEqual(["flight:Compensated", "hotel:Compensated"])
        expect([...order].sort()).toEqual(["Flight-1", "Hotel-1"])
        const steps = history.filter((h) => h.kind === "activity").map((h) => `${h.step} ${h.name}`).sort()
        // each member's fiber has its own position (fork order), whatever the completion order
        expect(steps).toEqual(["2/1 BookCar", "f2/1/1 BookHotel", "f2/1~c/1 Cancel", "f3/1/1 BookFlight", "f3/1~c/1 Cancel"])
        for (const [k, v] of counter.counts) expect([k, v]).toEqual([k, 1])
        expect(counter.counts.size).toBe(5)
      }))

    it.scoped("cancel compensates the saga with journaled activities; terminate does not", () =>
      Effect.gen(function*() {
        const store = yield* storage
        const counter = new Counter()
        const order: Array<string> = []
        const { book, cancel } = make(counter, order)
        const Hold = Workflow.make({ name: "SagaHold", payload: Schema.String, success: Schema.String, error: TripFailed })
        const live = Hold.toLayer((id) =>
          Saga.run(
            "hold",
            Effect.gen(function*() {
              yield* Saga.step("hotel", book(`Hotel-${id}`), () => cancel(`hotel-${id}`))
              return yield* Workflow.awaitEvent("never", Schema.String)
            })
          ).pipe(Effect.catchTag("SagaFailed", (e) => Effect.fail(toTripFailed(e))))
        )
        const [cancelled, terminated, history] = yield* withEngine(store, live, Effect.gen(function*() {
          const e = yield* engine
          yield* e.start(Hold, { id: "c", payload: "c" })
          yield* e.start(Hold, { id: "t", payload: "t" })
          yield* eventually(statusIs("c", "waiting"))
          yield* eventually(statusIs("t", "waiting"))
          yield* e.cancel("c", "changed my mind")
          yield* e.terminate("t", "operator")
          return [
            yield* Effect.either(e.result(Hold, "c")),
            yield* Effect.either(e.result(Hold, "t")),
            yield* e.history("c")
          ] as const
        }))
        expect(Either.isLeft(cancelled) && cancelled.left._tag).toBe("WorkflowCancelled")
        expect(Either.isLeft(terminated) && terminated.left._tag).toBe("WorkflowCancelled")
        expect(counter.get("Cancel hotel-c")).toBe(1)
        expect(counter.get("Cancel hotel-t")).toBe(0)
        expect(history.filter((h) => h.kind === "activity").map((h) => `${h.step} ${h.name}`)).toEqual([
          "1/1 BookHotel-c",
          "1~c/1 Cancel"
        ])
        const statuses = yield* withEngine(store, live, Effect.flatMap(engine, (e) => e.list({ name: "SagaHold" })))
        expect(statuses.map((s) => [s.id, s.status])).toEqual([["c", "cancelled"], ["t", "terminated"]])
      }))
  })
}

describe("Saga leaves of an operation tree inside a workflow", () => {
  it.scoped("compensations are journaled under the leaves' paths and the durable tree status shows them", () =>
    Effect.gen(function*() {
      const store = yield* Effect.orDie(Layer.build(Layer.fresh(WorkflowStorage.layerMemory)))
      const counter = new Counter()
      const act = (name: string, fail = false) =>
        Activity.make({
          name,
          success: Schema.String,
          error: Schema.String,
          execute: Effect.sync(() => counter.hit(name)).pipe(Effect.zipRight(fail ? Effect.fail(`${name} failed`) : Effect.succeed(name)))
        })
      const tree = Operation.sequence("order", [
        Saga.parallel("pay", [
          Saga.leaf("card", act("Charge"), () => act("Refund")),
          Saga.leaf("points", act("Spend"), () => act("Restore"))
        ], { concurrency: 2 }),
        Saga.leaf("ship", act("Ship", true))
      ])
      const Order = Workflow.make({ name: "SagaTree", payload: Schema.Void, success: Schema.String, error: TripFailed })
      const live = Order.toLayer(() =>
        Saga.run("order", Effect.as(tree, "done")).pipe(Effect.catchTag("SagaFailed", (e) => Effect.fail(toTripFailed(e))))
      )
      const [result, history] = yield* withEngine(store, live, Effect.gen(function*() {
        const e = yield* engine
        yield* e.start(Order, { id: "o-1", payload: undefined })
        return [yield* Effect.either(e.result(Order, "o-1")), yield* e.history("o-1")] as const
      }))
      expect(Either.isLeft(result)).toBe(true)
      expect([...counter.counts].sort()).toEqual([["Charge", 1], ["Refund", 1], ["Restore", 1], ["Ship", 1], ["Spend", 1]])
      const keys = history.filter((h) => h.kind === "activity").map((h) => `${h.step} ${h.name}`).sort()
      expect(keys).toEqual([
        "1:order/pay/card:1/1 Charge",
        "1:order/pay/card:1~c/1 Refund",
        "1:order/pay/points:1/1 Spend",
        "1:order/pay/points:1~c/1 Restore",
        "1:order/ship:1/1 Ship"
      ])
      expect(Workflow.operationStatus(tree, history).map((n) => `${n.path} ${n.status}`)).toEqual([
        "order failed",
        "order/pay compensated",
        "order/pay/card compensated",
        "order/pay/points compensated",
        "order/ship failed"
      ])
    }))
})
