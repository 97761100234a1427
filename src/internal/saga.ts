import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import { globalValue } from "effect/GlobalValue"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { withFaults } from "./faults.js"
import { currentJournalHook, type JournalRegion } from "./journalHook.js"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/** @internal */
export type Outcome = Data.TaggedEnum<{
  Compensated: {}
  Failed: { readonly cause: Cause.Cause<unknown> }
  Skipped: {}
  Irreversible: {}
}>

/** @internal */
export const Outcome = Data.taggedEnum<Outcome>()

/** @internal */
export interface Compensation {
  readonly step: string
  readonly outcome: Outcome
}

/** @internal */
export class SagaFailed<E> extends Data.TaggedError("SagaFailed")<{
  readonly saga: string
  readonly cause: Cause.Cause<E>
  readonly compensations: ReadonlyArray<Compensation>
}> {
  override get message(): string {
    const count = (tag: Outcome["_tag"]) => this.compensations.filter((c) => c.outcome._tag === tag).length
    const reason = Cause.isInterruptedOnly(this.cause) ? "was interrupted" : `failed: ${reasonOf(this.cause)}`
    return `saga "${this.saga}" ${reason}; compensations: ${count("Compensated")} compensated, ${
      count("Failed")
    } failed, ${count("Skipped")} skipped, ${count("Irreversible")} irreversible`
  }
}

/** @internal */
export type CompensationFailurePolicy = "continue" | "stop"

/** @internal */
export interface RunOptions {
  readonly onCompensationFailure?: CompensationFailurePolicy | undefined
  readonly compensationRetry?: Schedule.Schedule<unknown, unknown> | undefined
}

/** A compensation: receives the step's output and the saga's failure cause. @internal */
export type Compensator<A, E, R> = (output: A, cause: Cause.Cause<unknown>) => Effect.Effect<unknown, E, R>

/** What a tree leaf hands to its step so the tree's status shows compensation. @internal */
export interface StatusSink {
  readonly mark: (status: "compensating" | "compensated" | "compensation-failed") => void
}

// ---------------------------------------------------------------------------
// Observability
// ---------------------------------------------------------------------------

/** @internal */
export const compensationsTotal = Metric.counter("effect_loom.saga.compensations", {
  description: "Compensations run by sagas",
  incremental: true
})

/** @internal */
export const compensationFailuresTotal = Metric.counter("effect_loom.saga.compensation_failures", {
  description: "Compensations that failed (after retries)",
  incremental: true
})

/** @internal */
export const compensationDuration = Metric.histogram(
  "effect_loom.saga.compensation.duration",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 16 }),
  "Duration of saga compensations in seconds"
)

/** A short reason for logs and messages: the failure's message, or "interrupted". @internal */
export const reasonOf = (cause: Cause.Cause<unknown>): string => {
  if (Cause.isInterruptedOnly(cause)) return "interrupted"
  const error = Cause.squash(cause)
  if (error instanceof Error) return error.message.length > 0 ? error.message : error.name
  if (typeof error === "object" && error !== null && "_tag" in error) return String(error._tag)
  return String(error)
}

// ---------------------------------------------------------------------------
// The running saga
// ---------------------------------------------------------------------------

interface Entry {
  readonly id: number
  readonly step: string
  readonly end: number
  /** Ids of the steps whose forward effect this step ran inside. */
  readonly ancestors: ReadonlyArray<number>
  /** The branches of `Saga.all` groups this step ran in. */
  readonly branches: ReadonlyArray<Branch>
  readonly compensate: ((cause: Cause.Cause<unknown>) => Effect.Effect<unknown, unknown>) | undefined
  readonly sink: StatusSink | undefined
  /** A nested saga that succeeded: compensating this entry compensates its steps. */
  readonly nested: SagaRuntime | undefined
  /** Inside a durable workflow: the journal position of the step (its compensation is journaled there). */
  readonly region: JournalRegion | undefined
  done: boolean
}

/** The registry of one saga run: completed steps, in completion order, and compensation outcomes. @internal */
export class SagaRuntime {
  seq = 0
  readonly entries: Array<Entry> = []
  readonly outcomes: Array<Compensation> = []
  stopped = false

  constructor(
    readonly name: string,
    readonly options: RunOptions,
    readonly scope: Scope.CloseableScope
  ) {}

  next(): number {
    return this.seq++
  }

  /** Records a completed step and adds its compensation as a finalizer of the saga's scope. */
  register(entry: Entry): Effect.Effect<void> {
    this.entries.push(entry)
    return Scope.addFinalizerExit(
      this.scope,
      (exit) => Exit.isSuccess(exit) ? Effect.void : this.compensateFrom(entry, exit.cause)
    )
  }

