import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as ThreePhaseSaga from "../src/ThreePhaseSaga.js"

class ParticipantFailed extends Data.TaggedError("ParticipantFailed")<{ readonly participant: string; readonly phase: string }> {
  override get message() {
    return `${this.participant} failed to ${this.phase}`
  }
}

type Phase = "execute" | "verify" | "approve"

/** A participant that records what ran and fails in `failIn`, if given. */
const makeParticipant = (name: string, calls: Array<string>, failIn?: Phase) => {
  const act = (phase: Phase, pending?: string) =>
    Effect.suspend(() => {
      calls.push(`${name}.${phase}${pending === undefined ? "" : `(${pending})`}`)
      return failIn === phase ? Effect.fail(new ParticipantFailed({ participant: name, phase })) : Effect.void
    })
  const execute = Effect.as(act("execute"), `${name}-pending`)
  return ThreePhaseSaga.participant({
    name,
    execute,
    verify: (pending) => act("verify", pending),
    approve: (pending) => act("approve", pending),
    compensate: (pending) => Effect.sync(() => calls.push(`${name}.compensate(${pending})`))
  })
}

const compensated = (calls: ReadonlyArray<string>) => calls.filter((c) => c.includes(".compensate")).sort()
const entries = (logs: ReadonlyArray<ThreePhaseSaga.LogEntry>) =>
  logs.map((l) => `${l.participant}:${l.phase}:${l.outcome}`).sort()

/** Collects the saga's states until it completes or fails; returns once the watcher has subscribed. */
const watchStates = <E, R>(saga: ThreePhaseSaga.ThreePhaseSaga<E, R>) =>
  Effect.gen(function*() {
    const subscribed = yield* Deferred.make<void>()
    const fiber = yield* saga.changes.pipe(
      Stream.tap(() => Deferred.succeed(subscribed, undefined)),
      Stream.takeUntil((s) => s === "completed" || s === "failed"),
      Stream.runCollect,
      Effect.map(Chunk.toArray),
      Effect.fork
    )
    yield* Deferred.await(subscribed)
    return fiber
  })

