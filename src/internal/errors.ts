import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"

/** @internal */
export class OperationInvalid extends Data.TaggedError("OperationInvalid")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `invalid operation at "${this.path}": ${this.reason}`
  }
}

/** @internal */
export class OperationTimeout extends Data.TaggedError("OperationTimeout")<{
  readonly path: string
  readonly duration: Duration.Duration
}> {
  override get message(): string {
    return `operation "${this.path}" timed out after ${Duration.format(this.duration)}`
  }
}

/** @internal */
export interface NodeFailure<E> {
  readonly path: string
  readonly cause: Cause.Cause<E>
}

/** @internal */
export class OperationGroupFailed<E> extends Data.TaggedError("OperationGroupFailed")<{
  readonly path: string
  readonly failures: ReadonlyArray<NodeFailure<E>>
}> {
  override get message(): string {
    const n = this.failures.length
    return `${n} operation${n === 1 ? "" : "s"} failed in "${this.path}": ${this.failures.map((f) => f.path).join(", ")}`
  }
}
