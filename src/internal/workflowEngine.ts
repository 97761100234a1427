import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Scope from "effect/Scope"
import type { Workflow } from "../Workflow.js"
import type { HistoryEntry, WorkflowEngineService } from "../WorkflowEngine.js"
import {
  WorkflowAlreadyExists,
  WorkflowConfigInvalid,
  WorkflowNotFound,
  WorkflowNotRegistered,
  WorkflowNotRunning,
  WorkflowPurgeInvalid,
  type WorkflowStorageError
} from "../WorkflowError.js"
import type { Delivery, WorkflowRecord, WorkflowUpdate } from "../WorkflowStorage.js"
import { continuedAs, endedStatuses, isActive, WorkflowStorage } from "../WorkflowStorage.js"
import * as ctx from "./workflowContext.js"
import * as telemetry from "./workflowTelemetry.js"
import { applyUpdate } from "./workflowStorageMemory.js"

/** @internal */
export class WorkflowEngine extends Context.Tag("effect-loom/WorkflowEngine/WorkflowEngine")<
  WorkflowEngine,
  WorkflowEngineService
>() {}

/**
 * A registered workflow with its types erased: the registry holds workflows of many types, and every value
 * crossing it is decoded (payload) or encoded (result) by the workflow's own schemas.
 */
interface Registered {
  readonly workflow: Workflow<unknown, unknown, unknown>
  readonly body: (payload: unknown) => Effect.Effect<unknown, unknown>
}

const erase = <P, A, E>(workflow: Workflow<P, A, E>, body: (payload: P) => Effect.Effect<A, E>): Registered =>
  ({ workflow, body } as unknown as Registered)

const ACTIVE = ["pending", "running", "waiting"] as const
const liveClock = Clock.make()
const liveSleep = (d: Duration.Duration) => Effect.withClock(Effect.sleep(d), liveClock)

