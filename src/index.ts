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

/** @since 0.1.0 */
export * as Policy from "./Policy.js"

/** @since 0.1.0 */
export * as Retry from "./Retry.js"

/** @since 0.1.0 */
export * as Timeout from "./Timeout.js"

/** @since 0.1.0 */
export * as CircuitBreaker from "./CircuitBreaker.js"

/** @since 0.1.0 */
export * as RateLimit from "./RateLimit.js"

/** @since 0.1.0 */
export * as Bulkhead from "./Bulkhead.js"

/** @since 0.1.0 */
export * as Fallback from "./Fallback.js"

/** @since 0.1.0 */
export * as ResultCache from "./ResultCache.js"

/** @since 0.1.0 */
export * as Workflow from "./Workflow.js"

/** @since 0.1.0 */
export * as Activity from "./Activity.js"

/** @since 0.1.0 */
export * as WorkflowEngine from "./WorkflowEngine.js"

/** @since 0.1.0 */
export * as WorkflowStorage from "./WorkflowStorage.js"

/** @since 0.1.0 */
export * as SqlWorkflowStorage from "./SqlWorkflowStorage.js"

/** @since 0.1.0 */
export * as WorkflowError from "./WorkflowError.js"

/** @since 0.1.0 */
export * as WorkflowCli from "./WorkflowCli.js"

/** @since 0.1.0 */
export * as Component from "./Component.js"

/** @since 0.1.0 */
export * as Registry from "./Registry.js"

/** @since 0.1.0 */
export * as Interceptor from "./Interceptor.js"

/** @since 0.1.0 */
export * as Entrypoint from "./Entrypoint.js"

/** @since 0.1.0 */
export * as ServiceEvent from "./ServiceEvent.js"

/** @since 0.1.0 */
export * as HttpServer from "./HttpServer.js"

/** @since 0.1.0 */
export * as Cli from "./Cli.js"

/** @since 0.1.0 */
export * as Saga from "./Saga.js"

/** @since 0.1.0 */
export * as ThreePhaseSaga from "./ThreePhaseSaga.js"

/** @since 0.1.0 */
export * as Telemetry from "./Telemetry.js"

/** @since 0.1.0 */
export * as Testing from "./Testing.js"