  /**
   * Compensates `entry` together with the earlier-completed steps that ran
   * concurrently with it (and with each other), in parallel. Called by the
   * step's scope finalizer; finalizers run in reverse completion order, so
   * `entry` is the latest step not yet compensated.
   */
  compensateFrom(entry: Entry, cause: Cause.Cause<unknown>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (entry.done) return Effect.void
      const batch: Array<Entry> = [entry]
      for (let i = this.entries.indexOf(entry) - 1; i >= 0; i--) {
        const other = this.entries[i]!
        if (other.done) continue
        if (!batch.every((member) => concurrent(member, other))) break
        batch.push(other)
      }
      for (const member of batch) member.done = true
      return Effect.map(
        Effect.forEach(batch, (member) => this.compensateOne(member, cause), {
          concurrency: batch.length > 1 ? "unbounded" : 1
        }),
        (results) => {
          for (const result of results) this.outcomes.push(...result)
          if (
            this.options.onCompensationFailure === "stop" &&
            results.some((r) => r.some((c) => c.outcome._tag === "Failed"))
          ) {
            this.stopped = true
          }
        }
      )
    })
  }

  private compensateOne(entry: Entry, cause: Cause.Cause<unknown>): Effect.Effect<ReadonlyArray<Compensation>> {
    const nested = entry.nested
    if (nested !== undefined) {
      // The nested saga's own finalizers compensate its steps, with its own options.
      if (this.stopped) nested.stopped = true
      return Effect.as(Scope.close(nested.scope, Exit.failCause(cause)), nested.outcomes)
    }
    const compensate = entry.compensate
    if (compensate === undefined) return Effect.succeed([{ step: entry.step, outcome: Outcome.Irreversible() }])
    if (this.stopped) return Effect.succeed([{ step: entry.step, outcome: Outcome.Skipped() }])
    const region = entry.region
    // a workflow run that stops without an outcome (shutdown, terminate) leaves the undo to its resumption
    if (region?.halted() === true) return Effect.succeed([{ step: entry.step, outcome: Outcome.Skipped() }])
    const tags = { saga: this.name, step: entry.step }
    const tagged = <T, I, O>(metric: Metric.Metric<T, I, O>) =>
      metric.pipe(Metric.tagged("saga", this.name), Metric.tagged("step", entry.step))
    const retry = this.options.compensationRetry
    const retried = retry === undefined ? compensate(cause) : Effect.retry(compensate(cause), retry)
    // in a workflow, every attempt's activities are journaled under the step's compensation key
    const attempt = region === undefined ? retried : region.compensate(retried)
    const sink = entry.sink
    return Effect.gen(function*() {
      sink?.mark("compensating")
      yield* Effect.logInfo("compensation_started")
      const [duration, exit] = yield* Effect.timed(Effect.exit(attempt))
      const millis = Duration.toMillis(duration)
      yield* Metric.increment(tagged(compensationsTotal))
      yield* Metric.update(tagged(compensationDuration), millis / 1000)
      if (Exit.isSuccess(exit)) {
        sink?.mark("compensated")
        yield* Effect.logInfo("compensation_completed").pipe(Effect.annotateLogs({ duration_ms: millis }))
        return [{ step: entry.step, outcome: Outcome.Compensated() }]
      }
      sink?.mark("compensation-failed")
      yield* Metric.increment(tagged(compensationFailuresTotal))
      yield* Effect.logWarning("compensation_failed").pipe(
        Effect.annotateLogs({ duration_ms: millis, error: reasonOf(exit.cause) })
      )
      return [{ step: entry.step, outcome: Outcome.Failed({ cause: exit.cause }) }]
    }).pipe(
      Effect.annotateLogs({ ...tags, reason: reasonOf(cause) }),
      Effect.withSpan(`${entry.step}.compensate`, { attributes: { "saga.name": this.name, "saga.step": entry.step } })
    )
  }
}

/**
 * Two steps ran concurrently: neither ran inside the other, and either they
 * are in different branches of one `Saga.all` group or their forward runs
 * overlapped in time.
 */
const concurrent = (a: Entry, b: Entry): boolean => {
  if (a.ancestors.includes(b.id) || b.ancestors.includes(a.id)) return false
  if (a.branches.some(([group, member]) => b.branches.some(([g, m]) => g === group && m !== member))) return true
  return a.id < b.end && b.id < a.end
}

/** A branch of a `Saga.all` group: group id and member index. */
type Branch = readonly [group: number, member: number]

const branchesRef = globalValue(
  Symbol.for("effect-loom/Saga/branches"),
  () => FiberRef.unsafeMake<ReadonlyArray<Branch>>([])
)

/** The parallel group (of a tree) the current fiber runs in. */
const groupRef = globalValue(Symbol.for("effect-loom/Saga/group"), () => FiberRef.unsafeMake<number>(-1))

/** Ids of parallel groups, unique per run of a group. */
let groupCount = 0

/** Runs `self` as one run of a parallel group: its members' steps count as concurrent. @internal */
export const enterGroup = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => Effect.locally(self, groupRef, groupCount++))

/** Runs `self` as member `member` of the enclosing parallel group. @internal */
export const enterMember = (member: number) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.all([FiberRef.get(groupRef), FiberRef.get(branchesRef)]), ([group, branches]) =>
    group < 0 ? self : Effect.locally(self, branchesRef, [...branches, [group, member] as const]))

