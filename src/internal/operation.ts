import * as Chunk from "effect/Chunk"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import { dual } from "effect/Function"
import * as Runtime from "effect/Runtime"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { type NodeFailure, OperationGroupFailed, OperationInvalid, OperationTimeout } from "./errors.js"
import { Faults, type FaultsService } from "./faults.js"
import { currentJournalHook, type TreeJournal } from "./journalHook.js"
import { emptyPolicy, type NodeHandle, type NodePolicy, type NodeTag, OperationImpl, type Wrapper } from "./operationNode.js"
import { recordRun } from "./operationMetrics.js"
import { childIds, compile, KIND_LEAF, pathOf, type Plan } from "./plan.js"
import { type OperationEvent, type ReportImpl, SnapshotImpl, toEvent } from "./snapshot.js"
import {
  childrenBefore,
  type LeafSpanFactory,
  LeafSpanFactoryRef,
  leafLeftChildren,
  liveSlot,
  resolveSpan,
  SpanSlot
} from "./spanSlot.js"
import { COMPENSATED, COMPENSATING, COMPENSATION_FAILED, Tracker } from "./tracker.js"

// ---------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------

/** @internal */
export class LeafSpans extends Context.Reference<LeafSpans>()("effect-loom/Operation/LeafSpans", {
  defaultValue: () => false
}) {}

const commitNode = (self: OperationImpl): Effect.Effect<unknown, unknown, unknown> => run(self, {})

/** @internal */
export const leaf = (
  name: string,
  effect: Effect.Effect<unknown, unknown, unknown>,
  options?: { readonly span?: boolean | undefined }
): OperationImpl =>
  new OperationImpl(
    {
      _tag: "Leaf",
      name,
      effect,
      build: undefined,
      children: [],
      keys: undefined,
      concurrency: 1,
      failFast: true,
      policy: { ...emptyPolicy, span: options?.span }
    },
    commitNode
  )

type ChildrenInput = ReadonlyArray<OperationImpl> | Readonly<Record<string, OperationImpl>>

/** @internal */
export const leafWith = (
  name: string,
  build: (node: NodeHandle) => Effect.Effect<unknown, unknown, unknown>,
  options?: { readonly span?: boolean | undefined }
): OperationImpl => leaf(name, Effect.void, options).with({ effect: undefined, build })

/** @internal */
export const group = (
  tag: Exclude<NodeTag, "Leaf">,
  name: string,
  children: ChildrenInput,
  options: {
    readonly concurrency?: number | "unbounded" | undefined
    readonly failure?: "fail-fast" | "best-effort" | undefined
    readonly span?: boolean | undefined
  } | undefined
): OperationImpl => {
  const isArray = Array.isArray(children)
  const keys = isArray ? undefined : Object.keys(children)
  const list: ReadonlyArray<OperationImpl> = isArray
    ? (children as ReadonlyArray<OperationImpl>)
    : Object.values(children as Readonly<Record<string, OperationImpl>>)
  return new OperationImpl(
    {
      _tag: tag,
      name,
      effect: undefined,
      build: undefined,
      children: list,
      keys,
      concurrency: tag === "Sequence" ? 1 : options?.concurrency ?? "unbounded",
      failFast: (options?.failure ?? "fail-fast") === "fail-fast",
      policy: { ...emptyPolicy, span: options?.span }
    },
    commitNode
  )
}

const withPolicy = (self: OperationImpl, f: (policy: NodePolicy) => NodePolicy): OperationImpl =>
  self.with({ policy: f(self.policy) })

/** @internal */
export const withRetry = dual(
  2,
  (self: OperationImpl, schedule: Schedule.Schedule<unknown, never, unknown>): OperationImpl =>
    withPolicy(self, (p) => ({ ...p, retry: schedule }))
)

/** @internal */
export const withTimeout = dual(
  2,
  (self: OperationImpl, duration: Duration.DurationInput): OperationImpl =>
    withPolicy(self, (p) => ({ ...p, timeout: Duration.decode(duration) }))
)

