/**
 * How the modules below the workflow engine (sagas, operation trees) give their steps stable journal
 * positions when they run inside a durable workflow, without knowing about workflows: the workflow
 * layer installs a `JournalHook` in the fiber running a workflow body; everywhere else the hook is
 * `null` and costs one FiberRef read per saga step or tree run.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"

/** A reserved position of the workflow's journal, for one saga step. @internal */
export interface JournalRegion {
  /** Runs the step's forward effect with its journaled steps keyed under the region. */
  readonly run: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Runs the step's compensation with its journaled steps keyed under the region's compensation key
   * (the same whatever the order or concurrency of the compensations); a workflow cancel does not
   * interrupt it.
   */
  readonly compensate: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The run stops without compensating (shutdown, terminate, continue-as-new, non-determinism). */
  readonly halted: () => boolean
}

/** A reserved position of the workflow's journal, for one run of an operation tree. @internal */
export interface TreeJournal {
  /**
   * Runs one execution of a leaf: its journaled steps are keyed by the leaf's path (not by the
   * worker that happened to pick it), and its outcome is journaled as a `leaf` entry named by the path.
   */
  readonly leaf: (path: string, self: Effect.Effect<unknown, unknown, unknown>) => Effect.Effect<unknown, unknown, unknown>
}

/** @internal */
export interface JournalHook {
  /** Reserves the next position of the current fiber (program order); `undefined` outside a workflow. */
  readonly region: Effect.Effect<JournalRegion | undefined>
  /** Reserves the next position of the current fiber for an operation tree; `undefined` outside a workflow. */
  readonly tree: Effect.Effect<TreeJournal | undefined>
}

/** @internal */
export const currentJournalHook: FiberRef.FiberRef<JournalHook | null> = globalValue(
  Symbol.for("effect-loom/JournalHook"),
  () => FiberRef.unsafeMake<JournalHook | null>(null)
)
