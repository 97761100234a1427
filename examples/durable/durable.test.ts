import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as WorkflowEngine from "../../src/WorkflowEngine.js"
import * as Aggregator from "./aggregator.js"
import * as Approval from "./approval.js"
import * as BatchProcessor from "./batch-processor.js"
import * as BatchState from "./batch-state.js"
import * as Monitor from "./monitor.js"
import * as OrderProcessing from "./order-processing.js"
import * as RetryBackoff from "./retry-backoff.js"
import { engineWith } from "./runtime.js"
import * as Saga from "./saga.js"

const live = Clock.make()
const engine = WorkflowEngine.WorkflowEngine

/** Waits (in real time) until the workflow is waiting on a timer or an event. */
const waiting = (id: string, what: "Timer" | "Event") =>
  Effect.gen(function*() {
    const e = yield* engine
    for (let i = 0; i < 400; i++) {
      const r = yield* Effect.either(e.status(id))
      if (Either.isRight(r) && r.right.waiting?._tag === what) return r.right.waiting
      yield* Effect.sleep("5 millis")
    }
    return yield* Effect.dieMessage(`${id} never waited on a ${what}`)
  }).pipe(Effect.withClock(live))

describe("durable examples", () => {
  it.effect("order processing chains four activities", () =>
    Effect.gen(function*() {
      expect(yield* OrderProcessing.program).toBe("Order complete: ship-res-42")
      const history = yield* Effect.flatMap(engine, (e) => e.history("order-42"))
      expect(history.map((h) => h.name)).toEqual(["ValidateOrder", "ReserveInventory", "ProcessPayment", "ShipOrder"])
      const rejected = yield* Effect.flatMap(engine, (e) =>
        Effect.zipRight(
          e.start(OrderProcessing.OrderProcessing, { id: "empty", payload: { id: "e", sku: "x", quantity: 0 } }),
          Effect.flip(e.result(OrderProcessing.OrderProcessing, "empty"))
        ))
      expect(rejected._tag).toBe("OrderRejected")
    }).pipe(Effect.provide(engineWith(OrderProcessing.OrderProcessingLive))))

  it.effect("batch processor counts failures; dynamic fan-out runs every task", () =>
    Effect.gen(function*() {
      const result = yield* BatchProcessor.program
      expect(result).toEqual({ batch: { successful: 2, failed: 1 }, fanOut: "Completed 25 tasks" })
      const history = yield* Effect.flatMap(engine, (e) => e.history("fan-1"))
      expect(history.length).toBe(25)
      expect(new Set(history.map((h) => h.step)).size).toBe(25)
    }).pipe(Effect.provide(engineWith(BatchProcessor.layer))))

  it.effect("approval: answered in time", () =>
    Effect.gen(function*() {
      expect(yield* Approval.program).toEqual({ decision: { approved: true, by: "ann" }, escalated: false })
    }).pipe(Effect.provide(engineWith(Approval.ApprovalLive))))

  it.effect("approval: escalates after 24 hours without an answer (TestClock)", () =>
    Effect.gen(function*() {
      const e = yield* engine
      yield* e.start(Approval.Approval, { id: "a", payload: { request: "r", approver: "ann", escalateTo: "bob" } })
      const timer = yield* waiting("a", "Timer")
      expect(timer).toMatchObject({ _tag: "Timer", until: 24 * 3600 * 1000 })
      yield* TestClock.adjust("23 hours")
      expect((yield* e.history("a")).map((h) => h.name)).toEqual(["SendApprovalRequest", "approval-timeout"])
      yield* TestClock.adjust("1 hour")
      yield* waiting("a", "Event")
      expect((yield* e.history("a")).map((h) => h.name)).toContain("EscalateApproval")
      yield* e.signal("a", "ApprovalResponse", { approved: false, by: "bob" })
      expect(yield* e.result(Approval.Approval, "a")).toEqual({ decision: { approved: false, by: "bob" }, escalated: true })
    }).pipe(Effect.provide(engineWith(Approval.ApprovalLive))))

  it.effect("saga: compensates in reverse order on failure, not on success", () =>
    Effect.gen(function*() {
      Saga.deleted.length = 0
      const result = yield* Saga.program
      expect(result.ok).toBe("Transaction complete: A-x<->B-A-x")
      expect(Either.isLeft(result.failed) && result.failed.left._tag).toBe("LinkFailed")
      expect(result.compensated).toEqual(["B-A-y", "A-y"])
    }).pipe(Effect.provide(engineWith(Saga.SagaTransactionLive))))

  it.effect("monitor: checks every 5 minutes for an hour, alerts on changes, history stays one run long", () =>
    Effect.gen(function*() {
      Monitor.alerts.length = 0
      const e = yield* engine
      yield* e.start(Monitor.Monitor, {
        id: "m",
        payload: { checkCount: 0, lastStatus: "unknown", startTime: null, intervalMillis: 300_000, totalMillis: 3_600_000 }
      })
      const fiber = yield* Effect.fork(e.result(Monitor.Monitor, "m"))
      for (let i = 0; i < 12; i++) {
        yield* waiting("m", "Timer")
        yield* TestClock.adjust("5 minutes")
        yield* Effect.sleep("10 millis").pipe(Effect.withClock(live))
      }
      expect(yield* Fiber.join(fiber)).toBe("Monitoring complete after 12 checks")
      expect(Monitor.alerts).toEqual([
        "status changed from unknown to healthy",
        "status changed from healthy to degraded",
        "status changed from degraded to healthy",
        "status changed from healthy to degraded",
        "status changed from degraded to healthy",
        "status changed from healthy to degraded",
        "status changed from degraded to healthy",
        "status changed from healthy to degraded"
      ])
      expect((yield* e.status("m")).run).toBe(11)
      expect((yield* e.history("m")).map((h) => h.name)).toEqual(["CheckServiceHealth", "SendAlert", "next-check", "now"])
    }).pipe(Effect.provide(engineWith(Monitor.MonitorLive))))

  it.effect("aggregator: a source slower than its 5 s timeout is left out (TestClock)", () =>
    Effect.gen(function*() {
      const e = yield* engine
      const fiber = yield* Effect.fork(Aggregator.program)
      yield* waiting("aggregate-1", "Timer")
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(fiber)).toEqual({ total: 10, from: ["fast", "medium"] })
      const selects = (yield* e.history("aggregate-1")).filter((h) => h.kind === "select")
      expect(selects.map((s) => s.outcome)).toEqual(
        expect.arrayContaining([{ _tag: "Success", value: 0 }, { _tag: "Success", value: 1 }])
      )
    }).pipe(Effect.provide(engineWith(Aggregator.DataAggregatorLive))))

  it.effect("retry: exponential durable backoff (1 s, 2 s), then success or a typed failure (TestClock)", () =>
    Effect.gen(function*() {
      RetryBackoff.attemptsLog.length = 0
      const e = yield* engine
      yield* e.start(RetryBackoff.RetryWithBackoff, { id: "ok", payload: { input: "ok", failures: 2, maxAttempts: 3 } })
      yield* e.start(RetryBackoff.RetryWithBackoff, { id: "ko", payload: { input: "ko", failures: 5, maxAttempts: 3 } })
      const timer1 = yield* waiting("ok", "Timer")
      expect(timer1).toMatchObject({ until: 1000 })
      yield* TestClock.adjust("1 second")
      yield* Effect.sleep("20 millis").pipe(Effect.withClock(live))
      expect(yield* waiting("ok", "Timer")).toMatchObject({ until: 3000 })
      yield* TestClock.adjust("2 seconds")
      expect(yield* e.result(RetryBackoff.RetryWithBackoff, "ok")).toBe("ok ok on attempt 3")
      const failed = yield* Effect.flip(e.result(RetryBackoff.RetryWithBackoff, "ko"))
      expect(failed).toMatchObject({ _tag: "AllAttemptsFailed", attempts: 3 })
      expect(RetryBackoff.attemptsLog.filter((a) => a.startsWith("ok"))).toEqual(["ok#1", "ok#2", "ok#3"])
    }).pipe(Effect.provide(engineWith(RetryBackoff.RetryWithBackoffLive))))

  it.effect("batch state: one batch per run with continue-as-new", () =>
    Effect.gen(function*() {
      expect(yield* BatchState.program).toEqual({
        result: "Processed 95 items with 95 results",
        runs: 10,
        journalEntriesOfLastRun: 5
      })
    }).pipe(Effect.provide(engineWith(BatchState.BatchWorkflowLive))))
})
