import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as Resource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import { SpanStatusCode } from "@opentelemetry/api"
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as WorkflowEngine from "../WorkflowEngine.js"
import type { WorkflowConfigInvalid } from "../WorkflowError.js"
import * as WorkflowStorage from "../WorkflowStorage.js"
import * as faults from "./faults.js"
import { layerTracer } from "./leafSpans.js"

// ---------------------------------------------------------------------------
// Spans
// ---------------------------------------------------------------------------

/** @internal */
export interface RecordedSpan {
  readonly name: string
  readonly spanId: string
  readonly traceId: string
  readonly parentSpanId: string | undefined
  readonly attributes: Readonly<Record<string, unknown>>
  readonly failed: boolean
  readonly statusMessage: string | undefined
  readonly startNanos: bigint
  readonly endNanos: bigint
}

/** @internal */
export interface SpansService {
  readonly finished: Effect.Effect<ReadonlyArray<RecordedSpan>>
  readonly reset: Effect.Effect<void>
}

/** @internal */
export class Spans extends Context.Tag("effect-loom/Testing/Spans")<Spans, SpansService>() {}

/** @internal */
export class SpanNotFound extends Data.TaggedError("SpanNotFound")<{
  readonly name: string
  readonly recorded: ReadonlyArray<string>
}> {
  override get message(): string {
    return `no finished span named "${this.name}"; recorded: ${
      this.recorded.length === 0 ? "(none)" : this.recorded.map((n) => `"${n}"`).join(", ")
    }`
  }
}

const nanos = (time: readonly [number, number]): bigint => BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])

const record = (span: ReadableSpan): RecordedSpan => ({
  name: span.name,
  spanId: span.spanContext().spanId,
  traceId: span.spanContext().traceId,
  parentSpanId: span.parentSpanContext?.spanId,
  attributes: { ...span.attributes },
  failed: span.status.code === SpanStatusCode.ERROR,
  statusMessage: span.status.message,
  startNanos: nanos(span.startTime),
  endNanos: nanos(span.endTime)
})

/**
 * Spans by start time; spans that started at the same instant (always the case under `TestClock`) keep the
 * order in which they finished, which is execution order for sequential siblings.
 */
const ordered = (spans: ReadonlyArray<ReadableSpan>): ReadonlyArray<RecordedSpan> =>
  spans
    .map((span, index) => ({ span: record(span), index }))
    .sort((a, b) =>
      a.span.startNanos < b.span.startNanos ? -1 : a.span.startNanos > b.span.startNanos ? 1 : a.index - b.index
    )
    .map(({ span }) => span)

/** @internal */
export const layerSpans: Layer.Layer<Spans> = Layer.unwrapEffect(Effect.sync(() => {
  const exporter = new InMemorySpanExporter()
  const processor = new SimpleSpanProcessor(exporter)
  const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() })
  const sdk = layerTracer(processor, sampler).pipe(
    Layer.provide(OtelTracer.layerTracer),
    Layer.provide(NodeSdk.layerTracerProvider(processor, { sampler })),
    Layer.provide(Resource.layer({ serviceName: "effect-loom-test" }))
  )
  const service: SpansService = {
    finished: Effect.sync(() => ordered(exporter.getFinishedSpans())),
    reset: Effect.sync(() => exporter.reset())
  }
  return Layer.merge(Layer.succeed(Spans, service), Layer.discard(sdk))
}))

/** @internal */
export const spans: Effect.Effect<ReadonlyArray<RecordedSpan>, never, Spans> = Effect.flatMap(Spans, (s) => s.finished)

/** @internal */
export const resetSpans: Effect.Effect<void, never, Spans> = Effect.flatMap(Spans, (s) => s.reset)

const hasAttributes = (span: RecordedSpan, attributes: Readonly<Record<string, unknown>> | undefined): boolean =>
  attributes === undefined || Object.entries(attributes).every(([key, value]) => span.attributes[key] === value)

/** @internal */
export const findSpans = (
  name: string,
  attributes?: Readonly<Record<string, unknown>>
): Effect.Effect<ReadonlyArray<RecordedSpan>, never, Spans> =>
  Effect.map(spans, (all) => all.filter((span) => span.name === name && hasAttributes(span, attributes)))

/** @internal */
export const findSpan = (
  name: string,
  attributes?: Readonly<Record<string, unknown>>
): Effect.Effect<RecordedSpan, SpanNotFound, Spans> =>
  Effect.flatMap(spans, (all) => {
    const found = all.find((span) => span.name === name && hasAttributes(span, attributes))
    return found === undefined
      ? Effect.fail(new SpanNotFound({ name, recorded: [...new Set(all.map((span) => span.name))] }))
      : Effect.succeed(found)
  })

/** @internal */
export const parentOf = (span: RecordedSpan): Effect.Effect<Option.Option<RecordedSpan>, never, Spans> =>
  Effect.map(spans, (all) =>
    Option.fromNullable(span.parentSpanId === undefined ? undefined : all.find((s) => s.spanId === span.parentSpanId)))

