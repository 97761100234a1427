/**
 * Telemetry overhead on a large tree, against the same tree with telemetry off, in the same process.
 *
 *   npx tsx bench/telemetry.ts           (also part of `npm run bench`)
 *
 * The tree of bench/operation.ts: 100,000 no-op leaves in one parallel group (concurrency 64), full status
 * tracking. "Telemetry on" is `Telemetry.layerWith` exporting spans over OTLP/HTTP through the batch span
 * processor to a receiver on a loopback port (in this process; it drains and answers 200). The layer is
 * built once, as a program does at start; every timed run is the tree plus a flush of its spans.
 * 1. full spans: a span per leaf (`leafSpans: true`) vs telemetry off (no spans per leaf)   — target ≤ 2×
 * 2. grouped: spans for groups only (`leafSpans: false`, the default) vs telemetry off       — target ≤ 1.2×
 * 3. full spans vs telemetry off with leaf spans on (Effect's built-in tracer, nothing exported): what
 *    telemetry costs a program that already makes its spans                                  — informational
 * 4. full spans with a batch queue that holds the whole burst (OTEL_BSP_MAX_QUEUE_SIZE=131072), so every
 *    span is serialized and sent: the cost of exporting 100,000 spans                          — informational
 * 5. the same over http/protobuf instead of JSON                                               — informational
 * Spans the batch queue could not hold (the SDK's default queue is 2,048 spans, OTEL_BSP_MAX_QUEUE_SIZE)
 * are dropped and counted; the count is printed with each row.
 */
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { Operation, Telemetry } from "../src/index.js"
import { median, printRow, timeIt } from "./utils.js"

const N = 100_000
const ROUNDS = 11
/** Rounds run first and not counted: the JIT and the heap settle over the first two runs of a tree. */
const WARMUP = 2
const CONCURRENCY = 64

const tree = Operation.parallel("root", Array.from({ length: N }, (_, i) => Operation.leaf(`l${i}`, Effect.void)), {
  concurrency: CONCURRENCY
})

/** A collector stand-in: reads each export request and answers 200 (`{}` to JSON, an empty body to protobuf). */
const startReceiver = () =>
  new Promise<{ url: string; received: () => number; close: () => Promise<void> }>((resolve) => {
    let bytes = 0
    const server = createServer((request, response) => {
      request.on("data", (chunk: Buffer) => {
        bytes += chunk.length
      })
      request.on("end", () => {
        if (request.headers["content-type"]?.startsWith("application/x-protobuf") === true) {
          response.writeHead(200, { "content-type": "application/x-protobuf" }).end()
        } else {
          response.writeHead(200, { "content-type": "application/json" }).end("{}")
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}/v1/traces`,
        received: () => bytes,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      })
    })
  })

const off = () => Operation.runReport(tree)
const offWithLeafSpans = () => Effect.provideService(Operation.runReport(tree), Operation.LeafSpans, true)

/**
 * Telemetry built once (as a program does at start), then each timed run is the tree plus a flush, so the
 * export of its spans is part of the time.
 */
const telemetryOn = (url: string, leafSpans: boolean, protocol: "http/json" | "http/protobuf" = "http/json") => {
  const runtime = ManagedRuntime.make(Telemetry.layerWith({ traces: { url, protocol }, leafSpans, logFormat: "default" }))
  let droppedBefore = 0
  const run = (dropped: { count: number }) =>
    Effect.promise(() =>
      runtime.runPromise(Effect.gen(function*() {
        const telemetry = yield* Telemetry.Telemetry
        const report = yield* Operation.runReport(tree)
        yield* telemetry.flush
        const total = yield* telemetry.droppedSpans
        dropped.count = total - droppedBefore
        droppedBefore = total
        return report
      }))
    )
  return { run, dispose: () => runtime.dispose() }
}

const compare = async (
  label: string,
  baseline: () => Effect.Effect<unknown>,
  candidate: (dropped: { count: number }) => Effect.Effect<unknown, unknown>,
  target: number | undefined
) => {
  const base: Array<number> = []
  const ours: Array<number> = []
  const drops: Array<number> = []
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const dropped = { count: 0 }
    const b = await timeIt(() => Effect.runPromise(baseline()))
    const o = await timeIt(() => Effect.runPromise(candidate(dropped)))
    if (round >= WARMUP) {
      base.push(b)
      ours.push(o)
      drops.push(dropped.count)
    }
  }
  printRow(label, median(base), median(ours), target)
  process.stdout.write(`  spans dropped per run (queue full or export failed): median ${median(drops)}\n`)
}

/** Runs `f` with environment variables set (the batch span processor reads its settings when built). */
const withEnv = async (env: Record<string, string>, f: () => Promise<void>) => {
  const saved = Object.keys(env).map((name) => [name, process.env[name]] as const)
  Object.assign(process.env, env)
  try {
    await f()
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}

export const main = async (): Promise<void> => {
  const receiver = await startReceiver()
  process.stdout.write(`\n## Telemetry on a 100k-leaf tree (median of ${ROUNDS} rounds, after ${WARMUP} warm-up rounds)\n`)
  const full = telemetryOn(receiver.url, true)
  await compare("100k leaves, ×64, OTLP traces, full spans (leaf spans on) vs telemetry off", off, full.run, 2)
  await full.dispose()
  const grouped = telemetryOn(receiver.url, false)
  await compare("100k leaves, ×64, OTLP traces, grouped (leaf spans off) vs telemetry off", off, grouped.run, 1.2)
  await grouped.dispose()
  const again = telemetryOn(receiver.url, true)
  await compare(
    "100k leaves, ×64, OTLP traces, full spans vs telemetry off with leaf spans on (built-in tracer)",
    offWithLeafSpans,
    again.run,
    undefined
  )
  await again.dispose()
  await withEnv({ OTEL_BSP_MAX_QUEUE_SIZE: "131072" }, async () => {
    const everything = telemetryOn(receiver.url, true)
    await compare(
      "100k leaves, ×64, OTLP traces, full spans, every span exported (queue 131,072) vs telemetry off",
      off,
      everything.run,
      undefined
    )
    await everything.dispose()
    const protobuf = telemetryOn(receiver.url, true, "http/protobuf")
    await compare(
      "100k leaves, ×64, OTLP traces, full spans, every span exported over http/protobuf vs telemetry off",
      off,
      protobuf.run,
      undefined
    )
    await protobuf.dispose()
  })
  process.stdout.write(`  receiver got ${(receiver.received() / 1e6).toFixed(1)} MB of OTLP\n`)
  await receiver.close()
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  void main()
}
