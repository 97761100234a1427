import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import type { Workflow } from "../Workflow.js"
import {
  WorkflowCancelled,
  WorkflowDefect,
  WorkflowNonDeterminism,
  WorkflowPayloadInvalid
} from "../WorkflowError.js"
import type { WorkflowRecord } from "../WorkflowStorage.js"
import { currentJournalHook } from "./journalHook.js"
import * as ctx from "./workflowContext.js"
import { WorkflowEngine } from "./workflowEngine.js"
import { workflowJournalHook } from "./workflowJournal.js"
import * as telemetry from "./workflowTelemetry.js"

/** @internal */
export type ResultError<E> = E | WorkflowCancelled | WorkflowNonDeterminism | WorkflowDefect

/** @internal */
export const make = <P, PI, A, AI, E = never, EI = never>(options: {
  readonly name: string
  readonly payload: Schema.Schema<P, PI>
  readonly success: Schema.Schema<A, AI>
  readonly error?: Schema.Schema<E, EI>
  readonly version?: number
}): Workflow<P, A, E> => {
  const error = (options.error ?? Schema.Never) as Schema.Schema<E, EI>
  const codec = ctx.exitCodec(options.success, error)
  const encodePayload = ParseResult.encodeUnknownEither(options.payload)
  const decodePayload = ParseResult.decodeUnknownEither(options.payload)
  const self: Workflow<P, A, E> = {
    name: options.name,
    version: options.version ?? 1,
    payload: options.payload,
    success: options.success,
    error,
    encodePayload: (payload) =>
      Either.match(encodePayload(payload), {
        onLeft: (e) =>
          Either.left(new WorkflowPayloadInvalid({ name: options.name, issue: ParseResult.TreeFormatter.formatIssueSync(e) })),
        onRight: (i) => Either.right(JSON.stringify(i) ?? "null")
      }),
    decodePayload: (json) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(json)
      } catch (e) {
        return Either.left(new WorkflowPayloadInvalid({ name: options.name, issue: `not JSON: ${String(e)}` }))
      }
      return Either.mapLeft(decodePayload(parsed), (e) =>
        new WorkflowPayloadInvalid({ name: options.name, issue: ParseResult.TreeFormatter.formatIssueSync(e) }))
    },
    encodeResult: codec.encode,
    decodeResult: (record) => decodeResult(codec, record),
    toLayer: (body) =>
      Layer.effectDiscard(Effect.gen(function*() {
        const engine = yield* WorkflowEngine
        const context = yield* Effect.context<never>()
        // The engine runs a body as the whole of its run's own fiber: its context and journal hook are
        // set for the rest of that fiber rather than restored (`locally` and `provide` would copy the
        // fiber's references twice and add a release region, a sizeable share of a short run's cost)
        const provided = FiberRef.update(FiberRef.currentContext, (parent) => Context.merge(parent, context))
        // sagas and operation trees in the body journal their steps at stable positions
        const journaled = FiberRef.set(currentJournalHook, workflowJournalHook)
        yield* engine.register(self, (payload) =>
          Effect.zipRight(
            journaled,
            telemetry.withRunSpan(options.name)(Effect.zipRight(provided, body(payload)))
          ) as Effect.Effect<A, E>)
      })),
    continueAsNew: (payload) => continueAsNew(self, payload)
  }
  return self
}

const decodeResult = <A, E>(
  codec: ctx.ExitCodec<A, E>,
  record: WorkflowRecord
): Exit.Exit<A, ResultError<E>> => {
  if (record.status === "terminated" || record.status === "cancelled") {
    return Exit.fail(
      new WorkflowCancelled({ workflowId: record.id, reason: record.reason ?? "", terminated: record.status === "terminated" })
    )
  }
  if (record.status === "continued") {
    return Exit.fail(new WorkflowDefect({ workflowId: record.id, defect: `continued as new; read the result of its latest run` }))
  }
  const json = record.result ?? JSON.stringify({ _tag: "Die", defect: "no result recorded" })
  const parsed = JSON.parse(json) as { _tag: string; error?: unknown; defect?: unknown }
  if (parsed._tag === "NonDeterminism") {
    return Exit.fail(Schema.decodeUnknownSync(WorkflowNonDeterminism)(parsed.error))
  }
  if (parsed._tag === "Die") {
    return Exit.fail(new WorkflowDefect({ workflowId: record.id, defect: String(parsed.defect) }))
  }
  return Exit.mapError(codec.decode(json), (e): ResultError<E> => e)
}

