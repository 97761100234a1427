/**
 * A console view of running operation trees, written through Effect's
 * `Console` service (swap it in tests). On a terminal it redraws a progress
 * bar and the status tree in place; elsewhere it prints one plain line per
 * status change, which suits logs and CI.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { OperationGroupFailed } from "./internal/errors.js"
import type { Progress, Report } from "./OperationStatus.js"
import { renderEvent, renderProgressBar, renderTree } from "./OperationStatus.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ViewOptions {
  /** Redraw in place (a terminal) or print a line per change. */
  readonly interactive: boolean
  /** Bound on the nodes drawn in interactive mode (default 40). */
  readonly maxNodes?: number | undefined
}

/**
 * An `onProgress` observer for `Operation.run` / `Operation.start`.
 *
 * @since 0.1.0
 * @category observers
 * @example
 * import { Operation, OperationConsole } from "effect-loom"
 * import { Effect } from "effect"
 * const tree = Operation.leaf("one", Effect.succeed(1))
 * const program = Operation.runReport(tree, {
 *   onProgress: OperationConsole.view({ interactive: process.stdout.isTTY === true })
 * })
 */
export const view = (options: ViewOptions): (progress: Progress) => Effect.Effect<void> => {
  if (!options.interactive) {
    return (progress) =>
      progress.events.length === 0 ? Effect.void : Console.log(progress.events.map(renderEvent).join("\n"))
  }
  let drawn = 0
  return (progress) =>
    Effect.suspend(() => {
      const text = `${renderProgressBar(progress.snapshot)}\n${renderTree(progress.snapshot, { maxNodes: options.maxNodes ?? 40 })}`
      // Move the cursor to the start of the previous drawing and clear below it.
      const erase = drawn > 0 ? `\x1b[${drawn}F\x1b[0J` : ""
      drawn = text.split("\n").length
      return Console.log(erase + text)
    })
}

/**
 * The final report as text: outcome, duration, counts per status, the status
 * tree, and for a failure the error summary.
 *
 * @since 0.1.0
 * @category rendering
 * @example
 * import { Operation, OperationConsole } from "effect-loom"
 * import { Effect } from "effect"
 * const program = Effect.flatMap(
 *   Operation.runReport(Operation.leaf("one", Effect.succeed(1))),
 *   (report) => Effect.log(OperationConsole.renderReport(report))
 * )
 */
export const renderReport = <A, E>(report: Report<A, E>, options?: { readonly maxNodes?: number | undefined }): string => {
  const counts = report.snapshot.counts()
  const summary = Object.entries(counts).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`).join(", ")
  const outcome = Exit.isSuccess(report.exit)
    ? "succeeded"
    : Exit.isInterrupted(report.exit)
    ? "cancelled"
    : "failed"
  const lines = [
    `${report.snapshot.root.name} ${outcome} in ${Math.round(report.durationMillis)}ms — ${summary}`,
    renderTree(report.snapshot, { maxNodes: options?.maxNodes ?? 200 })
  ]
  if (Exit.isFailure(report.exit) && !Exit.isInterrupted(report.exit)) {
    lines.push(`error: ${firstLine(report.exit.cause)}`)
    const failure = Cause.failureOption(report.exit.cause)
    if (failure._tag === "Some" && failure.value instanceof OperationGroupFailed) {
      for (const f of (failure.value as OperationGroupFailed<unknown>).failures) {
        lines.push(`  - ${f.path}: ${firstLine(f.cause)}`)
      }
    }
  }
  return lines.join("\n")
}

const firstLine = (cause: Cause.Cause<unknown>): string => Cause.pretty(cause).split("\n")[0] ?? ""
