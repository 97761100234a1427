/**
 * Crash recovery of sagas and operation trees inside workflows, with real process kills: a worker is
 * SIGKILLed while compensating (one compensation done, the second in flight) and while a tree's leaf
 * runs, then restarted on the same SQLite file.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import * as Effect from "effect/Effect"
import * as Workflow from "../src/Workflow.js"
import * as WorkflowEngine from "../src/WorkflowEngine.js"
import { line, onFile, waitFor } from "./utils/crash.js"
import { tree } from "./fixtures/durable-saga-worker.js"

const worker = path.join(import.meta.dirname, "fixtures", "durable-saga-worker.ts")

/** Starts a worker and SIGKILLs it once `until(lines)` resolves; returns its output lines. */
const runWorker = async (
  file: string,
  mode: "start" | "resume",
  until: (lines: ReadonlyArray<string>) => Promise<void>
): Promise<ReadonlyArray<string>> => {
  const lines: Array<string> = []
  const child = spawn(process.execPath, ["--import", "tsx", worker, file, mode], { stdio: ["ignore", "pipe", "inherit"] })
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  readline.createInterface({ input: child.stdout! }).on("line", (line) => lines.push(line))
  try {
    await until(lines)
  } finally {
    child.kill("SIGKILL")
    await exited
  }
  return lines
}

const client = <A, E>(
  file: string,
  f: (engine: WorkflowEngine.WorkflowEngineService, sql: SqlClient.SqlClient) => Effect.Effect<A, E>
) => onFile(file, "client", f)

const counts = (rows: ReadonlyArray<{ readonly workflow: string; readonly name: string }>) => {
  const count = new Map<string, number>()
  for (const r of rows) count.set(`${r.workflow} ${r.name}`, (count.get(`${r.workflow} ${r.name}`) ?? 0) + 1)
  return count
}

describe("Saga and operation tree crash recovery (SIGKILL)", () => {
  it("a kill during compensation resumes compensating; a kill during a leaf keeps completed leaves", async () => {
    const file = path.join(os.tmpdir(), `loom-saga-crash-${process.pid}-${Date.now()}.db`)
    try {
      // 1. CancelFlight (first, reverse order) finished, CancelHotel (3 s) in flight; the tree's four
      //    fetches finished and its slow leaf (3 s) in flight
      const first = await runWorker(file, "start", async (lines) => {
        await line("ACT trip CancelHotel begin")(lines)
        await line("ACT tree Slow begin")(lines)
      })
      expect(first).toContain("ACT trip CancelFlight done")
      expect(first).not.toContain("ACT trip CancelHotel done")
      expect(first).not.toContain("ACT tree Slow done")

      // the tree's status is durable: readable from the journal while no worker runs
      const midway = await client(file, (e) => Effect.map(e.history("tree"), (h) => Workflow.operationStatus(tree("tree"), h)))
      expect(midway.map((n) => `${n.path} ${n.status}`)).toEqual([
        "load running",
        "load/fetch succeeded",
        "load/fetch/part1 succeeded",
        "load/fetch/part2 succeeded",
        "load/fetch/part3 succeeded",
        "load/fetch/part4 succeeded",
        "load/slow pending",
        "load/last pending"
      ])

      // 2. restart until both finished
      const second = await runWorker(file, "resume", () =>
        waitFor(
          () => client(file, (e) => Effect.map(e.list({ status: ["pending", "running", "waiting"] }), (l) => l.length === 0)),
          "all workflows finished"
        ))
      // the finished compensation was not re-run; the in-flight one was
      expect(second).not.toContain("ACT trip CancelFlight begin")
      expect(second).toContain("ACT trip CancelHotel begin")
      expect(second.filter((l) => l.startsWith("ACT trip Book"))).toEqual([])
      // completed leaves were replayed, the in-flight one re-ran
      expect(second.filter((l) => l.startsWith("ACT tree Part"))).toEqual([])
      expect(second).toContain("ACT tree Slow begin")

      const { effects, trip, load, history } = await client(file, (e, sql) =>
        Effect.all({
          effects: sql<{ workflow: string; name: string }>`SELECT workflow, name FROM side_effect`,
          trip: e.status("trip"),
          load: e.status("tree"),
          history: e.history("tree")
        }))
      expect(trip.status).toBe("failed")
      expect(JSON.parse(trip.result!)).toEqual({ _tag: "Failure", error: "no cars; flight:Compensated,hotel:Compensated" })
      expect(load.status).toBe("completed")
      expect(JSON.parse(load.result!)).toEqual({ _tag: "Success", value: "Part1+Part2+Part3+Part4+Slow+Last" })

      const count = counts(effects)
      expect([...count].sort()).toEqual([
        ["tree Last", 1],
        ["tree Part1", 1],
        ["tree Part2", 1],
        ["tree Part3", 1],
        ["tree Part4", 1],
        ["tree Slow", 1],
        ["trip BookFlight", 1],
        ["trip BookHotel", 1],
        ["trip CancelFlight", 1],
        ["trip CancelHotel", 1]
      ])
      expect(Workflow.operationStatus(tree("tree"), history).map((n) => `${n.path} ${n.status}`)).toEqual([
        "load succeeded",
        "load/fetch succeeded",
        "load/fetch/part1 succeeded",
        "load/fetch/part2 succeeded",
        "load/fetch/part3 succeeded",
        "load/fetch/part4 succeeded",
        "load/slow succeeded",
        "load/last succeeded"
      ])
    } finally {
      for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(file + suffix, { force: true })
    }
  }, 120_000)
})