/** @internal */
export const make = (options: { readonly pollInterval?: Duration.DurationInput; readonly client?: boolean }) =>
  Effect.gen(function*() {
    const pollInterval = Duration.decode(options.pollInterval ?? "1 second")
    if (!Duration.greaterThan(pollInterval, Duration.zero)) {
      return yield* new WorkflowConfigInvalid({ setting: "pollInterval", detail: "must be greater than zero" })
    }
    const storage = yield* WorkflowStorage
    const scope = yield* Effect.scope
    const fiberScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
    const registry = new Map<string, Registered>()
    const running = new Map<string, ctx.Execution | null>()
    /** callbacks of result waiters, called with the final record (if this process wrote it) when a run ends */
    const waiters = new Map<string, Set<(final: WorkflowRecord | undefined) => void>>()
    /** final records written by runs of this process, handed to result waiters without a read */
    const finals = new Map<string, WorkflowRecord>()
    let shuttingDown = false
    // runs before fiberScope closes: running workflows stop without compensating or recording anything
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        shuttingDown = true
        for (const exec of running.values()) if (exec !== null) exec.halted = true
      })
    )

    const notifyFinished = (id: string) =>
      Effect.sync(() => {
        const final = finals.get(id)
        finals.delete(id)
        const callbacks = waiters.get(id)
        if (callbacks === undefined) return
        waiters.delete(id)
        for (const callback of callbacks) callback(final)
      })

    const addWaiter = (id: string, callback: (final: WorkflowRecord | undefined) => void) => {
      const callbacks = waiters.get(id)
      if (callbacks === undefined) waiters.set(id, new Set([callback]))
      else callbacks.add(callback)
    }
    const removeWaiter = (id: string, callback: (final: WorkflowRecord | undefined) => void) => {
      const callbacks = waiters.get(id)
      if (callbacks !== undefined && callbacks.delete(callback) && callbacks.size === 0) waiters.delete(id)
    }

    const signalLocal = (id: string) =>
      Effect.suspend(() => {
        const exec = running.get(id)
        // no signal yet: no wait began (a wait creates it before it reads the pending events)
        if (exec === undefined || exec === null || exec.eventSignal === undefined) return Effect.void
        const old = exec.eventSignal
        exec.eventSignal = undefined
        return Deferred.succeed(old, undefined)
      })

    const awaitFinished = (id: string): Effect.Effect<WorkflowRecord, WorkflowNotFound | WorkflowStorageError> =>
      Effect.gen(function*() {
        while (true) {
          // a run in this process hands over its final record when it ends (checked and registered at once)
          const local = yield* Effect.async<WorkflowRecord | undefined | false>((resume) => {
            if (!running.has(id)) return resume(Effect.succeed(false))
            const callback = (final: WorkflowRecord | undefined) => resume(Effect.succeed(final))
            addWaiter(id, callback)
            return Effect.sync(() => removeWaiter(id, callback))
          })
          if (local !== false) {
            if (local !== undefined) return local
            continue
          }
          // registered before reading storage, so that a run ending meanwhile is not missed
          const d = Deferred.unsafeMake<void>(FiberId.none)
          const callback = () => Deferred.unsafeDone(d, Exit.void)
          addWaiter(id, callback)
          const ended = yield* Effect.ensuring(
            Effect.flatMap(storage.get(id), (record) =>
              record === undefined
                ? Effect.fail(new WorkflowNotFound({ workflowId: id }))
                : !isActive(record.status)
                ? Effect.succeed(record)
                : Effect.as(Effect.raceFirst(Deferred.await(d), liveSleep(pollInterval)), undefined)),
            Effect.sync(() => removeWaiter(id, callback))
          )
          if (ended !== undefined) return ended
        }
      })

    const hooks: ctx.EngineHooks = {
      startChild: (name, id, payload, parentId) =>
        Effect.gen(function*() {
          const reg = registry.get(name)
          if (reg === undefined) return yield* new WorkflowNotRegistered({ name })
          const now = yield* Clock.currentTimeMillis
          const record = newRecord(id, reg.workflow, payload, now, parentId, shuttingDown ? "pending" : "running")
          const existing = yield* storage.create(record)
          if (existing === undefined) yield* telemetry.countStart(name)
          yield* launchEffect(id, existing === undefined ? record : existing, existing === undefined)
        }),
      awaitResult: awaitFinished
    }

    const finish = (exec: ctx.Execution, record: WorkflowRecord, update: Omit<WorkflowUpdate, "updatedAt">) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const full: WorkflowUpdate = { ...update, waiting: null, updatedAt: now }
        return Effect.map(storage.update(exec.workflowId, full).pipe(
          Effect.tap((updated) => updated && update.status !== undefined ? telemetry.countEnd(exec.name, update.status) : Effect.void)
        ), (updated) => {
          // a cancelled record carries the reason stored by `cancel`: let waiters read it
          if (updated && update.status !== "cancelled") finals.set(exec.workflowId, applyUpdate(record, full))
        })
      })

    /** Runs one run of a workflow; returns whether a new run (continue-as-new) follows. */
    const execute = (reg: Registered, record: WorkflowRecord, fresh: boolean) =>
      Effect.gen(function*() {
        // reads and the claim stay interruptible (a shutdown does not wait for them)
        const entries = fresh ? [] : yield* Effect.interruptible(storage.journal(record.id, record.run))
        if (record.status !== "running") {
          // claims a pending run, or resumes a waiting one: it runs again until it reaches its wait (which
          // records itself); nothing to run when it stopped being active (terminated) meanwhile
          const claimed = yield* Effect.interruptible(storage.update(record.id, {
            status: "running",
            waiting: null,
            updatedAt: yield* Clock.currentTimeMillis
          }))
          if (!claimed) return false
        }
        const exec: ctx.Execution = {
          workflowId: record.id,
          run: record.run,
          name: record.name,
          journal: new Map(entries.map((e) => [e.key, e])),
          storage,
          hooks,
          scope: yield* Scope.make(),
          payloadSchema: reg.workflow.payload,
          seq: entries.reduce((m, e) => Math.max(m, e.seq), 0) + 1,
          cancel: record.cancelRequested ? "cancel" : "none",
          halted: shuttingDown,
          nonDeterminism: undefined,
          continueWith: undefined,
          eventSignal: undefined,
          fiber: undefined,
          patches: new Map()
        }
        running.set(record.id, exec)
        const payload = reg.workflow.decodePayload(record.payload)
        if (Either.isLeft(payload)) {
          yield* finish(exec, record, {
            status: "failed",
            result: JSON.stringify({ _tag: "Die", defect: payload.left.message })
          })
          return false
        }
        const body = reg.body(payload.right)
        // The body runs in the run's own fiber (this one, uninterruptible but for the body, see
        // `launchEffect`): a cancel, a halt or an abort interrupts the body, the rest records the outcome.
        // Its step path and execution are set once (no `locally`, whose acquire/release regions cost more
        // than the rest of a short workflow's bookkeeping).
        yield* FiberRef.set(ctx.stepPath, new ctx.StepNode(""))
        yield* FiberRef.set(ctx.currentExecution, exec)
        const exit = yield* Effect.withFiberRuntime<Exit.Exit<unknown, unknown>>((fiber) => {
          exec.fiber = fiber
          return Effect.flatMap(Effect.exit(Effect.interruptible(body)), (exit) => Effect.as(Scope.close(exec.scope, exit), exit))
        })
        if (shuttingDown) return false
        if (exec.nonDeterminism !== undefined) {
          yield* finish(exec, record, {
            status: "failed",
            result: JSON.stringify({ _tag: "NonDeterminism", error: exec.nonDeterminism })
          })
          return false
        }
        if (exec.continueWith !== undefined) {
          yield* storage.continueAsNew(exec.workflowId, exec.run, exec.continueWith, yield* Clock.currentTimeMillis)
          return true
        }
        if (exec.halted) return false
        const json = reg.workflow.encodeResult(exit)
        if (json === undefined) {
          // interrupted: a cancel ends the workflow; any other interruption leaves it to be resumed
          if (exec.cancel === "cancel") {
            yield* finish(exec, record, { status: "cancelled" })
            yield* closeChildren(record.id, "cancel")
          }
          return false
        }
        yield* finish(exec, record, { status: Exit.isSuccess(exit) ? "completed" : "failed", result: json })
        return false
      })

    /** Children of a cancelled or terminated parent follow it. */
    const closeChildren = (parentId: string, how: "cancel" | "terminate"): Effect.Effect<void, WorkflowStorageError> =>
      Effect.flatMap(storage.list({ status: ACTIVE }), (records) =>
        Effect.forEach(
          records.filter((r) => r.parentId === parentId),
          (child) =>
            Effect.catchTags(
              how === "cancel"
                ? service.cancel(child.id, `parent ${parentId} was cancelled`)
                : service.terminate(child.id, `parent ${parentId} was terminated`),
              { WorkflowNotFound: () => Effect.void, WorkflowNotRunning: () => Effect.void }
            ),
          { discard: true }
        ))

    /**
     * One run, in its own fiber: uninterruptible but for the workflow's body. A run that continues as
     * new hands over to a new fiber (this one may carry the interruption that stopped its body).
     */
    const runOnce = (id: string, initial: WorkflowRecord | undefined, fresh: boolean): Effect.Effect<boolean> =>
      Effect.gen(function*() {
        const record = initial ?? (yield* Effect.interruptible(storage.get(id)))
        if (record === undefined || !isActive(record.status)) return false
        const reg = registry.get(record.name)
        if (reg === undefined) return false
        return yield* execute(reg, record, fresh)
      }).pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.succeed(false)
            : Effect.as(Effect.logError("workflow run stopped", cause).pipe(Effect.annotateLogs({ workflowId: id })), false)
        ),
        Effect.onExit((exit) =>
          Effect.suspend(() => {
            running.delete(id)
            const next = Exit.isSuccess(exit) && exit.value ? launchEffect(id, undefined, false) : Effect.void
            return Effect.zipRight(next, notifyFinished(id))
          })
        ),
        Effect.uninterruptible
      )

    const launchEffect = (id: string, record: WorkflowRecord | undefined, fresh: boolean) =>
      Effect.suspend(() => {
        if (running.has(id) || shuttingDown) return Effect.void
        running.set(id, null)
        const fork = Effect.asVoid(Effect.forkIn(runOnce(id, record, fresh), fiberScope))
        // a run started from inside a workflow (a child) must not inherit its step path or execution
        return Effect.withFiberRuntime((fiber) =>
          fiber.getFiberRef(ctx.currentExecution) === null && fiber.getFiberRef(ctx.stepPath) === null
            ? fork
            : fork.pipe(Effect.locally(ctx.currentExecution, null), Effect.locally(ctx.stepPath, null))
        )
      })

    /** Launches stored active runs of registered workflows; applies cancel requests; returns the active ids. */
    const resumeActive = (name?: string) =>
      Effect.flatMap(
        storage.list({ ...(name === undefined ? {} : { name }), status: ACTIVE }).pipe(
          Effect.tap((records) => name === undefined ? telemetry.setQueueDepth(records) : Effect.void)
        ),
        (records) =>
        Effect.as(
          Effect.forEach(records, (r) => {
            const exec = running.get(r.id)
            if (exec === undefined) return registry.has(r.name) ? launchEffect(r.id, r, false) : Effect.void
            if (exec !== null && r.cancelRequested && exec.cancel === "none") return applyCancel(exec)
            return Effect.void
          }, { discard: true }),
          new Set(records.map((r) => r.id))
        ))

    const applyCancel = (exec: ctx.Execution) =>
      Effect.suspend(() => {
        exec.cancel = "cancel"
        return exec.fiber === undefined ? Effect.void : Fiber.interruptFork(exec.fiber)
      })

    const poll = Effect.gen(function*() {
      const before = [...running.keys()]
      const active = yield* resumeActive()
      for (const id of yield* storage.withPendingEvents) yield* signalLocal(id)
      // a run of this process whose workflow is no longer active in storage was terminated elsewhere
      for (const id of before) {
        const exec = running.get(id)
        if (exec === undefined || exec === null || exec.halted || active.has(id)) continue
        const r = yield* storage.get(id)
        if (r !== undefined && r.status === "terminated") yield* haltLocal(exec)
      }
    })
    // Durable timers need no poll: a waiting run sleeps in its own fiber until its timer is due (a
    // restarted engine re-arms them when it resumes the runs). The poll finds what other engines wrote:
    // writes through this process's storage (a client's start, a signal, a cancel) wake it at once (at
    // most one woken poll per `minPollGap`); `pollInterval` is the safety net for other processes' writes.
    const minPollGap = Math.min(Duration.toMillis(pollInterval), 20)
    const firstChange = yield* storage.subscribeChanges
    yield* Effect.forkIn(
      Effect.gen(function*() {
        let changed = firstChange
        let lastPoll = 0
        while (true) {
          const woken = yield* Effect.raceFirst(Effect.as(liveSleep(pollInterval), false), Effect.as(changed, true))
          const early = lastPoll + minPollGap - liveClock.unsafeCurrentTimeMillis()
          if (woken && early > 0) yield* liveSleep(Duration.millis(early))
          // subscribed before the poll reads storage, so that no write goes unnoticed
          changed = yield* storage.subscribeChanges
          lastPoll = liveClock.unsafeCurrentTimeMillis()
          yield* Effect.catchAllCause(poll, (c) => Effect.logWarning("workflow poll failed", c))
        }
      }),
      fiberScope
    )

    const haltLocal = (exec: ctx.Execution) =>
      Effect.suspend(() => {
        exec.halted = true
        return exec.fiber === undefined ? Effect.void : Fiber.interruptFork(exec.fiber)
      })

    const delivery = (id: string, d: Delivery): Effect.Effect<void, WorkflowNotFound | WorkflowNotRunning> =>
      d._tag === "NotFound"
        ? Effect.fail(new WorkflowNotFound({ workflowId: id }))
        : d._tag === "NotActive"
        ? Effect.fail(new WorkflowNotRunning({ workflowId: id, status: d.status }))
        : Effect.void

    const getRecord = (id: string) =>
      Effect.flatMap(storage.get(id), (r) =>
        r === undefined ? Effect.fail(new WorkflowNotFound({ workflowId: id })) : Effect.succeed(r))

    const service: WorkflowEngineService = {
      register: (workflow, body) =>
        Effect.suspend(() => {
          registry.set(workflow.name, erase(workflow, body))
          return Effect.asVoid(Effect.orDie(resumeActive(workflow.name)))
        }),
      start: (workflow, { id, payload }) =>
        Effect.gen(function*() {
          // a client stores the workflow `pending` for whichever worker registers it
          if (!registry.has(workflow.name) && options.client !== true) {
            return yield* new WorkflowNotRegistered({ name: workflow.name })
          }
          const json = yield* workflow.encodePayload(payload)
          const now = yield* Clock.currentTimeMillis
          // this engine runs it at once: created claimed (`running`), in the same write; else it waits
          // `pending` for a worker (the one that registers it, or this one after a restart)
          const claimed = registry.has(workflow.name) && !shuttingDown
          const record = newRecord(id, workflow, json, now, null, claimed ? "running" : "pending")
          const existing = yield* storage.create(record)
          if (existing === undefined) {
            yield* telemetry.countStart(workflow.name)
            yield* launchEffect(id, record, true)
            return id
          }
          if (existing.name !== workflow.name || existing.payload !== json) {
            return yield* new WorkflowAlreadyExists({ workflowId: id, name: existing.name })
          }
          return id
        }),
      result: (workflow, id) =>
        Effect.flatMap(awaitFinished(id), (record) => {
          // a run that continued as new: the outcome is that of the latest run
          const next = continuedAs(record)
          return next === undefined
            ? workflow.decodeResult(record)
            : Effect.flatMap(awaitFinished(next.workflowId), (latest) => workflow.decodeResult(latest))
        }),
      status: getRecord,
      list: (filter = {}) => storage.list(filter),
      history: (id) =>
        Effect.gen(function*() {
          const record = yield* getRecord(id)
          // the record of a continued run points to the workflow id its journal is stored under
          const entries = yield* storage.journal(continuedAs(record)?.workflowId ?? id, record.run)
          return entries.map((e): HistoryEntry => ({
            seq: e.seq,
            run: e.run,
            step: e.key,
            name: e.name,
            kind: e.kind,
            outcome: decodeOutcome(e.kind, e.exit),
            at: e.createdAt
          }))
        }),
      signal: (id, event, payload) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          yield* delivery(id, yield* storage.sendEvent(id, event, JSON.stringify(payload ?? null), now))
          yield* signalLocal(id)
        }),
      cancel: (id, reason) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          yield* delivery(id, yield* storage.requestCancel(id, reason, now))
          const exec = running.get(id)
          if (exec !== undefined && exec !== null) yield* applyCancel(exec)
          else if (exec === undefined) yield* Effect.asVoid(resumeActive())
        }),
      purge: (filter) =>
        Effect.suspend((): Effect.Effect<number, WorkflowPurgeInvalid | WorkflowStorageError> => {
          if (!Number.isFinite(filter.endedBefore)) {
            return Effect.fail(
              new WorkflowPurgeInvalid({ detail: `endedBefore must be epoch milliseconds, got ${filter.endedBefore}` })
            )
          }
          if (filter.statuses !== undefined && filter.statuses.length === 0) {
            return Effect.fail(new WorkflowPurgeInvalid({ detail: "statuses must not be empty (leave it out for all)" }))
          }
          const notEnded = filter.statuses?.find((status) => !endedStatuses.includes(status))
          if (notEnded !== undefined) {
            return Effect.fail(
              new WorkflowPurgeInvalid({
                detail: `${String(notEnded)} is not an ended status (one of ${endedStatuses.join(", ")})`
              })
            )
          }
          return storage.purge(filter)
        }),
      terminate: (id, reason) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          yield* delivery(id, yield* storage.terminate(id, reason, now))
          const exec = running.get(id)
          if (exec !== undefined && exec !== null) yield* haltLocal(exec)
          yield* notifyFinished(id)
          yield* closeChildren(id, "terminate")
        })
    }
    return service
  })

const newRecord = (
  id: string,
  workflow: { readonly name: string; readonly version: number },
  payload: string,
  now: number,
  parentId: string | null,
  status: "pending" | "running"
): WorkflowRecord => ({
  id,
  name: workflow.name,
  version: workflow.version,
  run: 0,
  status,
  payload,
  waiting: null,
  result: null,
  cancelRequested: false,
  reason: null,
  parentId,
  createdAt: now,
  updatedAt: now
})

/** An event's payload is journaled as its JSON text: show it decoded, like every other outcome. */
const decodeOutcome = (kind: string, exit: string): unknown => {
  const outcome = JSON.parse(exit) as { readonly _tag: string; readonly value?: unknown }
  if (kind !== "event" || outcome._tag !== "Success" || typeof outcome.value !== "string") return outcome
  try {
    return { ...outcome, value: JSON.parse(outcome.value) as unknown }
  } catch {
    return outcome
  }
}
