import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Activity from "../src/Activity.js"
import * as SqlWorkflowStorage from "../src/SqlWorkflowStorage.js"
import * as Workflow from "../src/Workflow.js"
import * as WorkflowCli from "../src/WorkflowCli.js"
import * as WorkflowEngine from "../src/WorkflowEngine.js"

const Greeting = Workflow.make({ name: "Greeting", payload: Schema.String, success: Schema.String })
const GreetingLive = Greeting.toLayer((name) =>
  Effect.gen(function*() {
    yield* Activity.make({ name: "Prepare", success: Schema.String, execute: Effect.succeed(name) })
    const salutation = yield* Workflow.awaitEvent("salutation", Schema.String)
    return `${salutation}, ${name}`
  })
)
const engineOn = (file: string) =>
  Layer.fresh(GreetingLive.pipe(
    Layer.provideMerge(WorkflowEngine.layer({ pollInterval: "20 millis" })),
    Layer.provide(SqlWorkflowStorage.layerSqlite({ filename: file })),
    Layer.orDie
  ))

const live = Clock.make()
const cli = Command.run(WorkflowCli.workflows, { name: "effect-loom", version: "0.1.0" })

/** Runs `effect-loom workflows <args>` in process (the root command here is `workflows`) and returns what it printed. */
const run = (...args: Array<string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const console = yield* Effect.console
    const capture = {
      ...console,
      log: (...xs: ReadonlyArray<unknown>) => Effect.sync(() => void out.push(xs.join(" "))),
      error: (...xs: ReadonlyArray<unknown>) => Effect.sync(() => void out.push(`ERR ${xs.join(" ")}`))
    }
    const exit = yield* Effect.exit(Effect.withConsole(cli(["node", "effect-loom", ...args]), capture))
    return { out, ok: exit._tag === "Success" }
  }).pipe(Effect.provide(NodeContext.layer))