// ---------------------------------------------------------------------------------------------------
// Durable primitives

const timerValue = Schema.Struct({ until: Schema.Number })
const timerCodec = ctx.exitCodec(timerValue, Schema.Never)

const waitUntil = (exec: ctx.Execution, until: number, setRunning: boolean): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    if (until <= now) return Effect.void
    return Effect.sleep(Duration.millis(until - now)).pipe(
      Effect.zipRight(ctx.checkCancel(exec)),
      Effect.zipRight(
        setRunning
          ? exec.storage.update(exec.workflowId, { status: "running", waiting: null, updatedAt: until }).pipe(
            Effect.catchAll((e) => ctx.halt(exec, e)),
            Effect.asVoid
          )
          : Effect.void
      )
    )
  })

/** @internal */
export const sleep = (duration: Duration.DurationInput, name = "sleep"): Effect.Effect<void> =>
  ctx.step({
    name,
    kind: "timer",
    outside: Effect.sleep(duration),
    replay: (entry, exec) =>
      Effect.flatMap(fromExit(timerCodec.decode(entry.exit)), ({ until }) =>
        Effect.zipRight(ctx.checkCancel(exec), waitUntil(exec, until, true))),
    live: (exec, key) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const until = now + Duration.toMillis(Duration.decode(duration))
        return Effect.zipRight(
          ctx.record(exec, key, name, "timer", JSON.stringify({ _tag: "Success", value: { until } }), {
            status: "waiting",
            waiting: { _tag: "Timer", step: key, until },
            updatedAt: now
          }),
          waitUntil(exec, until, true)
        )
      }).pipe(telemetry.waitSpan("sleep", name, key))
  })

const fromExit = <A>(exit: Exit.Exit<A, never>): Effect.Effect<A> => exit

/** @internal */
export const awaitEvent = <A, I>(name: string, schema: Schema.Schema<A, I>): Effect.Effect<A> => {
  const decode = ParseResult.decodeUnknownEither(schema)
  const parse = (json: string): Either.Either<A, unknown> => {
    try {
      return decode(JSON.parse(json))
    } catch (e) {
      return Either.left(e)
    }
  }
  return ctx.step({
    name,
    kind: "event",
    outside: Effect.never,
    replay: (entry) => Effect.orDie(parse(JSON.parse(entry.exit).value)),
    live: (exec, key) =>
      Effect.gen(function*() {
        let waiting = false
        while (true) {
          const signal = exec.eventSignal ??= Deferred.unsafeMake<void>(FiberId.none)
          const payload = yield* exec.storage.consumeEvent(
            exec.workflowId,
            name,
            (p) => Either.isRight(parse(p)),
            (p) => ({
              workflowId: exec.workflowId,
              run: exec.run,
              key,
              seq: exec.seq++,
              name,
              kind: "event",
              exit: JSON.stringify({ _tag: "Success", value: p }),
              createdAt: Date.now()
            })
          ).pipe(Effect.catchAll((e) => ctx.halt(exec, e)))
          if (payload !== undefined) {
            if (waiting) {
              yield* exec.storage.update(exec.workflowId, { status: "running", waiting: null, updatedAt: Date.now() })
                .pipe(Effect.catchAll((e) => ctx.halt(exec, e)))
            }
            return yield* Effect.orDie(parse(payload))
          }
          if (!waiting) {
            waiting = true
            yield* exec.storage.update(exec.workflowId, {
              status: "waiting",
              waiting: { _tag: "Event", step: key, event: name },
              updatedAt: yield* Clock.currentTimeMillis
            }).pipe(Effect.catchAll((e) => ctx.halt(exec, e)))
          }
          yield* Deferred.await(signal)
          yield* ctx.checkCancel(exec)
        }
      }).pipe(telemetry.waitSpan("event", name, key))
  })
}