/** @internal */
export const withSpan = dual(
  2,
  (self: OperationImpl, enabled: boolean): OperationImpl => withPolicy(self, (p) => ({ ...p, span: enabled }))
)

/** @internal */
export const withWrapper = dual(
  2,
  (self: OperationImpl, wrapper: Wrapper): OperationImpl =>
    withPolicy(self, (p) => ({ ...p, wrappers: [...p.wrappers, wrapper] }))
)

/** @internal */
export const validate = (self: OperationImpl): Either.Either<void, OperationInvalid> =>
  Either.map(compile(self), () => undefined)

// ---------------------------------------------------------------------------
// Execution
// ---------------------------------------------------------------------------

interface RunContext {
  readonly plan: Plan
  readonly tracker: Tracker
  readonly leafSpans: boolean
  /** Inside a durable workflow: journals each leaf's steps under the leaf's path. */
  readonly journal: TreeJournal | undefined
  /** Faults injected by the test kit, when any are configured. */
  readonly faults: FaultsService | undefined
  /** Leaf spans through span slots, when the current tracer has a leaf span factory (see `spanSlot.ts`). */
  readonly fastSpans: FastSpans | undefined
}

/** What a leaf span needs from the run's fiber, read once per run. */
interface FastSpans {
  readonly factory: LeafSpanFactory
  readonly clock: Clock.Clock
  /** `Effect.annotateSpans` and `Effect.linkSpans` around the run, as `Effect.useSpan` applies them. */
  readonly annotations: ReadonlyArray<readonly [string, unknown]>
  readonly links: ReadonlyArray<Tracer.SpanLink>
}

const kindNames = { Leaf: "leaf", Sequence: "sequence", Parallel: "parallel" } as const

/**
 * Wraps a node's body in its policies: wrappers, timeout, retry, and the
 * node's span outermost (so one span covers every attempt). The body receives
 * the node's span, or `undefined` when spans are off for the node: a group
 * hands it to its workers as their parent span (see `runWorkers`), which
 * avoids `withSpan`'s per-node context change; a leaf runs its effect under it.
 */
const applyPolicy = (
  ctx: RunContext,
  id: number,
  body: (span: Tracer.Span | undefined) => Effect.Effect<unknown, unknown, unknown>,
  isLeaf: boolean
): Effect.Effect<unknown, unknown, unknown> => {
  const op = ctx.plan.ops[id]!
  const policy = op.policy
  const policed = (span: Tracer.Span | undefined) => withPolicies(ctx, id, body(span))
  if (!(policy.span ?? (isLeaf ? ctx.leafSpans : true))) return policed(undefined)
  const path = pathOf(ctx.plan, id)
  // no stack capture: an `Error` per span is most of a span's cost in large trees
  return Effect.useSpan(path, {
    attributes: { "operation.path": path, "operation.kind": kindNames[op._tag] },
    captureStackTrace: false
  }, policy.retry === undefined ? policed : (span) =>
    // a retried node's span covers every attempt and says how many there were
    Effect.ensuring(policed(span), Effect.sync(() => span.attribute("operation.attempts", ctx.tracker.attempts[id]!))))
}

/** A node's wrappers, timeout and retry, innermost first. */
const withPolicies = (
  ctx: RunContext,
  id: number,
  effect: Effect.Effect<unknown, unknown, unknown>
): Effect.Effect<unknown, unknown, unknown> => {
  const policy = ctx.plan.ops[id]!.policy
  let eff = effect
  for (const wrap of policy.wrappers) eff = wrap(eff)
  if (policy.timeout !== undefined) {
    const duration = policy.timeout
    eff = Effect.timeoutFail(eff, {
      duration,
      onTimeout: () => new OperationTimeout({ path: pathOf(ctx.plan, id), duration })
    })
  }
  if (policy.retry !== undefined) {
    eff = Effect.retry(eff, policy.retry as Schedule.Schedule<unknown, unknown, unknown>)
  }
  return eff
}

