/**
 * Span slots: how an operation tree gives each leaf its own parent span without changing the fiber's
 * context per leaf. See `leafSpans.ts` for why and for the tracer that resolves slots.
 *
 * A group's worker gets one `SpanSlot` as its parent span, installed once. The worker runs its leaves back
 * to back; a leaf points the slot at its own span while it runs and back at the slot's base after. The slot
 * reads as the span it points at (ids, attributes, `sampled`), so loggers and `annotateCurrentSpan` see the
 * leaf's span, and the tracer resolves a slot to the span it points at when it makes a child span. Only the
 * fiber that owns a slot moves it, and only from its base (no nesting on one slot). A fiber forked inside a
 * leaf sees the leaf's span while the leaf runs; a leaf that leaves forked children running freezes its
 * slot on its span and its fiber gets a fresh slot (see `leafLeftChildren`).
 *
 * @internal
 */
import * as Context from "effect/Context"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"

// --- slots -----------------------------------------------------------------------------------------------

/** A parent span that points at another span; see the module docs. @internal */
export class SpanSlot implements Tracer.Span {
  readonly _tag = "Span"
  /** The span the slot points at: `base`, or the span of the leaf running on it. */
  current: Tracer.AnySpan
  constructor(
    /** The span the slot points at between leaves (the group's span); never a slot. */
    readonly base: Tracer.AnySpan,
    /** The fiber that may move the slot; none once frozen. */
    public owner: Fiber.RuntimeFiber<unknown, unknown> | undefined
  ) {
    this.current = base
  }
  /** The slot its fiber went on with after this one was frozen. */
  successor: SpanSlot | undefined = undefined
  private get span(): Tracer.Span | undefined {
    return this.current._tag === "Span" ? this.current : undefined
  }
  get name(): string {
    return this.span?.name ?? ""
  }
  get spanId(): string {
    return this.current.spanId
  }
  get traceId(): string {
    return this.current.traceId
  }
  get parent(): Option.Option<Tracer.AnySpan> {
    return this.span === undefined ? Option.none() : this.span.parent
  }
  get context(): Context.Context<never> {
    return this.current.context
  }
  get status(): Tracer.SpanStatus {
    return this.span?.status ?? { _tag: "Started", startTime: BigInt(0) }
  }
  get attributes(): ReadonlyMap<string, unknown> {
    return this.span?.attributes ?? new Map()
  }
  get links(): ReadonlyArray<Tracer.SpanLink> {
    return this.span?.links ?? []
  }
  get sampled(): boolean {
    return this.current.sampled
  }
  get kind(): Tracer.SpanKind {
    return this.span?.kind ?? "internal"
  }
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.span?.end(endTime, exit)
  }
  attribute(key: string, value: unknown): void {
    this.span?.attribute(key, value)
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.span?.event(name, startTime, attributes)
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.span?.addLinks(links)
  }
}

/** The slot a fiber uses now: `slot`, or the fresh slot that replaced it when it was frozen. @internal */
export const liveSlot = (slot: SpanSlot): SpanSlot => {
  let live = slot
  while (live.successor !== undefined) live = live.successor
  return live
}

/** The span a slot points at (never itself a slot: see `base`); any other span as it is. @internal */
export const resolveSpan = (span: Tracer.AnySpan): Tracer.AnySpan => span instanceof SpanSlot ? span.current : span

/** @internal */
export const resolveLinks = (links: ReadonlyArray<Tracer.SpanLink>): ReadonlyArray<Tracer.SpanLink> =>
  links.some((link) => link.span instanceof SpanSlot)
    ? links.map((link) => link.span instanceof SpanSlot ? { ...link, span: resolveSpan(link.span) } : link)
    : links

interface FiberChildren {
  readonly _children?: ReadonlySet<unknown> | null
}

/**
 * The live children of a fiber (those `Effect.fork` attached to it). `effect`'s fiber keeps them in a
 * field; if a future version drops it, no leaf is ever seen leaving children, which only matters for
 * children that outlive their leaf (tested in test/LeafSpans.test.ts).
 */
const childrenOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): ReadonlySet<unknown> | undefined =>
  (fiber as unknown as FiberChildren)._children ?? undefined

/** What a fiber's children were when a leaf started: nothing to remember in the common case of none. @internal */
export const childrenBefore = (fiber: Fiber.RuntimeFiber<unknown, unknown>): ReadonlySet<unknown> | undefined => {
  const children = childrenOf(fiber)
  return children === undefined || children.size === 0 ? undefined : new Set(children)
}

/** Whether a leaf forked children that are still running now that it has ended. @internal */
export const leafLeftChildren = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  before: ReadonlySet<unknown> | undefined
): boolean => {
  const children = childrenOf(fiber)
  if (children === undefined || children.size === 0) return false
  if (before === undefined) return true
  for (const child of children) if (!before.has(child)) return true
  return false
}

/**
 * Makes leaf spans for one tracer: `tracer` is the Effect tracer it pairs with (a tree uses the factory
 * only while that tracer is the current one).
 *
 * @internal
 */
export interface LeafSpanFactory {
  readonly tracer: Tracer.Tracer
  /** A span named `path`, with the attributes `operation.path` and `operation.kind` (`leaf`). */
  readonly make: (
    path: string,
    parent: Tracer.AnySpan,
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint
  ) => Tracer.Span
}

/** @internal */
export class LeafSpanFactoryRef extends Context.Reference<LeafSpanFactoryRef>()(
  "effect-loom/LeafSpanFactory",
  { defaultValue: (): LeafSpanFactory | undefined => undefined }
) {}
