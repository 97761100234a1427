/**
 * A test kit for programs built with effect-loom:
 *
 * - `layerSpans` records finished spans in memory (OpenTelemetry `InMemorySpanExporter` behind
 *   `@effect/opentelemetry`'s `NodeSdk`); `spanTree`, `findSpan`, `parentOf` assert on them.
 * - `layerMetrics` takes a baseline of Effect's metric registry; `metricValue` and `histogramValue` read
 *   what the test itself recorded since.
 * - `faults` injects failures, defects and latency into named operation leaves, component calls, workflow
 *   activities and saga steps (`failTimes`, `failWith`, `die`, `latency`, `withProbability`). Each run of
 *   the target is one attempt, so retries, circuit breakers and compensations see the faults as real ones.
 * - `layerWorkflows` runs workflows on in-memory storage; durable timers follow `TestClock`, so a 24-hour
 *   timeout is tested with `TestClock.adjust("24 hours")`. `awaitTimer`, `awaitEvent` and `awaitWorkflow`
 *   wait (in real time, briefly) for the engine's fibers to reach a state.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as internalFaults from "./internal/faults.js"
import * as internal from "./internal/testing.js"
import type * as WorkflowEngine from "./WorkflowEngine.js"
import type { WorkflowConfigInvalid } from "./WorkflowError.js"
import type * as WorkflowStorage from "./WorkflowStorage.js"

// ---------------------------------------------------------------------------
// Spans
// ---------------------------------------------------------------------------

/**
 * A finished span as recorded by `layerSpans`: ids, parent id (`undefined` for a root), attributes,
 * whether its status is an error, and its start and end times in nanoseconds of the Effect `Clock`
 * (all zero under `TestClock` unless the test moves the clock).
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { Testing } from "effect-loom"
 * const isRoot = (span: Testing.RecordedSpan) => span.parentSpanId === undefined
 */
export interface RecordedSpan extends internal.RecordedSpan {}

/**
 * The service behind `layerSpans`.
 *
 * @since 0.1.0
 * @category services
 * @example
 * import { Testing } from "effect-loom"
 * import { Effect } from "effect"
 * const count = Effect.flatMap(Testing.Spans, (s) => Effect.map(s.finished, (all) => all.length))
 */
export const Spans: typeof internal.Spans = internal.Spans

/**
 * @since 0.1.0
 * @category services
 */
export type Spans = internal.Spans

/**
 * No finished span has the name (and attributes) `findSpan` looked for; `message` lists the recorded names.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { Testing } from "effect-loom"
 * const error = new Testing.SpanNotFound({ name: "charge", recorded: ["order"] })
 */
export const SpanNotFound: typeof internal.SpanNotFound = internal.SpanNotFound

/**
 * @since 0.1.0
 * @category errors
 */
export type SpanNotFound = internal.SpanNotFound

/**
 * An OpenTelemetry tracer that keeps finished spans in memory. Each build of the layer has its own
 * exporter, so every test that provides it starts with no spans.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Testing } from "effect-loom"
 *
 * it.effect("records a span", () =>
 *   Effect.gen(function*() {
 *     yield* Effect.withSpan(Effect.void, "work")
 *     yield* Testing.findSpan("work")
 *   }).pipe(Effect.provide(Testing.layerSpans)))
 */
export const layerSpans: Layer.Layer<Spans> = internal.layerSpans

/**
 * The finished spans, ordered by start time; spans that started at the same instant (under `TestClock`)
 * keep the order in which they finished, which is execution order for sequential steps.
 *
 * @since 0.1.0
 * @category spans
 * @example
 * import { Testing } from "effect-loom"
 * import { Effect } from "effect"
 * const names = Effect.map(Testing.spans, (all) => all.map((span) => span.name))
 */
export const spans: Effect.Effect<ReadonlyArray<RecordedSpan>, never, Spans> = internal.spans

/**
 * Forgets the spans recorded so far (e.g. those of a warm-up run).
 *
 * @since 0.1.0
 * @category spans
 * @example
 * import { Testing } from "effect-loom"
 * const fresh = Testing.resetSpans
 */