const statusCodes = { compensating: COMPENSATING, compensated: COMPENSATED, "compensation-failed": COMPENSATION_FAILED }

const nodeHandle = (ctx: RunContext, id: number): NodeHandle => ({
  path: pathOf(ctx.plan, id),
  mark: (status) => ctx.tracker.mark(id, statusCodes[status])
})

/** Runs a leaf; never fails: the leaf's outcome is the returned `Exit`. */
const runLeaf = (
  ctx: RunContext,
  id: number,
  slot: SpanSlot | undefined
): Effect.Effect<Exit.Exit<unknown, unknown>, never, unknown> => {
  const op = ctx.plan.ops[id]!
  const tracker = ctx.tracker
  const built = op.build === undefined ? op.effect! : op.build(nodeHandle(ctx, id))
  // a fault wraps each attempt, inside the leaf's retry
  const effect = ctx.faults === undefined ? built : ctx.faults.wrap("leaf", pathOf(ctx.plan, id), built)
  const policy = op.policy
  const plain = policy.wrappers.length === 0 && policy.timeout === undefined && policy.retry === undefined &&
    !(policy.span ?? ctx.leafSpans)
  if (plain) {
    // Hot path: callers (forEach workers, sequences) build a node's effect right before running it,
    // so the start can be recorded here without an extra suspension per leaf.
    tracker.begin(id)
    const journal = ctx.journal
    return Effect.map(Effect.exit(journal === undefined ? effect : journal.leaf(pathOf(ctx.plan, id), effect)), (exit) => {
      tracker.finish(id, exit)
      return exit
    })
  }
  const fast = ctx.fastSpans
  if (fast !== undefined && slot !== undefined && (policy.span ?? ctx.leafSpans)) {
    return runLeafOnSlot(ctx, id, effect, fast, liveSlot(slot))
  }
  return runLeafSpanned(ctx, id, effect)
}

/** A leaf with policies or a span made by `Effect.useSpan` (see `applyPolicy`). */
const runLeafSpanned = (
  ctx: RunContext,
  id: number,
  effect: Effect.Effect<unknown, unknown, unknown>
): Effect.Effect<Exit.Exit<unknown, unknown>, never, unknown> => {
  const tracker = ctx.tracker
  const attempt = Effect.suspend(() => {
    tracker.begin(id)
    return effect
  })
  // retries of the leaf continue its journal position, so each attempt's steps are journaled anew
  const policed = applyPolicy(ctx, id, (span) => span === undefined ? attempt : Effect.withParentSpan(attempt, span), true)
  const journal = ctx.journal
  return Effect.map(Effect.exit(journal === undefined ? policed : journal.leaf(pathOf(ctx.plan, id), policed)), (exit) => {
    tracker.finish(id, exit)
    return exit
  })
}

/**
 * A leaf whose span goes through its worker's slot (see spanSlot.ts): no context change per leaf. Built
 * right before it runs, on the fiber that owns the slot (or, for a worker's first leaf, right before that
 * fiber starts).
 */
const runLeafOnSlot = (
  ctx: RunContext,
  id: number,
  effect: Effect.Effect<unknown, unknown, unknown>,
  fast: FastSpans,
  slot: SpanSlot
): Effect.Effect<Exit.Exit<unknown, unknown>, never, unknown> => {
  // A slot's leaves run one after another, so it is at its base here; should that ever not hold, the leaf
  // takes the regular path rather than parent its span to another leaf.
  if (slot.current !== slot.base) return runLeafSpanned(ctx, id, effect)
  const path = pathOf(ctx.plan, id)
  const span = fast.factory.make(path, slot.base, fast.links, fast.clock.unsafeCurrentTimeNanos())
  for (const [key, value] of fast.annotations) span.attribute(key, value)
  slot.current = span
  const before = slot.owner === undefined ? undefined : childrenBefore(slot.owner)
  const policy = ctx.plan.ops[id]!.policy
  let run = effect
  if (policy.wrappers.length === 0 && policy.timeout === undefined && policy.retry === undefined) {
    ctx.tracker.begin(id)
  } else {
    run = withPolicies(ctx, id, Effect.suspend(() => {
      ctx.tracker.begin(id)
      return effect
    }))
  }
  const journal = ctx.journal
  return Effect.flatMap(
    Effect.exit(journal === undefined ? run : journal.leaf(path, run)),
    (exit) => endLeafOnSlot(ctx, id, fast, slot, span, before, exit)
  )
}

