/**
 * The compiled, flat form of an operation tree: nodes numbered in depth-first
 * pre-order so that the subtree of node `i` is the id range `[i, end[i])`.
 * Struct-of-arrays keeps a million-node tree in a few tens of megabytes.
 */
import * as Either from "effect/Either"
import type { OperationImpl } from "./operationNode.js"
import { OperationInvalid } from "./errors.js"

/** @internal */
export const KIND_LEAF = 0
/** @internal */
export const KIND_SEQUENCE = 1
/** @internal */
export const KIND_PARALLEL = 2

/** @internal */
export interface Plan {
  readonly size: number
  readonly leafCount: number
  readonly ops: ReadonlyArray<OperationImpl>
  readonly parent: Int32Array
  readonly end: Int32Array
  readonly depth: Uint16Array
  readonly kind: Uint8Array
}

/** @internal */
export const kindCode = (op: OperationImpl): number =>
  op._tag === "Leaf" ? KIND_LEAF : op._tag === "Sequence" ? KIND_SEQUENCE : KIND_PARALLEL

/** @internal */
export const pathOf = (plan: Plan, id: number): string => {
  let path = plan.ops[id]!.name
  let p = plan.parent[id]!
  while (p >= 0) {
    path = `${plan.ops[p]!.name}/${path}`
    p = plan.parent[p]!
  }
  return path
}

/** @internal */
export const childIds = (plan: Plan, id: number): Array<number> => {
  const out: Array<number> = []
  const stop = plan.end[id]!
  for (let c = id + 1; c < stop; c = plan.end[c]!) out.push(c)
  return out
}

const countNodes = (root: OperationImpl): number => {
  let n = 0
  const stack: Array<OperationImpl> = [root]
  while (stack.length > 0) {
    const op = stack.pop()!
    n++
    const children = op.children
    for (let i = 0; i < children.length; i++) {
      const child = children[i]!
      if (child._tag === "Leaf") n++
      else stack.push(child)
    }
  }
  return n
}

/** @internal */
export const compile = (root: OperationImpl): Either.Either<Plan, OperationInvalid> => {
  const size = countNodes(root)
  const ops: Array<OperationImpl> = new Array(size)
  const parent = new Int32Array(size)
  const end = new Int32Array(size)
  const depth = new Uint16Array(size)
  const kind = new Uint8Array(size)
  const plan: Plan = { size, leafCount: 0, ops, parent, end, depth, kind }
  let leaves = 0
  let next = 0
  let invalid: OperationInvalid | undefined
  const open = (op: OperationImpl, p: number, d: number): number => {
    const id = next++
    ops[id] = op
    parent[id] = p
    depth[id] = d
    end[id] = id + 1
    kind[id] = kindCode(op)
    if (invalid === undefined) {
      const problem = op.problem
      if (problem !== undefined) invalid = new OperationInvalid({ path: pathOf(plan, id), reason: problem })
    }
    return id
  }
  // Iterative pre-order numbering; `end` is filled when a node's subtree is closed.
  const stack: Array<{ op: OperationImpl; id: number; child: number }> = []
  stack.push({ op: root, id: open(root, -1, 0), child: 0 })
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!
    const op = frame.op
    if (op._tag !== "Leaf" && frame.child < op.children.length) {
      const child = op.children[frame.child++]!
      const id = open(child, frame.id, depth[frame.id]! + 1)
      // Leaves close at once and need no frame, which keeps wide groups cheap.
      if (child._tag === "Leaf") leaves++
      else stack.push({ op: child, id, child: 0 })
    } else {
      if (op._tag === "Leaf") leaves++
      end[frame.id] = next
      stack.pop()
    }
  }
  // The whole tree is checked before anything runs; the error names the first bad node's path.
  if (invalid !== undefined) return Either.left(invalid)
  return Either.right({ ...plan, leafCount: leaves })
}