export const resetSpans: Effect.Effect<void, never, Spans> = internal.resetSpans

/**
 * The first finished span named `name` whose attributes include `attributes`; fails with `SpanNotFound`
 * (listing the recorded names) when there is none.
 *
 * @since 0.1.0
 * @category spans
 * @example
 * import { Testing } from "effect-loom"
 * const leaf = Testing.findSpan("bulk-update/inventory-service", { "operation.kind": "leaf" })
 */
export const findSpan: (
  name: string,
  attributes?: Readonly<Record<string, unknown>>
) => Effect.Effect<RecordedSpan, SpanNotFound, Spans> = internal.findSpan

/**
 * Every finished span named `name` whose attributes include `attributes`, in `spans` order.
 *
 * @since 0.1.0
 * @category spans
 * @example
 * import { Testing } from "effect-loom"
 * const attempts = Testing.findSpans("charge-payment.forward")
 */
export const findSpans: (
  name: string,
  attributes?: Readonly<Record<string, unknown>>
) => Effect.Effect<ReadonlyArray<RecordedSpan>, never, Spans> = internal.findSpans

/**
 * The recorded parent of a span (`None` for a root, or when the parent was not recorded).
 *
 * @since 0.1.0
 * @category spans
 * @example
 * import { Testing } from "effect-loom"
 * import { Effect, Option } from "effect"
 * const parentName = Effect.flatMap(Testing.findSpan("child"), (span) =>
 *   Effect.map(Testing.parentOf(span), Option.map((parent) => parent.name)))
 */
export const parentOf: (span: RecordedSpan) => Effect.Effect<Option.Option<RecordedSpan>, never, Spans> =
  internal.parentOf

/**
 * The recorded children of a span, in `spans` order.
 *
 * @since 0.1.0
 * @category spans
 * @example
 * import { Testing } from "effect-loom"
 * import { Effect } from "effect"
 * const children = Effect.flatMap(Testing.findSpan("order"), Testing.childrenOf)
 */
export const childrenOf: (span: RecordedSpan) => Effect.Effect<ReadonlyArray<RecordedSpan>, never, Spans> =
  internal.childrenOf

/**
 * How `spanTree` labels a span: `status: true` appends ` [error]` to failed spans; `attributes` lists
 * attribute keys to show as ` {key=value, …}` when present.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { Testing } from "effect-loom"
 * const options: Testing.SpanTreeOptions = { status: true, attributes: ["saga.step"] }
 */
export interface SpanTreeOptions extends internal.SpanTreeOptions {}

/**
 * The recorded spans as an indented text tree (two spaces per level), roots and siblings in `spans`
 * order — compare it with a literal in a test.
 *
 * @since 0.1.0
 * @category spans
 * @example
 * import { Testing } from "effect-loom"
 * import { Effect } from "effect"
 * import { expect } from "vitest"
 *
 * const check = Effect.map(Testing.spanTree({ status: true }), (tree) =>
 *   expect(tree).toBe(["order", "  reserve.forward", "  charge.forward [error]"].join("\n")))
 */
export const spanTree: (options?: SpanTreeOptions) => Effect.Effect<string, never, Spans> = internal.spanTree

/**
 * Renders given spans (e.g. a filtered subset of `spans`) as `spanTree` does; spans whose parent is
 * not among them are roots.
 *
 * @since 0.1.0
 * @category spans
 * @example
 * import { Testing } from "effect-loom"
 * import { Effect } from "effect"
 * const sagaOnly = Effect.map(Testing.spans, (all) =>
 *   Testing.renderSpanTree(all.filter((span) => span.attributes["saga.name"] === "order")))
 */
export const renderSpanTree: (spans: ReadonlyArray<RecordedSpan>, options?: SpanTreeOptions) => string =
  internal.renderTree

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/**
 * The service behind `layerMetrics`: the registry's cumulative values when the layer was built.
 *
 * @since 0.1.0
 * @category services
 * @example
 * import { Testing } from "effect-loom"
 * import { Effect } from "effect"
 * const series = Effect.map(Testing.Metrics, (m) => m.baseline.size)
 */