const endLeafOnSlot = (
  ctx: RunContext,
  id: number,
  fast: FastSpans,
  slot: SpanSlot,
  span: Tracer.Span,
  childrenAtStart: ReadonlySet<unknown> | undefined,
  exit: Exit.Exit<unknown, unknown>
): Effect.Effect<Exit.Exit<unknown, unknown>> => {
  if (ctx.plan.ops[id]!.policy.retry !== undefined) span.attribute("operation.attempts", ctx.tracker.attempts[id]!)
  span.end(fast.clock.unsafeCurrentTimeNanos(), exit)
  ctx.tracker.finish(id, exit)
  const fiber = slot.owner
  if (fiber === undefined || !leafLeftChildren(fiber, childrenAtStart)) {
    slot.current = slot.base
    return Effect.succeed(exit)
  }
  // fibers the leaf forked outlive it: they keep this slot, frozen on the leaf's span, and its fiber goes
  // on with a fresh one
  const fresh = new SpanSlot(slot.base, fiber)
  slot.owner = undefined
  slot.successor = fresh
  return Effect.as(FiberRef.update(FiberRef.currentContext, (c) => Context.add(c, Tracer.ParentSpan, fresh)), exit)
}

/**
 * Runs `work` on the current fiber with a slot of its own as the fiber's parent span, based on `span` (the
 * group's) or else on the fiber's parent span; with neither, without a slot. A slot is made here, on the
 * fiber that runs the work, because a group's policies (a timeout) may run its body on a fiber of its own.
 * A leaf the fiber was running on its slot when interrupted gets its span ended here.
 */
const withSlot = (
  fast: FastSpans,
  span: Tracer.Span | undefined,
  work: (slot: SpanSlot | undefined) => Effect.Effect<void, unknown, unknown>
): Effect.Effect<void, unknown, unknown> =>
  Effect.withFiberRuntime((fiber) => {
    const base = span ?? parentOf(fiber.getFiberRef(FiberRef.currentContext))
    if (base === undefined) return work(undefined)
    const slot = new SpanSlot(base, fiber)
    return Effect.withParentSpan(endOpenLeafOnExit(fast, slot, work(slot)), slot)
  })

const endOpenLeafOnExit = <A, E, R>(fast: FastSpans, slot: SpanSlot, effect: Effect.Effect<A, E, R>) =>
  Effect.onExit(effect, (exit) =>
    Effect.sync(() => {
      const live = liveSlot(slot)
      if (live.current !== live.base) {
        if (live.current._tag === "Span") live.current.end(fast.clock.unsafeCurrentTimeNanos(), exit)
        live.current = live.base
      }
    }))

/** The fiber's parent span, a slot resolved to the span it points at. */
const parentOf = (context: Context.Context<never>): Tracer.AnySpan | undefined => {
  const parent = Context.getOption(context, Tracer.ParentSpan)
  return parent._tag === "None" ? undefined : resolveSpan(parent.value)
}

