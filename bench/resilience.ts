/**
 * The cost of one call through retry + circuit breaker + bulkhead + timeout on
 * a succeeding no-op: ours against the bare effect, and against cockatiel's
 * equivalent `wrap(retry, circuitBreaker, bulkhead, timeout)`, in one run.
 *
 * Two ways of calling are measured, since they answer different questions:
 * - in a fiber: calls made one after another inside a running Effect program
 *   (how policies are used inside an application);
 * - one promise per call: each call run with `Effect.runPromise` and awaited,
 *   like `policy.execute(fn)` in cockatiel (the edge of a program).
 *
 * Targets: ours ≤ 3× the bare effect, and cheaper per call than cockatiel.
 * Benchmarks print; they do not assert.
 *
 * Run alone: `npx tsx bench/resilience.ts` (ITERATIONS=… to change the count).
 */
import {
  bulkhead as cockatielBulkhead,
  circuitBreaker as cockatielBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleAll,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  TimeoutStrategy,
  wrap
} from "cockatiel"
import { Effect } from "effect"
import * as Bulkhead from "../src/Bulkhead.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Policy from "../src/Policy.js"
import * as Retry from "../src/Retry.js"
import * as Timeout from "../src/Timeout.js"

const ITERATIONS = Number(process.env["ITERATIONS"] ?? 200_000)
const WARMUP = Math.max(1_000, Math.floor(ITERATIONS / 10))
const ROUNDS = 3

/** Nanoseconds per call of one timing of `iterations` calls. */
const timeOnce = async (iterations: number, run: (n: number) => Promise<void>): Promise<number> => {
  const start = process.hrtime.bigint()
  await run(iterations)
  return Number(process.hrtime.bigint() - start) / iterations
}

/**
 * Best of `ROUNDS` timings per case, the cases interleaved within each round so
 * that a load change on a shared machine hits all of them alike.
 */
const measureAll = async <K extends string>(
  cases: Record<K, (n: number) => Promise<void>>
): Promise<Record<K, number>> => {
  const keys = Object.keys(cases) as Array<K>
  const best = {} as Record<K, number>
  for (const key of keys) {
    await cases[key](WARMUP)
    best[key] = Number.POSITIVE_INFINITY
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const key of keys) best[key] = Math.min(best[key], await timeOnce(ITERATIONS, cases[key]))
  }
  return best
}

const fmt = (ns: number) => ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`

/** Calls `call` `n` times in a row inside one fiber. */
const inFiber = <A, E>(call: Effect.Effect<A, E>) => (n: number): Promise<void> =>
  Effect.runPromise(
    Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* call
    }).pipe(Effect.orDie)
  )

/** Runs and awaits `call` `n` times, one `runPromise` each. */
const perPromise = <A, E>(call: Effect.Effect<A, E>) => async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await Effect.runPromise(call)
}

/**
 * @since 0.1.0
 */
export const main = async (): Promise<void> => {
  const policies = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const retry = yield* Retry.make({ base: "100 millis", maxAttempts: 3, jitter: true })
    const breaker = yield* CircuitBreaker.make({ name: "bench", maxFailures: 5, resetAfter: "10 seconds" })
    const bulkhead = yield* Bulkhead.make({ name: "bench", maxConcurrent: 10, maxQueued: 10 })
    const timeout = yield* Timeout.make({ name: "bench", duration: "1 second" })
    return { retry, breaker, bulkhead, timeout }
  })).pipe(Effect.orDie))
  // The breaker's scope above is closed: that only stops its reset timer, which a no-op never starts.
  const ours = Policy.compose(policies.retry, policies.breaker, policies.bulkhead, policies.timeout)
  const withoutTimeout = Policy.compose(policies.retry, policies.breaker, policies.bulkhead)

  const theirs = wrap(
    cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 100 }) }),
    cockatielBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
    cockatielBulkhead(10, 10),
    cockatielTimeout(1_000, TimeoutStrategy.Aggressive)
  )

  const noop = Effect.void
  const wrapped = ours(noop)
  const wrappedNoTimeout = withoutTimeout(noop)
  const noopPromise = () => Promise.resolve()

  const {
    bareAsync,
    bareFiber,
    barePromise,
    cockatiel,
    oursFiber,
    oursFiberNoTimeout,
    oursPromise
  } = await measureAll({
    bareFiber: inFiber(noop),
    oursFiber: inFiber(wrapped),
    oursFiberNoTimeout: inFiber(wrappedNoTimeout),
    barePromise: perPromise(noop),
    oursPromise: perPromise(wrapped),
    bareAsync: async (n) => {
      for (let i = 0; i < n; i++) await noopPromise()
    },
    cockatiel: async (n) => {
      for (let i = 0; i < n; i++) await theirs.execute(noopPromise)
    }
  })

  const lines = [
    `resilience: retry + circuit breaker + bulkhead + timeout on a succeeding no-op (${ITERATIONS} calls, best of ${ROUNDS})`,
    ``,
    `in a fiber (calls inside one Effect program)`,
    `  bare Effect.void                   ${fmt(bareFiber)}/call`,
    `  ours                               ${fmt(oursFiber)}/call   ${ratio(oursFiber, bareFiber)} bare (informational: a bare step is one instruction)`,
    `  ours without timeout               ${fmt(oursFiberNoTimeout)}/call   ${
      ratio(oursFiberNoTimeout, bareFiber)
    } bare`,
    ``,
    `one promise per call (Effect.runPromise / policy.execute, awaited)`,
    `  bare Effect.runPromise(void)       ${fmt(barePromise)}/call`,
    `  ours                               ${fmt(oursPromise)}/call   ${ratio(oursPromise, barePromise)} bare (target ≤ 3×)`,
    `  bare await Promise.resolve()       ${fmt(bareAsync)}/call`,
    `  cockatiel wrap(…).execute          ${fmt(cockatiel)}/call   ${ratio(cockatiel, bareAsync)} its bare`,
    ``,
    `ours vs cockatiel: in a fiber ${ratio(oursFiber, cockatiel)}, one promise per call ${
      ratio(oursPromise, cockatiel)
    } (target < 1×)`
  ]
  process.stdout.write(lines.join("\n") + "\n")
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exitCode = 1
  })
}
