/**
 * effect-loom: typed, composable, observable orchestration on Effect.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Operation from "./Operation.js"

/** @since 0.1.0 */
export * as OperationStatus from "./OperationStatus.js"

/** @since 0.1.0 */
export * as OperationConsole from "./OperationConsole.js"