const collectFailures = (
  ctx: RunContext,
  ids: ReadonlyArray<number>,
  exits: ReadonlyArray<Exit.Exit<unknown, unknown>>
): Array<NodeFailure<unknown>> => {
  const failures: Array<NodeFailure<unknown>> = []
  for (let i = 0; i < exits.length; i++) {
    const exit = exits[i]!
    if (Exit.isSuccess(exit)) continue
    const leaves = ctx.tracker.failedLeaves(ids[i]!)
    if (leaves.length === 0) {
      failures.push({ path: pathOf(ctx.plan, ids[i]!), cause: exit.cause })
    } else {
      for (const leafId of leaves) {
        failures.push({ path: pathOf(ctx.plan, leafId), cause: ctx.tracker.causes.get(leafId)! })
      }
    }
  }
  return failures
}

const shapeOutput = (op: OperationImpl, values: ReadonlyArray<unknown>): unknown => {
  if (op.keys === undefined) return values
  const out: Record<string, unknown> = {}
  for (let i = 0; i < op.keys.length; i++) out[op.keys[i]!] = values[i]
  return out
}

/**
 * Nesting depth of workers being started on the caller's stack. Past the
 * limit, workers start on the scheduler instead, which bounds the JS stack
 * for deeply nested parallel groups.
 */
let inlineStarts = 0
const MAX_INLINE_STARTS = 32

const startWorker = (
  runtime: Runtime.Runtime<unknown>,
  effect: Effect.Effect<void, unknown, unknown>
): Fiber.RuntimeFiber<void, unknown> => {
  if (inlineStarts >= MAX_INLINE_STARTS) return Runtime.runFork(runtime, effect, { immediate: false })
  inlineStarts++
  try {
    return Runtime.runFork(runtime, effect)
  } finally {
    inlineStarts--
  }
}

/**
 * Runs up to `workers` copies of `work` concurrently until `hasMore` says the
 * group's cursor is exhausted; fails with the first worker failure after
 * interrupting the others (and waiting for their finalizers).
 *
 * Workers are fibers started on the current stack: a worker whose children
 * complete without suspending finishes before the next one is started, so a
 * group of synchronous children costs one fiber and no scheduler hop, while
 * children that suspend get the group's full concurrency. (Forking through the
 * scheduler costs ≈ 15–40 µs per fiber here, which dominated nested trees.)
 * Interrupting the group interrupts its workers and waits for them. The
 * workers run under `parentSpan` (the group's span) when it is given.
 */
const runWorkers = (
  workers: number,
  work: (slot: SpanSlot | undefined) => Effect.Effect<void, unknown, unknown>,
  hasMore: () => boolean,
  parentSpan: Tracer.Span | undefined,
  fast: FastSpans | undefined
): Effect.Effect<void, unknown, unknown> =>
  Effect.flatMap(Effect.runtime<unknown>(), (current) =>
    Effect.uninterruptibleMask((restore) => {
      const withParent = (span: Tracer.AnySpan) =>
        Runtime.make({
          context: Context.add(current.context, Tracer.ParentSpan, span),
          fiberRefs: current.fiberRefs,
          runtimeFlags: current.runtimeFlags
        })
      const runtime = parentSpan === undefined ? current : withParent(parentSpan)
      // with leaf span slots, each worker gets a slot of its own, claimed by the worker's fiber
      const base = fast === undefined ? undefined : parentSpan ?? parentOf(current.context)
      const start = fast === undefined || base === undefined
        ? () => startWorker(runtime, work(undefined))
        : () => {
          const slot = new SpanSlot(base, undefined)
          const effect = work(slot)
          return startWorker(
            withParent(slot),
            Effect.withFiberRuntime((fiber) => {
              slot.owner = fiber
              return endOpenLeafOnExit(fast, slot, effect)
            })
          )
        }
      const pending: Array<Fiber.RuntimeFiber<void, unknown>> = []
      for (let w = 0; w < workers && hasMore(); w++) {
        const fiber = start()
        const exit = fiber.unsafePoll()
        if (exit === null) pending.push(fiber)
        else if (exit._tag === "Failure") return stopAll(pending, exit)
      }
      if (pending.length === 0) return Effect.void
      return Effect.onInterrupt(restore(awaitAll(pending)), () => Fiber.interruptAll(pending))
    }))

