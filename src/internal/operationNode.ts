import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import type * as Schedule from "effect/Schedule"

/** @internal */
export const TypeId: unique symbol = Symbol.for("effect-loom/Operation")
/** @internal */
export type TypeId = typeof TypeId

/** An untyped effect-to-effect wrapper, e.g. a resilience policy. @internal */
export type Wrapper = (self: Effect.Effect<unknown, unknown, unknown>) => Effect.Effect<unknown, unknown, unknown>

/** @internal */
export interface NodePolicy {
  readonly retry: Schedule.Schedule<unknown, never, unknown> | undefined
  readonly timeout: Duration.Duration | undefined
  /** `undefined` means "the default for this kind of node". */
  readonly span: boolean | undefined
  readonly wrappers: ReadonlyArray<Wrapper>
}

/** @internal */
export const emptyPolicy: NodePolicy = { retry: undefined, timeout: undefined, span: undefined, wrappers: [] }

/**
 * What a leaf built with `leafWith` sees of its own node: its path and a way
 * to report compensation states (used by sagas).
 * @internal
 */
export interface NodeHandle {
  readonly path: string
  readonly mark: (status: "compensating" | "compensated" | "compensation-failed") => void
}

/** @internal */
export type NodeTag = "Leaf" | "Sequence" | "Parallel"

/** @internal */
export interface NodeFields {
  readonly _tag: NodeTag
  readonly name: string
  readonly effect: Effect.Effect<unknown, unknown, unknown> | undefined
  /** A leaf's effect built from its node handle, instead of `effect`. */
  readonly build: ((node: NodeHandle) => Effect.Effect<unknown, unknown, unknown>) | undefined
  readonly children: ReadonlyArray<OperationImpl>
  readonly keys: ReadonlyArray<string> | undefined
  readonly concurrency: number | "unbounded"
  readonly failFast: boolean
  readonly policy: NodePolicy
}

/** The fields of a node live on the node itself (declaration merging with the class below). @internal */
export interface OperationImpl<A = unknown, E = unknown, R = unknown> extends NodeFields {}

/**
 * One node of an operation tree. It is an `Effect` (its `commit` runs the
 * subtree), so it can be yielded in `Effect.gen` and piped like any effect.
 * @internal
 */
export class OperationImpl<A = unknown, E = unknown, R = unknown> extends Effectable.Class<A, E, R> {
  readonly [TypeId]: TypeId = TypeId
  /** What is wrong with this node on its own, if anything (checked once, when built). */
  readonly problem: string | undefined
  readonly #fields: NodeFields
  readonly #commit: (self: OperationImpl<A, E, R>) => Effect.Effect<A, E, R>

  constructor(fields: NodeFields, commit: (self: OperationImpl<A, E, R>) => Effect.Effect<A, E, R>) {
    super()
    Object.assign(this, fields)
    this.#fields = fields
    this.problem = checkNode(fields)
    this.#commit = commit
  }

  commit(): Effect.Effect<A, E, R> {
    return this.#commit(this)
  }

  /** A copy of this node with other fields; the copy keeps the same way of running. */
  with(fields: Partial<NodeFields>): OperationImpl<A, E, R> {
    return new OperationImpl<A, E, R>({ ...this.#fields, ...fields }, this.#commit)
  }

  override toString(): string {
    return `Operation(${this._tag} ${this.name})`
  }
}

/** @internal */
export const isOperation = (u: unknown): u is OperationImpl =>
  typeof u === "object" && u !== null && TypeId in u

/** Local well-formedness of a node; the run reports it with the node's path. @internal */
export const checkNode = (op: NodeFields): string | undefined => {
  if (op.name.length === 0) return "name must not be empty"
  if (op.name.includes("/")) return `name "${op.name}" must not contain "/" (it separates path segments)`
  if (op._tag === "Leaf") return undefined
  if (op._tag === "Parallel") {
    const c = op.concurrency
    if (c !== "unbounded" && !(Number.isInteger(c) && c > 0)) {
      return `concurrency must be a positive integer or "unbounded", got ${String(c)}`
    }
  }
  const seen = new Set<string>()
  for (const child of op.children) {
    if (seen.has(child.name)) return `duplicate child name "${child.name}"`
    seen.add(child.name)
  }
  return undefined
}
