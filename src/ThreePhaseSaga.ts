/**
 * A three-phase saga: every participant prepares a pending change
 * (`execute`), then every participant `verify`s it, then every participant
 * `approve`s (commits) it. Each phase runs on all participants in parallel
 * and waits for all of them; a failure in any phase compensates every
 * participant whose `execute` succeeded (in parallel, since they executed in
 * parallel). The state and an execution log are readable while it runs and at
 * the end.
 *
 * Built on `Saga`: the execute phase is a set of concurrent saga steps, so the
 * saga's spans, metrics and logs apply (saga name = this saga's name, step =
 * participant name).
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/sagaThreePhase.js"
import type { RunOptions } from "./Saga.js"

/**
 * Where a three-phase saga is: `pending` (not started), `executing`,
 * `verifying`, `approving`, `compensating`, `completed` or `failed`.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { ThreePhaseSaga } from "effect-loom"
 * import { Schema } from "effect"
 * Schema.decodeUnknownSync(ThreePhaseSaga.State)("verifying")
 */
export const State: Schema.Literal<
  ["pending", "executing", "verifying", "approving", "compensating", "completed", "failed"]
> = internal.State

/**
 * @since 0.1.0
 * @category models
 */
export type State = internal.State

/**
 * A phase in the execution log.
 *
 * @since 0.1.0
 * @category models
 */
export const Phase: Schema.Literal<["execute", "verify", "approve", "compensate"]> = internal.Phase

/**
 * @since 0.1.0
 * @category models
 */
export type Phase = internal.Phase

/**
 * How a phase ended for one participant.
 *
 * @since 0.1.0
 * @category models
 */
export const PhaseOutcome: Schema.Literal<["succeeded", "failed", "interrupted"]> = internal.PhaseOutcome

/**
 * @since 0.1.0
 * @category models
 */
export type PhaseOutcome = internal.PhaseOutcome

/**
 * One line of the execution log: participant, phase, outcome, time (Clock
 * milliseconds) and, for failures, a short error.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { ThreePhaseSaga } from "effect-loom"
 * import { Schema } from "effect"
 * const encode = Schema.encodeSync(Schema.Array(ThreePhaseSaga.LogEntry))
 */
export const LogEntry = internal.LogEntry

/**
 * @since 0.1.0
 * @category models
 */
export type LogEntry = internal.LogEntry

export {
  /**
   * The saga failed in `phase`: the cause (all failures of that phase, in
   * parallel) and the outcome of each participant's compensation.
   *
   * @since 0.1.0
   * @category errors
   */
  ThreePhaseSagaFailed,
  /**
   * The participants are malformed: none, an empty name, or a duplicate name
   * (names key the log and the compensation report).
   *
   * @since 0.1.0
   * @category errors
   */
  ThreePhaseSagaInvalid
} from "./internal/sagaThreePhase.js"

/**
 * A participant, its pending-change type hidden.
 *
 * @since 0.1.0
 * @category models
 */
export type Participant<E, R> = internal.Participant<E, R>

/**
 * Declares a participant. `execute` prepares a pending change and returns it;
 * `verify`, `approve` and `compensate` receive it.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { ThreePhaseSaga } from "effect-loom"
 * import { Effect } from "effect"
 * const users = ThreePhaseSaga.participant({
 *   name: "user",
 *   execute: Effect.succeed({ pendingId: "u-1" }),
 *   verify: ({ pendingId }) => Effect.log(`verify ${pendingId}`),
 *   approve: ({ pendingId }) => Effect.log(`commit ${pendingId}`),
 *   compensate: ({ pendingId }) => Effect.log(`discard ${pendingId}`)
 * })
 */
export const participant = <A, E1, R1, E2, R2, E3, R3, E4, R4>(
  options: {
    readonly name: string
    readonly execute: Effect.Effect<A, E1, R1>
    readonly verify: (pending: NoInfer<A>) => Effect.Effect<unknown, E2, R2>
    readonly approve: (pending: NoInfer<A>) => Effect.Effect<unknown, E3, R3>
    readonly compensate: (pending: NoInfer<A>, cause: Cause.Cause<unknown>) => Effect.Effect<unknown, E4, R4>
  }
): Participant<E1 | E2 | E3, R1 | R2 | R3 | R4> => options as unknown as Participant<E1 | E2 | E3, R1 | R2 | R3 | R4>

/**
 * A three-phase saga ready to run, with accessors for its state and log.
 *
 * @since 0.1.0
 * @category models
 */
export interface ThreePhaseSaga<E, R> {
  readonly name: string
  /** Runs the saga (each run starts a fresh state and log). */
  readonly run: Effect.Effect<void, internal.ThreePhaseSagaFailed<E>, R>
  /** The state now (Go seed: `GetState`). */
  readonly state: Effect.Effect<State>
  /** The current state, then every change. */
  readonly changes: Stream.Stream<State>
  /** The log so far (Go seed: `GetExecutionLogs`). */
  readonly executionLogs: Effect.Effect<ReadonlyArray<LogEntry>>
  /** The error of the last failed run (Go seed: `GetLastError`). */
  readonly lastError: Effect.Effect<Option.Option<internal.ThreePhaseSagaFailed<E>>>
}

type ParticipantError<P> = P extends Participant<infer E, infer _R> ? E : never
type ParticipantContext<P> = P extends Participant<infer _E, infer R> ? R : never

/**
 * Makes a three-phase saga over participants. `options` are the saga's
 * compensation options (continue or stop on a failed compensation, retry
 * schedule). Fails with `ThreePhaseSagaInvalid` if there are no participants
 * or their names are empty or not unique.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { ThreePhaseSaga } from "effect-loom"
 * import { Effect } from "effect"
 * const program = Effect.gen(function*() {
 *   const saga = yield* ThreePhaseSaga.make("user-update", [
 *     ThreePhaseSaga.participant({
 *       name: "user",
 *       execute: Effect.succeed("pending-1"),
 *       verify: () => Effect.void,
 *       approve: () => Effect.void,
 *       compensate: () => Effect.void
 *     })
 *   ])
 *   yield* saga.run
 *   return yield* saga.state // "completed"
 * })
 */
export const make = <const P extends ReadonlyArray<Participant<unknown, unknown>>>(
  name: string,
  participants: P,
  options?: RunOptions
): Effect.Effect<
  ThreePhaseSaga<ParticipantError<P[number]>, ParticipantContext<P[number]>>,
  internal.ThreePhaseSagaInvalid
> =>
  internal.make(
    name,
    participants as unknown as ReadonlyArray<Participant<ParticipantError<P[number]>, ParticipantContext<P[number]>>>,
    options ?? {}
  )
