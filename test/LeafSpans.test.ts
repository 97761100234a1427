/**
 * Leaf spans through span slots (src/internal/spanSlot.ts, src/internal/leafSpans.ts): what the cheap path
 * must keep of the regular `Effect.useSpan` path, and what it must not get wrong.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as Resource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler
} from "@opentelemetry/sdk-trace-base"
import { describe, expect, it } from "@effect/vitest"
import { context, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as Tracer from "effect/Tracer"
import { Operation, Telemetry } from "../src/index.js"
import { layerTracer } from "../src/internal/leafSpans.js"
import { resolveSpan, SpanSlot } from "../src/internal/spanSlot.js"
import { inMemoryTracer } from "./utils/spans.js"

/** Our tracer (leaf spans through slots) over an in-memory exporter. */
const slotTracer = (sampler: Sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() })) => {
  const exporter = new InMemorySpanExporter()
  const processor = new SimpleSpanProcessor(exporter)
  const layer = layerTracer(processor, sampler).pipe(
    Layer.provide(OtelTracer.layerTracer),
    Layer.provide(NodeSdk.layerTracerProvider(processor, { sampler })),
    Layer.provide(Resource.layer({ serviceName: "leaf-spans-test" }))
  )
  return { layer, spans: () => exporter.getFinishedSpans() }
}

const byName = (spans: ReadonlyArray<ReadableSpan>, name: string): ReadableSpan => {
  const found = spans.filter((s) => s.name === name)
  expect(found.map((s) => s.name)).toEqual([name])
  return found[0]!
}

const parentName = (spans: ReadonlyArray<ReadableSpan>, span: ReadableSpan): string | undefined =>
  spans.find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId)?.name

const withLeafSpans = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, Operation.LeafSpans, true)

/** Runs `effect` (a tree run) in a fiber while the TestClock moves `advance` ahead; returns its result. */
const advancing = <A, E, R>(effect: Effect.Effect<A, E, R>, advance: Duration.DurationInput) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* Effect.yieldNow()
    yield* TestClock.adjust(advance)
    return yield* Fiber.join(fiber)
  })

