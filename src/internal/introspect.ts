import * as Duration from "effect/Duration"
import type { OperationImpl } from "./operationNode.js"
import type { NodeKind } from "./snapshot.js"

/** @internal */
export interface NodeInfo {
  readonly path: string
  readonly name: string
  readonly kind: NodeKind
  readonly depth: number
}

const kindOf = (op: OperationImpl): NodeKind =>
  op._tag === "Leaf" ? "leaf" : op._tag === "Sequence" ? "sequence" : "parallel"

/** Pre-order walk without running or validating anything. @internal */
export const walk = (root: OperationImpl, f: (op: OperationImpl, path: string, depth: number, last: ReadonlyArray<boolean>) => void): void => {
  const stack: Array<{ op: OperationImpl; path: string; depth: number; last: ReadonlyArray<boolean> }> = [
    { op: root, path: root.name, depth: 0, last: [] }
  ]
  while (stack.length > 0) {
    const { depth, last, op, path } = stack.pop()!
    f(op, path, depth, last)
    for (let i = op.children.length - 1; i >= 0; i--) {
      const child = op.children[i]!
      stack.push({ op: child, path: `${path}/${child.name}`, depth: depth + 1, last: [...last, i === op.children.length - 1] })
    }
  }
}

/** @internal */
export const nodes = (root: OperationImpl): ReadonlyArray<NodeInfo> => {
  const out: Array<NodeInfo> = []
  walk(root, (op, path, depth) => out.push({ path, name: op.name, kind: kindOf(op), depth }))
  return out
}

/** @internal */
export const leafCount = (root: OperationImpl): number => {
  let n = 0
  const stack = [root]
  while (stack.length > 0) {
    const op = stack.pop()!
    if (op._tag === "Leaf") n++
    else for (const c of op.children) stack.push(c)
  }
  return n
}

/** A short description of a node's kind and policies, e.g. `parallel ×4, best-effort, retry`. @internal */
export const describe = (op: OperationImpl): string => {
  const parts: Array<string> = []
  if (op._tag === "Parallel") parts.push(`parallel ×${op.concurrency === "unbounded" ? "∞" : op.concurrency}`)
  if (op._tag === "Sequence") parts.push("sequence")
  if (op._tag !== "Leaf" && !op.failFast) parts.push("best-effort")
  if (op.policy.retry !== undefined) parts.push("retry")
  if (op.policy.timeout !== undefined) parts.push(`timeout ${Duration.format(op.policy.timeout)}`)
  return parts.join(", ")
}

/** Tree-drawing prefix for a node given which of its ancestors were last children. @internal */
export const treePrefix = (last: ReadonlyArray<boolean>): string => {
  if (last.length === 0) return ""
  let prefix = ""
  for (let i = 0; i < last.length - 1; i++) prefix += last[i] ? "   " : "│  "
  return prefix + (last[last.length - 1] ? "└─ " : "├─ ")
}

/** @internal */
export const render = (root: OperationImpl): string => {
  const lines: Array<string> = []
  walk(root, (op, _path, _depth, last) => {
    const d = describe(op)
    lines.push(`${treePrefix(last)}${op.name}${d === "" ? "" : ` (${d})`}`)
  })
  return lines.join("\n")
}

const mermaidLabel = (text: string): string => text.replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;")

/** @internal */
export const toMermaid = (root: OperationImpl): string => {
  const lines = ["flowchart TD"]
  const ids = new Map<string, string>()
  let n = 0
  walk(root, (op, path) => {
    const id = `n${n++}`
    ids.set(path, id)
    const d = describe(op)
    const label = d === "" ? mermaidLabel(op.name) : `${mermaidLabel(op.name)}<br/>${mermaidLabel(d)}`
    lines.push(op._tag === "Leaf" ? `  ${id}["${label}"]` : `  ${id}[["${label}"]]`)
    const parentPath = path.slice(0, path.length - op.name.length - 1)
    const parent = ids.get(parentPath)
    if (parent !== undefined && path !== root.name) lines.push(`  ${parent} --> ${id}`)
  })
  return lines.join("\n")
}