/** @internal */
export const all = <A, E, R>(
  effects: Iterable<Effect.Effect<A, E, R>>,
  options: { readonly concurrency?: number | "unbounded" | undefined } | undefined
): Effect.Effect<Array<A>, E, R | SagaTag> =>
  Effect.zipLeft(
    enterGroup(Effect.forEach(
      Array.from(effects).map((effect, member) => enterMember(member)(effect)),
      (effect) => effect,
      { concurrency: options?.concurrency ?? "unbounded" }
    )),
    SagaTag
  )

/** @internal */
export class SagaTag extends Context.Tag("effect-loom/Saga/Saga")<SagaTag, SagaRuntime>() {}

/** The steps the current fiber runs inside (inherited by forked fibers). */
const ancestorsRef = globalValue(
  Symbol.for("effect-loom/Saga/ancestors"),
  () => FiberRef.unsafeMake<ReadonlyArray<number>>([])
)

// ---------------------------------------------------------------------------
// Steps and runs
// ---------------------------------------------------------------------------

/** The step's context minus its span, so that a compensation's spans sit under `<step>.compensate`. */
const withoutSpan = <R>(context: Context.Context<R>): Context.Context<R> =>
  Context.omit(Tracer.ParentSpan)(context) as Context.Context<R>

/** Inside a durable workflow, reserves the step's journal position (in program order). */
const journalRegion: Effect.Effect<JournalRegion | undefined> = Effect.flatMap(
  FiberRef.get(currentJournalHook),
  (hook) => hook === null ? Effect.succeed(undefined) : hook.region
)

/** @internal */
export const makeStep = <A, E, R, E2, R2>(
  name: string,
  forward: Effect.Effect<A, E, R>,
  compensate: Compensator<A, E2, R2> | undefined,
  sink: StatusSink | undefined
): Effect.Effect<A, E, R | R2 | SagaTag> =>
  Effect.flatMap(SagaTag, (saga) =>
    Effect.flatMap(Effect.all([FiberRef.get(ancestorsRef), FiberRef.get(branchesRef), journalRegion]), ([ancestors, branches, region]) =>
      Effect.uninterruptibleMask((restore) => {
        const id = saga.next()
        const faulted = withFaults("step", name, forward)
        const body = (region === undefined ? faulted : region.run(faulted)).pipe(
          Effect.locally(ancestorsRef, [...ancestors, id]),
          Effect.withSpan(`${name}.forward`, { attributes: { "saga.name": saga.name, "saga.step": name } })
        )
        return Effect.tap(restore(body), (output) =>
          Effect.flatMap(Effect.context<R2>(), (context) =>
            saga.register({
              id,
              step: name,
              end: saga.next(),
              ancestors,
              branches,
              compensate: compensate === undefined
                ? undefined
                : (cause) => Effect.provide(compensate(output, cause), withoutSpan(context)),
              sink,
              nested: undefined,
              region,
              done: false
            })))
      })))

/** @internal */
export const withCompensation = dual(
  3,
  <A, E, R, E2, R2>(
    self: Effect.Effect<A, E, R>,
    name: string,
    compensate: Compensator<A, E2, R2>
  ): Effect.Effect<A, E, R | R2 | SagaTag> => makeStep(name, self, compensate, undefined)
)

/** @internal */
export const run = <A, E, R>(
  name: string,
  body: Effect.Effect<A, E, R>,
  options: RunOptions
): Effect.Effect<A, SagaFailed<E>, Exclude<R, SagaTag>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const parent = yield* Effect.serviceOption(SagaTag)
      const ancestors = yield* FiberRef.get(ancestorsRef)
      const branches = yield* FiberRef.get(branchesRef)
      const id = parent._tag === "Some" ? parent.value.next() : 0
      const scope = yield* Scope.make()
      const saga = new SagaRuntime(name, options, scope)
      const exit = yield* body.pipe(
        Effect.provideService(SagaTag, saga),
        Effect.locally(ancestorsRef, []),
        Effect.locally(branchesRef, []),
        Effect.locally(groupRef, -1),
        restore,
        Effect.exit
      )
      if (Exit.isSuccess(exit) && parent._tag === "Some") {
        // A nested saga that succeeded is compensated if its parent fails later.
        yield* parent.value.register({
          id,
          step: name,
          end: parent.value.next(),
          ancestors,
          branches,
          compensate: undefined,
          sink: undefined,
          nested: saga,
          region: undefined,
          done: false
        })
        return exit.value
      }
      // Closing the scope with the body's exit runs the compensations (only on failure).
      yield* Scope.close(scope, exit)
      if (Exit.isSuccess(exit)) return exit.value
      return yield* new SagaFailed({ saga: name, cause: exit.cause, compensations: saga.outcomes })
    })
  ).pipe(Effect.withSpan(`${name}.saga`, { attributes: { "saga.name": name } }))
