/**
 * Typed errors of the durable workflow engine. They are `Schema.TaggedError`s because they are
 * journaled (a workflow that failed on non-determinism keeps that error as its result) and printed by
 * the CLI.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Replay met a journal entry whose name or kind differs from the step the workflow code asked for: the
 * code changed in a way that is not replay-safe (use `Workflow.patched` for such changes). The workflow
 * fails with this error; it never receives a result recorded for another step.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowError } from "effect-loom"
 * const e = new WorkflowError.WorkflowNonDeterminism({
 *   workflowId: "order-1", step: "2", expected: "activity:Ship", recorded: "activity:Pay"
 * })
 * const text = e.message
 */
export class WorkflowNonDeterminism extends Schema.TaggedError<WorkflowNonDeterminism>(
  "effect-loom/WorkflowError/WorkflowNonDeterminism"
)("WorkflowNonDeterminism", {
  workflowId: Schema.String,
  step: Schema.String,
  expected: Schema.String,
  recorded: Schema.String
}) {
  override get message(): string {
    return `Workflow ${this.workflowId} is not deterministic at step ${this.step}: the code asks for ${this.expected} but the journal recorded ${this.recorded}`
  }
}

/**
 * No workflow with this id is stored.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowError } from "effect-loom"
 * const text = new WorkflowError.WorkflowNotFound({ workflowId: "x" }).message
 */
export class WorkflowNotFound extends Schema.TaggedError<WorkflowNotFound>(
  "effect-loom/WorkflowError/WorkflowNotFound"
)("WorkflowNotFound", { workflowId: Schema.String }) {
  override get message(): string {
    return `No workflow with id ${this.workflowId}`
  }
}

/**
 * No workflow definition with this name is registered with the engine.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowError } from "effect-loom"
 * const text = new WorkflowError.WorkflowNotRegistered({ name: "Order" }).message
 */
export class WorkflowNotRegistered extends Schema.TaggedError<WorkflowNotRegistered>(
  "effect-loom/WorkflowError/WorkflowNotRegistered"
)("WorkflowNotRegistered", { name: Schema.String }) {
  override get message(): string {
    return `No workflow named ${this.name} is registered with this engine`
  }
}

/**
 * A workflow's payload does not satisfy its schema.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowError } from "effect-loom"
 * const text = new WorkflowError.WorkflowPayloadInvalid({ name: "Order", issue: "Expected number" }).message
 */
export class WorkflowPayloadInvalid extends Schema.TaggedError<WorkflowPayloadInvalid>(
  "effect-loom/WorkflowError/WorkflowPayloadInvalid"
)("WorkflowPayloadInvalid", { name: Schema.String, issue: Schema.String }) {
  override get message(): string {
    return `Payload of workflow ${this.name} is invalid: ${this.issue}`
  }
}

/**
 * A workflow with this id already exists with another name or payload (starting it again with the same
 * name and payload is idempotent and not an error).
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowError } from "effect-loom"
 * const text = new WorkflowError.WorkflowAlreadyExists({ workflowId: "o-1", name: "Order" }).message
 */
export class WorkflowAlreadyExists extends Schema.TaggedError<WorkflowAlreadyExists>(
  "effect-loom/WorkflowError/WorkflowAlreadyExists"
)("WorkflowAlreadyExists", { workflowId: Schema.String, name: Schema.String }) {
  override get message(): string {
    return `Workflow id ${this.workflowId} is already used by a ${this.name} workflow with a different payload`
  }
}

/**
 * The workflow has already finished (or was never able to accept the request): signals, cancel and
 * terminate need a pending, running or waiting workflow.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowError } from "effect-loom"
 * const text = new WorkflowError.WorkflowNotRunning({ workflowId: "o-1", status: "completed" }).message
 */