/** @internal */
export const childrenOf = (span: RecordedSpan): Effect.Effect<ReadonlyArray<RecordedSpan>, never, Spans> =>
  Effect.map(spans, (all) => all.filter((s) => s.parentSpanId === span.spanId))

/** @internal */
export interface SpanTreeOptions {
  readonly status?: boolean | undefined
  readonly attributes?: ReadonlyArray<string> | undefined
}

const label = (span: RecordedSpan, options: SpanTreeOptions): string => {
  const shown = (options.attributes ?? [])
    .filter((key) => span.attributes[key] !== undefined)
    .map((key) => `${key}=${String(span.attributes[key])}`)
  return span.name +
    (shown.length === 0 ? "" : ` {${shown.join(", ")}}`) +
    (options.status === true && span.failed ? " [error]" : "")
}

/** @internal */
export const renderTree = (all: ReadonlyArray<RecordedSpan>, options: SpanTreeOptions = {}): string => {
  const ids = new Set(all.map((span) => span.spanId))
  const children = new Map<string, Array<RecordedSpan>>()
  const roots: Array<RecordedSpan> = []
  for (const span of all) {
    if (span.parentSpanId === undefined || !ids.has(span.parentSpanId)) {
      roots.push(span)
    } else {
      const siblings = children.get(span.parentSpanId)
      if (siblings === undefined) children.set(span.parentSpanId, [span])
      else siblings.push(span)
    }
  }
  const lines: Array<string> = []
  const visit = (span: RecordedSpan, depth: number): void => {
    lines.push(`${"  ".repeat(depth)}${label(span, options)}`)
    for (const child of children.get(span.spanId) ?? []) visit(child, depth + 1)
  }
  for (const root of roots) visit(root, 0)
  return lines.join("\n")
}

/** @internal */
export const spanTree = (options?: SpanTreeOptions): Effect.Effect<string, never, Spans> =>
  Effect.map(spans, (all) => renderTree(all, options))

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/** @internal */
export interface HistogramValue {
  readonly count: number
  readonly sum: number
}

interface Series {
  readonly name: string
  readonly tags: Readonly<Record<string, string>>
  /** Counter count, gauge value, observation count of histograms / summaries / frequencies. */
  readonly value: number
  readonly sum: number
  readonly cumulative: boolean
}

const seriesKey = (name: string, tags: Readonly<Record<string, string>>): string =>
  `${name}|${Object.keys(tags).sort().map((key) => `${key}=${tags[key]}`).join(",")}`

const toSeries = (pair: MetricPair.MetricPair.Untyped): Series => {
  const name = pair.metricKey.name
  const tags: Record<string, string> = {}
  for (const tag of pair.metricKey.tags) tags[tag.key] = tag.value
  const state: unknown = pair.metricState
  if (MetricState.isCounterState(state)) return { name, tags, value: Number(state.count), sum: 0, cumulative: true }
  if (MetricState.isGaugeState(state)) return { name, tags, value: Number(state.value), sum: 0, cumulative: false }
  if (MetricState.isHistogramState(state) || MetricState.isSummaryState(state)) {
    return { name, tags, value: state.count, sum: state.sum, cumulative: true }
  }
  if (MetricState.isFrequencyState(state)) {
    let total = 0
    for (const n of state.occurrences.values()) total += n
    return { name, tags, value: total, sum: 0, cumulative: true }
  }
  return { name, tags, value: 0, sum: 0, cumulative: false }
}

const snapshot: Effect.Effect<ReadonlyArray<Series>> = Effect.map(Metric.snapshot, (pairs) => pairs.map(toSeries))

/** @internal */
export interface MetricsService {
  /** Cumulative series at the time the layer was built, by name and tags. */
  readonly baseline: ReadonlyMap<string, Series>
}

/** @internal */
export class Metrics extends Context.Tag("effect-loom/Testing/Metrics")<Metrics, MetricsService>() {}

/** @internal */
export const layerMetrics: Layer.Layer<Metrics> = Layer.effect(
  Metrics,
  Effect.map(snapshot, (all) => ({
    baseline: new Map(all.filter((s) => s.cumulative).map((s) => [seriesKey(s.name, s.tags), s]))
  }))
)

const matching = (
  name: string,
  attributes: Readonly<Record<string, string>> | undefined
): Effect.Effect<ReadonlyArray<{ readonly value: number; readonly sum: number }>, never, Metrics> =>
  Effect.flatMap(Metrics, ({ baseline }) =>
    Effect.map(snapshot, (all) =>
      all
        .filter((s) =>
          s.name === name &&
          (attributes === undefined || Object.entries(attributes).every(([key, value]) => s.tags[key] === value))
        )
        .map((s) => {
          const before = s.cumulative ? baseline.get(seriesKey(s.name, s.tags)) : undefined
          return before === undefined ? s : { value: s.value - before.value, sum: s.sum - before.sum }
        })))

/** @internal */
export const metricValue = (
  name: string,
  attributes?: Readonly<Record<string, string>>
): Effect.Effect<number, never, Metrics> =>
  Effect.map(matching(name, attributes), (series) => series.reduce((total, s) => total + s.value, 0))

