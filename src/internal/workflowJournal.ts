/**
 * The workflow side of `journalHook.ts`: saga steps and operation-tree leaves that run inside a
 * workflow body get journal positions that do not depend on timing.
 *
 * - A saga step reserves the next key `k` of its fiber (program order). Its forward effect's steps are
 *   keyed `k/…`, its compensation's steps `k~c/…`, so a compensation replays from the journal after a
 *   crash whatever order or concurrency the compensations ran in.
 * - An operation tree reserves a key `k`; each execution of a leaf runs under `k:<leaf path>:` (a
 *   retried group re-runs its leaves under `k:<leaf path>#2:` …), not under the worker fiber that
 *   happened to pick the leaf, and its outcome is journaled as a `leaf` entry named by its path, from
 *   which `Workflow.operationStatus` rebuilds the tree's status.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { JournalHook, JournalRegion, TreeJournal } from "./journalHook.js"
import type { NodeKind, NodeState } from "./snapshot.js"
import * as ctx from "./workflowContext.js"

const reserve = <A>(f: (exec: ctx.Execution, key: string) => A): Effect.Effect<A | undefined> =>
  Effect.withFiberRuntime((fiber) => {
    const exec = fiber.getFiberRef(ctx.currentExecution)
    const node = ctx.activeNode(fiber.getFiberRef(ctx.stepPath))
    return Effect.succeed(exec === null || node === null ? undefined : f(exec, node.nextKey()))
  })

/** A short reason for a leaf's journaled failure: the error's message or tag. */
const reasonOf = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (error instanceof Error) return error.message.length > 0 ? error.message : error.name
  if (typeof error === "object" && error !== null && "_tag" in error) return String(error._tag)
  return String(error)
}

/** @internal */
export const leafOutcome = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit)
    ? JSON.stringify({ _tag: "Success", value: null })
    : Cause.isFailType(exit.cause) || Cause.failureOption(exit.cause)._tag === "Some"
    ? JSON.stringify({ _tag: "Failure", error: reasonOf(exit.cause) })
    : JSON.stringify({ _tag: "Die", defect: reasonOf(exit.cause) })

/** Journals a leaf's outcome once (replay checks the path); an interrupted leaf records nothing. */
const leafMarker = (path: string, exit: Exit.Exit<unknown, unknown>): Effect.Effect<unknown, unknown> =>
  Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
    ? exit
    : ctx.step({
      name: path,
      kind: "leaf",
      outside: exit,
      replay: () => exit,
      live: (exec, key) => Effect.zipRight(ctx.record(exec, key, path, "leaf", leafOutcome(exit)), exit)
    })

const region = (exec: ctx.Execution, key: string): JournalRegion => ({
  run: (self) => Effect.suspend(() => Effect.locally(self, ctx.stepPath, new ctx.StepNode(`${key}/`))),
  compensate: (self) =>
    Effect.suspend(() =>
      self.pipe(
        Effect.locally(ctx.stepPath, new ctx.StepNode(`${key}~c/`)),
        Effect.locally(ctx.inCompensation, true),
        Effect.locally(ctx.currentExecution, exec)
      )
    ),
  halted: () => exec.halted
})