const stopAll = (
  fibers: ReadonlyArray<Fiber.RuntimeFiber<void, unknown>>,
  exit: Exit.Exit<void, unknown>
): Effect.Effect<void, unknown> => fibers.length === 0 ? exit : Effect.zipRight(Fiber.interruptAll(fibers), exit)

const awaitAll = (fibers: ReadonlyArray<Fiber.RuntimeFiber<void, unknown>>): Effect.Effect<void, unknown> =>
  Effect.async<void, unknown>((resume) => {
    let remaining = fibers.length
    let done = false
    for (const fiber of fibers) {
      fiber.addObserver((exit) => {
        remaining--
        if (done) return
        if (exit._tag === "Failure") {
          done = true
          resume(stopAll(fibers, exit))
        } else if (remaining === 0) {
          done = true
          resume(Effect.void)
        }
      })
    }
  })

/**
 * Runs a group; never fails: the group's outcome is the returned `Exit`.
 *
 * Children are pulled from a shared cursor by `min(concurrency, n)` workers;
 * each worker runs its children back to back (one `exit` + one `flatMap` per
 * child, no scheduler hop per item). A fail-fast worker stops with the first
 * failure, which interrupts the other workers and skips what was not pulled.
 */
const runGroup = (ctx: RunContext, id: number): Effect.Effect<Exit.Exit<unknown, unknown>, never, unknown> => {
  const op = ctx.plan.ops[id]!
  const tracker = ctx.tracker
  const body = (span: Tracer.Span | undefined) => Effect.suspend(() => {
    tracker.begin(id)
    const ids = childIds(ctx.plan, id)
    const n = ids.length
    const values: Array<unknown> = new Array(n)
    const exits: Array<Exit.Exit<unknown, unknown>> | undefined = op.failFast ? undefined : new Array(n)
    let next = 0
    // `slot`: the worker's span slot, when leaf spans go through slots
    const work = (slot: SpanSlot | undefined): Effect.Effect<void, unknown, unknown> => {
      if (next >= n) return Effect.void
      const i = next++
      return Effect.flatMap(runNodeExit(ctx, ids[i]!, slot), (exit) => {
        if (exit._tag === "Success") values[i] = exit.value
        else if (exits === undefined) return exit
        else exits[i] = exit
        return work(slot)
      })
    }
    const workers = op.concurrency === "unbounded" ? n : Math.min(op.concurrency, n)
    const all = workers > 1
      ? runWorkers(workers, work, () => next < n, span, ctx.fastSpans)
      : ctx.fastSpans !== undefined
      ? withSlot(ctx.fastSpans, span, work)
      : span === undefined
      ? work(undefined)
      : Effect.withParentSpan(work(undefined), span)
    return Effect.flatMap(all, () => {
      if (exits !== undefined) {
        const failed: Array<number> = []
        const failedExits: Array<Exit.Exit<unknown, unknown>> = []
        for (let i = 0; i < n; i++) {
          const exit = exits[i]
          if (exit !== undefined) {
            failed.push(ids[i]!)
            failedExits.push(exit)
          }
        }
        if (failed.length > 0) {
          const failures = collectFailures(ctx, failed, failedExits)
          return Effect.fail(new OperationGroupFailed({ path: pathOf(ctx.plan, id), failures }))
        }
      }
      return Effect.succeed(shapeOutput(op, values))
    })
  })
  return Effect.map(Effect.exit(applyPolicy(ctx, id, body, false)), (exit) => {
    // A group that stopped early leaves nothing running behind it.
    if (Exit.isFailure(exit)) tracker.sweep(id + 1, ctx.plan.end[id]!)
    tracker.finish(id, exit)
    return exit
  })
}

const runNodeExit = (
  ctx: RunContext,
  id: number,
  slot: SpanSlot | undefined
): Effect.Effect<Exit.Exit<unknown, unknown>, never, unknown> =>
  ctx.plan.kind[id] === KIND_LEAF ? runLeaf(ctx, id, slot) : runGroup(ctx, id)

