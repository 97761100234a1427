/**
 * Operation-tree overhead against plain `Effect.forEach` in the same process.
 *
 *   npx tsx bench/operation.ts           (also part of `npm run bench`)
 *
 * 1. 100,000 no-op leaves in one parallel group (concurrency 64), full status
 *    tracking, leaf spans off — vs `Effect.forEach` over 100,000 effects.
 * 2. The same with a span per leaf — vs `Effect.forEach` over `withSpan`-wrapped effects.
 * 3. A three-level tree of 100 × 100 × 10 leaves — vs `Effect.forEach` over 100,000 effects.
 * 4. 1,000,000 leaves: peak RSS (in a child process of its own).
 */
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Operation } from "../src/index.js"
import { median, printRow, timeIt } from "./utils.js"

const N = 100_000
const ROUNDS = 7
/** Rounds run first and not counted: the JIT and the heap settle over the first runs. */
const WARMUP = 2
const CONCURRENCY = 64

const flatTree = (n: number) =>
  Operation.parallel("root", Array.from({ length: n }, (_, i) => Operation.leaf(`l${i}`, Effect.void)), {
    concurrency: CONCURRENCY
  })

const threeLevelTree = () =>
  Operation.parallel(
    "root",
    Array.from({ length: 100 }, (_, a) =>
      Operation.parallel(
        `a${a}`,
        Array.from({ length: 100 }, (_, b) =>
          Operation.parallel(`b${b}`, Array.from({ length: 10 }, (_, c) => Operation.leaf(`c${c}`, Effect.void)), {
            concurrency: CONCURRENCY
          })),
        { concurrency: CONCURRENCY }
      )),
    { concurrency: CONCURRENCY }
  )

const forEachBaseline = (spans: boolean) => {
  const effects = Array.from({ length: N }, (_, i) => spans ? Effect.withSpan(Effect.void, `l${i}`) : Effect.void)
  return Effect.forEach(effects, (e) => e, { concurrency: CONCURRENCY })
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

const nestedForEachBaseline = () =>
  Effect.forEach(range(100), () =>
    Effect.forEach(range(100), () =>
      Effect.forEach(range(10), () => Effect.void, { concurrency: CONCURRENCY }), { concurrency: CONCURRENCY }), {
    concurrency: CONCURRENCY
  })

/** Alternates baseline and candidate runs and compares medians. */
const compare = async (
  label: string,
  baseline: () => Effect.Effect<unknown>,
  candidate: () => Effect.Effect<unknown>,
  target: number
) => {
  const base: Array<number> = []
  const ours: Array<number> = []
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const b = await timeIt(() => Effect.runPromise(baseline()))
    const o = await timeIt(() => Effect.runPromise(candidate()))
    if (round >= WARMUP) {
      base.push(b)
      ours.push(o)
    }
  }
  printRow(label, median(base), median(ours), target)
}

const million = () => {
  const tree = flatTree(1_000_000)
  return Effect.map(Operation.runReport(tree), (report) => report.snapshot.completed)
}

export const main = async (): Promise<void> => {
  if (process.argv.includes("--million")) {
    const started = performance.now()
    const completed = await Effect.runPromise(million())
    const rss = process.resourceUsage().maxRSS / 1024
    process.stdout.write(JSON.stringify({ completed, ms: performance.now() - started, peakRssMiB: rss }) + "\n")
    return
  }
  process.stdout.write(`\n## Operation trees (median of ${ROUNDS} rounds, after ${WARMUP} warm-up rounds)\n`)
  const tree = flatTree(N)
  await compare(
    "100k leaves, parallel ×64, tracking, leaf spans off",
    () => forEachBaseline(false),
    () => Operation.runReport(tree),
    1.5
  )
  await compare(
    "100k leaves, parallel ×64, tracking, leaf spans on",
    () => forEachBaseline(true),
    () => Effect.provideService(Operation.runReport(tree), Operation.LeafSpans, true),
    1.2
  )
  const deep = threeLevelTree()
  await compare("100×100×10 tree, ×64 per group, tracking (vs flat forEach)", () => forEachBaseline(false), () => Operation.runReport(deep), 1.5)
  // Nested parallel groups fork a fiber per child, exactly as nested `Effect.forEach` does; this row
  // compares the same shape of work without a tree around it.
  await compare(
    "100×100×10 tree, ×64 per group, tracking (vs nested forEach, same shape)",
    () => nestedForEachBaseline(),
    () => Operation.runReport(deep),
    1.5
  )

  const out = execFileSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--million"], {
    encoding: "utf8"
  })
  const { completed, ms, peakRssMiB } = JSON.parse(out.trim().split("\n").at(-1)!) as {
    completed: number
    ms: number
    peakRssMiB: number
  }
  process.stdout.write(
    `1,000,000 leaves: ${completed} completed in ${ms.toFixed(0)} ms, peak RSS ${peakRssMiB.toFixed(0)} MiB ` +
      `(target ≤ 1024 MiB) ${peakRssMiB <= 1024 ? "✔" : "✘"}\n`
  )
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  void main()
}
