/**
 * Cheap spans for operation-tree leaves, when the OpenTelemetry tracer is ours (`Telemetry`, `Testing`).
 *
 * Effect's `withSpan` costs several times a no-op leaf: the span machinery, two changes of the fiber's
 * context (each copies the fiber's references) and the OpenTelemetry SDK's span object. A tree of 100,000
 * leaves with a span each ran ≈ 12× slower than without. Span slots (`spanSlot.ts`) remove the context
 * changes; this module removes the rest:
 *
 * - **Leaf span records.** A leaf's span is a small object that becomes an OpenTelemetry `ReadableSpan` when
 *   it ends and is handed to the same span processor (batch or simple) as every other span, with the same
 *   resource and instrumentation scope; its status, exception event and attributes follow
 *   `@effect/opentelemetry`'s mapping. It is sampled as its parent is under the parent-based samplers, and
 *   by the configured sampler otherwise. (It skips the SDK's span limits and its own self-metrics.)
 * - **The tracer** (`layerTracer`): `@effect/opentelemetry`'s, with slots resolved to the span they point
 *   at, paired with the leaf span factory for the same processor.
 *
 * Any other tracer (Effect's built-in one, a user's) gets the ordinary `Effect.useSpan` path.
 *
 * @internal
 */
import * as OtelResource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import {
  type Attributes,
  type AttributeValue,
  context as otelContext,
  createContextKey,
  type HrTime,
  type Link,
  ROOT_CONTEXT,
  SamplingDecision,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace as otelTrace,
  TraceFlags
} from "@opentelemetry/api"
import {
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  type SpanProcessor,
  type TimedEvent
} from "@opentelemetry/sdk-trace-base"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { randomFillSync } from "node:crypto"
import { type LeafSpanFactory, LeafSpanFactoryRef, resolveLinks, resolveSpan, SpanSlot } from "./spanSlot.js"

// --- leaf spans ------------------------------------------------------------------------------------------

const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))
const pool = new Uint8Array(8 * 1024)
let poolAt = pool.length

/** 8 random bytes as 16 hex digits, never all zero (an invalid span id). */
const randomSpanId = (): string => {
  for (;;) {
    if (poolAt + 8 > pool.length) {
      randomFillSync(pool)
      poolAt = 0
    }
    let id = ""
    let zero = true
    for (let i = 0; i < 8; i++) {
      const byte = pool[poolAt++]!
      if (byte !== 0) zero = false
      id += hex[byte]
    }
    if (!zero) return id
  }
}

const billion = BigInt(1_000_000_000)
const hrTime = (nanos: bigint): HrTime => [Number(nanos / billion), Number(nanos % billion)]

/** As `@effect/opentelemetry` converts attribute values. */
const attributeValue = (value: unknown): AttributeValue =>
  typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? value
    : typeof value === "bigint"
    ? value.toString()
    : Inspectable.toStringUnknown(value)

const toAttributes = (record: Readonly<Record<string, unknown>>): Attributes => {
  const attributes: Attributes = {}
  for (const key of Object.keys(record)) attributes[key] = attributeValue(record[key])
  return attributes
}

const spanContextOf = (span: Tracer.AnySpan): SpanContext => ({
  traceId: span.traceId,
  spanId: span.spanId,
  traceFlags: span.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE
})

/** Where finished leaf spans go, and how they are sampled. */
interface Sink {
  readonly processor: SpanProcessor
  readonly resource: ReadableSpan["resource"]
  readonly scope: ReadableSpan["instrumentationScope"]
  readonly sample: (parent: Tracer.AnySpan, traceId: string, name: string) => boolean
}

/**
 * The span of an operation-tree leaf: named by the leaf's path, with the attributes `operation.path` and
 * `operation.kind` (`leaf`) of every node span.
 *
 * @internal
 */