const indexValue = ctx.exitCodec(Schema.Number, Schema.Never)

/** @internal */
export const select = <A, E, R>(
  branches: ReadonlyArray<Effect.Effect<A, E, R>>
): Effect.Effect<{ readonly index: number; readonly value: A }, E, R> => {
  const name = `select/${branches.length}`
  const branch = (key: string, index: number): Effect.Effect<A, E, R> =>
    Effect.locally(branches[index]!, ctx.stepPath, new ctx.StepNode(`${key}~${index}/`))
  return ctx.step({
    name,
    kind: "select",
    outside: Effect.raceAll(branches.map((b, index) => Effect.map(b, (value: A) => ({ index, value })))),
    replay: (entry, _exec, key) =>
      Effect.flatMap(fromExit(indexValue.decode(entry.exit)), (index) =>
        Effect.map(branch(key, index), (value) => ({ index, value }))),
    live: (exec, key) =>
      Effect.flatMap(
        Effect.raceAll(branches.map((_, index) =>
          Effect.map(Effect.exit(branch(key, index)), (exit) => [index, exit] as const)
        )),
        ([index, exit]): Effect.Effect<{ readonly index: number; readonly value: A }, E> => {
          if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return Effect.failCause(exit.cause)
          return Effect.zipRight(
            // the losing branches may have marked the workflow waiting
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              ctx.record(exec, key, name, "select", JSON.stringify({ _tag: "Success", value: index }), {
                status: "running",
                waiting: null,
                updatedAt: now
              })),
            Exit.map(exit, (value) => ({ index, value }))
          )
        }
      )
  })
}

/** @internal */
export const race = <A, E, R, A2, E2, R2>(
  self: Effect.Effect<A, E, R>,
  that: Effect.Effect<A2, E2, R2>
): Effect.Effect<A | A2, E | E2, R | R2> =>
  Effect.map(select<A | A2, E | E2, R | R2>([self, that]), (r) => r.value)

/** @internal */
export const child = <P, A, E>(
  workflow: Workflow<P, A, E>,
  options: { readonly payload: P; readonly id?: string }
): Effect.Effect<A, ResultError<E> | WorkflowPayloadInvalid> =>
  ctx.step({
    name: workflow.name,
    kind: "child",
    outside: Effect.dieMessage(`Workflow.child(${workflow.name}) can only run inside a workflow`),
    replay: (entry) => workflow.decodeResult(childRecord(entry.exit)),
    live: (exec, key) =>
      Effect.gen(function*() {
        const payload = yield* workflow.encodePayload(options.payload)
        const id = options.id ?? `${exec.workflowId}/${exec.run}/${key}`
        yield* exec.hooks.startChild(workflow.name, id, payload, exec.workflowId).pipe(
          Effect.catchAll((e) => ctx.halt(exec, e))
        )
        const record = yield* exec.hooks.awaitResult(id).pipe(Effect.catchAll((e) => ctx.halt(exec, e)))
        const json = JSON.stringify(record)
        yield* ctx.record(exec, key, workflow.name, "child", json)
        return yield* workflow.decodeResult(childRecord(json))
      })
  })

/** the child's outcome is journaled as its record's status + result */
const childRecord = (json: string): WorkflowRecord => JSON.parse(json) as WorkflowRecord

