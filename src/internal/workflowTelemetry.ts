/**
 * Spans and metrics of durable workflows.
 *
 * Spans are only made when a tracer other than Effect's built-in one is installed (e.g. the
 * OpenTelemetry layer), so a program without tracing pays one tracer lookup per run and per activity.
 * A run's span is `workflow <name>`; activities (`activity <name>`) and durable waits
 * (`workflow.sleep <name>`, `workflow.event <name>`) are its children. The first execution of a run
 * journals its span's trace and span ids under the key `trace` (kind `trace`); an execution that
 * resumes the run (after a crash or a restart) links its span to that first span.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type { WorkflowStatus } from "../WorkflowStorage.js"
import * as ctx from "./workflowContext.js"

/** The tracer of a program that installed none: spans would be built and dropped. */
const nativeTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/** `traced` when a real tracer is installed, else `plain`. @internal */
export const ifTracing = <A, E, R>(
  plain: Effect.Effect<A, E, R>,
  traced: () => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.tracerWith((tracer) => tracer === nativeTracer ? plain : traced())

// ---------------------------------------------------------------------------------------------------
// Metrics

/** @internal */
export const workflowStarts = Metric.counter("effect_loom.workflow.starts", {
  description: "Workflows started (a repeated start of an existing workflow id is not counted)",
  incremental: true
})

/** @internal */
export const workflowCompletions = Metric.counter("effect_loom.workflow.completions", {
  description: "Workflows that completed successfully",
  incremental: true
})

/** @internal */
export const workflowFailures = Metric.counter("effect_loom.workflow.failures", {
  description: "Workflows that failed (their error, a defect or non-determinism)",
  incremental: true
})

/** @internal */
export const activityDuration = Metric.histogram(
  "effect_loom.activity.duration",
  MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 20 }),
  "Duration of activity executions (all attempts of one execution), in seconds"
)

/** @internal */
export const queueDepth = Metric.gauge("effect_loom.workflow.queue_depth", {
  description: "Runnable workflows (pending or running) in storage at the engine's last poll"
})

/**
 * Label arrays reused per label values: a metric caches its registry entry per label array identity,
 * so an update with a reused array costs a map lookup instead of hashing a new metric key (≈ 1 µs
 * instead of ≈ 15 µs per update). Bounded: cleared when it grows past `MAX_LABEL_SETS`.
 */
const labelSets = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
const MAX_LABEL_SETS = 10_000

const labels = (key1: string, value1: string, key2?: string, value2?: string): ReadonlyArray<MetricLabel.MetricLabel> => {
  const id = key2 === undefined ? `${key1}\u0000${value1}` : `${key1}\u0000${value1}\u0000${key2}\u0000${value2}`
  let set = labelSets.get(id)
  if (set === undefined) {
    if (labelSets.size >= MAX_LABEL_SETS) labelSets.clear()
    set = key2 === undefined
      ? [MetricLabel.make(key1, value1)]
      : [MetricLabel.make(key1, value1), MetricLabel.make(key2, value2 ?? "")]
    labelSets.set(id, set)
  }
  return set
}

/** @internal */
export const countStart = (name: string): Effect.Effect<void> =>
  Effect.sync(() => workflowStarts.unsafeUpdate(1, labels("workflow.name", name)))

/** @internal */
export const countEnd = (name: string, status: WorkflowStatus): Effect.Effect<void> =>
  status === "completed"
    ? Effect.sync(() => workflowCompletions.unsafeUpdate(1, labels("workflow.name", name)))
    : status === "failed"
    ? Effect.sync(() => workflowFailures.unsafeUpdate(1, labels("workflow.name", name)))
    : Effect.void

/** @internal */
export const setQueueDepth = (records: ReadonlyArray<{ readonly status: WorkflowStatus }>): Effect.Effect<void> =>
  Effect.suspend(() => {
    let n = 0
    for (const r of records) if (r.status === "pending" || r.status === "running") n++
    return Metric.set(queueDepth, n)
  })

// ---------------------------------------------------------------------------------------------------
// Spans

const TRACE_KEY = "trace"

interface TraceIds {
  readonly traceId: string
  readonly spanId: string
}

