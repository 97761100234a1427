/**
 * Durable workflow benchmark (`npx tsx bench/durable.ts`, also part of `npm run bench`).
 *
 * Baseline: a raw loop of single-row INSERTs, each in its own transaction (better-sqlite3, no Effect),
 * on a SQLite file with the same settings as the engine's default (WAL, synchronous=FULL).
 * Ours: (i) one workflow of 1,000 sequential no-op activities, (ii) 1,000 one-activity workflows started
 * concurrently, (iii) resuming a workflow with 1,000 recorded steps. Prints, never asserts.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Activity from "../src/Activity.js"
import * as SqlWorkflowStorage from "../src/SqlWorkflowStorage.js"
import * as Workflow from "../src/Workflow.js"
import * as WorkflowEngine from "../src/WorkflowEngine.js"

interface RawStatement {
  run(...params: ReadonlyArray<unknown>): unknown
}
interface RawDatabase {
  pragma(source: string): unknown
  exec(source: string): void
  prepare(source: string): RawStatement
  close(): void
}
const require = createRequire(import.meta.url)
const Database = require("better-sqlite3") as new(filename: string) => RawDatabase

const N = 1000
const tmpFiles: Array<string> = []
const tmp = (name: string) => {
  const file = path.join(os.tmpdir(), `loom-bench-${process.pid}-${name}.db`)
  tmpFiles.push(file)
  return file
}

let rawRound = 0
const rawInserts = (synchronous: "FULL" | "NORMAL", n: number): number => {
  const db = new Database(tmp(`raw-${synchronous}-${rawRound++}`))
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${synchronous}`)
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
  const insert = db.prepare("INSERT INTO t (v) VALUES (?)")
  const begin = db.prepare("BEGIN")
  const commit = db.prepare("COMMIT")
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    begin.run()
    insert.run(`{"_tag":"Success","value":${i}}`)
    commit.run()
  }
  const ms = performance.now() - t0
  db.close()
  return n / (ms / 1000)
}

const Noop = (i: number) => Activity.make({ name: `Noop${i}`, success: Schema.Number, execute: Effect.succeed(i) })

const Sequential = Workflow.make({ name: "Sequential", payload: Schema.Number, success: Schema.Number })
const SequentialLive = Sequential.toLayer((n) =>
  Effect.gen(function*() {
    let sum = 0
    for (let i = 0; i < n; i++) sum += yield* Noop(i)
    return sum
  })
)
const Single = Workflow.make({ name: "Single", payload: Schema.Number, success: Schema.Number })
const SingleLive = Single.toLayer((n) => Noop(n))
const Resumable = Workflow.make({ name: "Resumable", payload: Schema.Number, success: Schema.Number })
const ResumableLive = Resumable.toLayer((n) =>
  Effect.gen(function*() {
    let sum = 0
    for (let i = 0; i < n; i++) sum += yield* Noop(i)
    yield* Workflow.awaitEvent("go", Schema.Boolean)
    return sum
  })
)

const engineOn = (filename: string, synchronous: "FULL" | "NORMAL") =>
  Layer.mergeAll(SequentialLive, SingleLive, ResumableLive).pipe(
    Layer.provideMerge(WorkflowEngine.layer()),
    Layer.provide(SqlWorkflowStorage.layerSqlite({ filename, synchronous })),
    Layer.orDie
  )

const ms = (effect: Effect.Effect<unknown, unknown, never>) =>
  Effect.gen(function*() {
    const t0 = performance.now()
    yield* effect
    return performance.now() - t0
  })

const measure = (synchronous: "FULL" | "NORMAL", round: number) =>
  Effect.gen(function*() {
    const file = tmp(`engine-${synchronous}-${round}`)
    const engine = WorkflowEngine.WorkflowEngine
    // (i) and (ii) in one engine; (iii) needs a restart
    const [seqMs, fanMs] = yield* Effect.gen(function*() {
      const e = yield* engine
      // warm-up (JIT) for (i) and (ii)
      yield* e.start(Sequential, { id: "warm", payload: 50 })
      yield* e.result(Sequential, "warm")
      yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) => Effect.zipRight(e.start(Single, { id: `warm-${i}`, payload: i }), e.result(Single, `warm-${i}`)),
        { concurrency: "unbounded", discard: true }
      )
      const seqMs = yield* ms(Effect.zipRight(e.start(Sequential, { id: "seq", payload: N }), e.result(Sequential, "seq")))
      const fanMs = yield* ms(Effect.forEach(
        Array.from({ length: N }, (_, i) => i),
        (i) => Effect.zipRight(e.start(Single, { id: `single-${i}`, payload: i }), e.result(Single, `single-${i}`)),
        { concurrency: "unbounded", discard: true }
      ))
      yield* e.start(Resumable, { id: "resume", payload: N })
      while ((yield* e.history("resume")).length < N) yield* Effect.sleep("10 millis")
      yield* Effect.sleep("20 millis")
      return [seqMs, fanMs] as const
    }).pipe(Effect.provide(engineOn(file, synchronous)), Effect.orDie)
    // signal while no worker runs, then measure a cold resume: open, load 1,000 entries, replay, finish
    yield* Effect.flatMap(engine, (e) => e.signal("resume", "go", true)).pipe(
      Effect.provide(WorkflowEngine.layer().pipe(Layer.provide(SqlWorkflowStorage.layerSqlite({ filename: file, synchronous })))),
      Effect.orDie
    )
    const resumeMs = yield* ms(
      Effect.flatMap(engine, (e) => e.result(Resumable, "resume")).pipe(Effect.provide(engineOn(file, synchronous)), Effect.orDie)
    )
    return { seqMs, fanMs, resumeMs }
  })

const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 })

const ROUNDS = 3

export const main = async (): Promise<void> => {
  try {
    console.log("durable workflows on SQLite (WAL); the default is synchronous=FULL: every acknowledged step is")
    console.log("fsync'd, so a completed activity never runs again, even after a power loss or OS crash.")
    console.log(`best of ${ROUNDS} interleaved rounds (raw baseline and ours measured alternately in this process)`)
    for (const synchronous of ["FULL", "NORMAL"] as const) {
      let raw = 0
      let seqRate = 0
      let fanRate = 0
      let resumeMs = Infinity
      for (let round = 0; round < ROUNDS; round++) {
        raw = Math.max(raw, rawInserts(synchronous, synchronous === "FULL" ? 2000 : 10000))
        const r = await Effect.runPromise(measure(synchronous, round))
        seqRate = Math.max(seqRate, N / (r.seqMs / 1000))
        fanRate = Math.max(fanRate, N / (r.fanMs / 1000))
        resumeMs = Math.min(resumeMs, r.resumeMs)
      }
      console.log(`\nsynchronous=${synchronous}${synchronous === "FULL" ? " (default)" : ""}`)
      console.log(`  baseline: raw single-row INSERT, one transaction each: ${fmt(raw)} commits/s`)
      console.log(
        `  (i)   1,000 sequential activities, one workflow:  ${fmt(seqRate)} activities/s = ${(seqRate / raw * 100).toFixed(0)}% of raw (target ≥ 50%)`
      )
      console.log(
        `  (ii)  1,000 one-activity workflows, concurrent:   ${fmt(fanRate)} workflows/s = ${(fanRate / raw * 100).toFixed(0)}% of raw (target ≥ 2,000/s)`
      )
      console.log(`  (iii) resume a workflow with 1,000 recorded steps: ${resumeMs.toFixed(1)} ms, opening the file included (target < 100 ms)`)
    }
    console.log("\nreference (measured on this machine): @effect/workflow on SQLite ≈ 180 activities/s, ≈ 100 workflows/s")
  } finally {
    for (const f of tmpFiles) for (const s of ["", "-wal", "-shm"]) fs.rmSync(f + s, { force: true })
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await main()
}