export const Metrics: typeof internal.Metrics = internal.Metrics

/**
 * @since 0.1.0
 * @category services
 */
export type Metrics = internal.Metrics

/**
 * Reads Effect metrics (the global registry that the Telemetry layer bridges to OpenTelemetry) relative
 * to a baseline taken when the layer is built, so each test sees only what it recorded: counters,
 * histogram counts and sums, frequencies and summaries are deltas; gauges are current values.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { it } from "@effect/vitest"
 * import { Effect, Metric } from "effect"
 * import { Testing } from "effect-loom"
 *
 * const hits = Metric.counter("app.hits")
 * it.effect("counts", () =>
 *   Effect.gen(function*() {
 *     yield* Metric.increment(hits)
 *     if ((yield* Testing.metricValue("app.hits")) !== 1) yield* Effect.dieMessage("expected one hit")
 *   }).pipe(Effect.provide(Testing.layerMetrics)))
 */
export const layerMetrics: Layer.Layer<Metrics> = internal.layerMetrics

/**
 * The value of metric `name` summed over the series whose attributes (Effect metric tags) include
 * `attributes`: a counter's count, a gauge's value, the number of observations of a histogram, summary or
 * frequency — since `layerMetrics` was built. A metric never recorded reads `0`.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * import { Testing } from "effect-loom"
 * const compensations = Testing.metricValue("effect_loom.saga.compensations", { saga: "order" })
 */
export const metricValue: (
  name: string,
  attributes?: Readonly<Record<string, string>>
) => Effect.Effect<number, never, Metrics> = internal.metricValue

/**
 * Observation count and sum of a histogram (or summary) since `layerMetrics` was built, summed over the
 * series whose attributes include `attributes`.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import type { Testing } from "effect-loom"
 * const mean = (h: Testing.HistogramValue) => h.count === 0 ? 0 : h.sum / h.count
 */
export interface HistogramValue extends internal.HistogramValue {}

/**
 * Reads a histogram as `HistogramValue`.
 *
 * @since 0.1.0
 * @category metrics
 * @example
 * import { Testing } from "effect-loom"
 * const durations = Testing.histogramValue("effect_loom.saga.compensation.duration", { saga: "order" })
 */
export const histogramValue: (
  name: string,
  attributes?: Readonly<Record<string, string>>
) => Effect.Effect<HistogramValue, never, Metrics> = internal.histogramValue

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

/**
 * Where a fault applies: `"leaf"` an operation-tree leaf (named by its node path, e.g.
 * `"bulk-update/inventory-service"`, or by its last path segment), `"component"` a component call through
 * the entrypoint or the registry (named by its service name), `"activity"` a workflow activity (by its
 * name), `"step"` a saga step's forward effect (by its name).
 *
 * @since 0.1.0
 * @category faults
 * @example
 * import type { Testing } from "effect-loom"
 * const target: Testing.FaultTarget = "component"
 */
export type FaultTarget = internalFaults.FaultTarget

/**
 * One configured fault; build it with `failTimes`, `failWith`, `die` or `latency`.
 *
 * @since 0.1.0
 * @category faults
 * @example
 * import { Testing } from "effect-loom"
 * const fault: Testing.Fault = Testing.failTimes("activity", "charge", 2)
 */
export interface Fault extends internalFaults.Fault {}

/**
 * The `Context.Reference` that call sites read; `faults` provides it. Its default injects nothing and
 * costs nothing.
 *
 * @since 0.1.0
 * @category faults
 * @example
 * import { Testing } from "effect-loom"
 * import { Effect } from "effect"
 * const enabled = Effect.map(Testing.Faults, (f) => f.active)
 */
export const Faults: typeof internalFaults.Faults = internalFaults.Faults

/**
 * @since 0.1.0
 * @category faults
 */
export type Faults = internalFaults.Faults