/** @internal */
export const histogramValue = (
  name: string,
  attributes?: Readonly<Record<string, string>>
): Effect.Effect<HistogramValue, never, Metrics> =>
  Effect.map(
    matching(name, attributes),
    (series) => series.reduce((total, s) => ({ count: total.count + s.value, sum: total.sum + s.sum }), { count: 0, sum: 0 })
  )

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

/** @internal */
export const layerFaults = (list: ReadonlyArray<faults.Fault>): Layer.Layer<faults.Faults> =>
  Layer.sync(faults.Faults, () => faults.make(list))

const times = (n: number | undefined): number => n === undefined ? Infinity : Math.max(0, Math.floor(n))

/** @internal */
export const failTimes = (target: faults.FaultTarget, name: string, n: number, error?: unknown): faults.Fault => ({
  target,
  name,
  action: faults.FaultAction.Fail({ error, times: times(n) })
})

/** @internal */
export const failWith = (target: faults.FaultTarget, name: string, error: unknown, n?: number): faults.Fault => ({
  target,
  name,
  action: faults.FaultAction.Fail({ error, times: times(n) })
})

/** @internal */
export const die = (target: faults.FaultTarget, name: string, defect?: unknown, n?: number): faults.Fault => ({
  target,
  name,
  action: faults.FaultAction.Die({ defect, times: times(n) })
})

/** @internal */
export const latency = (
  target: faults.FaultTarget,
  name: string,
  duration: Duration.DurationInput,
  n?: number
): faults.Fault => ({
  target,
  name,
  action: faults.FaultAction.Delay({ duration: Duration.decode(duration), times: times(n) })
})

/** @internal */
export const withProbability = (fault: faults.Fault, probability: number, seed: string | number): faults.Fault => ({
  ...fault,
  probability: Math.min(1, Math.max(0, probability)),
  seed
})

// ---------------------------------------------------------------------------
// Workflows
// ---------------------------------------------------------------------------

/** @internal */
export const layerWorkflows = <E, R>(
  workflows: Layer.Layer<never, E, R>,
  options: WorkflowEngine.Options = {}
): Layer.Layer<
  WorkflowEngine.WorkflowEngine | WorkflowStorage.WorkflowStorage,
  E | WorkflowConfigInvalid,
  Exclude<Exclude<R, WorkflowEngine.WorkflowEngine>, WorkflowStorage.WorkflowStorage>
> =>
  Layer.fresh(
    workflows.pipe(
      Layer.provideMerge(WorkflowEngine.layer(options)),
      Layer.provideMerge(WorkflowStorage.layerMemory)
    )
  )

/** @internal */
export class WorkflowNotReached extends Data.TaggedError("WorkflowNotReached")<{
  readonly id: string
  readonly expected: string
  readonly last: WorkflowStorage.WorkflowRecord | undefined
}> {
  override get message(): string {
    const last = this.last === undefined
      ? "it was never stored"
      : `it was ${this.last.status}${this.last.waiting === null ? "" : ` waiting on ${this.last.waiting._tag}`}`
    return `workflow "${this.id}" did not reach ${this.expected} in time; ${last}`
  }
}

const live = Clock.make()

const poll = <A>(
  id: string,
  extract: (record: WorkflowStorage.WorkflowRecord) => A | undefined,
  expected: string,
  within: Duration.DurationInput | undefined
): Effect.Effect<A, WorkflowNotReached, WorkflowEngine.WorkflowEngine> =>
  Effect.flatMap(WorkflowEngine.WorkflowEngine, (engine) =>
    Effect.gen(function*() {
      const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(within ?? "5 seconds")
      let last: WorkflowStorage.WorkflowRecord | undefined
      while (true) {
        const status = yield* Effect.either(engine.status(id))
        if (Either.isRight(status)) {
          last = status.right
          const found = extract(last)
          if (found !== undefined) return found
        }
        if ((yield* Clock.currentTimeMillis) >= deadline) {
          return yield* new WorkflowNotReached({ id, expected, last })
        }
        yield* Effect.sleep("2 millis")
      }
    }).pipe(Effect.withClock(live)))

/** @internal */
export const awaitWorkflow = (
  id: string,
  until: (record: WorkflowStorage.WorkflowRecord) => boolean,
  options: { readonly within?: Duration.DurationInput | undefined } = {}
): Effect.Effect<WorkflowStorage.WorkflowRecord, WorkflowNotReached, WorkflowEngine.WorkflowEngine> =>
  poll(id, (record) => until(record) ? record : undefined, "the expected state", options.within)

/** @internal */
export const awaitTimer = (
  id: string
): Effect.Effect<{ readonly step: string; readonly until: number }, WorkflowNotReached, WorkflowEngine.WorkflowEngine> =>
  poll(id, (record) => record.waiting?._tag === "Timer" ? record.waiting : undefined, "a durable timer", undefined)

/** @internal */
export const awaitEvent = (
  id: string
): Effect.Effect<{ readonly step: string; readonly event: string }, WorkflowNotReached, WorkflowEngine.WorkflowEngine> =>
  poll(id, (record) => record.waiting?._tag === "Event" ? record.waiting : undefined, "an event wait", undefined)