describe("leaf spans through span slots", () => {
  it.effect("each leaf of a parallel group and of a sequence is a span under its group, as the SDK makes them", () => {
    const tracer = slotTracer()
    // what a leaf sees as its current span, while it runs
    const current: Array<{ readonly slot: boolean; readonly spanId: string }> = []
    const leaf = (name: string) =>
      Operation.leaf(
        name,
        Effect.flatMap(Effect.currentSpan, (span) =>
          Effect.sync(() => current.push({ slot: span instanceof SpanSlot, spanId: resolveSpan(span).spanId })))
      )
    const tree = Operation.parallel("root", [
      leaf("a"),
      leaf("b"),
      leaf("c"),
      Operation.sequence("seq", [leaf("x"), leaf("y")])
    ], { concurrency: 2 })
    return Effect.gen(function*() {
      const report = yield* withLeafSpans(Operation.runReport(tree))
      expect(Exit.isSuccess(report.exit)).toBe(true)
      const spans = tracer.spans()
      const root = byName(spans, "root")
      for (const path of ["root/a", "root/b", "root/c", "root/seq"]) expect(parentName(spans, byName(spans, path))).toBe("root")
      for (const path of ["root/seq/x", "root/seq/y"]) expect(parentName(spans, byName(spans, path))).toBe("root/seq")
      const leaves = ["root/a", "root/b", "root/c", "root/seq/x", "root/seq/y"].map((path) => byName(spans, path))
      for (const span of leaves) {
        expect(span.attributes).toEqual({ "operation.path": span.name, "operation.kind": "leaf" })
        expect(span.spanContext().traceId).toBe(root.spanContext().traceId)
        expect(span.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/)
        expect(span.spanContext().spanId).not.toBe("0000000000000000")
        expect(span.status).toEqual(root.status)
        expect(span.kind).toBe(root.kind)
        expect(span.resource).toBe(root.resource)
        expect(span.resource.attributes["service.name"]).toBe("leaf-spans-test")
        expect(span.instrumentationScope).toEqual(root.instrumentationScope)
        expect(span.ended).toBe(true)
      }
      expect(new Set(spans.map((s) => s.spanContext().spanId)).size).toBe(spans.length)
      // the leaves ran on slots: the current span inside a leaf is a slot pointing at the leaf's own span
      expect(current).toHaveLength(5)
      expect(current.every((seen) => seen.slot)).toBe(true)
      expect(current.map((seen) => seen.spanId).sort()).toEqual(
        leaves.map((span) => span.spanContext().spanId).sort()
      )
    }).pipe(Effect.provide(tracer.layer))
  })

  it.effect("spans, annotations and logs inside a leaf, also on a fiber it forks and joins, belong to the leaf", () => {
    const tracer = slotTracer()
    const lines: Array<Record<string, unknown>> = []
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.map(Telemetry.jsonLogger, (line) => {
        lines.push(JSON.parse(line) as Record<string, unknown>)
      })
    )
    const work = (n: number) =>
      Effect.gen(function*() {
        yield* Effect.annotateCurrentSpan("order", n)
        yield* Effect.logInfo(`working on ${n}`)
        yield* Effect.withSpan(Effect.sleep("1 millis"), `inner-${n}`)
        const forked = yield* Effect.fork(Effect.withSpan(Effect.sleep("1 millis"), `forked-${n}`))
        yield* Fiber.join(forked)
      })
    const tree = Operation.parallel("root", [Operation.leaf("one", work(1)), Operation.leaf("two", work(2))], {
      concurrency: 2
    })
    return Effect.gen(function*() {
      const report = yield* advancing(withLeafSpans(Operation.runReport(tree)), "1 second")
      expect(Exit.isSuccess(report.exit)).toBe(true)
      const spans = tracer.spans()
      for (const [n, name] of [[1, "one"], [2, "two"]] as const) {
        const leaf = byName(spans, `root/${name}`)
        expect(parentName(spans, byName(spans, `inner-${n}`))).toBe(`root/${name}`)
        expect(parentName(spans, byName(spans, `forked-${n}`))).toBe(`root/${name}`)
        expect(leaf.attributes["order"]).toBe(n)
        const line = lines.find((l) => l.message === `working on ${n}`)
        expect(line?.span_id).toBe(leaf.spanContext().spanId)
        expect(line?.trace_id).toBe(leaf.spanContext().traceId)
      }
    }).pipe(Effect.provide(Layer.merge(tracer.layer, logger)))
  })

  it.effect("success, failure, interruption, retries and span annotations: the same spans as the regular path", () => {
    const failures = { n: 0 }
    const tree = () => {
      failures.n = 0
      return Operation.parallel("root", [
        Operation.leaf("ok", Effect.void),
        Operation.leaf(
          "flaky",
          Effect.suspend(() => ++failures.n < 3 ? Effect.fail(new Error(`flake ${failures.n}`)) : Effect.void)
        ).pipe(Operation.withRetry(Schedule.recurs(5))),
        Operation.leaf("late", Effect.sleep("5 seconds")).pipe(Operation.withTimeout("500 millis")),
        // fail-fast: boom's failure interrupts waits and skips never-started
        Operation.parallel("ff", [
          Operation.sequence("seq", [
            Operation.leaf("waits", Effect.never),
            Operation.leaf("never-started", Effect.void)
          ]),
          Operation.leaf("boom", Effect.zipRight(Effect.sleep("800 millis"), Effect.fail(new Error("boom"))))
        ], { concurrency: 2 })
      ], { concurrency: 4, failure: "best-effort" })
    }
    const shape = (spans: ReadonlyArray<ReadableSpan>) =>
      spans.map((span) => ({
        name: span.name,
        parent: parentName(spans, span),
        status: span.status,
        attributes: span.attributes,
        events: span.events.map((event) => [event.name, event.attributes?.["exception.message"]])
      })).sort((a, b) => a.name < b.name ? -1 : 1)
    const run = (layer: Layer.Layer<never>, spans: () => ReadonlyArray<ReadableSpan>) =>
      Effect.gen(function*() {
        const report = yield* advancing(
          withLeafSpans(Operation.runReport(tree())).pipe(Effect.annotateSpans("tenant", "t-1")),
          "1 second"
        )
        expect(Exit.isFailure(report.exit)).toBe(true)
        return shape(spans())
      }).pipe(Effect.provide(layer))
    return Effect.gen(function*() {
      const slots = slotTracer()
      const regular = inMemoryTracer()
      const viaSlots = yield* run(slots.layer, slots.spans)
      const viaUseSpan = yield* run(regular.layer, regular.spans)
      expect(viaSlots).toEqual(viaUseSpan)
      // and what they are
      const byLeaf = new Map(viaSlots.map((s) => [s.name, s]))
      expect(byLeaf.get("root/flaky")?.attributes["operation.attempts"]).toBe(3)
      expect(byLeaf.get("root/ok")?.attributes["tenant"]).toBe("t-1")
      expect(byLeaf.get("root/ff/boom")?.status).toEqual({ code: 2, message: "boom" })
      expect(byLeaf.get("root/ff/boom")?.events).toEqual([["exception", "boom"]])
      expect(byLeaf.get("root/late")?.status.code).toBe(2)
      expect(byLeaf.get("root/late")?.status.message).toContain("timed out")
      expect(byLeaf.get("root/ff/seq/waits")?.attributes["status.interrupted"]).toBe(true)
      expect(byLeaf.has("root/ff/seq/never-started")).toBe(false)
    })
  })

  it.effect("interrupting a run ends the span of every leaf it was running, as interrupted", () => {
    const tracer = slotTracer()
    return Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      let running = 0
      const waits = Effect.zipRight(
        Effect.suspend(() => ++running === 3 ? Deferred.succeed(started, undefined) : Effect.void),
        Effect.never
      )
      const tree = Operation.parallel("root", [
        Operation.leaf("a", waits),
        Operation.leaf("b", waits),
        Operation.sequence("seq", [Operation.leaf("c", waits)])
      ], { concurrency: 3 })
      const fiber = yield* Effect.fork(withLeafSpans(Operation.runReport(tree)))
      yield* Deferred.await(started)
      yield* Effect.yieldNow()
      expect(running).toBe(3)
      yield* Fiber.interrupt(fiber)
      const spans = tracer.spans()
      for (const path of ["root/a", "root/b", "root/seq/c"]) {
        expect(byName(spans, path).attributes["status.interrupted"]).toBe(true)
      }
      expect(byName(spans, "root").attributes["status.interrupted"]).toBe(true)
    }).pipe(Effect.provide(tracer.layer))
  })

  it.effect("a group without a span whose timeout runs it on another fiber: its leaves and the next ones nest right", () => {
    const tracer = slotTracer()
    const tree = Operation.sequence("outer", [
      Operation.sequence("inner", [Operation.leaf("slow", Effect.sleep("10 seconds"))], { span: false }).pipe(
        Operation.withTimeout("1 second")
      ),
      Operation.leaf("next", Effect.withSpan(Effect.void, "inside-next"))
    ], { failure: "best-effort" })
    return Effect.gen(function*() {
      const report = yield* advancing(withLeafSpans(Operation.runReport(tree)), "2 seconds")
      expect(Exit.isFailure(report.exit)).toBe(true)
      const spans = tracer.spans()
      expect(parentName(spans, byName(spans, "outer/inner/slow"))).toBe("outer")
      expect(byName(spans, "outer/inner/slow").attributes["status.interrupted"]).toBe(true)
      expect(parentName(spans, byName(spans, "outer/next"))).toBe("outer")
      expect(parentName(spans, byName(spans, "inside-next"))).toBe("outer/next")
    }).pipe(Effect.provide(tracer.layer))
  })

  it.effect("a fiber a leaf forks and leaves running keeps the leaf's span; the next leaves are not confused", () => {
    const tracer = slotTracer()
    return Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const leaked = yield* Deferred.make<Fiber.RuntimeFiber<void>>()
      const tree = Operation.sequence("seq", [
        Operation.leaf(
          "a",
          Effect.flatMap(
            Effect.fork(Effect.zipRight(Deferred.await(release), Effect.withSpan(Effect.void, "late"))),
            (fiber) => Deferred.succeed(leaked, fiber)
          )
        ),
        // b runs while the fiber a forked makes its span
        Operation.leaf(
          "b",
          Effect.zipRight(Deferred.succeed(release, undefined), Effect.flatMap(Deferred.await(leaked), Fiber.await))
        ),
        Operation.parallel("after", [Operation.leaf("c", Effect.void), Operation.leaf("d", Effect.void)], {
          concurrency: 2
        }),
        Operation.leaf("e", Effect.withSpan(Effect.void, "inside-e"))
      ])
      const report = yield* withLeafSpans(Operation.runReport(tree))
      expect(Exit.isSuccess(report.exit)).toBe(true)
      const spans = tracer.spans()
      expect(parentName(spans, byName(spans, "late"))).toBe("seq/a")
      for (const path of ["seq/a", "seq/b", "seq/after", "seq/e"]) expect(parentName(spans, byName(spans, path))).toBe("seq")
      for (const path of ["seq/after/c", "seq/after/d"]) expect(parentName(spans, byName(spans, path))).toBe("seq/after")
      expect(parentName(spans, byName(spans, "inside-e"))).toBe("seq/e")
    }).pipe(Effect.provide(tracer.layer))
  })

  it.effect("leaf spans are sampled as their parent under a parent-based sampler, by the sampler otherwise", () => {
    const tree = Operation.parallel("root", [Operation.leaf("a", Effect.void), Operation.leaf("b", Effect.void)], {
      concurrency: 2
    })
    /** The names of the spans a run records (read before the layer's release, which clears the exporter). */
    const recorded = (sampler: Sampler | undefined, parent: Tracer.AnySpan | undefined) => {
      const tracer = slotTracer(sampler)
      const run = withLeafSpans(Operation.runReport(tree))
      return Effect.gen(function*() {
        const report = yield* (parent === undefined ? run : Effect.withParentSpan(run, parent))
        expect(Exit.isSuccess(report.exit)).toBe(true)
        return tracer.spans()
      }).pipe(Effect.provide(tracer.layer))
    }
    return Effect.gen(function*() {
      const everything = yield* recorded(undefined, undefined)
      expect(everything.map((s) => s.name).sort()).toEqual(["root", "root/a", "root/b"])
      // a parent that was not sampled (its trace flags say so): nothing is recorded, the tree runs as usual
      const unsampled = OtelTracer.makeExternalSpan({ traceId: "a".repeat(32), spanId: "b".repeat(16), traceFlags: 0 })
      expect(yield* recorded(undefined, unsampled)).toEqual([])
      const sampled = OtelTracer.makeExternalSpan({ traceId: "a".repeat(32), spanId: "b".repeat(16), traceFlags: 1 })
      const underSampled = yield* recorded(undefined, sampled)
      expect(underSampled.map((s) => s.name).sort()).toEqual(["root", "root/a", "root/b"])
      expect(byName(underSampled, "root/a").spanContext().traceId).toBe("a".repeat(32))
      // not parent-based: the sampler decides for each span (a ratio of 0 records nothing, of 1 everything)
      expect(yield* recorded(new TraceIdRatioBasedSampler(0), undefined)).toEqual([])
      expect((yield* recorded(new TraceIdRatioBasedSampler(1), undefined)).length).toBe(3)
    })
  })

  it.scopedLive("with an OpenTelemetry context manager, OpenTelemetry code in a leaf sees the leaf's span as active", () =>
    Effect.gen(function*() {
      yield* Effect.acquireRelease(
        Effect.sync(() => context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())),
        () => Effect.sync(() => context.disable())
      )
      // built after the context manager is registered, so the tracer makes spans active around fiber steps
      const tracer = slotTracer()
      const seen: Array<string | undefined> = []
      const leaf = (name: string) =>
        Operation.leaf(
          name,
          Effect.zipRight(Effect.sleep("1 millis"), Effect.sync(() => seen.push(trace.getActiveSpan()?.spanContext().spanId)))
        )
      const tree = Operation.parallel("root", [leaf("a"), leaf("b"), leaf("c")], { concurrency: 2 })
      const spans = yield* withLeafSpans(Operation.runReport(tree)).pipe(
        Effect.zipRight(Effect.sync(() => tracer.spans())),
        Effect.provide(tracer.layer)
      )
      const leafIds = ["root/a", "root/b", "root/c"].map((path) => byName(spans, path).spanContext().spanId)
      expect([...seen].sort()).toEqual([...leafIds].sort())
    }))

  it.effect("random trees: spans through slots are the regular path's spans (30 seeded trees)", () => {
    // a small seeded generator (mulberry32), so a failure names a reproducible tree
    const random = (seed: number) => () => {
      seed = (seed + 0x6d2b79f5) | 0
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
    const makeTree = (next: () => number) => {
      let leaves = 0
      const node = (name: string, depth: number): Operation.Any => {
        if (depth >= 3 || next() < 0.45) {
          const ms = Math.floor(next() * 5)
          const fails = next() < 0.15
          const body = Effect.zipRight(
            Effect.sleep(`${ms} millis`),
            fails ? Effect.fail(new Error(`${name} failed`)) : Effect.withSpan(Effect.void, `${name}.inner`)
          )
          leaves++
          let leaf: Operation.Any = Operation.leaf(name, body)
          if (next() < 0.15) leaf = leaf.pipe(Operation.withTimeout("2 millis")) as Operation.Any
          return leaf
        }
        const children = Array.from({ length: 1 + Math.floor(next() * 3) }, (_, i) => node(`${name}${i}`, depth + 1))
        const failure = next() < 0.5 ? "fail-fast" as const : "best-effort" as const
        const span = next() < 0.2 ? false : undefined
        const group = next() < 0.5
          ? Operation.parallel(name, children, { concurrency: 1 + Math.floor(next() * 3), failure, span })
          : Operation.sequence(name, children, { failure, span })
        return next() < 0.1 ? group.pipe(Operation.withTimeout("4 millis")) as Operation.Any : group
      }
      const tree = node("t", 0)
      return { tree, leaves }
    }
    const shape = (spans: ReadonlyArray<ReadableSpan>) =>
      spans.map((span) => ({
        name: span.name,
        parent: parentName(spans, span),
        code: span.status.code,
        interrupted: span.attributes["status.interrupted"] === true,
        events: span.events.map((event) => event.name)
      })).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    const run = (tree: Operation.Any, tracing: { layer: Layer.Layer<never>; spans: () => ReadonlyArray<ReadableSpan> }) =>
      Effect.gen(function*() {
        // the generated leaves need nothing from the environment
        const report = Operation.runReport(tree as Operation.Operation<unknown, unknown, never>)
        yield* advancing(withLeafSpans(report), "40 millis")
        return shape(tracing.spans())
      }).pipe(Effect.provide(tracing.layer))
    return Effect.gen(function*() {
      let leaves = 0
      const seen = { failed: 0, interrupted: 0, inner: 0 }
      for (let seed = 1; seed <= 30; seed++) {
        const generated = makeTree(random(seed))
        leaves += generated.leaves
        const viaSlots = yield* run(generated.tree, slotTracer())
        const viaUseSpan = yield* run(generated.tree, inMemoryTracer())
        expect({ seed, spans: viaSlots }).toEqual({ seed, spans: viaUseSpan })
        for (const span of viaSlots) {
          if (span.code === 2) seen.failed++
          if (span.interrupted) seen.interrupted++
          if (span.name.endsWith(".inner")) seen.inner++
        }
      }
      // the trees exercised what they are for: many leaves, failures, interruptions, spans inside leaves
      expect(leaves).toBeGreaterThan(60)
      expect(seen.failed).toBeGreaterThan(5)
      expect(seen.interrupted).toBeGreaterThan(3)
      expect(seen.inner).toBeGreaterThan(30)
    })
  })

  it.effect("a tracer without a leaf span factory (Effect's own, a user's) gets the regular spans", () => {
    const regular = inMemoryTracer()
    const current: Array<Tracer.AnySpan> = []
    const tree = Operation.parallel("root", [
      Operation.leaf("a", Effect.flatMap(Effect.currentSpan, (span) => Effect.sync(() => current.push(span))))
    ], { concurrency: 2 })
    return Effect.gen(function*() {
      yield* withLeafSpans(Operation.runReport(tree))
      expect(parentName(regular.spans(), byName(regular.spans(), "root/a"))).toBe("root")
      expect(current.some((span) => span instanceof SpanSlot)).toBe(false)
      expect(Option.isSome(Option.fromNullable(current[0]))).toBe(true)
    }).pipe(Effect.provide(regular.layer))
  })
})