const tree = (_exec: ctx.Execution, key: string): TreeJournal => {
  const executions = new Map<string, number>()
  return {
    leaf: (path, self) =>
      Effect.suspend(() => {
        const n = (executions.get(path) ?? 0) + 1
        executions.set(path, n)
        const node = new ctx.StepNode(`${key}:${path}${n === 1 ? "" : `#${n}`}:`)
        return Effect.locally(Effect.flatMap(Effect.exit(self), (exit) => leafMarker(path, exit)), ctx.stepPath, node)
      })
  }
}

/** Installed by `Workflow.toLayer` in the fiber of every workflow body. @internal */
export const workflowJournalHook: JournalHook = {
  region: reserve(region),
  tree: reserve(tree)
}

// ---------------------------------------------------------------------------------------------------
// A tree's status, rebuilt from a workflow's history

/** What `operationStatus` reads of a history entry. @internal */
export interface StepRecord {
  readonly seq: number
  readonly step: string
  readonly kind: string
  readonly outcome: unknown
  readonly at: number
}

/** @internal */
export interface TreeNodeInfo {
  readonly path: string
  readonly name: string
  readonly kind: NodeKind
  readonly depth: number
}

interface LeafRecord {
  attempts: number
  startedAt: number | undefined
  endedAt: number | undefined
  outcome: { readonly _tag: string; readonly error?: unknown; readonly defect?: unknown } | undefined
  /** a saga leaf's compensation: whether its journaled steps all succeeded */
  compensation: "compensated" | "compensation-failed" | undefined
}

/**
 * The status of every node of `nodes` (pre-order, as `Operation.nodes` lists them) from the journal of
 * the latest run of that tree in `history`: a leaf with a journaled outcome `succeeded` / `failed`
 * (a succeeded saga leaf with journaled compensation steps `compensated`, or `compensation-failed` when
 * one of them failed), one with journaled steps but no outcome `running`, one without any `pending`; a
 * group `failed` when a child failed, `succeeded` when all did, `pending` when none started, `running`
 * until all ended, then `compensated` / `compensation-failed`.
 *
 * @internal
 */
export const treeStatus = (
  nodes: ReadonlyArray<TreeNodeInfo>,
  history: ReadonlyArray<StepRecord>,
  waiting?: { readonly step: string; readonly at: number }
): Array<NodeState> => {
  const leafPaths = new Set(nodes.filter((n) => n.kind === "leaf").map((n) => n.path))
  // the step the workflow waits on (a timer or an event, not journaled yet) is the latest one
  if (waiting !== undefined) {
    history = [...history, { seq: Number.MAX_SAFE_INTEGER, step: waiting.step, kind: "waiting", outcome: undefined, at: waiting.at }]
  }
  // step keys inside a tree are `<tree key>:<leaf path>[#<execution>]:<n>…` (nested trees add segments)
  const located: Array<{
    readonly tree: string
    readonly path: string
    readonly execution: number
    readonly compensation: boolean
    readonly entry: StepRecord
  }> = []
  for (const entry of history) {
    const segments = entry.step.split(":")
    for (let j = segments.length - 2; j >= 1; j--) {
      const segment = segments[j]!
      const hash = segment.lastIndexOf("#")
      const path = hash < 0 ? segment : segment.slice(0, hash)
      if (!leafPaths.has(path)) continue
      located.push({
        tree: segments.slice(0, j).join(":"),
        path,
        execution: hash < 0 ? 1 : Number(segment.slice(hash + 1)),
        // a saga leaf's compensation steps are keyed `<leaf key>~c/…`
        compensation: segments.slice(j + 1).some((rest) => rest.includes("~c/")),
        entry
      })
      break
    }
  }
  let latest: (typeof located)[number] | undefined
  for (const l of located) if (latest === undefined || l.entry.seq > latest.entry.seq) latest = l
  const leaves = new Map<string, LeafRecord>()
  for (const l of located) {
    if (l.tree !== latest?.tree) continue
    const record: LeafRecord = leaves.get(l.path) ??
      { attempts: 0, startedAt: undefined, endedAt: undefined, outcome: undefined, compensation: undefined }
    leaves.set(l.path, record)
    if (l.compensation) {
      const ok = (l.entry.outcome as { readonly _tag?: string } | undefined)?._tag === "Success"
      record.compensation = ok && record.compensation !== "compensation-failed" ? "compensated" : "compensation-failed"
      continue
    }
    record.attempts = Math.max(record.attempts, l.execution)
    record.startedAt = Math.min(record.startedAt ?? l.entry.at, l.entry.at)
    if (l.entry.kind === "leaf") {
      record.endedAt = l.entry.at
      record.outcome = l.entry.outcome as LeafRecord["outcome"]
    }
  }
  const states: Array<NodeState> = new Array(nodes.length)
  // post-order over the pre-order list: children come after their parent, so walk it backwards
  const childStates = new Map<number, Array<NodeState>>()
  const parentOf: Array<number> = []
  const stack: Array<number> = []
  for (let i = 0; i < nodes.length; i++) {
    while (stack.length > 0 && nodes[stack[stack.length - 1]!]!.depth >= nodes[i]!.depth) stack.pop()
    parentOf.push(stack.length === 0 ? -1 : stack[stack.length - 1]!)
    stack.push(i)
  }
  const lastChild = nodes.map((n, i) => {
    for (let j = i + 1; j < nodes.length; j++) {
      if (nodes[j]!.depth < n.depth) return true
      if (nodes[j]!.depth === n.depth) return false
    }
    return true
  })
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!
    let state: NodeState
    if (node.kind === "leaf") {
      const record = leaves.get(node.path)
      const outcome = record?.outcome
      state = {
        ...node,
        lastChild: lastChild[i]!,
        status: record === undefined
          ? "pending"
          : outcome === undefined
          ? "running"
          : outcome._tag !== "Success"
          ? "failed"
          : record?.compensation ?? "succeeded",
        attempts: record?.attempts ?? 0,
        startedAt: record?.startedAt,
        endedAt: record?.endedAt,
        error: outcome === undefined || outcome._tag === "Success" ? undefined : String(outcome.error ?? outcome.defect)
      }
    } else {
      const children = childStates.get(i) ?? []
      const all = (s: NodeState["status"]) => children.every((c) => c.status === s)
      const started = children.filter((c) => c.startedAt !== undefined)
      const ended = children.filter((c) => c.endedAt !== undefined)
      const status: NodeState["status"] = children.some((c) => c.status === "failed")
        ? "failed"
        : all("succeeded")
        ? "succeeded"
        : all("pending")
        ? "pending"
        : !children.every((c) => ended.includes(c))
        ? "running"
        : children.some((c) => c.status === "compensation-failed")
        ? "compensation-failed"
        : "compensated"
      state = {
        ...node,
        lastChild: lastChild[i]!,
        status,
        attempts: started.length > 0 ? 1 : 0,
        startedAt: started.length > 0 ? Math.min(...started.map((c) => c.startedAt!)) : undefined,
        endedAt: status === "pending" || status === "running" ? undefined : Math.max(...ended.map((c) => c.endedAt!)),
        error: children.find((c) => c.status === "failed")?.error
      }
    }
    states[i] = state
    const parent = parentOf[i]!
    if (parent >= 0) {
      const list = childStates.get(parent) ?? []
      list.unshift(state)
      childStates.set(parent, list)
    }
  }
  return states
}
