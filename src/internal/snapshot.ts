import * as Cause from "effect/Cause"
import type * as Exit from "effect/Exit"
import { KIND_LEAF, KIND_SEQUENCE, pathOf, type Plan } from "./plan.js"
import { type RawEvent, statusNames, type Tracker } from "./tracker.js"

/** @internal */
export type NodeStatus = (typeof statusNames)[number]
/** @internal */
export type NodeKind = "leaf" | "sequence" | "parallel"

/** @internal */
export interface NodeState {
  readonly path: string
  readonly name: string
  readonly kind: NodeKind
  readonly depth: number
  readonly lastChild: boolean
  readonly status: NodeStatus
  readonly attempts: number
  readonly startedAt: number | undefined
  readonly endedAt: number | undefined
  readonly error: string | undefined
}

/** @internal */
export interface OperationEvent {
  readonly _tag: "NodeStatusChanged"
  readonly path: string
  readonly kind: NodeKind
  readonly status: NodeStatus
  readonly attempt: number
  readonly at: number
  readonly error: string | undefined
}

/** @internal */
export const kindName = (code: number): NodeKind =>
  code === KIND_LEAF ? "leaf" : code === KIND_SEQUENCE ? "sequence" : "parallel"

const timeOrUndefined = (t: number): number | undefined => (Number.isNaN(t) ? undefined : t)

const renderCause = (cause: Cause.Cause<unknown> | undefined): string | undefined =>
  cause === undefined ? undefined : Cause.pretty(cause, { renderErrorCause: false }).split("\n")[0]

/**
 * An immutable picture of a run: typed-array copies of the tracker's state
 * (cheap to take even for a million nodes); node objects are built lazily.
 * @internal
 */
export class SnapshotImpl {
  readonly total: number
  readonly completed: number
  readonly percent: number
  #nodes: ReadonlyArray<NodeState> | undefined
  #byPath: Map<string, number> | undefined

  constructor(
    readonly plan: Plan,
    private readonly status: Uint8Array,
    private readonly attempts: Uint32Array,
    private readonly startedAt: Float64Array,
    private readonly endedAt: Float64Array,
    private readonly causes: ReadonlyMap<number, Cause.Cause<unknown>>,
    completed: number,
    readonly at: number
  ) {
    this.total = plan.leafCount
    this.completed = completed
    this.percent = plan.leafCount === 0 ? 100 : (completed / plan.leafCount) * 100
  }

  static of(tracker: Tracker): SnapshotImpl {
    return new SnapshotImpl(
      tracker.plan,
      tracker.status.slice(),
      tracker.attempts.slice(),
      tracker.startedAt.slice(),
      tracker.endedAt.slice(),
      new Map(tracker.causes),
      tracker.completedLeaves,
      tracker.now()
    )
  }

  get size(): number {
    return this.plan.size
  }

  statusAt(id: number): NodeStatus {
    return statusNames[this.status[id]!]!
  }

  nodeAt(id: number): NodeState {
    return this.stateAt(id)
  }

  stateAt(id: number): NodeState {
    const parent = this.plan.parent[id]!
    return {
      path: pathOf(this.plan, id),
      name: this.plan.ops[id]!.name,
      kind: kindName(this.plan.kind[id]!),
      depth: this.plan.depth[id]!,
      lastChild: parent < 0 || this.plan.end[id] === this.plan.end[parent],
      status: this.statusAt(id),
      attempts: this.attempts[id]!,
      startedAt: timeOrUndefined(this.startedAt[id]!),
      endedAt: timeOrUndefined(this.endedAt[id]!),
      error: renderCause(this.causes.get(id))
    }
  }

  get root(): NodeState {
    return this.stateAt(0)
  }

  get nodes(): ReadonlyArray<NodeState> {
    if (this.#nodes === undefined) {
      const out: Array<NodeState> = new Array(this.plan.size)
      for (let i = 0; i < this.plan.size; i++) out[i] = this.stateAt(i)
      this.#nodes = out
    }
    return this.#nodes
  }

  node(path: string): NodeState | undefined {
    if (this.#byPath === undefined) {
      const map = new Map<string, number>()
      for (let i = 0; i < this.plan.size; i++) map.set(pathOf(this.plan, i), i)
      this.#byPath = map
    }
    const id = this.#byPath.get(path)
    return id === undefined ? undefined : this.stateAt(id)
  }

  /** How many nodes are in each status. */
  counts(): Readonly<Record<NodeStatus, number>> {
    const out = Object.fromEntries(statusNames.map((s) => [s, 0])) as Record<NodeStatus, number>
    for (let i = 0; i < this.plan.size; i++) out[this.statusAt(i)]++
    return out
  }

  toJSON(): unknown {
    return { total: this.total, completed: this.completed, percent: this.percent, nodes: this.nodes }
  }
}

/** @internal */
export const toEvent = (tracker: Tracker, raw: RawEvent): OperationEvent => ({
  _tag: "NodeStatusChanged",
  path: pathOf(tracker.plan, raw.id),
  kind: kindName(tracker.plan.kind[raw.id]!),
  status: statusNames[raw.status]!,
  attempt: raw.attempt,
  at: raw.at,
  error: raw.status === 3 ? renderCause(tracker.causes.get(raw.id)) : undefined
})

/** @internal */
export interface ReportImpl<A, E> {
  readonly exit: Exit.Exit<A, E>
  readonly snapshot: SnapshotImpl
  readonly durationMillis: number
}