const runNode = (ctx: RunContext, id: number): Effect.Effect<unknown, unknown, unknown> =>
  Effect.flatten(runNodeExit(ctx, id, undefined))

/** @internal */
export interface RunOptions {
  readonly onProgress?: ((progress: ProgressImpl) => Effect.Effect<void>) | undefined
  readonly interval?: Duration.DurationInput | undefined
}

/** @internal */
export interface ProgressImpl {
  readonly snapshot: SnapshotImpl
  readonly events: ReadonlyArray<OperationEvent>
}

interface Started {
  readonly tracker: Tracker
  readonly ctx: RunContext
}

/** Leaf spans through slots, when the current tracer has a leaf span factory and tracing is on. */
const currentFastSpans: Effect.Effect<FastSpans | undefined> = Effect.flatMap(LeafSpanFactoryRef, (factory) =>
  factory === undefined ? Effect.succeed(undefined) : Effect.map(
    Effect.all([
      Effect.tracer,
      Effect.clock,
      FiberRef.get(FiberRef.currentTracerEnabled),
      FiberRef.get(FiberRef.currentTracerTimingEnabled),
      FiberRef.get(FiberRef.currentTracerSpanAnnotations),
      FiberRef.get(FiberRef.currentTracerSpanLinks)
    ]),
    ([tracer, clock, enabled, timing, annotations, links]): FastSpans | undefined =>
      tracer === factory.tracer && enabled && timing
        ? { factory, clock, annotations: Array.from(HashMap.toEntries(annotations)), links: Chunk.toReadonlyArray(links) }
        : undefined
  ))

const prepare = (self: OperationImpl, recordEvents: boolean): Effect.Effect<Started, OperationInvalid> =>
  Effect.flatMap(
    Effect.all([Effect.clock, LeafSpans, FiberRef.get(currentJournalHook), Faults, currentFastSpans]),
    ([clock, leafSpans, hook, faults, fastSpans]) =>
      Either.match(compile(self), {
        onLeft: Effect.fail,
        onRight: (plan) => {
          const tracker = new Tracker(plan, () => clock.unsafeCurrentTimeMillis(), recordEvents)
          const anyLeafSpans = fastSpans !== undefined &&
            (leafSpans || plan.ops.some((op, i) => plan.kind[i] === KIND_LEAF && op.policy.span === true))
          const base = {
            plan,
            tracker,
            leafSpans,
            faults: faults.active ? faults : undefined,
            fastSpans: anyLeafSpans ? fastSpans : undefined
          }
          if (hook === null) return Effect.succeed({ tracker, ctx: { ...base, journal: undefined } })
          return Effect.map(hook.tree, (journal) => ({ tracker, ctx: { ...base, journal } }))
        }
      })
  )

/** Runs a prepared tree; on interruption marks running nodes cancelled and pending ones skipped. */
const execute = (started: Started): Effect.Effect<unknown, unknown, unknown> =>
  Effect.onExit(
    Effect.onInterrupt(runNode(started.ctx, 0), () => Effect.sync(() => started.tracker.sweep(0, started.ctx.plan.size))),
    (exit) => recordRun(started.ctx.plan, started.tracker, exit)
  )

const progressOf = (tracker: Tracker): ProgressImpl => ({
  snapshot: SnapshotImpl.of(tracker),
  events: tracker.drainEvents().map((raw) => toEvent(tracker, raw))
})

/** Samples the tracker every `interval` and hands batches to `publish`; a last batch at the end. */
const withSampler = (
  started: Started,
  interval: Duration.DurationInput,
  publish: (progress: ProgressImpl) => Effect.Effect<void>
) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const tracker = started.tracker
  let seen = -1
  const tick = Effect.suspend(() => {
    if (tracker.version === seen) return Effect.void
    seen = tracker.version
    return publish(progressOf(tracker))
  })
  const loop = Effect.forever(Effect.zipRight(Effect.sleep(interval), tick))
  return Effect.acquireUseRelease(
    Effect.zipRight(tick, Effect.forkDaemon(Effect.interruptible(loop))),
    () => effect,
    (fiber) => Effect.zipRight(Fiber.interrupt(fiber), tick)
  )
}