const traceIds = (json: string): TraceIds | undefined => {
  try {
    const value = (JSON.parse(json) as { readonly value?: Partial<TraceIds> }).value
    return typeof value?.traceId === "string" && typeof value.spanId === "string"
      ? { traceId: value.traceId, spanId: value.spanId }
      : undefined
  } catch {
    return undefined
  }
}

/** Journals the current span's ids as the run's first trace (not for a span the sampler dropped). */
const persistTrace = (exec: ctx.Execution): Effect.Effect<void> =>
  Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
    Option.isNone(span) || !span.value.sampled
      ? Effect.void
      : ctx.record(
        exec,
        TRACE_KEY,
        TRACE_KEY,
        TRACE_KEY,
        JSON.stringify({ _tag: "Success", value: { traceId: span.value.traceId, spanId: span.value.spanId } })
      ))

/** The trace ids the run before `exec`'s journaled (a run that continued as new); none if it journaled none. */
const previousRunTrace = (exec: ctx.Execution): Effect.Effect<TraceIds | undefined> =>
  exec.run < 1 ? Effect.succeed(undefined) : exec.storage.journal(exec.workflowId, exec.run - 1).pipe(
    Effect.map((entries) => {
      const entry = entries.find((e) => e.key === TRACE_KEY)
      return entry === undefined ? undefined : traceIds(entry.exit)
    }),
    // a link is worth no failure of the run
    Effect.orElseSucceed(() => undefined)
  )

const link = (ids: TraceIds, kind: string): Tracer.SpanLink => ({
  _tag: "SpanLink",
  span: Tracer.externalSpan({ traceId: ids.traceId, spanId: ids.spanId }),
  attributes: { "workflow.link": kind }
})

/**
 * The span of one execution of a workflow run. It links to the run's first execution when resuming, and
 * the first execution of a run that continued an earlier one as new links to that run's first execution.
 *
 * @internal
 */
export const withRunSpan = (name: string) => <A, E, R>(body: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  ifTracing(body, () =>
    Effect.withFiberRuntime<A, E, R>((fiber) => {
      const exec = fiber.getFiberRef(ctx.currentExecution)
      if (exec === null) return body
      const recorded = exec.journal.get(TRACE_KEY)
      const first = recorded === undefined ? undefined : traceIds(recorded.exit)
      const previous = recorded === undefined ? previousRunTrace(exec) : Effect.succeed(undefined)
      return Effect.flatMap(previous, (before) => {
        const links: Array<Tracer.SpanLink> = []
        if (first !== undefined) links.push(link(first, "first-execution"))
        if (before !== undefined) links.push(link(before, "previous-run"))
        return Effect.withSpan(recorded === undefined ? Effect.zipRight(persistTrace(exec), body) : body, `workflow ${name}`, {
          attributes: {
            "workflow.id": exec.workflowId,
            "workflow.name": name,
            "workflow.run": exec.run,
            "workflow.resumed": exec.journal.size > 0,
            "workflow.journal_entries": exec.journal.size
          },
          links
        })
      })
    }))

/**
 * One live execution of an activity: its duration (all attempts) in `effect_loom.activity.duration`
 * and, when tracing, an `activity <name>` span with the number of the last attempt.
 *
 * @internal
 */
export const observeActivity = <A, E, R>(
  name: string,
  exec: ctx.Execution,
  key: string,
  attempts: () => number,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  const measured = Effect.flatMap(Effect.timed(Effect.exit(self)), ([duration, exit]) => {
    if (Exit.isFailure(exit) && exit.cause._tag === "Interrupt") return exit
    const outcome = Exit.isSuccess(exit) ? "success" : "failure"
    activityDuration.unsafeUpdate(Duration.toSeconds(duration), labels("activity.name", name, "outcome", outcome))
    return exit
  })
  return ifTracing(measured, () =>
    Effect.withSpan(
      Effect.ensuring(measured, Effect.suspend(() => Effect.annotateCurrentSpan("activity.attempt", attempts()))),
      `activity ${name}`,
      { attributes: { "activity.name": name, "workflow.id": exec.workflowId, "workflow.step": key } }
    ))
}

/** A durable wait (`sleep`, `event`) as a short span while it waits. @internal */
export const waitSpan = (kind: "sleep" | "event", name: string, key: string) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  ifTracing(self, () =>
    Effect.withSpan(self, `workflow.${kind} ${name}`, { attributes: { "workflow.step": key, [`workflow.${kind}`]: name } }))
