/**
 * Crash recovery with real process kills: a worker process is SIGKILLed at several points (between
 * steps, during an activity, during a durable sleep, while waiting for an event, during compensation)
 * and restarted on the same SQLite file.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import * as Effect from "effect/Effect"
import * as WorkflowEngine from "../src/WorkflowEngine.js"
import { line, onFile, sleep, waitFor } from "./utils/crash.js"

const worker = path.join(import.meta.dirname, "fixtures", "durable-worker.ts")

interface Run {
  readonly start: number
  end: number
  readonly lines: Array<string>
}

/** Starts a worker and SIGKILLs it once `until(lines)` resolves. */
const runWorker = async (
  file: string,
  mode: "start" | "resume",
  until: (lines: ReadonlyArray<string>, child: ChildProcess) => Promise<void>
): Promise<Run> => {
  const run: Run = { start: Date.now(), end: 0, lines: [] }
  const child = spawn(process.execPath, ["--import", "tsx", worker, file, mode], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  readline.createInterface({ input: child.stdout! }).on("line", (line) => run.lines.push(line))
  await until(run.lines, child)
  child.kill("SIGKILL")
  await exited
  run.end = Date.now()
  return run
}

const client = <A, E>(
  file: string,
  f: (engine: WorkflowEngine.WorkflowEngineService, sql: SqlClient.SqlClient) => Effect.Effect<A, E>
) => onFile(file, "worker", f)

describe("Workflow crash recovery (SIGKILL)", () => {
  it("resumes every workflow after kills at many points; completed activities never run again", async () => {
    const file = path.join(os.tmpdir(), `loom-crash-${process.pid}-${Date.now()}.db`)
    const runs: Array<Run> = []
    try {
      // 1. between steps
      runs.push(await runWorker(file, "start", line("ACT ok A1 done")))
      // 2. during an activity (A2 takes 400 ms)
      runs.push(await runWorker(file, "resume", line("ACT ok A2 begin")))
      // 3. during the durable sleep (1.5 s)
      runs.push(await runWorker(file, "resume", async (lines) => {
        await line("ACT ok BeforeSleep done")(lines)
        await line("ACT bad BeforeSleep done")(lines)
        await sleep(300)
      }))
      const sleeping = await client(file, (e) => e.status("ok"))
      expect(sleeping.status).toBe("waiting")
      expect(sleeping.waiting?._tag).toBe("Timer")
      // 4. while waiting for the event
      runs.push(await runWorker(file, "resume", async (lines) => {
        await line("ACT ok AfterSleep done")(lines)
        await line("ACT bad AfterSleep done")(lines)
        await waitFor(
          () => client(file, (e) => Effect.map(e.list({ status: ["waiting"] }), (l) => l.length === 2)),
          "both waiting for the event"
        )
      }))
      // signals while no worker runs
      await client(file, (e) =>
        Effect.zipRight(e.signal("ok", "go", "yes"), e.signal("bad", "go", "fail")))
      // 5. during compensation: UndoB (first, reverse order) finished, UndoA (300 ms) in flight
      runs.push(await runWorker(file, "resume", line("ACT bad UndoA begin")))
      // 6. until everything finished
      runs.push(await runWorker(file, "resume", () =>
        waitFor(
          () => client(file, (e) => Effect.map(e.list({ status: ["pending", "running", "waiting"] }), (l) => l.length === 0)),
          "all workflows finished"
        )))

      const { effects, ok, bad, histories } = await client(file, (e, sql) =>
        Effect.all({
          effects: sql<{ workflow: string; name: string; at: number }>`SELECT workflow, name, at FROM side_effect`,
          ok: e.status("ok"),
          bad: e.status("bad"),
          histories: Effect.all({ ok: e.history("ok"), bad: e.history("bad") })
        }))

      expect(ok.status).toBe("completed")
      expect(JSON.parse(ok.result!)).toEqual({ _tag: "Success", value: "Fan1+Fan2+Fan3+Fan4:yes" })
      expect(bad.status).toBe("failed")
      expect(JSON.parse(bad.result!)).toEqual({ _tag: "Failure", error: "link failed" })

      const count = new Map<string, number>()
      for (const e of effects) count.set(`${e.workflow} ${e.name}`, (count.get(`${e.workflow} ${e.name}`) ?? 0) + 1)
      const expected = ["A1", "A2", "Fan1", "Fan2", "Fan3", "Fan4", "BeforeSleep", "AfterSleep", "ReserveA", "ReserveB"]
      for (const wf of ["ok", "bad"]) {
        for (const name of expected) expect(count.get(`${wf} ${name}`) ?? 0, `${wf} ${name}`).toBeGreaterThanOrEqual(1)
      }
      expect(count.get("bad UndoB")).toBe(1)
      expect(count.get("bad UndoA") ?? 0).toBeGreaterThanOrEqual(1)
      expect(count.get("ok UndoA")).toBeUndefined()
      if (process.env.LOOM_DEBUG) console.log([...count], runs.map((r) => r.lines.length))
      // the in-flight activity ran at most twice
      for (const [k, n] of count) expect(n, k).toBeLessThanOrEqual(2)
      // killed during A2 and during UndoA: those really were re-run; the finished UndoB was not
      expect(runs[1]!.lines).toContain("ACT ok A2 begin")
      expect(runs[2]!.lines).toContain("ACT ok A2 begin")
      expect(runs[4]!.lines).toContain("ACT bad UndoB done")
      expect(runs[4]!.lines).toContain("ACT bad UndoA begin")
      expect(runs[5]!.lines).toContain("ACT bad UndoA begin")
      expect(runs[5]!.lines).not.toContain("ACT bad UndoB begin")

      // an activity journaled during run k never begins again in a later run
      for (const [wf, history] of Object.entries(histories)) {
        for (const entry of history.filter((h) => h.kind === "activity")) {
          const k = runs.findIndex((r) => entry.at >= r.start && entry.at <= r.end)
          expect(k, `${wf} ${entry.name} journaled inside a run`).toBeGreaterThanOrEqual(0)
          for (const later of runs.slice(k + 1)) {
            expect(later.lines, `${wf} ${entry.name} re-ran after being journaled`).not.toContain(
              `ACT ${wf} ${entry.name} begin`
            )
          }
        }
      }

      // the durable sleep fired on time: not before its due time, across the restart
      for (const [wf, history] of Object.entries(histories)) {
        const timer = history.find((h) => h.kind === "timer")!
        const until = (timer.outcome as { value: { until: number } }).value.until
        const after = effects.find((e) => e.workflow === wf && e.name === "AfterSleep")!
        expect(Number(after.at)).toBeGreaterThanOrEqual(until)
      }
    } finally {
      for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(file + suffix, { force: true })
    }
  }, 120_000)
})