/**
 * The failure an injected fault raises when the test gives no error of its own. It travels in the
 * target's error channel although the target's type does not declare it (a test-only liberty).
 *
 * @since 0.1.0
 * @category faults
 * @example
 * import { Testing } from "effect-loom"
 * const isInjected = (e: unknown) => e instanceof Testing.FaultInjected
 */
export const FaultInjected: typeof internalFaults.FaultInjected = internalFaults.FaultInjected

/**
 * @since 0.1.0
 * @category faults
 */
export type FaultInjected = internalFaults.FaultInjected

/**
 * The layer that injects `faults`. Rules apply in order: latencies add up (sleeping with
 * `Effect.sleep`, so `TestClock` drives them), then the first failing rule still due fails the attempt.
 * Attempts are counted per rule and per target name, from the layer's build (each test that provides
 * the layer starts from zero).
 *
 * @since 0.1.0
 * @category faults
 * @example
 * import { Effect } from "effect"
 * import { Testing } from "effect-loom"
 *
 * const flaky = Testing.faults([
 *   Testing.failTimes("component", "payment", 2),
 *   Testing.latency("activity", "ship", "2 seconds")
 * ])
 * const test = (program: Effect.Effect<void>) => Effect.provide(program, flaky)
 */
export const faults: (faults: ReadonlyArray<Fault>) => Layer.Layer<Faults> = internal.layerFaults

/**
 * Fails the first `times` attempts of the target, then lets it run. The failure is `error` (typed by
 * you: give a value of the target's error type so its handlers and schemas recognise it) or, when
 * omitted, a `FaultInjected`.
 *
 * @since 0.1.0
 * @category faults
 * @example
 * import { Testing } from "effect-loom"
 * // the "charge" activity fails twice, then succeeds (its retry schedule sees both failures)
 * const flaky = Testing.failTimes("activity", "charge", 2)
 */
export const failTimes: <E = FaultInjected>(
  target: FaultTarget,
  name: string,
  times: number,
  error?: E
) => Fault = internal.failTimes

/**
 * Fails every attempt of the target with `error` (or only the first `times` attempts when given).
 *
 * @since 0.1.0
 * @category faults
 * @example
 * import { Data } from "effect"
 * import { Testing } from "effect-loom"
 * class UserNotFound extends Data.TaggedError("UserNotFound")<{ readonly id: string }> {}
 * const missing = Testing.failWith("component", "user", new UserNotFound({ id: "u-1" }))
 */
export const failWith: <E>(target: FaultTarget, name: string, error: E, times?: number) => Fault = internal.failWith

/**
 * Makes every attempt of the target die with `defect` (default a `FaultInjected`), or only the first
 * `times` attempts when given. Defects are not retried by typed-error policies.
 *
 * @since 0.1.0
 * @category faults
 * @example
 * import { Testing } from "effect-loom"
 * const crash = Testing.die("leaf", "bulk-update/inventory-service", new Error("segfault"))
 */
export const die: (target: FaultTarget, name: string, defect?: unknown, times?: number) => Fault = internal.die

/**
 * Delays every attempt of the target by `duration` (or only the first `times` attempts), with
 * `Effect.sleep`: under `TestClock` the attempt waits until the test adjusts the clock, which makes
 * timeouts and slow dependencies testable in milliseconds.
 *
 * @since 0.1.0
 * @category faults
 * @example
 * import { Testing } from "effect-loom"
 * const slow = Testing.latency("activity", "charge", "2 seconds")
 */
export const latency: (
  target: FaultTarget,
  name: string,
  duration: Duration.DurationInput,
  times?: number
) => Fault = internal.latency

/**
 * Makes a fault apply to each attempt with probability `probability` (0..1), decided by a generator
 * seeded with `seed` so that a test run is reproducible. Attempts it skips do not count toward `times`.
 *
 * @since 0.1.0
 * @category faults
 * @example
 * import { Testing } from "effect-loom"
 * const sometimes = Testing.withProbability(Testing.failWith("component", "search", "busy"), 0.2, 42)
 */
export const withProbability: (fault: Fault, probability: number, seed: string | number) => Fault =
  internal.withProbability

// ---------------------------------------------------------------------------
// Workflows
// ---------------------------------------------------------------------------

