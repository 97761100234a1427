import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { WorkflowNonDeterminism } from "../WorkflowError.js"
import type { JournalEntry, WorkflowRecord, WorkflowStorageService, WorkflowUpdate } from "../WorkflowStorage.js"

/**
 * A position in the workflow's program structure. Steps take keys from the node of the fiber they run
 * in (`<path><n>`); a forked fiber gets a child node numbered in fork order. Both orders are program
 * order, so keys are the same on every replay whatever the completion order of concurrent steps.
 *
 * @internal
 */
export class StepNode {
  steps = 0
  forks = 0
  randoms = 0
  /**
   * Inside a step (while it runs or replays) its fiber takes no keys: the node counts as absent
   * (`activeNode`) and fibers forked there get none. A counter on the fiber's own node rather than a
   * `locally(stepPath, null)`, which copies the fiber's references twice per step.
   */
  busy = 0
  constructor(readonly path: string) {}
  nextKey(): string {
    return `${this.path}${++this.steps}`
  }
  peekKey(): string {
    return `${this.path}${this.steps + 1}`
  }
  fork(): StepNode {
    return new StepNode(`${this.path}f${++this.forks}/`)
  }
}

/** @internal */
export const stepPath: FiberRef.FiberRef<StepNode | null> = FiberRef.unsafeMake<StepNode | null>(null, {
  fork: (node) => node === null || node.busy > 0 ? null : node.fork(),
  join: (parent) => parent
})

/** The node steps take keys from: none outside a workflow and inside a step. @internal */
export const activeNode = (node: StepNode | null): StepNode | null => node === null || node.busy > 0 ? null : node

/** `stepPath`'s active node of the current fiber. @internal */
export const currentNode: Effect.Effect<StepNode | null> = Effect.map(FiberRef.get(stepPath), activeNode)

/** Runs `self` as the body of a step of `node`: no step inside takes a key from it. */
const inStep = <A, E, R>(node: StepNode, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) => {
    node.busy++
    return Effect.flatMap(Effect.exit(restore(self)), (exit) => {
      node.busy--
      return exit
    })
  })

/** @internal */
export const inCompensation: FiberRef.FiberRef<boolean> = FiberRef.unsafeMake(false)

/** @internal */
export interface ActivityInfo {
  readonly key: string
  readonly idempotencyKey: string
  /** the number of the running attempt (set by the activity before each attempt) */
  attempt: number
}

/** @internal */
export const currentActivity: FiberRef.FiberRef<ActivityInfo | null> = FiberRef.unsafeMake<ActivityInfo | null>(null)

/** What the workflow primitives need from the engine. @internal */
export interface EngineHooks {
  readonly startChild: (
    name: string,
    id: string,
    payload: string,
    parentId: string
  ) => Effect.Effect<void, unknown>
  /** Waits until the workflow finished and returns its record. */
  readonly awaitResult: (id: string) => Effect.Effect<WorkflowRecord, unknown>
}

/** One run of one workflow in this process. @internal */
export interface Execution {
  readonly workflowId: string
  readonly run: number
  readonly name: string
  readonly journal: ReadonlyMap<string, JournalEntry>
  readonly storage: WorkflowStorageService
  readonly hooks: EngineHooks
  readonly scope: Scope.CloseableScope
  readonly payloadSchema: Schema.Schema.AnyNoContext
  seq: number
  cancel: "none" | "cancel"
  /** Set on shutdown, terminate, continue-as-new and non-determinism: compensations are skipped. */
  halted: boolean
  nonDeterminism: WorkflowNonDeterminism | undefined
  continueWith: string | undefined
  /** completed (and cleared) when an event arrives for this run; made by a wait before it reads the events */
  eventSignal: Deferred.Deferred<void> | undefined
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  readonly patches: Map<string, boolean>
}

/** @internal */
export const currentExecution: FiberRef.FiberRef<Execution | null> = FiberRef.unsafeMake<Execution | null>(null)

/** Stops the whole workflow fiber (used when a step decides the run cannot go on). @internal */
export const abort = (exec: Execution): Effect.Effect<never> =>
  Effect.zipRight(
    exec.fiber === undefined ? Effect.void : Fiber.interruptFork(exec.fiber),
    Effect.interrupt
  )

/** @internal */
export const record = (
  exec: Execution,
  key: string,
  name: string,
  kind: string,
  exit: string,
  update?: WorkflowUpdate
): Effect.Effect<void> =>
  Effect.withFiberRuntime<void, unknown>((fiber) =>
    exec.storage.append([{
      workflowId: exec.workflowId,
      run: exec.run,
      key,
      seq: exec.seq++,
      name,
      kind,
      exit,
      createdAt: Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
    }], update)).pipe(Effect.catchAll((e) => halt(exec, e)))

/**
 * The journal could not be written: stop this run without recording an outcome, so that a restart
 * resumes it from the last committed step.
 *
 * @internal
 */
export const halt = (exec: Execution, error: unknown): Effect.Effect<never> =>
  Effect.zipRight(
    Effect.logError("workflow halted: journal write failed", error).pipe(
      Effect.annotateLogs({ workflowId: exec.workflowId })
    ),
    Effect.suspend(() => {
      exec.halted = true
      return abort(exec)
    })
  )