export class LeafSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly kind = "internal"
  readonly context = Context.empty()
  private id: string | undefined = undefined
  readonly traceId: string
  readonly sampled: boolean
  /** The span's times and exit, kept as fields: its `status` object is made only when read. */
  readonly startTime: bigint
  endTime: bigint | undefined = undefined
  exit: Exit.Exit<unknown, unknown> | undefined = undefined
  /** Attributes beyond the two every leaf span has; most leaves have none. */
  extra: Map<string, unknown> | undefined = undefined
  private linked: Array<Tracer.SpanLink> | undefined
  events: Array<TimedEvent> | undefined = undefined
  constructor(
    readonly sink: Sink,
    readonly name: string,
    readonly parentSpan: Tracer.AnySpan,
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint
  ) {
    this.traceId = parentSpan.traceId
    this.linked = links.length === 0 ? undefined : links.slice()
    this.startTime = startTime
    this.sampled = sink.sample(parentSpan, this.traceId, name)
  }
  /** Made when first read: most spans of a burst are dropped by a full batch queue before anyone reads it. */
  get spanId(): string {
    return this.id ??= randomSpanId()
  }
  get links(): ReadonlyArray<Tracer.SpanLink> {
    return this.linked ?? []
  }
  get status(): Tracer.SpanStatus {
    return this.endTime === undefined || this.exit === undefined
      ? { _tag: "Started", startTime: this.startTime }
      : { _tag: "Ended", startTime: this.startTime, endTime: this.endTime, exit: this.exit }
  }
  get parent(): Option.Option<Tracer.AnySpan> {
    return Option.some(this.parentSpan)
  }
  get attributes(): ReadonlyMap<string, unknown> {
    const attributes = new Map<string, unknown>([["operation.path", this.name], ["operation.kind", "leaf"]])
    if (this.extra !== undefined) for (const [key, value] of this.extra) attributes.set(key, value)
    return attributes
  }
  attribute(key: string, value: unknown): void {
    if (this.exit !== undefined) return // as the SDK's span: an ended span does not change
    ;(this.extra ??= new Map()).set(key, value)
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    if (this.exit !== undefined) return
    ;(this.events ??= []).push({
      name,
      time: hrTime(startTime),
      attributes: attributes === undefined ? {} : toAttributes(attributes),
      droppedAttributesCount: 0
    })
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    if (this.exit !== undefined) return
    ;(this.linked ??= []).push(...links)
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    if (this.exit !== undefined) return
    this.endTime = endTime
    this.exit = exit
    if (this.sampled) this.sink.processor.onEnd(new LeafSpanRecord(this, endTime, exit))
  }
}

/** A sampled leaf span's context; its id is made only when read (processors read just the flags). */
class LeafSpanContext implements SpanContext {
  readonly traceFlags = TraceFlags.SAMPLED
  constructor(readonly span: LeafSpan) {}
  get traceId(): string {
    return this.span.traceId
  }
  get spanId(): string {
    return this.span.spanId
  }
}

/**
 * A finished leaf span as OpenTelemetry's processors and exporters read it. Made for every sampled leaf,
 * so it is built lazily: a batch processor whose queue is full drops it unread.
 */
class LeafSpanRecord implements ReadableSpan {
  readonly kind = SpanKind.INTERNAL
  readonly ended = true
  readonly droppedAttributesCount = 0
  readonly droppedEventsCount = 0
  readonly droppedLinksCount = 0
  private outcome: { readonly status: ReadableSpan["status"]; readonly attributes: Attributes; readonly events: Array<TimedEvent> } | undefined
  private context: LeafSpanContext | undefined = undefined
  constructor(
    readonly span: LeafSpan,
    private readonly end: bigint,
    private readonly exit: Exit.Exit<unknown, unknown>
  ) {}
  get name(): string {
    return this.span.name
  }
  spanContext(): SpanContext {
    return this.context ??= new LeafSpanContext(this.span)
  }
  get parentSpanContext(): SpanContext {
    return spanContextOf(this.span.parentSpan)
  }
  get startTime(): HrTime {
    return hrTime(this.span.startTime)
  }
  get endTime(): HrTime {
    return hrTime(this.end)
  }
  get duration(): HrTime {
    const nanos = this.end - this.span.startTime
    return hrTime(nanos < 0 ? BigInt(0) : nanos)
  }
  get status(): ReadableSpan["status"] {
    return this.settle().status
  }
  get attributes(): Attributes {
    return this.settle().attributes
  }
  get events(): Array<TimedEvent> {
    return this.settle().events
  }
  get links(): Array<Link> {
    return this.span.links.map((link) => ({
      context: spanContextOf(resolveSpan(link.span)),
      attributes: toAttributes(link.attributes)
    }))
  }
  get resource(): ReadableSpan["resource"] {
    return this.span.sink.resource
  }
  get instrumentationScope(): ReadableSpan["instrumentationScope"] {
    return this.span.sink.scope
  }
  /** Status, attributes and events from the exit, as `@effect/opentelemetry`'s span sets them. */
  private settle() {
    if (this.outcome !== undefined) return this.outcome
    const span = this.span
    const attributes: Attributes = { "operation.path": span.name, "operation.kind": "leaf" }
    if (span.extra !== undefined) for (const [key, value] of span.extra) attributes[key] = attributeValue(value)
    const events = span.events === undefined ? [] : span.events.slice()
    let status: ReadableSpan["status"] = { code: SpanStatusCode.OK }
    const exit = this.exit
    if (exit._tag === "Failure") {
      // interruption is not an error; a failure records its first error as an exception event
      if (Cause.isInterruptedOnly(exit.cause)) {
        // (the SDK's span keeps a status message only with an error)
        attributes["span.label"] = "⚠︎ Interrupted"
        attributes["status.interrupted"] = true
      } else {
        const error = Cause.prettyErrors(exit.cause)[0]
        if (error !== undefined) {
          status = { code: SpanStatusCode.ERROR, message: error.message }
          events.push({
            name: "exception",
            time: this.endTime,
            attributes: {
              "exception.type": error.name,
              "exception.message": error.message,
              "exception.stacktrace": Cause.pretty(exit.cause, { renderErrorCause: true })
            },
            droppedAttributesCount: 0
          })
        }
      }
    }
    this.outcome = { status, attributes, events }
    return this.outcome
  }
}

