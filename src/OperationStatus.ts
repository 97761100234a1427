/**
 * What a running operation tree looks like: per-node status, progress, the
 * lifecycle events the status is folded from, the final report, and text
 * renderings of them for terminals and logs.
 *
 * @since 0.1.0
 */
import type * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { treePrefix } from "./internal/introspect.js"
import * as snapshot from "./internal/snapshot.js"
import { statusNames } from "./internal/tracker.js"

/**
 * The status of one node. Terminal statuses are `succeeded`, `failed`,
 * `cancelled` (interrupted while running), `skipped` (never started) and the
 * compensation statuses used by sagas.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { OperationStatus } from "effect-loom"
 * import * as Schema from "effect/Schema"
 * Schema.decodeUnknownSync(OperationStatus.NodeStatus)("running")
 */
export const NodeStatus = Schema.Literal(...statusNames)

/**
 * @since 0.1.0
 * @category models
 */
export type NodeStatus = typeof NodeStatus.Type

/**
 * @since 0.1.0
 * @category models
 */
export const NodeKind = Schema.Literal("leaf", "sequence", "parallel")

/**
 * @since 0.1.0
 * @category models
 */
export type NodeKind = typeof NodeKind.Type

/**
 * The state of one node at one moment. Times are epoch milliseconds from the
 * `Clock` service, so `TestClock` drives them in tests.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { OperationStatus } from "effect-loom"
 * const isDone = (node: OperationStatus.NodeState) => node.endedAt !== undefined
 */
export const NodeState = Schema.Struct({
  path: Schema.String,
  name: Schema.String,
  kind: NodeKind,
  depth: Schema.Number,
  /** Whether the node is the last child of its parent (the root is). */
  lastChild: Schema.Boolean,
  status: NodeStatus,
  attempts: Schema.Number,
  startedAt: Schema.UndefinedOr(Schema.Number),
  endedAt: Schema.UndefinedOr(Schema.Number),
  error: Schema.UndefinedOr(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export type NodeState = typeof NodeState.Type

/**
 * The one lifecycle event of operation trees: a node entered a status. A
 * `running` event with `attempt > 1` is a retry. Defined with `Schema` so it
 * can be journaled or sent over HTTP.
 *
 * @since 0.1.0
 * @category events
 * @example
 * import { OperationStatus } from "effect-loom"
 * const line = (e: OperationStatus.OperationEvent) => `${e.path} → ${e.status}`
 */
export const OperationEvent = Schema.TaggedStruct("NodeStatusChanged", {
  path: Schema.String,
  kind: NodeKind,
  status: NodeStatus,
  attempt: Schema.Number,
  at: Schema.Number,
  error: Schema.UndefinedOr(Schema.String)
})

/**
 * @since 0.1.0
 * @category events
 */
export type OperationEvent = typeof OperationEvent.Type

/**
 * An immutable picture of a run: progress counters and the state of every
 * node. Taking one copies a few typed arrays (cheap even for a million
 * nodes); `nodes` materialises node objects on first access.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  /** Number of leaves in the tree. */
  readonly total: number
  /** Leaves in a terminal status. */
  readonly completed: number
  /** `completed / total` as a percentage; 100 for a tree without leaves. */
  readonly percent: number
  /** When the snapshot was taken (Clock milliseconds). */
  readonly at: number
  /** Number of nodes, groups included. */
  readonly size: number
  readonly root: NodeState
  /** The node at a depth-first pre-order index, `0 <= index < size`. */
  readonly nodeAt: (index: number) => NodeState
  /** Every node in depth-first pre-order. */
  readonly nodes: ReadonlyArray<NodeState>
  /** The node at a path like `root/billing/invoice`. */
  readonly node: (path: string) => NodeState | undefined
  /** How many nodes are in each status. */
  readonly counts: () => Readonly<Record<NodeStatus, number>>
  readonly toJSON: () => unknown
}

/**
 * A batch of progress handed to an observer: the events since the previous
 * batch, in order, and a snapshot taken after them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly snapshot: Snapshot
  readonly events: ReadonlyArray<OperationEvent>
}

/**
 * How a run ended: its `Exit`, the final snapshot and its duration.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report<A, E> {
  readonly exit: Exit.Exit<A, E>
  readonly snapshot: Snapshot
  readonly durationMillis: number
}

const icons: Record<NodeStatus, string> = {
  pending: "·",
  running: "▶",
  succeeded: "✔",
  failed: "✘",
  cancelled: "⊘",
  skipped: "↷",
  compensating: "↺",
  compensated: "↩",
  "compensation-failed": "‼"
}

/**
 * A progress bar such as `[██████░░░░░░]  50% (3/6)`.
 *
 * @since 0.1.0
 * @category rendering
 * @example
 * import type { OperationStatus as S } from "effect-loom"
 * import { OperationStatus } from "effect-loom"
 * const show = (s: S.Snapshot) => OperationStatus.renderProgressBar(s, 20)
 */
export const renderProgressBar = (snapshot: Snapshot, width = 30): string => {
  const filled = Math.round((snapshot.percent / 100) * width)
  const pct = snapshot.percent.toFixed(0).padStart(3)
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${pct}% (${snapshot.completed}/${snapshot.total})`
}

/**
 * The status tree, one line per node with a status icon, attempts, duration
 * and the first line of any error. `maxNodes` bounds the output for big trees.
 *
 * @since 0.1.0
 * @category rendering
 * @example
 * import type { OperationStatus as S } from "effect-loom"
 * import { OperationStatus } from "effect-loom"
 * const show = (s: S.Snapshot) => OperationStatus.renderTree(s)
 */
export const renderTree = (snapshot: Snapshot, options?: { readonly maxNodes?: number | undefined }): string => {
  const max = Math.min(options?.maxNodes ?? 200, snapshot.size)
  const lines: Array<string> = []
  // Pre-order walk: `last[d - 1]` says whether the open ancestor at depth d was its parent's last child.
  const last: Array<boolean> = []
  for (let i = 0; i < max; i++) {
    const node = snapshot.nodeAt(i)
    last.length = Math.max(0, node.depth - 1)
    if (node.depth > 0) last.push(node.lastChild)
    const took = node.startedAt !== undefined && node.endedAt !== undefined
      ? ` ${Math.round(node.endedAt - node.startedAt)}ms`
      : ""
    const tries = node.attempts > 1 ? ` (attempt ${node.attempts})` : ""
    const error = node.error === undefined ? "" : ` — ${node.error}`
    lines.push(`${treePrefix(last)}${icons[node.status]} ${node.name} ${node.status}${tries}${took}${error}`)
  }
  if (snapshot.size > max) lines.push(`… ${snapshot.size - max} more nodes`)
  return lines.join("\n")
}

/**
 * One plain line for an event, for logs and non-terminal output.
 *
 * @since 0.1.0
 * @category rendering
 * @example
 * import { OperationStatus } from "effect-loom"
 * const log = (e: OperationStatus.OperationEvent) => OperationStatus.renderEvent(e)
 */
export const renderEvent = (event: OperationEvent): string => {
  const retry = event.status === "running" && event.attempt > 1 ? ` (attempt ${event.attempt})` : ""
  const error = event.error === undefined ? "" : `: ${event.error}`
  return `${icons[event.status]} ${event.path} ${event.status}${retry}${error}`
}

/** @internal */
export const fromInternal = (s: snapshot.SnapshotImpl): Snapshot => s
