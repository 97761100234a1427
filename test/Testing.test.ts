import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { Activity, Component, Entrypoint, Operation, Saga, Testing, Workflow, WorkflowEngine } from "../src/index.js"
import { ActivityTimeout } from "../src/WorkflowError.js"
import { entrypointLayer, Greet, GreetLive, Refused } from "./utils/services.js"

const execute = (service: string, payload: unknown) => Entrypoint.execute({ service, payload })

/** A component-call test layer: the test entrypoint (optionally with interceptors) plus the faults. */
const withFaults = (
  faults: ReadonlyArray<Testing.Fault>,
  interceptors?: Parameters<typeof entrypointLayer>[0]
) => Layer.merge(entrypointLayer(interceptors), Testing.faults(faults))

// ---------------------------------------------------------------------------
// A workflow with one activity, to inject activity faults into
// ---------------------------------------------------------------------------

class PaymentDeclined extends Schema.TaggedError<PaymentDeclined>()("PaymentDeclined", { reason: Schema.String }) {}

const Checkout = Workflow.make({
  name: "Checkout",
  payload: Schema.String,
  success: Schema.Struct({ charge: Schema.String, attempt: Schema.Number }),
  error: Schema.Union(PaymentDeclined, ActivityTimeout)
})

const chargeRuns = { n: 0 }
const CheckoutLive = Checkout.toLayer((order) =>
  Activity.make({
    name: "charge",
    success: Schema.Struct({ charge: Schema.String, attempt: Schema.Number }),
    error: PaymentDeclined,
    execute: Effect.flatMap(
      Effect.sync(() => chargeRuns.n++),
      () => Effect.map(Activity.attempt, (attempt) => ({ charge: `ch-${order}`, attempt }))
    ),
    retry: Schedule.recurs(3),
    timeout: "5 seconds"
  })
)

const checkout = (faults: ReadonlyArray<Testing.Fault>) =>
  Layer.merge(Testing.layerWorkflows(CheckoutLive), Testing.faults(faults))

const runCheckout = (id: string) =>
  Effect.zipRight(WorkflowEngine.start(Checkout, { id, payload: id }), Effect.exit(WorkflowEngine.result(Checkout, id)))