/** @internal */
export const run = (self: OperationImpl, options: RunOptions): Effect.Effect<unknown, unknown, unknown> => {
  const onProgress = options.onProgress
  if (onProgress === undefined) {
    return Effect.flatMap(prepare(self, false), execute)
  }
  return Effect.flatMap(
    prepare(self, true),
    (started) => execute(started).pipe(withSampler(started, options.interval ?? "100 millis", onProgress))
  )
}

/** @internal */
export interface ExecutionImpl {
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
  readonly snapshot: Effect.Effect<SnapshotImpl>
  readonly changes: Stream.Stream<SnapshotImpl>
  readonly await: Effect.Effect<ReportImpl<unknown, unknown>>
}

/** @internal */
export const start = (
  self: OperationImpl,
  options: RunOptions
): Effect.Effect<ExecutionImpl, OperationInvalid, Scope.Scope> =>
  Effect.gen(function*() {
    // The tree's own requirements are the caller's business (see the public signature).
    const started = yield* prepare(self, options.onProgress !== undefined)
    const clock = yield* Effect.clock
    const ref = yield* SubscriptionRef.make(SnapshotImpl.of(started.tracker))
    const done = yield* Deferred.make<ReportImpl<unknown, unknown>>()
    const t0 = clock.unsafeCurrentTimeMillis()
    const publish = (progress: ProgressImpl) =>
      Effect.zipRight(
        SubscriptionRef.set(ref, progress.snapshot),
        options.onProgress === undefined ? Effect.void : options.onProgress(progress)
      )
    const fiber = yield* execute(started).pipe(
      withSampler(started, options.interval ?? "100 millis", publish),
      Effect.onExit((exit) =>
        Deferred.succeed(done, {
          exit,
          snapshot: SnapshotImpl.of(started.tracker),
          durationMillis: clock.unsafeCurrentTimeMillis() - t0
        })
      ),
      Effect.forkScoped
    )
    return {
      fiber,
      snapshot: Effect.sync(() => SnapshotImpl.of(started.tracker)),
      changes: Stream.takeUntil(ref.changes, (s) => s.plan.leafCount === s.completed && isSettled(s)),
      await: Deferred.await(done)
    }
  }) as Effect.Effect<ExecutionImpl, OperationInvalid, Scope.Scope>

const isSettled = (s: SnapshotImpl): boolean => {
  const root = s.statusAt(0)
  return root !== "pending" && root !== "running"
}

/** @internal */
export const runReport = (
  self: OperationImpl,
  options: RunOptions
): Effect.Effect<ReportImpl<unknown, unknown>, never, unknown> =>
  Effect.scoped(Effect.flatMap(start(self, options), (execution) => execution.await)).pipe(
    Effect.catchAll((invalid) =>
      Effect.clockWith((clock) =>
        Effect.succeed<ReportImpl<unknown, unknown>>({
          exit: Exit.fail(invalid),
          snapshot: emptySnapshot(self, clock.unsafeCurrentTimeMillis()),
          durationMillis: 0
        })
      )
    )
  )

const emptySnapshot = (self: OperationImpl, at: number): SnapshotImpl => {
  const plan: Plan = {
    size: 1,
    leafCount: 0,
    ops: [self],
    parent: Int32Array.of(-1),
    end: Int32Array.of(1),
    depth: new Uint16Array(1),
    kind: new Uint8Array(1)
  }
  return new SnapshotImpl(
    plan,
    Uint8Array.of(3),
    new Uint32Array(1),
    Float64Array.of(Number.NaN),
    Float64Array.of(Number.NaN),
    new Map(),
    0,
    at
  )
}