/** Interrupts the run when a cancel was requested, except while compensating. @internal */
export const checkCancel = (exec: Execution): Effect.Effect<void> =>
  exec.cancel === "none" ? Effect.void : Effect.flatMap(FiberRef.get(inCompensation), (comp) => comp ? Effect.void : abort(exec))

/**
 * The one way a workflow performs a journaled step: take the next structural key, replay the recorded
 * entry (after checking name and kind) or run the step live.
 *
 * @internal
 */
export const step = <A, E, R, A2, E2, R2>(options: {
  readonly name: string
  readonly kind: string
  readonly outside: Effect.Effect<A2, E2, R2>
  readonly replay: (entry: JournalEntry, exec: Execution, key: string) => Effect.Effect<A, E, R>
  readonly live: (exec: Execution, key: string) => Effect.Effect<A, E, R>
}): Effect.Effect<A | A2, E | E2, R | R2> =>
  Effect.withFiberRuntime((fiber): Effect.Effect<A | A2, E | E2, R | R2> => {
    const exec = fiber.getFiberRef(currentExecution)
    if (exec === null) return options.outside
    {
      const node = activeNode(fiber.getFiberRef(stepPath))
      if (node === null) return options.outside
      const key = node.nextKey()
      const entry = exec.journal.get(key)
      if (entry !== undefined) {
        if (entry.name !== options.name || entry.kind !== options.kind) {
          return nonDeterminism(exec, key, `${options.kind}:${options.name}`, `${entry.kind}:${entry.name}`)
        }
        return inStep(node, options.replay(entry, exec, key))
      }
      return inStep(node, Effect.zipRight(checkCancel(exec), options.live(exec, key)))
    }
  })

/** @internal */
export const nonDeterminism = (exec: Execution, step: string, expected: string, recorded: string): Effect.Effect<never> =>
  Effect.suspend(() => {
    exec.nonDeterminism ??= new WorkflowNonDeterminism({ workflowId: exec.workflowId, step, expected, recorded })
    exec.halted = true
    return abort(exec)
  })

// ---------------------------------------------------------------------------------------------------
// Exit envelopes stored in the journal: {"_tag":"Success","value":…} | {"_tag":"Failure","error":…} |
// {"_tag":"Die","defect":"…"}. Interruptions are never journaled.

/** @internal */
export interface ExitCodec<A, E> {
  /** undefined when the exit is an interruption (not journaled) */
  readonly encode: (exit: Exit.Exit<A, E>) => string | undefined
  readonly decode: (json: string) => Exit.Exit<A, E>
}

/** @internal */
export const exitCodec = <A, I, E, EI>(
  success: Schema.Schema<A, I>,
  failure: Schema.Schema<E, EI>
): ExitCodec<A, E> => {
  const encodeA = ParseResult.encodeUnknownEither(success)
  const encodeE = ParseResult.encodeUnknownEither(failure)
  const decodeA = ParseResult.decodeUnknownEither(success)
  const decodeE = ParseResult.decodeUnknownEither(failure)
  const die = (defect: string) => JSON.stringify({ _tag: "Die", defect })
  return {
    encode: (exit) => {
      if (Exit.isSuccess(exit)) {
        const r = encodeA(exit.value)
        return Either.isRight(r)
          ? JSON.stringify({ _tag: "Success", value: r.right })
          : die(`result does not match its schema: ${ParseResult.TreeFormatter.formatIssueSync(r.left)}`)
      }
      if (Cause.isInterruptedOnly(exit.cause)) return undefined
      const failure = Cause.failureOption(exit.cause)
      if (failure._tag === "Some") {
        const r = encodeE(failure.value)
        return Either.isRight(r)
          ? JSON.stringify({ _tag: "Failure", error: r.right })
          : die(`error does not match its schema: ${ParseResult.TreeFormatter.formatIssueSync(r.left)}`)
      }
      return die(Cause.pretty(exit.cause))
    },
    decode: (json) => {
      const parsed = JSON.parse(json) as { _tag: string; value?: unknown; error?: unknown; defect?: unknown }
      if (parsed._tag === "Success") {
        const r = decodeA(parsed.value)
        return Either.isRight(r) ? Exit.succeed(r.right) : Exit.die(new Error(`journaled result no longer matches its schema: ${ParseResult.TreeFormatter.formatIssueSync(r.left)}`))
      }
      if (parsed._tag === "Failure") {
        const r = decodeE(parsed.error)
        return Either.isRight(r) ? Exit.fail(r.right) : Exit.die(new Error(`journaled error no longer matches its schema: ${ParseResult.TreeFormatter.formatIssueSync(r.left)}`))
      }
      return Exit.die(new Error(String(parsed.defect)))
    }
  }
}

/** A deterministic pseudo-random number in [0, 1) from a string seed (FNV-1a + mulberry32). @internal */
export const seededRandom = (seed: string): number => {
  let h = 2166136261
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i)
    h = Math.imul(h, 16777619)
  }
  let t = (h + 0x6D2B79F5) | 0
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
