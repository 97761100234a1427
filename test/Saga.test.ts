import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Operation from "../src/Operation.js"
import * as Saga from "../src/Saga.js"
import { inMemoryTracer, parentNames } from "./utils/spans.js"

class StepFailed extends Data.TaggedError("StepFailed")<{ readonly step: string }> {
  override get message() {
    return `${this.step} failed`
  }
}

class UndoFailed extends Data.TaggedError("UndoFailed")<{ readonly step: string }> {}

/** Runs a saga and returns its SagaFailed error (fails the test if the saga succeeded). */
const failureOf = <A, E, R>(saga: Effect.Effect<A, Saga.SagaFailed<E>, R>) => Effect.flip(saga)

const failing = (step: string): Effect.Effect<string, StepFailed> => Effect.fail(new StepFailed({ step }))

const summary = (compensations: ReadonlyArray<Saga.Compensation>) =>
  compensations.map((c) => `${c.step}:${c.outcome._tag}`)

describe("Saga", () => {
  it.effect("compensates completed steps in reverse order, passing each its output and the cause", () =>
    Effect.gen(function*() {
      const undone: Array<string> = []
      const reasons: Array<string> = []
      const undo = (step: string) => (output: string, cause: Cause.Cause<unknown>) =>
        Effect.sync(() => {
          undone.push(`${step}(${output})`)
          reasons.push(Saga.reasonOf(cause))
        })
      const error = yield* failureOf(Saga.run(
        "three",
        Effect.gen(function*() {
          const a = yield* Saga.step("a", Effect.succeed("A1"), undo("a"))
          const b = yield* Saga.step("b", Effect.succeed(`${a}-B2`), undo("b"))
          yield* Saga.step("c", Effect.fail(new StepFailed({ step: "c" })), () => Effect.sync(() => undone.push("c")))
          return b
        })
      ))
      expect(undone).toEqual(["b(A1-B2)", "a(A1)"])
      expect(reasons).toEqual(["c failed", "c failed"])
      expect(error._tag).toBe("SagaFailed")
      expect(error.saga).toBe("three")
      expect(Cause.squash(error.cause)).toEqual(new StepFailed({ step: "c" }))
      expect(summary(error.compensations)).toEqual(["b:Compensated", "a:Compensated"])
      expect(error.message).toContain("2 compensated")
    }))

  it.effect("runs no compensation when the saga succeeds", () =>
    Effect.gen(function*() {
      const undone: Array<string> = []
      const out = yield* Saga.run(
        "ok",
        Effect.gen(function*() {
          const a = yield* Saga.step("a", Effect.succeed(1), () => Effect.sync(() => undone.push("a")))
          const b = yield* Saga.step("b", Effect.succeed(a + 1), { compensate: () => Effect.sync(() => undone.push("b")) })
          return a + b
        })
      )
      expect(out).toBe(3)
      expect(undone).toEqual([])
    }))

  it.effect("interruption compensates the completed steps, not the running one", () =>
    Effect.gen(function*() {
      const undone: Array<string> = []
      const reached = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Saga.run(
        "interrupted",
        Effect.gen(function*() {
          yield* Saga.step("a", Effect.succeed("A"), (a, cause) =>
            Effect.sync(() => undone.push(`${a}:${Cause.isInterruptedOnly(cause)}`)))
          yield* Saga.step(
            "b",
            Effect.zipRight(Deferred.succeed(reached, undefined), Effect.never),
            () => Effect.sync(() => undone.push("b"))
          )
        })
      ))
      yield* Deferred.await(reached)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(undone).toEqual(["A:true"])
      // The interrupted fiber's cause also carries the SagaFailed report.
      const report = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
      expect(report?._tag === "Some" && summary(report.value.compensations)).toEqual(["a:Compensated"])
    }))

  describe("compensation failures", () => {
    const saga = (options: Saga.RunOptions) =>
      Saga.run(
        "failing-undo",
        Effect.gen(function*() {
          yield* Saga.step("a", Effect.void, () => Effect.void)
          yield* Saga.irreversible("email", Effect.void)
          yield* Saga.step("b", Effect.void, () => Effect.fail(new UndoFailed({ step: "b" })))
          yield* Saga.step("c", Effect.void, () => Effect.void)
          return yield* new StepFailed({ step: "d" })
        }),
        options
      )

    it.effect("continue (default): every compensation runs and each outcome is reported", () =>
      Effect.gen(function*() {
        const error = yield* failureOf(saga({}))
        expect(summary(error.compensations)).toEqual(["c:Compensated", "b:Failed", "email:Irreversible", "a:Compensated"])
        const failed = error.compensations[1]!.outcome
        expect(failed._tag === "Failed" && Cause.squash(failed.cause)).toEqual(new UndoFailed({ step: "b" }))
      }))

    it.effect("stop: the compensations after the first failure are skipped", () =>
      Effect.gen(function*() {
        const error = yield* failureOf(saga({ onCompensationFailure: "stop" }))
        expect(summary(error.compensations)).toEqual(["c:Compensated", "b:Failed", "email:Irreversible", "a:Skipped"])
      }))
  })

  it.effect("retries a failing compensation with the given Schedule", () =>
    Effect.gen(function*() {
      let attempts = 0
      const flakyUndo = () =>
        Effect.suspend(() => ++attempts < 3 ? Effect.fail(new UndoFailed({ step: "a" })) : Effect.void)
      const body = Effect.zipRight(Saga.step("a", Effect.void, flakyUndo), Effect.fail(new StepFailed({ step: "b" })))

      const retried = yield* failureOf(Saga.run("retry-ok", body, { compensationRetry: Schedule.recurs(5) }))
      expect(summary(retried.compensations)).toEqual(["a:Compensated"])
      expect(attempts).toBe(3)

      attempts = 0
      const exhausted = yield* failureOf(Saga.run("retry-exhausted", body, { compensationRetry: Schedule.recurs(1) }))
      expect(summary(exhausted.compensations)).toEqual(["a:Failed"])
      expect(attempts).toBe(2)
    }))

  it.live("steps that ran in parallel are compensated in parallel, after the later steps", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const aStarted = yield* Deferred.make<void>()
      const bStarted = yield* Deferred.make<void>()
      // Each compensation of the parallel pair waits for the other to start: this only finishes if they overlap.
      const meet = (mine: Deferred.Deferred<void>, other: Deferred.Deferred<void>, name: string) => () =>
        Effect.gen(function*() {
          events.push(`start:${name}`)
          yield* Deferred.succeed(mine, undefined)
          yield* Deferred.await(other)
          events.push(`end:${name}`)
        })
      const error = yield* Effect.timeout(Effect.disconnect(failureOf(Saga.run(
        "parallel",
        Effect.gen(function*() {
          yield* Saga.step("first", Effect.void, () => Effect.sync(() => events.push("first")))
          yield* Effect.all([
            Saga.step("a", Effect.yieldNow(), meet(aStarted, bStarted, "a")),
            Saga.step("b", Effect.yieldNow(), meet(bStarted, aStarted, "b"))
          ], { concurrency: "unbounded" })
          yield* Saga.step("last", Effect.void, () => Effect.sync(() => events.push("last")))
          return yield* new StepFailed({ step: "end" })
        })
      ))), "5 seconds") // only a guard against a deadlock (sequential compensation)
      expect(events[0]).toBe("last")
      expect(events.slice(1, 3).sort()).toEqual(["start:a", "start:b"])
      expect(events.slice(3, 5).sort()).toEqual(["end:a", "end:b"])
      expect(events[5]).toBe("first")
      expect(error.compensations.map((c) => c.step).sort()).toEqual(["a", "b", "first", "last"])
    }))

  it.live("Saga.all: members are compensated in parallel even when their forward runs did not overlap", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const aStarted = yield* Deferred.make<void>()
      const bStarted = yield* Deferred.make<void>()
      const meet = (mine: Deferred.Deferred<void>, other: Deferred.Deferred<void>, name: string) => () =>
        Effect.gen(function*() {
          events.push(`start:${name}`)
          yield* Deferred.succeed(mine, undefined)
          yield* Deferred.await(other)
          events.push(`end:${name}`)
        })
      const record = (name: string) => () => Effect.sync(() => events.push(name))
      const error = yield* Effect.timeout(
        Effect.disconnect(failureOf(Saga.run(
          "saga-all",
          Effect.gen(function*() {
            yield* Saga.all([
              // synchronous forward effects: each member runs to completion before the next starts
              Effect.zipRight(Saga.step("a1", Effect.void, record("a1")), Saga.step("a2", Effect.void, meet(aStarted, bStarted, "a2"))),
              Saga.step("b", Effect.void, meet(bStarted, aStarted, "b"))
            ])
            return yield* new StepFailed({ step: "end" })
          })
        ))),
        "5 seconds" // only a guard against a deadlock (sequential compensation)
      )
      expect(events.slice(0, 2).sort()).toEqual(["start:a2", "start:b"])
      expect(events.slice(2, 4).sort()).toEqual(["end:a2", "end:b"])
      // a1 and a2 ran one after the other in the same member: a1 is compensated after a2
      expect(events[4]).toBe("a1")
      expect(error.compensations.map((c) => c.step).sort()).toEqual(["a1", "a2", "b"])
    }))

  it.effect("a step nested in another step's forward effect is compensated after it (not in parallel)", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const undo = (name: string) => () =>
        Effect.sync(() => events.push(`start:${name}`)).pipe(Effect.zipRight(Effect.yieldNow()), Effect.zipRight(Effect.sync(() => events.push(`end:${name}`))))
      const error = yield* failureOf(Saga.run(
        "nested",
        Effect.gen(function*() {
          yield* Saga.step(
            "outer",
            Effect.all([Saga.step("inner-1", Effect.yieldNow(), undo("inner-1")), Saga.step("inner-2", Effect.void, undo("inner-2"))]),
            undo("outer")
          )
          return yield* new StepFailed({ step: "after" })
        })
      ))
      expect(events).toEqual(["start:outer", "end:outer", "start:inner-2", "end:inner-2", "start:inner-1", "end:inner-1"])
      expect(summary(error.compensations)).toEqual(["outer:Compensated", "inner-2:Compensated", "inner-1:Compensated"])
    }))

  it.effect("a nested saga that succeeded is compensated when the outer saga fails later", () =>
    Effect.gen(function*() {
      const undone: Array<string> = []
      const undo = (name: string) => () => Effect.sync(() => undone.push(name))
      const error = yield* failureOf(Saga.run(
        "outer",
        Effect.gen(function*() {
          yield* Saga.step("before", Effect.void, undo("before"))
          yield* Saga.run(
            "inner",
            Effect.zipRight(Saga.step("x", Effect.void, undo("x")), Saga.step("y", Effect.void, undo("y")))
          )
          yield* Saga.step("after", Effect.void, undo("after"))
          return yield* new StepFailed({ step: "end" })
        })
      ))
      expect(undone).toEqual(["after", "y", "x", "before"])
      expect(summary(error.compensations)).toEqual(["after:Compensated", "y:Compensated", "x:Compensated", "before:Compensated"])
    }))

  it.effect("a compensation sees the services the step was run with", () =>
    Effect.gen(function*() {
      class Inventory extends Context.Tag("test/Inventory")<Inventory, { readonly released: Array<string> }>() {}
      const inventory = { released: [] as Array<string> }
      const reserve = Saga.step("reserve", Effect.succeed("r-1"), (id) =>
        Effect.flatMap(Inventory, (inv) => Effect.sync(() => inv.released.push(id))))
      const error = yield* failureOf(Saga.run(
        "context",
        Effect.zipRight(Effect.provideService(reserve, Inventory, inventory), Effect.fail(new StepFailed({ step: "next" })))
      ))
      expect(inventory.released).toEqual(["r-1"])
      expect(summary(error.compensations)).toEqual(["reserve:Compensated"])
    }))

  it.effect("withCompensation is dual", () =>
    Effect.gen(function*() {
      const undone: Array<string> = []
      const error = yield* failureOf(Saga.run(
        "dual",
        Effect.gen(function*() {
          yield* Saga.withCompensation(Effect.succeed(1), "data-first", (n) => Effect.sync(() => undone.push(`first:${n}`)))
          yield* Effect.succeed(2).pipe(Saga.withCompensation("data-last", (n) => Effect.sync(() => undone.push(`last:${n}`))))
          return yield* new StepFailed({ step: "end" })
        })
      ))
      expect(undone).toEqual(["last:2", "first:1"])
      expect(summary(error.compensations)).toEqual(["data-last:Compensated", "data-first:Compensated"])
    }))

  describe("operation trees", () => {
    it.scoped("saga leaves of a tree are compensated and the tree status shows it", () =>
      Effect.gen(function*() {
        const undone: Array<string> = []
        const undo = (name: string) => (output: string) => Effect.sync(() => undone.push(`${name}(${output})`))
        const tree = Operation.sequence("order", [
          Saga.leaf("reserve", Effect.succeed("r1"), undo("reserve")),
          Operation.parallel("pay", [
            Saga.leaf("card", Effect.succeed("c1"), undo("card")),
            Saga.leaf("points", Effect.succeed("p1"), () => Effect.fail(new UndoFailed({ step: "points" }))),
            Saga.leaf("receipt", Effect.succeed("m1"))
          ], { concurrency: "unbounded" }),
          Saga.leaf("ship", failing("ship"), undo("ship"))
        ])
        let execution: Operation.Execution<unknown, unknown> | undefined
        const error = yield* failureOf(Saga.run(
          "tree",
          Effect.gen(function*() {
            const started = yield* Operation.start(tree)
            execution = started
            return yield* Fiber.join(started.fiber)
          })
        ))
        expect(undone.at(-1)).toBe("reserve(r1)")
        expect(undone.slice(0, -1).sort()).toEqual(["card(c1)"])
        expect(summary(error.compensations).slice(0, 3).sort()).toEqual([
          "card:Compensated",
          "points:Failed",
          "receipt:Irreversible"
        ])
        expect(summary(error.compensations)[3]).toBe("reserve:Compensated")
        const snapshot = yield* execution!.snapshot
        expect(snapshot.node("order/reserve")?.status).toBe("compensated")
        expect(snapshot.node("order/pay/card")?.status).toBe("compensated")
        expect(snapshot.node("order/pay/points")?.status).toBe("compensation-failed")
        expect(snapshot.node("order/pay/receipt")?.status).toBe("succeeded")
        expect(snapshot.node("order/ship")?.status).toBe("failed")
      }))

    it.live("Saga.parallel: members are compensated in parallel even when they did not overlap", () =>
      Effect.gen(function*() {
        const events: Array<string> = []
        const aStarted = yield* Deferred.make<void>()
        const bStarted = yield* Deferred.make<void>()
        const meet = (mine: Deferred.Deferred<void>, other: Deferred.Deferred<void>, name: string) => () =>
          Effect.gen(function*() {
            events.push(`start:${name}`)
            yield* Deferred.succeed(mine, undefined)
            yield* Deferred.await(other)
            events.push(`end:${name}`)
          })
        const record = (name: string) => () => Effect.sync(() => events.push(name))
        const tree = Operation.sequence("order", [
          Saga.parallel("pay", {
            card: Operation.sequence("card", [
              Saga.leaf("authorize", Effect.succeed("auth"), record("authorize")),
              Saga.leaf("capture", Effect.succeed("cap"), meet(aStarted, bStarted, "capture"))
            ]),
            points: Saga.leaf("points", Effect.succeed(10), meet(bStarted, aStarted, "points"))
          }, { concurrency: "unbounded" }),
          Saga.leaf("ship", failing("ship"))
        ])
        const error = yield* Effect.timeout(
          Effect.disconnect(failureOf(Saga.run("tree-parallel", tree))),
          "5 seconds" // only a guard against a deadlock (sequential compensation)
        )
        expect(events.slice(0, 2).sort()).toEqual(["start:capture", "start:points"])
        expect(events.slice(2, 4).sort()).toEqual(["end:capture", "end:points"])
        expect(events[4]).toBe("authorize")
        expect(error.compensations.map((c) => c.step).sort()).toEqual(["authorize", "capture", "points"])
      }))

    it.effect("a retried saga leaf is compensated once, for the attempt that succeeded", () =>
      Effect.gen(function*() {
        const undone: Array<string> = []
        let attempt = 0
        const flaky = Effect.suspend(() =>
          ++attempt < 3 ? Effect.fail(new StepFailed({ step: "flaky" })) : Effect.succeed(`attempt-${attempt}`)
        )
        const tree = Operation.sequence("retried", [
          Saga.leaf("flaky", flaky, (out) => Effect.sync(() => undone.push(out))).pipe(Operation.withRetry(Schedule.recurs(3))),
          Saga.leaf("last", failing("last"))
        ])
        const error = yield* failureOf(Saga.run("retried-leaf", tree))
        expect(undone).toEqual(["attempt-3"])
        expect(summary(error.compensations)).toEqual(["flaky:Compensated"])
      }))

    it.effect("a tree of saga leaves yielded directly in Saga.run compensates on failure", () =>
      Effect.gen(function*() {
        const undone: Array<string> = []
        const tree = Operation.sequence("s", [
          Saga.leaf("one", Effect.succeed(1), (n) => Effect.sync(() => undone.push(`one:${n}`))),
          Saga.leaf("two", failing("two"))
        ])
        const error = yield* failureOf(Saga.run("direct-tree", tree))
        expect(undone).toEqual(["one:1"])
        expect(summary(error.compensations)).toEqual(["one:Compensated"])
      }))
  })

  describe("observability", () => {
    it.effect("counts compensations and failures and records durations, labelled by saga and step", () =>
      Effect.gen(function*() {
        const name = "metrics-saga"
        const of = <T, I, O>(metric: Metric.Metric<T, I, O>, step: string) =>
          Metric.value(metric.pipe(Metric.tagged("saga", name), Metric.tagged("step", step)))
        yield* Effect.ignore(Saga.run(
          name,
          Effect.gen(function*() {
            yield* Saga.step("ok", Effect.void, () => Effect.void)
            yield* Saga.step("bad", Effect.void, () => Effect.fail(new UndoFailed({ step: "bad" })))
            return yield* new StepFailed({ step: "end" })
          })
        ))
        expect((yield* of(Saga.compensationsTotal, "ok")).count).toBe(1)
        expect((yield* of(Saga.compensationsTotal, "bad")).count).toBe(1)
        expect((yield* of(Saga.compensationFailuresTotal, "ok")).count).toBe(0)
        expect((yield* of(Saga.compensationFailuresTotal, "bad")).count).toBe(1)
        expect((yield* of(Saga.compensationDuration, "ok")).count).toBe(1)
        const snapshot = yield* Metric.snapshot
        const names = snapshot.filter((pair) => pair.metricKey.tags.some((t) => t.key === "saga" && t.value === name))
          .map((pair) => pair.metricKey.name)
        expect(new Set(names)).toEqual(
          new Set(["effect_loom.saga.compensations", "effect_loom.saga.compensation_failures", "effect_loom.saga.compensation.duration"])
        )
      }))

    it.effect("a span per forward step and per compensation, under the saga's span", () => {
      const tracer = inMemoryTracer()
      return Effect.gen(function*() {
        yield* Effect.ignore(Saga.run(
          "traced",
          Effect.zipRight(
            Saga.step("reserve", Effect.void, () => Effect.withSpan(Effect.void, "inventory.release")),
            Saga.step("charge", Effect.fail(new StepFailed({ step: "charge" })), () => Effect.void)
          )
        ))
        const spans = tracer.spans()
        expect(spans.map((s) => s.name).sort()).toEqual([
          "charge.forward",
          "inventory.release",
          "reserve.compensate",
          "reserve.forward",
          "traced.saga"
        ])
        const parents = parentNames(spans)
        expect(parents.get("reserve.forward")).toBe("traced.saga")
        expect(parents.get("reserve.compensate")).toBe("traced.saga")
        expect(parents.get("inventory.release")).toBe("reserve.compensate")
        const compensate = spans.find((s) => s.name === "reserve.compensate")!
        expect(compensate.attributes["saga.step"]).toBe("reserve")
      }).pipe(Effect.provide(tracer.layer))
    })

    it.effect("logs compensation_started / completed / failed with saga, step and reason", () =>
      Effect.gen(function*() {
        const lines: Array<{ message: string; annotations: Record<string, unknown> }> = []
        const logger = Logger.make(({ annotations, message }) => {
          lines.push({
            message: String(Array.isArray(message) ? message[0] : message),
            annotations: Object.fromEntries(HashMap.toEntries(annotations))
          })
        })
        yield* Effect.ignore(Saga.run(
          "logged",
          Effect.gen(function*() {
            yield* Saga.step("refund", Effect.void, () => Effect.fail(new UndoFailed({ step: "refund" })))
            yield* Saga.step("release", Effect.void, () => Effect.void)
            return yield* new StepFailed({ step: "ship" })
          })
        ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))))
        expect(lines.map((l) => `${l.message}:${String(l.annotations.step)}`)).toEqual([
          "compensation_started:release",
          "compensation_completed:release",
          "compensation_started:refund",
          "compensation_failed:refund"
        ])
        for (const line of lines) {
          expect(line.annotations.saga).toBe("logged")
          expect(line.annotations.reason).toBe("ship failed")
        }
        expect(lines[3]!.annotations.error).toBe("UndoFailed")
      }))
  })
})
