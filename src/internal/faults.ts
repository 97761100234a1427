import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * Fault injection hook. Call sites (operation leaves, component handlers, workflow activities, saga steps) read the
 * `Faults` reference once and, only when it is `active`, wrap the effect they are about to run with
 * `wrap(target, name, effect)`. Each run of the wrapped effect is one attempt, so "fail N times then
 * succeed" works under retries. The public constructors live in `Testing.ts`.
 */

/** @internal */
export type FaultTarget = "leaf" | "component" | "activity" | "step"

/**
 * What a fault does to an attempt. `times` counts the attempts it affects (`Infinity` = every attempt).
 *
 * @internal
 */
export type FaultAction = Data.TaggedEnum<{
  Fail: { readonly error: unknown; readonly times: number }
  Die: { readonly defect: unknown; readonly times: number }
  Delay: { readonly duration: Duration.Duration; readonly times: number }
}>

/** @internal */
export const FaultAction = Data.taggedEnum<FaultAction>()

/**
 * One configured fault: which call site (`target` + exact `name`), what it does and, optionally, the
 * probability (0..1) that it applies to an attempt, decided by a random generator seeded with `seed`.
 *
 * @internal
 */
export interface Fault {
  readonly target: FaultTarget
  readonly name: string
  readonly action: FaultAction
  readonly probability?: number | undefined
  readonly seed?: string | number | undefined
}

/**
 * The default failure of an injected fault when the test gives no error value.
 *
 * @internal
 */
export class FaultInjected extends Data.TaggedError("FaultInjected")<{
  readonly target: FaultTarget
  readonly name: string
  readonly attempt: number
}> {
  override get message(): string {
    return `Injected fault on ${this.target} "${this.name}" (attempt ${this.attempt})`
  }
}

/** @internal */
export interface FaultsService {
  /** `false` when no fault is configured: call sites then leave their effect untouched. */
  readonly active: boolean
  /** Applies the faults configured for this call site; returns `effect` itself when none matches. */
  readonly wrap: <A, E, R>(target: FaultTarget, name: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

const inactive: FaultsService = { active: false, wrap: (_target, _name, effect) => effect }

/** @internal */
export class Faults extends Context.Reference<Faults>()("effect-loom/Testing/Faults", {
  defaultValue: (): FaultsService => inactive
}) {}

/** The last segment of a node path ("bulk-update/inventory-service" → "inventory-service"). */
const lastSegment = (path: string): string => {
  const i = path.lastIndexOf("/")
  return i < 0 ? path : path.slice(i + 1)
}

const matches = (fault: Fault, target: FaultTarget, name: string): boolean =>
  fault.target === target && (fault.name === name || (target === "leaf" && fault.name === lastSegment(name)))

/** A small deterministic generator (mulberry32) so a seeded probability gives the same run every time. */
const seeded = (seed: string | number): () => number => {
  let h = 1779033703
  const text = String(seed)
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 3432918353)
    h = (h << 13) | (h >>> 19)
  }
  let state = h >>> 0
  return () => {
    state = (state + 0x6D2B79F5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Rule {
  readonly fault: Fault
  readonly roll: (() => number) | undefined
  /** Attempts affected so far, per matched call-site name. */
  readonly applied: Map<string, number>
  /** Attempts seen so far, per matched call-site name (for `FaultInjected.attempt`). */
  readonly seen: Map<string, number>
}

/**
 * Builds the service for a list of faults. Counters live in the returned value, so build it once per test
 * (the `Testing.faults` layer does). Rules apply in order: delays first sleep (with `Effect.sleep`, so
 * `TestClock` drives them), then the first failing rule that applies fails the attempt.
 *
 * @internal
 */
export const make = (faults: Iterable<Fault>): FaultsService => {
  const rules: ReadonlyArray<Rule> = Array.from(faults, (fault) => ({
    fault,
    roll: fault.probability === undefined ? undefined : seeded(fault.seed ?? 0),
    applied: new Map(),
    seen: new Map()
  }))
  if (rules.length === 0) return inactive
  const wrap = <A, E, R>(target: FaultTarget, name: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const matching = rules.filter((rule) => matches(rule.fault, target, name))
    if (matching.length === 0) return effect
    return Effect.suspend(() => {
      let delay: Duration.Duration = Duration.zero
      let failure: Effect.Effect<never, E> | undefined
      for (const rule of matching) {
        const attempt = (rule.seen.get(name) ?? 0) + 1
        rule.seen.set(name, attempt)
        const { action, probability } = rule.fault
        const applied = rule.applied.get(name) ?? 0
        if (applied >= action.times) continue
        if (action._tag !== "Delay" && failure !== undefined) continue
        if (rule.roll !== undefined && probability !== undefined && rule.roll() >= probability) continue
        rule.applied.set(name, applied + 1)
        switch (action._tag) {
          case "Delay":
            delay = Duration.sum(delay, action.duration)
            break
          case "Fail":
            // The test chose this error for this call site; it travels in the typed channel by design.
            failure = Effect.fail(
              (action.error === undefined ? new FaultInjected({ target, name, attempt }) : action.error) as E
            )
            break
          case "Die":
            failure = Effect.die(
              action.defect === undefined ? new FaultInjected({ target, name, attempt }) : action.defect
            )
            break
        }
      }
      const run = failure ?? effect
      return Duration.greaterThan(delay, Duration.zero) ? Effect.zipRight(Effect.sleep(delay), run) : run
    })
  }
  return { active: true, wrap }
}

/**
 * Reads `Faults` and applies it to one call site; when no fault is configured the effect runs as is.
 *
 * @internal
 */
export const withFaults = <A, E, R>(
  target: FaultTarget,
  name: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Faults, (faults) => faults.active ? faults.wrap(target, name, effect) : effect)