/** @internal */
export const continueAsNew = <P, A, E>(workflow: Workflow<P, A, E>, payload: P): Effect.Effect<never> =>
  Effect.flatMap(FiberRef.get(ctx.currentExecution), (exec) => {
    if (exec === null) return Effect.dieMessage("Workflow.continueAsNew can only run inside a workflow")
    return Either.match(workflow.encodePayload(payload), {
      onLeft: (e) => Effect.die(e),
      onRight: (json) =>
        Effect.suspend(() => {
          exec.continueWith = json
          exec.halted = true
          return ctx.abort(exec)
        })
    })
  })

/** @internal */
export const patched = (patchId: string): Effect.Effect<boolean> =>
  Effect.flatMap(FiberRef.get(ctx.currentExecution), (exec) => {
    if (exec === null) return Effect.succeed(true)
    return Effect.flatMap(ctx.currentNode, (node) => {
      const key = `patch:${patchId}`
      const known = exec.patches.get(key)
      if (known !== undefined) return Effect.succeed(known)
      if (exec.journal.has(key)) {
        exec.patches.set(key, true)
        return Effect.succeed(true)
      }
      // history recorded past this point without the marker: an execution that started before the patch
      if (node !== null && exec.journal.has(node.peekKey())) {
        exec.patches.set(key, false)
        return Effect.succeed(false)
      }
      exec.patches.set(key, true)
      return Effect.as(ctx.record(exec, key, patchId, "patch", JSON.stringify({ _tag: "Success", value: true })), true)
    })
  })

const nowCodec = ctx.exitCodec(Schema.Number, Schema.Never)

/** @internal */
export const now: Effect.Effect<number> = ctx.step({
  name: "now",
  kind: "now",
  outside: Clock.currentTimeMillis,
  replay: (entry) => fromExit(nowCodec.decode(entry.exit)),
  live: (exec, key) =>
    Effect.flatMap(Clock.currentTimeMillis, (t) =>
      Effect.as(ctx.record(exec, key, "now", "now", JSON.stringify({ _tag: "Success", value: t })), t))
})

/** @internal */
export const random: Effect.Effect<number> = Effect.flatMap(FiberRef.get(ctx.currentExecution), (exec) =>
  exec === null
    ? Effect.sync(() => Math.random())
    : Effect.map(ctx.currentNode, (node) =>
      ctx.seededRandom(`${exec.workflowId}/${exec.run}/${node?.path ?? ""}r${node === null ? 0 : ++node.randoms}`)))

/** @internal */
export const withCompensation = dual<
  <A, R2>(
    compensate: (value: A, cause: Cause.Cause<unknown>) => Effect.Effect<unknown, unknown, R2>
  ) => <E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | R2>,
  <A, E, R, R2>(
    self: Effect.Effect<A, E, R>,
    compensate: (value: A, cause: Cause.Cause<unknown>) => Effect.Effect<unknown, unknown, R2>
  ) => Effect.Effect<A, E, R | R2>
>(2, <A, E, R, R2>(
  self: Effect.Effect<A, E, R>,
  compensate: (value: A, cause: Cause.Cause<unknown>) => Effect.Effect<unknown, unknown, R2>
): Effect.Effect<A, E, R | R2> =>
  Effect.flatMap(FiberRef.get(ctx.currentExecution), (exec) => {
    if (exec === null) return self
    return Effect.flatMap(ctx.currentNode, (node) => {
      const compensationPath = `${node?.peekKey() ?? "x"}~c/`
      return Effect.flatMap(Effect.context<R2>(), (context) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.tap(restore(self), (value) =>
            Scope.addFinalizerExit(exec.scope, (exit) =>
              Exit.isSuccess(exit) || exec.halted
                ? Effect.void
                : compensate(value, exit.cause).pipe(
                  Effect.provide(context),
                  Effect.locally(ctx.stepPath, new ctx.StepNode(compensationPath)),
                  Effect.locally(ctx.inCompensation, true),
                  Effect.locally(ctx.currentExecution, exec),
                  Effect.catchAllCause((cause) =>
                    Effect.logError("compensation failed", cause).pipe(
                      Effect.annotateLogs({ workflowId: exec.workflowId, step: compensationPath })
                    )
                  )
                )))))
    })
  }))
