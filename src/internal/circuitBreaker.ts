import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { Predicate } from "effect/Predicate"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import { PolicySettingInvalid } from "../Policy.js"
import * as settings from "./policySettings.js"

const POLICY = "CircuitBreaker"

/** @internal */
export const Closed = Schema.TaggedStruct("Closed", {})

/** @internal */
export const Open = Schema.TaggedStruct("Open", { openedAt: Schema.Number })

/** @internal */
export const HalfOpen = Schema.TaggedStruct("HalfOpen", {})

/** @internal */
export const State = Schema.Union(Closed, Open, HalfOpen)

/** @internal */
export const Snapshot = Schema.Struct({
  state: State,
  consecutiveFailures: Schema.NonNegativeInt,
  recent: Schema.Array(Schema.Boolean)
})

/** @internal */
export class CircuitBreakerOpen extends Data.TaggedError("CircuitBreakerOpen")<{
  readonly name: string
  readonly state: typeof State.Type
}> {
  override get message(): string {
    return this.state._tag === "HalfOpen" ?
      `circuit breaker "${this.name}" is half-open and its trial calls are taken` :
      `circuit breaker "${this.name}" is open`
  }
}

/** @internal */
export const stateGauge = Metric.gauge("effect_loom.circuit_breaker.state", {
  description: "State of a circuit breaker: 0 closed, 1 half-open, 2 open"
})

/** @internal */
export const rejectionCounter = Metric.counter("effect_loom.circuit_breaker.rejections", {
  description: "Calls rejected by a circuit breaker because it was open or its half-open trial calls were taken",
  incremental: true
})

/** @internal */
export const stateValue = (state: CircuitBreaker.State): number =>
  state._tag === "Closed" ? 0 : state._tag === "HalfOpen" ? 1 : 2

const closed: CircuitBreaker.State = { _tag: "Closed" }
const halfOpen: CircuitBreaker.State = { _tag: "HalfOpen" }

/**
 * The ratio window: the outcomes of the last `size` calls in a ring buffer with
 * a running failure count, so recording an outcome is O(1).
 */
class Ring {
  readonly slots: Uint8Array
  index = 0
  count = 0
  failures = 0
  constructor(readonly size: number) {
    this.slots = new Uint8Array(size)
  }
  push(failed: boolean): void {
    const bit = failed ? 1 : 0
    if (this.count === this.size) {
      this.failures -= this.slots[this.index]!
    } else {
      this.count++
    }
    this.slots[this.index] = bit
    this.failures += bit
    this.index = (this.index + 1) % this.size
  }
  clear(): void {
    this.slots.fill(0)
    this.index = 0
    this.count = 0
    this.failures = 0
  }
  /** Oldest first. */
  toArray(): Array<boolean> {
    const out: Array<boolean> = []
    const start = this.count === this.size ? this.index : 0
    for (let i = 0; i < this.count; i++) out.push(this.slots[(start + i) % this.size] === 1)
    return out
  }
}

interface Handlers<A, E> {
  readonly onFailure: (cause: Cause.Cause<E>) => Effect.Effect<never, E>
  readonly onSuccess: (value: A) => Effect.Effect<A>
}

interface Settings {
  readonly name: string
  readonly maxFailures: number | undefined
  readonly ratio: { readonly threshold: number; readonly window: number; readonly minimumCalls: number } | undefined
  readonly resetAfter: Duration.Duration
  readonly halfOpenMaxCalls: number
  readonly isFailure: Predicate<unknown>
}

const validate = (options: CircuitBreaker.Options): Effect.Effect<Settings, PolicySettingInvalid> =>
  Effect.gen(function*() {
    const maxFailures = options.maxFailures === undefined && options.failureRatio === undefined ?
      5 :
      options.maxFailures === undefined ?
      undefined :
      yield* settings.positiveInt(POLICY, "maxFailures", options.maxFailures)
    let ratio: Settings["ratio"] = undefined
    if (options.failureRatio !== undefined) {
      const threshold = yield* settings.ratio(POLICY, "failureRatio.threshold", options.failureRatio.threshold)
      const window = yield* settings.positiveInt(POLICY, "failureRatio.window", options.failureRatio.window)
      const minimumCalls = yield* settings.positiveInt(
        POLICY,
        "failureRatio.minimumCalls",
        options.failureRatio.minimumCalls ?? window
      )
      if (minimumCalls > window) {
        return yield* new PolicySettingInvalid({
          policy: POLICY,
          setting: "failureRatio.minimumCalls",
          value: minimumCalls,
          expected: `a positive integer at most failureRatio.window (${window})`
        })
      }
      ratio = { threshold, window, minimumCalls }
    }
    const resetAfter = yield* settings.duration(POLICY, "resetAfter", options.resetAfter, { allowZero: true })
    const halfOpenMaxCalls = yield* settings.positiveInt(POLICY, "halfOpenMaxCalls", options.halfOpenMaxCalls ?? 1)
    return {
      name: options.name,
      maxFailures,
      ratio,
      resetAfter,
      halfOpenMaxCalls,
      isFailure: options.isFailure ?? (() => true)
    }
  })