export class WorkflowNotRunning extends Schema.TaggedError<WorkflowNotRunning>(
  "effect-loom/WorkflowError/WorkflowNotRunning"
)("WorkflowNotRunning", { workflowId: Schema.String, status: Schema.String }) {
  override get message(): string {
    return `Workflow ${this.workflowId} is ${this.status}, not running`
  }
}

/**
 * The workflow was cancelled (compensations ran) or terminated (no compensation).
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowError } from "effect-loom"
 * const text = new WorkflowError.WorkflowCancelled({ workflowId: "o-1", reason: "user", terminated: false }).message
 */
export class WorkflowCancelled extends Schema.TaggedError<WorkflowCancelled>(
  "effect-loom/WorkflowError/WorkflowCancelled"
)("WorkflowCancelled", { workflowId: Schema.String, reason: Schema.String, terminated: Schema.Boolean }) {
  override get message(): string {
    return `Workflow ${this.workflowId} was ${this.terminated ? "terminated" : "cancelled"}: ${this.reason}`
  }
}

/**
 * The workflow stopped on a defect (an unexpected error that is not part of its error schema).
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowError } from "effect-loom"
 * const text = new WorkflowError.WorkflowDefect({ workflowId: "o-1", defect: "boom" }).message
 */
export class WorkflowDefect extends Schema.TaggedError<WorkflowDefect>(
  "effect-loom/WorkflowError/WorkflowDefect"
)("WorkflowDefect", { workflowId: Schema.String, defect: Schema.String }) {
  override get message(): string {
    return `Workflow ${this.workflowId} died: ${this.defect}`
  }
}

/**
 * The workflow store failed (database error, corrupt row).
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowError } from "effect-loom"
 * const text = new WorkflowError.WorkflowStorageError({ operation: "append", detail: "disk full" }).message
 */
export class WorkflowStorageError extends Schema.TaggedError<WorkflowStorageError>(
  "effect-loom/WorkflowError/WorkflowStorageError"
)("WorkflowStorageError", { operation: Schema.String, detail: Schema.String }) {
  override get message(): string {
    return `Workflow storage failed during ${this.operation}: ${this.detail}`
  }
}

/**
 * An activity did not finish within its timeout (journaled like any other failure).
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowError } from "effect-loom"
 * const text = new WorkflowError.ActivityTimeout({ activity: "Fetch", timeoutMillis: 5000 }).message
 */
export class ActivityTimeout extends Schema.TaggedError<ActivityTimeout>(
  "effect-loom/WorkflowError/ActivityTimeout"
)("ActivityTimeout", { activity: Schema.String, timeoutMillis: Schema.Number }) {
  override get message(): string {
    return `Activity ${this.activity} timed out after ${this.timeoutMillis} ms`
  }
}

/**
 * A setting given to the engine or storage is invalid.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowError } from "effect-loom"
 * const text = new WorkflowError.WorkflowConfigInvalid({ setting: "pollInterval", detail: "must be > 0" }).message
 */
export class WorkflowConfigInvalid extends Schema.TaggedError<WorkflowConfigInvalid>(
  "effect-loom/WorkflowError/WorkflowConfigInvalid"
)("WorkflowConfigInvalid", { setting: Schema.String, detail: Schema.String }) {
  override get message(): string {
    return `Invalid workflow setting ${this.setting}: ${this.detail}`
  }
}

/**
 * A `purge` request that cannot be carried out as asked: a cut-off time that is not a finite number of
 * epoch milliseconds, or a status that is still active (only ended runs are purged). Nothing is deleted.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { WorkflowError } from "effect-loom"
 * const text = new WorkflowError.WorkflowPurgeInvalid({ detail: "status running is not an ended status" }).message
 */
export class WorkflowPurgeInvalid extends Schema.TaggedError<WorkflowPurgeInvalid>(
  "effect-loom/WorkflowError/WorkflowPurgeInvalid"
)("WorkflowPurgeInvalid", { detail: Schema.String }) {
  override get message(): string {
    return `Invalid purge request: ${this.detail}`
  }
}