describe("effect-loom workflows (CLI)", () => {
  it.live("lists, shows, signals, prints history and cancels against the SQLite file", () =>
    Effect.gen(function*() {
      const file = path.join(os.tmpdir(), `loom-cli-${process.pid}-${Date.now()}.db`)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => ["", "-wal", "-shm"].forEach((s) => fs.rmSync(file + s, { force: true })))
      )
      // a worker starts two workflows, which wait for an event; then it stops
      yield* Effect.gen(function*() {
        const e = yield* WorkflowEngine.WorkflowEngine
        yield* e.start(Greeting, { id: "g-1", payload: "Ada" })
        yield* e.start(Greeting, { id: "g-2", payload: "Bob" })
        while ((yield* e.list({ status: ["waiting"] })).length < 2) yield* Effect.sleep("5 millis")
      }).pipe(Effect.provide(engineOn(file)), Effect.scoped)

      const listed = yield* run("list", "--db", file)
      expect(listed.out.join("\n")).toMatch(/g-1\tGreeting\twaiting \(event salutation\)/)
      expect(listed.out.length).toBe(2)

      const shown = yield* run("show", "g-1", "--db", file)
      expect(JSON.parse(shown.out.join("\n"))).toMatchObject({ id: "g-1", status: "waiting", payload: "Ada" })

      // no worker runs: the signal and the cancel are stored
      expect((yield* run("signal", "g-1", "salutation", "\"Hello\"", "--db", file)).ok).toBe(true)
      const badJson = yield* run("signal", "g-1", "salutation", "{not json", "--db", file)
      expect(badJson.ok).toBe(false)
      expect(badJson.out.join("\n")).toContain("Invalid json")
      expect((yield* run("cancel", "g-2", "--reason", "not needed", "--db", file)).ok).toBe(true)
      const unknown = yield* run("show", "nope", "--db", file)
      expect(unknown.ok).toBe(false)
      expect(unknown.out.join("\n")).toContain("No workflow with id nope")

      // the next worker delivers the signal and carries out the cancel
      yield* Effect.gen(function*() {
        const e = yield* WorkflowEngine.WorkflowEngine
        expect(yield* e.result(Greeting, "g-1")).toBe("Hello, Ada")
        while ((yield* e.status("g-2")).status !== "cancelled") yield* Effect.sleep("5 millis")
      }).pipe(Effect.provide(engineOn(file)), Effect.scoped, Effect.withClock(live))

      const history = yield* run("history", "g-1", "--db", file)
      expect(history.out.map((l) => l.split("\t").slice(2, 5).join(" "))).toEqual([
        "1 activity Prepare",
        "2 event salutation"
      ])
      const filtered = yield* run("list", "--status", "cancelled", "--db", file)
      expect(filtered.out.length).toBe(1)
      expect(filtered.out[0]).toMatch(/^g-2\tGreeting\tcancelled/)
      const future = yield* run("list", "--since", "2999-01-01", "--db", file)
      expect(future.out).toEqual(["no workflows"])
      const past = yield* run("list", "--until", "2999-01-01", "--status", "completed", "--db", file)
      expect(past.out.length).toBe(1)
      const late = yield* run("signal", "g-1", "salutation", "1", "--db", file)
      expect(late.ok).toBe(false)
      expect(late.out.join("\n")).toContain("is completed, not running")
    }).pipe(Effect.scoped))

  it.live("lists the runs of a workflow that continued as new and prints each run's history", () =>
    Effect.gen(function*() {
      const file = path.join(os.tmpdir(), `loom-cli-can-${process.pid}-${Date.now()}.db`)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => ["", "-wal", "-shm"].forEach((s) => fs.rmSync(file + s, { force: true })))
      )
      const Looper = Workflow.make({ name: "Looper", payload: Schema.Number, success: Schema.Number })
      const LooperLive = Looper.toLayer((n) =>
        Effect.gen(function*() {
          yield* Activity.make({ name: `Round${n}`, success: Schema.Number, execute: Effect.succeed(n) })
          return n < 2 ? yield* Looper.continueAsNew(n + 1) : n
        })
      )
      yield* Effect.gen(function*() {
        const e = yield* WorkflowEngine.WorkflowEngine
        yield* e.start(Looper, { id: "c", payload: 0 })
        expect(yield* e.result(Looper, "c")).toBe(2)
      }).pipe(
        Effect.provide(Layer.fresh(LooperLive.pipe(
          Layer.provideMerge(WorkflowEngine.layer({ pollInterval: "20 millis" })),
          Layer.provide(SqlWorkflowStorage.layerSqlite({ filename: file })),
          Layer.orDie
        ))),
        Effect.scoped
      )
      const continued = yield* run("list", "--status", "continued", "--db", file)
      expect(continued.out.map((l) => l.split("\t").slice(0, 4).join(" "))).toEqual([
        "c#0 Looper continued (as run 1 of c) run 0",
        "c#1 Looper continued (as run 2 of c) run 1"
      ])
      const latest = yield* run("show", "c", "--db", file)
      expect(JSON.parse(latest.out.join("\n"))).toMatchObject({ id: "c", status: "completed", run: 2, result: { _tag: "Success", value: 2 } })
      const first = yield* run("history", "c#0", "--db", file)
      expect(first.out.map((l) => l.split("\t").slice(2, 5).join(" "))).toEqual(["1 activity Round0"])
      const last = yield* run("history", "c", "--db", file)
      expect(last.out.map((l) => l.split("\t").slice(2, 5).join(" "))).toEqual(["1 activity Round2"])
    }).pipe(Effect.scoped))
  it.live("purge --older-than deletes ended runs with their journals, keeps active ones, rejects bad input", () =>
    Effect.gen(function*() {
      const file = path.join(os.tmpdir(), `loom-cli-purge-${process.pid}-${Date.now()}.db`)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => ["", "-wal", "-shm"].forEach((s) => fs.rmSync(file + s, { force: true })))
      )
      yield* Effect.gen(function*() {
        const e = yield* WorkflowEngine.WorkflowEngine
        yield* e.start(Greeting, { id: "done", payload: "Ada" })
        yield* e.start(Greeting, { id: "open", payload: "Bob" })
        for (const id of ["done", "open"]) {
          while ((yield* e.status(id)).status !== "waiting") yield* Effect.sleep("5 millis")
        }
        yield* e.signal("done", "salutation", "Hello")
        expect(yield* e.result(Greeting, "done")).toBe("Hello, Ada")
      }).pipe(Effect.provide(engineOn(file)), Effect.scoped)
      const bad = yield* run("purge", "--older-than", "soon", "--db", file)
      expect(bad.ok).toBe(false)
      expect(bad.out.join("\n")).toContain("is not a duration")
      const active = yield* run("purge", "--older-than", "0s", "--status", "running", "--db", file)
      expect(active.ok).toBe(false)
      const young = yield* run("purge", "--older-than", "1d", "--db", file)
      expect(young.out[0]).toMatch(/^purged 0 runs that ended before /)
      const purged = yield* run("purge", "--older-than", "0 millis", "--status", "completed", "--db", file)
      expect(purged.out[0]).toMatch(/^purged 1 run that ended before /)
      const left = yield* run("list", "--db", file)
      expect(left.out.map((l) => l.split("\t").slice(0, 3).join(" "))).toEqual(["open Greeting waiting (event salutation)"])
      const gone = yield* run("history", "done", "--db", file)
      expect(gone.ok).toBe(false)
      expect(gone.out.join("\n")).toContain("No workflow with id done")
    }).pipe(Effect.scoped))
})
