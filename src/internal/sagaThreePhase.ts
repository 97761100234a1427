import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as saga from "./saga.js"

/** @internal */
export const State = Schema.Literal("pending", "executing", "verifying", "approving", "compensating", "completed", "failed")
/** @internal */
export type State = typeof State.Type

/** @internal */
export const Phase = Schema.Literal("execute", "verify", "approve", "compensate")
/** @internal */
export type Phase = typeof Phase.Type

/** @internal */
export const PhaseOutcome = Schema.Literal("succeeded", "failed", "interrupted")
/** @internal */
export type PhaseOutcome = typeof PhaseOutcome.Type

/** @internal */
export const LogEntry = Schema.Struct({
  participant: Schema.String,
  phase: Phase,
  outcome: PhaseOutcome,
  /** Clock milliseconds when the phase ended for this participant. */
  at: Schema.Number,
  error: Schema.optional(Schema.String)
})
/** @internal */
export type LogEntry = typeof LogEntry.Type

/** @internal */
export class ThreePhaseSagaFailed<E> extends Data.TaggedError("ThreePhaseSagaFailed")<{
  readonly saga: string
  readonly phase: "execute" | "verify" | "approve"
  readonly cause: Cause.Cause<E>
  readonly compensations: ReadonlyArray<saga.Compensation>
}> {
  override get message(): string {
    return `three-phase saga "${this.saga}" failed in ${this.phase}: ${saga.reasonOf(this.cause)}; ${
      this.compensations.filter((c) => c.outcome._tag === "Compensated").length
    } of ${this.compensations.length} participants compensated`
  }
}

/** @internal */
export class ThreePhaseSagaInvalid extends Data.TaggedError("ThreePhaseSagaInvalid")<{
  readonly saga: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid three-phase saga "${this.saga}": ${this.reason}`
  }
}

const problemOf = (participants: ReadonlyArray<{ readonly name: string }>): string | undefined => {
  if (participants.length === 0) return "participants must not be empty"
  const seen = new Set<string>()
  for (const { name } of participants) {
    if (name.length === 0) return "participant names must not be empty"
    if (seen.has(name)) return `duplicate participant name "${name}"`
    seen.add(name)
  }
  return undefined
}

/** A participant with its output type hidden. @internal */
export interface Participant<E, R> {
  readonly name: string
  readonly execute: Effect.Effect<unknown, E, R>
  readonly verify: (pending: unknown) => Effect.Effect<unknown, E, R>
  readonly approve: (pending: unknown) => Effect.Effect<unknown, E, R>
  readonly compensate: (pending: unknown, cause: Cause.Cause<unknown>) => Effect.Effect<unknown, unknown, R>
}

/** @internal */
export interface ThreePhaseSaga<E, R> {
  readonly name: string
  readonly run: Effect.Effect<void, ThreePhaseSagaFailed<E>, R>
  readonly state: Effect.Effect<State>
  readonly changes: Stream.Stream<State>
  readonly executionLogs: Effect.Effect<ReadonlyArray<LogEntry>>
  readonly lastError: Effect.Effect<Option.Option<ThreePhaseSagaFailed<E>>>
}

/** @internal */
export const make = <E, R>(
  name: string,
  participants: ReadonlyArray<Participant<E, R>>,
  options: saga.RunOptions
): Effect.Effect<ThreePhaseSaga<E, R>, ThreePhaseSagaInvalid> =>
  Effect.gen(function*() {
    const problem = problemOf(participants)
    if (problem !== undefined) return yield* new ThreePhaseSagaInvalid({ saga: name, reason: problem })
    const state = yield* SubscriptionRef.make<State>("pending")
    const logs = yield* Ref.make<ReadonlyArray<LogEntry>>([])
    const lastError = yield* Ref.make<Option.Option<ThreePhaseSagaFailed<E>>>(Option.none())
    const phase = yield* Ref.make<"execute" | "verify" | "approve">("execute")

    const logged = <A, E1, R1>(participant: string, step: Phase, effect: Effect.Effect<A, E1, R1>) =>
      Effect.onExit(effect, (exit) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) => {
          const entry: LogEntry = Exit.isSuccess(exit)
            ? { participant, phase: step, outcome: "succeeded", at }
            : Cause.isInterruptedOnly(exit.cause)
            ? { participant, phase: step, outcome: "interrupted", at }
            : { participant, phase: step, outcome: "failed", at, error: saga.reasonOf(exit.cause) }
          return Ref.update(logs, (entries) => [...entries, entry])
        }))

    /** Runs `f` on every participant in parallel, waits for all, and fails with every failure. */
    const onAll = <A, B>(
      items: ReadonlyArray<A>,
      f: (item: A) => Effect.Effect<B, E, R | saga.SagaTag>
    ): Effect.Effect<Array<B>, E, R | saga.SagaTag> =>
      Effect.flatMap(
        // A `Saga.all` group: the participants' steps are compensated in parallel.
        saga.all(items.map((item) => Effect.exit(f(item))), { concurrency: "unbounded" }),
        (exits) => {
          const failures = exits.filter(Exit.isFailure)
          if (failures.length === 0) return Effect.succeed(exits.map((e) => (e as Exit.Success<B, E>).value))
          return Effect.failCause(failures.map((e) => e.cause).reduce(Cause.parallel))
        }
      )

    const enter = (next: "execute" | "verify" | "approve", s: State) =>
      Effect.zipRight(Ref.set(phase, next), SubscriptionRef.set(state, s))

    const body = Effect.gen(function*() {
      yield* enter("execute", "executing")
      const pending = yield* onAll(participants, (p) =>
        saga.makeStep(
          p.name,
          logged(p.name, "execute", p.execute),
          (output: unknown, cause) => logged(p.name, "compensate", p.compensate(output, cause)),
          undefined
        ))
      const pairs = participants.map((p, i) => [p, pending[i]] as const)
      yield* enter("verify", "verifying")
      yield* onAll(pairs, ([p, value]) => logged(p.name, "verify", p.verify(value)))
      yield* enter("approve", "approving")
      yield* onAll(pairs, ([p, value]) => logged(p.name, "approve", p.approve(value)))
    }).pipe(Effect.onExit((exit) => Exit.isFailure(exit) ? SubscriptionRef.set(state, "compensating") : Effect.void))

    const run = Effect.suspend(() =>
      Effect.zipRight(
        Effect.all([Ref.set(logs, []), Ref.set(lastError, Option.none())]),
        saga.run(name, body, options)
      )
    ).pipe(
      Effect.catchAll((failed) =>
        Effect.flatMap(Ref.get(phase), (at) =>
          Effect.fail(
            new ThreePhaseSagaFailed<E>({ saga: name, phase: at, cause: failed.cause, compensations: failed.compensations })
          ))
      ),
      Effect.onExit((exit) => {
        if (Exit.isSuccess(exit)) return SubscriptionRef.set(state, "completed")
        const error = Cause.failureOption(exit.cause)
        return Effect.zipRight(
          SubscriptionRef.set(state, "failed"),
          Option.isSome(error) ? Ref.set(lastError, error) : Effect.void
        )
      }),
      Effect.asVoid
    )

    return {
      name,
      run,
      state: SubscriptionRef.get(state),
      changes: state.changes,
      executionLogs: Ref.get(logs),
      lastError: Ref.get(lastError)
    }
  })