describe("ThreePhaseSaga", () => {
  it.effect("runs execute, verify, approve on every participant, in that order, and completes", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const saga = yield* ThreePhaseSaga.make("ok", [makeParticipant("user", calls), makeParticipant("payment", calls)])
      expect(yield* saga.state).toBe("pending")
      yield* saga.run
      expect(yield* saga.state).toBe("completed")
      const phaseOf = (c: string) => c.split(".")[1]!.split("(")[0]
      expect(calls.map(phaseOf)).toEqual(["execute", "execute", "verify", "verify", "approve", "approve"])
      expect(calls).toContain("user.verify(user-pending)")
      expect(calls).toContain("payment.approve(payment-pending)")
      expect(compensated(calls)).toEqual([])
      const logs = yield* saga.executionLogs
      expect(entries(logs)).toEqual([
        "payment:approve:succeeded",
        "payment:execute:succeeded",
        "payment:verify:succeeded",
        "user:approve:succeeded",
        "user:execute:succeeded",
        "user:verify:succeeded"
      ])
      expect(Schema.is(Schema.Array(ThreePhaseSaga.LogEntry))(logs)).toBe(true)
      expect(yield* saga.lastError).toEqual(Option.none())
    }))

  it.effect("a failed execute compensates exactly the participants that executed", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const saga = yield* ThreePhaseSaga.make("exec-fails", [
        makeParticipant("user", calls),
        makeParticipant("payment", calls, "execute"),
        makeParticipant("inventory", calls)
      ])
      const error = yield* Effect.flip(saga.run)
      expect(error.phase).toBe("execute")
      expect(Cause.squash(error.cause)).toEqual(new ParticipantFailed({ participant: "payment", phase: "execute" }))
      expect(compensated(calls)).toEqual(["inventory.compensate(inventory-pending)", "user.compensate(user-pending)"])
      expect(calls.some((c) => c.includes("verify") || c.includes("approve"))).toBe(false)
      expect(yield* saga.state).toBe("failed")
      expect(entries(yield* saga.executionLogs)).toEqual([
        "inventory:compensate:succeeded",
        "inventory:execute:succeeded",
        "payment:execute:failed",
        "user:compensate:succeeded",
        "user:execute:succeeded"
      ])
      const failed = (yield* saga.executionLogs).find((l) => l.outcome === "failed")!
      expect(failed.error).toBe("payment failed to execute")
      expect(Option.map(yield* saga.lastError, (e) => e.phase)).toEqual(Option.some("execute"))
      expect(error.compensations.map((c) => `${c.step}:${c.outcome._tag}`).sort()).toEqual([
        "inventory:Compensated",
        "user:Compensated"
      ])
    }))

  it.effect.each(["verify", "approve"] as const)("a failed %s compensates every participant", (phase) =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const saga = yield* ThreePhaseSaga.make(`${phase}-fails`, [
        makeParticipant("user", calls),
        makeParticipant("payment", calls, phase)
      ])
      const error = yield* Effect.flip(saga.run)
      expect(error.phase).toBe(phase)
      expect(compensated(calls)).toEqual(["payment.compensate(payment-pending)", "user.compensate(user-pending)"])
      // The failing phase still ran on every participant; the next phase did not run.
      expect(calls.filter((c) => c.includes(`.${phase}`)).length).toBe(2)
      if (phase === "verify") expect(calls.some((c) => c.includes("approve"))).toBe(false)
      expect(yield* saga.state).toBe("failed")
      const logs = entries(yield* saga.executionLogs)
      expect(logs).toContain(`payment:${phase}:failed`)
      expect(logs).toContain(`user:${phase}:succeeded`)
      expect(logs.filter((l) => l.includes(":compensate:succeeded"))).toEqual([
        "payment:compensate:succeeded",
        "user:compensate:succeeded"
      ])
    }))

  it.effect("states on failure: executing, verifying, compensating, failed", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const saga = yield* ThreePhaseSaga.make("states-on-failure", [
        makeParticipant("user", calls),
        makeParticipant("payment", calls, "verify")
      ])
      const states = yield* watchStates(saga)
      yield* Effect.flip(saga.run)
      expect(yield* Fiber.join(states)).toEqual(["pending", "executing", "verifying", "compensating", "failed"])
    }))

  it.effect("state and log are readable while it runs; log times come from the Clock", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const verifying = yield* Deferred.make<void>()
      const saga = yield* ThreePhaseSaga.make("observed", [
        ThreePhaseSaga.participant({
          name: "user",
          execute: Effect.as(Effect.sleep("1 second"), "u"),
          verify: () => Effect.zipRight(Deferred.succeed(verifying, undefined), Deferred.await(release)),
          approve: () => Effect.void,
          compensate: () => Effect.void
        })
      ])
      const states = yield* watchStates(saga)
      const fiber = yield* Effect.fork(saga.run)
      yield* TestClock.adjust("1 second")
      yield* Deferred.await(verifying)
      expect(yield* saga.state).toBe("verifying")
      expect(yield* saga.executionLogs).toEqual([{ participant: "user", phase: "execute", outcome: "succeeded", at: 1000 }])
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(fiber)
      expect(yield* saga.state).toBe("completed")
      expect(yield* Fiber.join(states)).toEqual(["pending", "executing", "verifying", "approving", "completed"])
    }))

  it.effect("a failing compensation is reported in the error and in the log", () =>
    Effect.gen(function*() {
      const saga = yield* ThreePhaseSaga.make("bad-undo", [
        ThreePhaseSaga.participant({
          name: "user",
          execute: Effect.succeed("u"),
          verify: () => new ParticipantFailed({ participant: "user", phase: "verify" }),
          approve: () => Effect.void,
          compensate: () => new ParticipantFailed({ participant: "user", phase: "compensate" })
        })
      ])
      const error = yield* Effect.flip(saga.run)
      expect(error.compensations.map((c) => c.outcome._tag)).toEqual(["Failed"])
      expect(entries(yield* saga.executionLogs)).toContain("user:compensate:failed")
      expect(error.message).toContain("failed in verify")
    }))

  it.live("participants' compensations run in parallel", () =>
    Effect.gen(function*() {
      const started = [yield* Deferred.make<void>(), yield* Deferred.make<void>()] as const
      const participant = (name: string, mine: Deferred.Deferred<void>, other: Deferred.Deferred<void>) =>
        ThreePhaseSaga.participant({
          name,
          execute: Effect.succeed(name),
          verify: () => name === "b" ? new ParticipantFailed({ participant: name, phase: "verify" }) : Effect.void,
          approve: () => Effect.void,
          // each waits for the other to start: this only finishes if they run in parallel
          compensate: () => Effect.zipRight(Deferred.succeed(mine, undefined), Deferred.await(other))
        })
      const saga = yield* ThreePhaseSaga.make("parallel-undo", [
        participant("a", started[0], started[1]),
        participant("b", started[1], started[0])
      ])
      const error = yield* Effect.timeout(Effect.disconnect(Effect.flip(saga.run)), "5 seconds") // deadlock guard only
      expect(error.compensations.map((c) => `${c.step}:${c.outcome._tag}`).sort()).toEqual(["a:Compensated", "b:Compensated"])
    }))

  it.effect("interrupting the run compensates the executed participants and ends in failed", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const verifying = yield* Deferred.make<void>()
      const execute = Effect.succeed("u-pending")
      const saga = yield* ThreePhaseSaga.make("interrupted", [
        ThreePhaseSaga.participant({
          name: "user",
          execute,
          verify: () => Effect.zipRight(Deferred.succeed(verifying, undefined), Effect.never),
          approve: () => Effect.void,
          compensate: (pending, cause) => Effect.sync(() => calls.push(`compensate(${pending}, ${Cause.isInterruptedOnly(cause)})`))
        })
      ])
      const fiber = yield* Effect.fork(saga.run)
      yield* Deferred.await(verifying)
      yield* Fiber.interrupt(fiber)
      expect(calls).toEqual(["compensate(u-pending, true)"])
      expect(yield* saga.state).toBe("failed")
      expect(entries(yield* saga.executionLogs)).toEqual([
        "user:compensate:succeeded",
        "user:execute:succeeded",
        "user:verify:interrupted"
      ])
    }))

  it.effect("rejects malformed participants at construction", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const duplicate = yield* Effect.flip(
        ThreePhaseSaga.make("dup", [makeParticipant("user", calls), makeParticipant("user", calls)])
      )
      expect(duplicate._tag).toBe("ThreePhaseSagaInvalid")
      expect(duplicate.message).toBe(`invalid three-phase saga "dup": duplicate participant name "user"`)
      const empty = yield* Effect.flip(ThreePhaseSaga.make("empty", []))
      expect(empty.reason).toBe("participants must not be empty")
      expect(calls).toEqual([])
    }))
})