const noAttributes: Attributes = {}

/** Samples as the SDK's tracer would for a local child of `parent`. */
const makeSample = (sampler: Sampler): Sink["sample"] =>
  // the parent-based samplers (with their default delegates) follow a local parent's decision
  sampler instanceof ParentBasedSampler
    ? (parent) => parent.sampled
    : (parent, traceId, name) =>
      sampler.shouldSample(
        otelTrace.setSpanContext(ROOT_CONTEXT, spanContextOf(parent)),
        traceId,
        name,
        SpanKind.INTERNAL,
        noAttributes,
        []
      ).decision === SamplingDecision.RECORD_AND_SAMPLED

// --- the tracer ------------------------------------------------------------------------------------------

/**
 * Whether a global OpenTelemetry context manager is registered (by the application, for other OpenTelemetry
 * instrumentations). Without one, `context.with` is a no-op.
 */
const hasContextManager = (): boolean => {
  const probe = ROOT_CONTEXT.setValue(createContextKey("effect-loom/telemetry/probe"), true)
  return otelContext.with(probe, () => otelContext.active() === probe)
}

interface ScopedTracer {
  readonly instrumentationScope?: ReadableSpan["instrumentationScope"]
}

/**
 * The Effect tracer backed by the OpenTelemetry tracer, plus the leaf span factory for the same processor.
 * A parent or link that is a slot is resolved to the span it points at before the OpenTelemetry span is
 * made. `@effect/opentelemetry`'s tracer also makes the current span the active OpenTelemetry context
 * around every fiber step, so that other OpenTelemetry instrumentations see it; that costs two context
 * allocations per step and does nothing unless a global context manager is registered, so it is kept only
 * when one is.
 *
 * @internal
 */
export const layerTracer = (
  processor: SpanProcessor,
  sampler: Sampler
): Layer.Layer<LeafSpanFactoryRef, never, OtelResource.Resource | OtelTracer.OtelTracer> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const inner = yield* OtelTracer.make
    const otel = yield* OtelTracer.OtelTracer
    const resource = yield* OtelResource.Resource
    const withContext = hasContextManager()
    const tracer = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) =>
        inner.span(
          name,
          parent._tag === "Some" && parent.value instanceof SpanSlot ? Option.some(resolveSpan(parent.value)) : parent,
          context,
          resolveLinks(links),
          startTime,
          kind,
          options
        ),
      context: withContext ? inner.context : (execution) => execution()
    })
    const scope = (otel as ScopedTracer).instrumentationScope
    const sink: Sink | undefined = scope === undefined ? undefined : {
      processor,
      resource,
      scope,
      sample: makeSample(sampler)
    }
    const factory: LeafSpanFactory | undefined = sink === undefined ? undefined : {
      tracer,
      make: (path, parent, links, startTime) => new LeafSpan(sink, path, parent, links, startTime)
    }
    return Layer.merge(Layer.setTracer(tracer), Layer.succeed(LeafSpanFactoryRef, factory))
  }))