/** @internal */
export const make = (
  options: CircuitBreaker.Options
): Effect.Effect<CircuitBreaker.CircuitBreaker, PolicySettingInvalid, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* validate(options)
    const scope = yield* Effect.scope
    const clock: Clock.Clock = yield* Effect.clock
    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<CircuitBreaker.State>(), PubSub.shutdown)
    let shutDown = false
    yield* Effect.addFinalizer(() => Effect.sync(() => shutDown = true))
    const gauge = Metric.tagged(stateGauge, "breaker", config.name)
    const rejections = Metric.tagged(rejectionCounter, "breaker", config.name)
    const resetMillis = Duration.toMillis(config.resetAfter)

    // All state lives here and is only touched synchronously inside effects, so
    // every fiber sees one breaker and no update is torn (JavaScript runs one
    // fiber step at a time).
    let state: CircuitBreaker.State = closed
    let generation = 0
    let consecutiveFailures = 0
    let trialsAdmitted = 0
    let trialsSucceeded = 0
    // The outcome handlers of the current generation (see `outcomeHandlers`, hoisted).
    let handlers = outcomeHandlers(generation)
    const ratio = config.ratio
    const ring = ratio === undefined ? undefined : new Ring(ratio.window)

    const initial = options.initialState
    if (initial !== undefined) {
      if (ring === undefined ? initial.recent.length > 0 : initial.recent.length > ring.size) {
        return yield* new PolicySettingInvalid({
          policy: POLICY,
          setting: "initialState.recent",
          value: initial.recent.length,
          expected: ring === undefined ?
            "empty when failureRatio is not set" :
            `at most failureRatio.window (${ring.size}) outcomes`
        })
      }
      yield* settings.nonNegativeInt(POLICY, "initialState.consecutiveFailures", initial.consecutiveFailures)
      state = initial.state
      consecutiveFailures = initial.consecutiveFailures
      if (ring !== undefined) for (const failed of initial.recent) ring.push(failed)
    }
    gauge.unsafeUpdate(stateValue(state), [])

    const scheduleHalfOpen = (openedAt: number, forGeneration: number): Effect.Effect<void> =>
      clock.sleep(Duration.millis(Math.max(0, openedAt + resetMillis - clock.unsafeCurrentTimeMillis()))).pipe(
        Effect.zipRight(Effect.suspend(() => {
          if (generation !== forGeneration || state._tag !== "Open") return Effect.void
          return switchTo(halfOpen)
        })),
        // Calls run uninterruptibly around the user's effect; the timer must stay interruptible
        // or closing the scope would wait for it.
        Effect.interruptible,
        Effect.forkIn(scope),
        Effect.asVoid
      )

    /** Switches state synchronously; the returned effect publishes the change. */
    const switchTo = (next: CircuitBreaker.State): Effect.Effect<void> => {
      const previous = state
      state = next
      generation++
      consecutiveFailures = 0
      trialsAdmitted = 0
      trialsSucceeded = 0
      if (next._tag === "Closed") ring?.clear()
      gauge.unsafeUpdate(stateValue(next), [])
      const forGeneration = generation
      handlers = outcomeHandlers(forGeneration)
      const publish = Effect.zipRight(
        // After the scope closed the PubSub is shut down (publishing would interrupt the caller).
        Effect.suspend(() => shutDown ? Effect.void : PubSub.publish(pubsub, next)),
        Effect.logInfo(`circuit breaker "${config.name}": ${previous._tag} -> ${next._tag}`).pipe(
          Effect.annotateLogs({ breaker: config.name })
        )
      )
      // Uninterruptible: a caller interrupted right after the switch must still publish it and start the timer.
      return Effect.uninterruptible(
        next._tag === "Open" ? Effect.zipRight(publish, scheduleHalfOpen(next.openedAt, forGeneration)) : publish
      )
    }
    const open = () => switchTo({ _tag: "Open", openedAt: clock.unsafeCurrentTimeMillis() })

    /** Open → HalfOpen once `resetAfter` has passed, even before the timer fiber ran. */
    const refresh = (): Effect.Effect<void> | undefined =>
      state._tag === "Open" && clock.unsafeCurrentTimeMillis() >= state.openedAt + resetMillis ?
        switchTo(halfOpen) :
        undefined

    if (state._tag === "Open") yield* scheduleHalfOpen(state.openedAt, generation)

    const failed = (cause: Cause.Cause<unknown>): boolean | undefined => {
      const failure = Cause.failureOption(cause)
      if (failure._tag === "Some") return config.isFailure(failure.value)
      return Cause.isInterruptedOnly(cause) ? undefined : true
    }

    /**
     * Records the outcome of a call admitted in `admittedIn` (`true` a failure,
     * `false` a success, `undefined` neither); returns the publication of a
     * state change, if any.
     */
    const record = (admittedIn: number, failure: boolean | undefined): Effect.Effect<void> | undefined => {
      if (admittedIn !== generation) return undefined
      if (state._tag === "HalfOpen") {
        if (failure === undefined) {
          trialsAdmitted--
          return undefined
        }
        if (failure) return open()
        trialsSucceeded++
        return trialsSucceeded >= config.halfOpenMaxCalls ? switchTo(closed) : undefined
      }
      if (failure === undefined) return undefined
      if (failure) consecutiveFailures++
      else consecutiveFailures = 0
      if (ring !== undefined && ratio !== undefined) {
        ring.push(failure)
        if (failure && ring.count >= ratio.minimumCalls && ring.failures / ring.count >= ratio.threshold) return open()
      }
      if (failure && config.maxFailures !== undefined && consecutiveFailures >= config.maxFailures) return open()
      return undefined
    }

    const reject = (current: CircuitBreaker.State) => {
      rejections.unsafeUpdate(1, [])
      return Effect.fail(new CircuitBreakerOpen({ name: config.name, state: current }))
    }

    /**
     * The handlers recording the outcome of the calls admitted in one
     * generation; built once per state change, not per call.
     */
    function outcomeHandlers(admittedIn: number) {
      return {
        onFailure: <E>(cause: Cause.Cause<E>): Effect.Effect<never, E> => {
          const publish = record(admittedIn, failed(cause))
          return publish === undefined ? Effect.failCause(cause) : Effect.zipRight(publish, Effect.failCause(cause))
        },
        onSuccess: <A>(value: A): Effect.Effect<A> => {
          const publish = record(admittedIn, false)
          return publish === undefined ? Effect.succeed(value) : Effect.as(publish, value)
        }
      }
    }

    /** Runs an admitted call, recording its outcome against the current generation. */
    const run = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
      const current: Handlers<A, E> = handlers
      return Effect.matchCauseEffect(self, current)
    }

    const breaker = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitBreakerOpen, R> =>
      Effect.suspend(() =>
        // Closed: admitting changes nothing and an interruption would not count, so no mask is needed.
        state._tag === "Closed" ? run(self) : guarded(self)
      )

    const guarded = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitBreakerOpen, R> =>
      // The mask's body runs on every call, so it reads the state afresh.
      Effect.uninterruptibleMask((restore): Effect.Effect<A, E | CircuitBreakerOpen, R> => {
        if (state._tag === "Closed") return run(restore(self))
        const published = refresh()
        const current = state
        if (current._tag === "HalfOpen" && trialsAdmitted < config.halfOpenMaxCalls) {
          trialsAdmitted++
          const admitted = run(restore(self))
          return published === undefined ? admitted : Effect.zipRight(published, admitted)
        }
        return published === undefined ? reject(current) : Effect.zipRight(published, reject(current))
      })

    const snapshot = (): CircuitBreaker.Snapshot => ({
      state,
      consecutiveFailures,
      recent: ring === undefined ? [] : ring.toArray()
    })

    const currentState: Effect.Effect<CircuitBreaker.State> = Effect.suspend(() => {
      const published = refresh()
      return published === undefined ? Effect.succeed(state) : Effect.as(published, state)
    })

    const changes: Stream.Stream<CircuitBreaker.State> = Stream.unwrapScoped(
      Effect.map(PubSub.subscribe(pubsub), (dequeue) => Stream.concat(Stream.succeed(state), Stream.fromQueue(dequeue)))
    )

    Object.defineProperty(breaker, "name", { value: config.name })
    return Object.assign(breaker as typeof breaker & { readonly name: string }, {
      state: currentState,
      changes,
      snapshot: Effect.sync(snapshot),
      toJSON: snapshot
    })
  })