/**
 * The workflow engine on fresh in-memory storage, with `workflows` (their `Workflow.toLayer` layers)
 * registered; provides both the engine and the storage (to inspect records). Durable timers sleep on the
 * Effect `Clock`, so in `it.effect` they fire when the test calls `TestClock.adjust`.
 *
 * @since 0.1.0
 * @category workflows
 * @example
 * import { it } from "@effect/vitest"
 * import { Effect, Layer, Schema, TestClock } from "effect"
 * import { Testing, Workflow, WorkflowEngine } from "effect-loom"
 *
 * const Reminder = Workflow.make({ name: "Reminder", payload: Schema.String, success: Schema.String })
 * const ReminderLive = Reminder.toLayer((text) => Effect.as(Workflow.sleep("24 hours"), text))
 *
 * it.effect("reminds after a day", () =>
 *   Effect.gen(function*() {
 *     yield* WorkflowEngine.start(Reminder, { id: "r-1", payload: "call Ada" })
 *     yield* Testing.awaitTimer("r-1")
 *     yield* TestClock.adjust("24 hours")
 *     yield* WorkflowEngine.result(Reminder, "r-1")
 *   }).pipe(Effect.provide(Testing.layerWorkflows(ReminderLive))))
 */
export const layerWorkflows: <E, R>(
  workflows: Layer.Layer<never, E, R>,
  options?: WorkflowEngine.Options
) => Layer.Layer<
  WorkflowEngine.WorkflowEngine | WorkflowStorage.WorkflowStorage,
  E | WorkflowConfigInvalid,
  Exclude<Exclude<R, WorkflowEngine.WorkflowEngine>, WorkflowStorage.WorkflowStorage>
> = internal.layerWorkflows

/**
 * The workflow did not reach the awaited state within the allowed real time; `message` says what its
 * record showed last.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * import { Testing } from "effect-loom"
 * const error = new Testing.WorkflowNotReached({ id: "r-1", expected: "a durable timer", last: undefined })
 */
export const WorkflowNotReached: typeof internal.WorkflowNotReached = internal.WorkflowNotReached

/**
 * @since 0.1.0
 * @category errors
 */
export type WorkflowNotReached = internal.WorkflowNotReached

/**
 * Waits until the workflow's stored record satisfies `until` (polling in real time, up to `within`,
 * default 5 seconds, whatever the test clock says) and returns the record.
 *
 * @since 0.1.0
 * @category workflows
 * @example
 * import { Testing } from "effect-loom"
 * const done = Testing.awaitWorkflow("order-1", (record) => record.status === "completed")
 */
export const awaitWorkflow: (
  id: string,
  until: (record: WorkflowStorage.WorkflowRecord) => boolean,
  options?: { readonly within?: Duration.DurationInput | undefined }
) => Effect.Effect<WorkflowStorage.WorkflowRecord, WorkflowNotReached, WorkflowEngine.WorkflowEngine> =
  internal.awaitWorkflow

/**
 * Waits until the workflow waits on a durable timer and returns it (`until` is in Clock milliseconds):
 * the moment to `TestClock.adjust`.
 *
 * @since 0.1.0
 * @category workflows
 * @example
 * import { Testing } from "effect-loom"
 * import { Effect, TestClock } from "effect"
 * const fireTimer = Effect.zipRight(Testing.awaitTimer("approval-1"), TestClock.adjust("24 hours"))
 */
export const awaitTimer: (
  id: string
) => Effect.Effect<{ readonly step: string; readonly until: number }, WorkflowNotReached, WorkflowEngine.WorkflowEngine> =
  internal.awaitTimer

/**
 * Waits until the workflow waits for an external event and returns which.
 *
 * @since 0.1.0
 * @category workflows
 * @example
 * import { Testing } from "effect-loom"
 * const awaiting = Testing.awaitEvent("approval-1")
 */
export const awaitEvent: (
  id: string
) => Effect.Effect<{ readonly step: string; readonly event: string }, WorkflowNotReached, WorkflowEngine.WorkflowEngine> =
  internal.awaitEvent