describe("Testing", () => {
  describe("spans", () => {
    it.effect("renders the span tree in execution order, with parents, attributes and status", () =>
      Effect.gen(function*() {
        yield* Effect.gen(function*() {
          yield* Effect.withSpan(Effect.void, "reserve", { attributes: { step: "reserve" } })
          yield* Effect.withSpan(Effect.withSpan(Effect.void, "authorize"), "charge", { attributes: { step: "charge" } })
          yield* Effect.ignore(Effect.withSpan(Effect.fail("no courier"), "ship"))
        }).pipe(Effect.withSpan("order"))

        expect(yield* Testing.spanTree()).toBe(["order", "  reserve", "  charge", "    authorize", "  ship"].join("\n"))
        expect(yield* Testing.spanTree({ status: true, attributes: ["step"] })).toBe(
          ["order", "  reserve {step=reserve}", "  charge {step=charge}", "    authorize", "  ship [error]"].join("\n")
        )
        const authorize = yield* Testing.findSpan("authorize")
        const parent = yield* Testing.parentOf(authorize)
        expect(Option.map(parent, (p) => p.name)).toEqual(Option.some("charge"))
        const order = yield* Testing.findSpan("order")
        expect(yield* Testing.parentOf(order)).toEqual(Option.none())
        expect((yield* Testing.childrenOf(order)).map((s) => s.name)).toEqual(["reserve", "charge", "ship"])
        expect((yield* Testing.findSpan("charge", { step: "charge" })).attributes).toMatchObject({ step: "charge" })
        expect((yield* Testing.findSpan("ship")).failed).toBe(true)
        expect(authorize.traceId).toBe(order.traceId)
      }).pipe(Effect.provide(Testing.layerSpans)))

    it.effect("findSpan fails with SpanNotFound listing the recorded names; resetSpans forgets them", () =>
      Effect.gen(function*() {
        yield* Effect.withSpan(Effect.void, "present")
        const missing = yield* Effect.flip(Testing.findSpan("absent"))
        expect(missing).toBeInstanceOf(Testing.SpanNotFound)
        expect(missing.message).toContain(`"present"`)
        const wrongAttributes = yield* Effect.flip(Testing.findSpan("present", { k: "v" }))
        expect(wrongAttributes._tag).toBe("SpanNotFound")
        yield* Testing.resetSpans
        expect(yield* Testing.spans).toEqual([])
        expect(yield* Testing.spanTree()).toBe("")
      }).pipe(Effect.provide(Testing.layerSpans)))

    it.effect("each build of layerSpans starts empty", () =>
      Effect.gen(function*() {
        expect(yield* Testing.spans).toEqual([])
      }).pipe(Effect.provide(Testing.layerSpans)))
  })

  describe("metrics", () => {
    const calls = Metric.counter("testing_test.calls")
    const depth = Metric.gauge("testing_test.depth")

    it.effect("reads counters as deltas since the layer was built, summed over matching attributes", () =>
      Effect.gen(function*() {
        // recorded before the layer is built: part of the baseline, not of the test
        yield* Metric.incrementBy(Metric.tagged(calls, "service", "user"), 5)
        yield* Effect.gen(function*() {
          yield* Metric.update(calls.pipe(Metric.tagged("service", "user"), Metric.tagged("outcome", "ok")), 1)
          yield* Metric.update(calls.pipe(Metric.tagged("service", "user"), Metric.tagged("outcome", "error")), 1)
          yield* Metric.incrementBy(Metric.tagged(calls, "service", "user"), 2)
          yield* Metric.increment(Metric.tagged(calls, "service", "billing"))
          yield* Metric.set(depth, 7)
          expect(yield* Testing.metricValue("testing_test.calls", { service: "user" })).toBe(4)
          expect(yield* Testing.metricValue("testing_test.calls", { service: "user", outcome: "error" })).toBe(1)
          expect(yield* Testing.metricValue("testing_test.calls")).toBe(5)
          expect(yield* Testing.metricValue("testing_test.calls", { service: "nobody" })).toBe(0)
          expect(yield* Testing.metricValue("testing_test.never_recorded")).toBe(0)
          expect(yield* Testing.metricValue("testing_test.depth")).toBe(7)
        }).pipe(Effect.provide(Testing.layerMetrics))
      }))

    it.effect("reads histograms as observation count and sum", () =>
      Effect.gen(function*() {
        const boundaries = Metric.histogram(
          "testing_test.latency_seconds",
          MetricBoundaries.fromIterable([0.1, 1])
        )
        yield* Metric.update(Metric.tagged(boundaries, "step", "charge"), 0.5)
        yield* Metric.update(Metric.tagged(boundaries, "step", "charge"), 1.5)
        yield* Metric.update(Metric.tagged(boundaries, "step", "ship"), 2)
        expect(yield* Testing.histogramValue("testing_test.latency_seconds", { step: "charge" })).toEqual({
          count: 2,
          sum: 2
        })
        expect((yield* Testing.histogramValue("testing_test.latency_seconds")).count).toBe(3)
      }).pipe(Effect.provide(Testing.layerMetrics)))
  })

  describe("the fault hook", () => {
    it.effect("inactive by default: call sites get their effect back unchanged", () =>
      Effect.gen(function*() {
        const faults = yield* Testing.Faults
        expect(faults.active).toBe(false)
        const effect = Effect.succeed(1)
        expect(faults.wrap("component", "greet", effect)).toBe(effect)
      }))

    it.effect("leaf names match the full path or the last segment; other names are left alone", () =>
      Effect.gen(function*() {
        const faults = yield* Testing.Faults
        const leaf = Effect.succeed("ran")
        expect(faults.wrap("leaf", "bulk-update/search-service", leaf)).toBe(leaf)
        expect(faults.wrap("component", "inventory-service", leaf)).toBe(leaf)
        const byPath = yield* Effect.flip(faults.wrap("leaf", "bulk-update/inventory-service", leaf))
        expect(byPath).toMatchObject({ _tag: "FaultInjected", target: "leaf", name: "bulk-update/inventory-service" })
        // a component name is matched exactly, never by segment
        expect(faults.wrap("component", "x/inventory-service", leaf)).toBe(leaf)
      }).pipe(Effect.provide(Testing.faults([Testing.failTimes("leaf", "inventory-service", 1)]))))

    it.effect("latency and a failure on the same target compose: the attempt waits, then fails", () =>
      Effect.gen(function*() {
        const faults = yield* Testing.Faults
        const fiber = yield* Effect.fork(Effect.flip(faults.wrap("activity", "charge", Effect.succeed("ok"))))
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.poll(fiber)).toEqual(Option.none())
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(fiber)).toBe("declined")
        // both faults were for one attempt: the next one runs at once
        expect(yield* faults.wrap("activity", "charge", Effect.succeed("ok"))).toBe("ok")
      }).pipe(Effect.provide(Testing.faults([
        Testing.latency("activity", "charge", "2 seconds", 1),
        Testing.failWith("activity", "charge", "declined", 1)
      ]))))
  })

  describe("faults on a component call", () => {
    it.effect("failTimes: the retry interceptor sees each injected failure, then the call succeeds", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(execute("greet", { name: "Ada" }))
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(fiber)).toEqual({ greeting: "Hello Ada", version: 1 })
        // exact names only: "greet-v2" has no fault
        expect(yield* execute("greet-v2", { name: "Ada" })).toMatchObject({ version: 2 })
      }).pipe(Effect.provide(withFaults([Testing.failTimes("component", "greet", 2)], {
        interceptors: { retry: { order: 1, config: { base: "10 millis", maxAttempts: 3 } } }
      }))))

    it.effect("failTimes: without a retry the first calls fail with FaultInjected, the next succeeds", () =>
      Effect.gen(function*() {
        const first = yield* Effect.flip(execute("greet", { name: "Ada" }))
        expect(first._tag).toBe("ComponentFailed")
        expect(first._tag === "ComponentFailed" && first.error).toBeInstanceOf(Testing.FaultInjected)
        expect(first._tag === "ComponentFailed" && first.error).toMatchObject({ target: "component", name: "greet", attempt: 1 })
        expect(yield* execute("greet", { name: "Ada" })).toMatchObject({ greeting: "Hello Ada" })
      }).pipe(Effect.provide(withFaults([Testing.failTimes("component", "greet", 1)]))))

    it.effect("failWith: the component's own typed error, encoded by its error schema", () =>
      Effect.gen(function*() {
        for (let i = 0; i < 3; i++) {
          const failed = yield* Effect.flip(execute("greet", { name: "Ada" }))
          expect(failed._tag === "ComponentFailed" && failed.error).toEqual({ _tag: "Refused", reason: "injected" })
        }
      }).pipe(Effect.provide(withFaults([Testing.failWith("component", "greet", new Refused({ reason: "injected" }))]))))

    it.effect("die: the call dies with the given defect", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(execute("greet", { name: "Ada" }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toEqual(new Error("disk on fire"))
      }).pipe(Effect.provide(withFaults([Testing.die("component", "greet", new Error("disk on fire"))]))))

    it.effect("latency: the call waits on TestClock; a timeout interceptor then fires", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(execute("greet", { name: "Ada" }))
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.poll(fiber)).toEqual(Option.none())
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(fiber)).toMatchObject({ greeting: "Hello Ada" })
      }).pipe(Effect.provide(withFaults([Testing.latency("component", "greet", "2 seconds")]))))

    it.effect("latency beyond the timeout interceptor's limit fails the call with TimeoutExceeded", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.flip(execute("greet", { name: "Ada" })))
        yield* TestClock.adjust("2 seconds")
        expect((yield* Fiber.join(fiber))._tag).toBe("TimeoutExceeded")
      }).pipe(Effect.provide(withFaults([Testing.latency("component", "greet", "10 seconds")], {
        interceptors: { timeout: { config: { duration: "1 second" } } }
      }))))

    it.effect("typed code calling Component.call directly is not a call site (no interceptors there)", () =>
      Effect.gen(function*() {
        const faults = yield* Testing.Faults
        expect(faults.active).toBe(true)
        const direct = yield* Effect.provide(Component.call(Greet, { name: "Ada" }, { version: 9 }), GreetLive)
        expect(direct).toMatchObject({ version: 9 })
      }).pipe(Effect.provide(Testing.faults([Testing.failWith("component", "greet", "x")]))))

    it.effect("withProbability: a seeded fault gives the same outcomes on every build; 0 never, 1 always fires", () =>
      Effect.gen(function*() {
        const outcomes = (fault: Testing.Fault) =>
          Effect.gen(function*() {
            const results: Array<boolean> = []
            for (let i = 0; i < 20; i++) {
              results.push(Exit.isSuccess(yield* Effect.exit(execute("greet", { name: "Ada" }))))
            }
            return results
          }).pipe(Effect.provide(withFaults([fault])))
        const half = Testing.withProbability(Testing.failWith("component", "greet", "busy"), 0.5, "seed-1")
        const first = yield* outcomes(half)
        expect(yield* outcomes(half)).toEqual(first)
        expect(first).toContain(true)
        expect(first).toContain(false)
        const never = yield* outcomes(Testing.withProbability(Testing.failWith("component", "greet", "busy"), 0, 1))
        expect(never.every((ok) => ok)).toBe(true)
        const always = yield* outcomes(Testing.withProbability(Testing.failWith("component", "greet", "busy"), 1, 1))
        expect(always.some((ok) => ok)).toBe(false)
      }))
  })

  describe("faults on a workflow activity", () => {
    it.effect("failTimes: applies per attempt inside the activity's retry; the journal records the success", () =>
      Effect.gen(function*() {
        chargeRuns.n = 0
        const exit = yield* runCheckout("o-1")
        expect(exit).toEqual(Exit.succeed({ charge: "ch-o-1", attempt: 3 }))
        expect(chargeRuns.n).toBe(1)
        const history = yield* Effect.flatMap(WorkflowEngine.WorkflowEngine, (e) => e.history("o-1"))
        expect(history.map((h) => h.name)).toEqual(["charge"])
      }).pipe(Effect.provide(checkout([Testing.failTimes("activity", "charge", 2)]))))

    it.effect("failWith: the activity fails with the typed error once its retries are spent", () =>
      Effect.gen(function*() {
        chargeRuns.n = 0
        const exit = yield* runCheckout("o-2")
        expect(exit).toEqual(Exit.fail(new PaymentDeclined({ reason: "card expired" })))
        expect(chargeRuns.n).toBe(0)
      }).pipe(Effect.provide(checkout([
        Testing.failWith("activity", "charge", new PaymentDeclined({ reason: "card expired" }))
      ]))))

    it.effect("die: a defect in the activity fails the workflow", () =>
      Effect.gen(function*() {
        const exit = yield* runCheckout("o-3")
        expect(Exit.isFailure(exit)).toBe(true)
      }).pipe(Effect.provide(checkout([Testing.die("activity", "charge")]))))

    it.effect("latency: counts against the activity's timeout (TestClock)", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(runCheckout("o-4"))
        yield* TestClock.adjust("5 seconds")
        const exit = yield* Fiber.join(fiber)
        expect(exit).toEqual(Exit.fail(new ActivityTimeout({ activity: "charge", timeoutMillis: 5000 })))
      }).pipe(Effect.provide(checkout([Testing.latency("activity", "charge", "1 minute")]))))

    it.effect("latency below the timeout only delays the activity", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(runCheckout("o-5"))
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(fiber)).toEqual(Exit.succeed({ charge: "ch-o-5", attempt: 1 }))
      }).pipe(Effect.provide(checkout([Testing.latency("activity", "charge", "1 second")]))))
  })

  describe("faults on a saga step", () => {
    it.effect("failTimes on a step: the saga compensates the completed steps in reverse", () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const step = (name: string) =>
          Saga.step(name, Effect.sync(() => log.push(name)), () => Effect.sync(() => log.push(`undo ${name}`)))
        const saga = Saga.run("order", Effect.all([step("reserve"), step("charge"), step("ship")]))
        const failed = yield* Effect.flip(saga)
        expect(failed._tag).toBe("SagaFailed")
        expect(log).toEqual(["reserve", "charge", "undo charge", "undo reserve"])
        log.length = 0
        yield* saga // the fault was for one attempt only
        expect(log).toEqual(["reserve", "charge", "ship"])
      }).pipe(Effect.provide(Testing.faults([Testing.failTimes("step", "ship", 1)]))))
  })

  // These two need the operation executor to call the fault hook for leaves (src/internal/operation.ts):
  // they fail until `faults.wrap("leaf", path, body)` is applied inside the leaf's retry and timeout.
  describe("faults on an operation leaf", () => {
    it.effect("failTimes by last path segment: the leaf's retry sees both failures, then it succeeds", () =>
      Effect.gen(function*() {
        const runs = { n: 0 }
        const retries = { n: 0 }
        const schedule = Schedule.recurs(3).pipe(Schedule.tapInput(() => Effect.sync(() => retries.n++)))
        const tree = Operation.sequence("bulk-update", [
          Operation.leaf("inventory-service", Effect.sync(() => ++runs.n)).pipe(Operation.withRetry(schedule))
        ])
        expect(yield* Operation.run(tree)).toEqual([1])
        expect(runs.n).toBe(1)
        expect(retries.n).toBe(2)
      }).pipe(Effect.provide(Testing.faults([Testing.failTimes("leaf", "inventory-service", 2)]))))

    it.effect("failWith by full path fails that leaf only", () =>
      Effect.gen(function*() {
        const ran: Array<string> = []
        const tree = Operation.sequence("bulk-update", [
          Operation.leaf("search-service", Effect.sync(() => ran.push("search"))),
          Operation.leaf("inventory-service", Effect.sync(() => ran.push("inventory")))
        ])
        const exit = yield* Effect.exit(Operation.run(tree))
        expect(Exit.isFailure(exit)).toBe(true)
        expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toBe("stock db down")
        expect(ran).toEqual(["search"])
      }).pipe(Effect.provide(Testing.faults([Testing.failWith("leaf", "bulk-update/inventory-service", "stock db down")]))))
  })

  describe("workflows", () => {
    const Approval = Workflow.make({
      name: "Approval",
      payload: Schema.String,
      success: Schema.Struct({ approved: Schema.Boolean, escalated: Schema.Boolean })
    })
    const ApprovalLive = Approval.toLayer(() =>
      Effect.gen(function*() {
        const first = yield* Workflow.select([
          Effect.map(Workflow.awaitEvent("Answer", Schema.Boolean), Option.some),
          Effect.as(Workflow.sleep("24 hours", "approval-timeout"), Option.none())
        ])
        if (Option.isSome(first.value)) return { approved: first.value.value, escalated: false }
        return { approved: yield* Workflow.awaitEvent("Answer", Schema.Boolean), escalated: true }
      })
    )

    it.effect("a 24-hour durable timer fires under TestClock.adjust", () =>
      Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        yield* engine.start(Approval, { id: "a-1", payload: "expense" })
        const timer = yield* Testing.awaitTimer("a-1")
        expect(timer.until).toBe(24 * 3600 * 1000)
        yield* TestClock.adjust("23 hours")
        expect((yield* engine.status("a-1")).waiting?._tag).toBe("Timer")
        yield* TestClock.adjust("1 hour")
        const waiting = yield* Testing.awaitEvent("a-1")
        expect(waiting.event).toBe("Answer")
        yield* engine.signal("a-1", "Answer", true)
        expect(yield* engine.result(Approval, "a-1")).toEqual({ approved: true, escalated: true })
        const done = yield* Testing.awaitWorkflow("a-1", (r) => r.status === "completed")
        expect(done.status).toBe("completed")
      }).pipe(Effect.provide(Testing.layerWorkflows(ApprovalLive))))

    it.effect("each build has fresh storage; awaitWorkflow fails with WorkflowNotReached naming the last state", () =>
      Effect.gen(function*() {
        const engine = yield* WorkflowEngine.WorkflowEngine
        expect(yield* engine.list()).toEqual([])
        yield* engine.start(Approval, { id: "a-1", payload: "expense" })
        yield* Testing.awaitTimer("a-1")
        const error = yield* Effect.flip(
          Testing.awaitWorkflow("a-1", (r) => r.status === "completed", { within: "50 millis" })
        )
        expect(error).toBeInstanceOf(Testing.WorkflowNotReached)
        expect(error.message).toContain("waiting on Timer")
      }).pipe(Effect.provide(Testing.layerWorkflows(ApprovalLive))))
  })
})
