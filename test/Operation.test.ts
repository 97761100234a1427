import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { Operation, OperationStatus } from "../src/index.js"
import { inMemoryTracer, parentNames } from "./utils/spans.js"

class Boom extends Error {
  readonly _tag = "Boom"
}

const statusOf = (snapshot: OperationStatus.Snapshot, path: string) => snapshot.node(path)?.status

describe("Operation", () => {
  describe("sequence", () => {
    it.effect("runs children in order and returns a typed tuple", () =>
      Effect.gen(function*() {
        const order: Array<string> = []
        const step = <A>(name: string, value: A) => Operation.leaf(name, Effect.sync(() => (order.push(name), value)))
        const tree = Operation.sequence("seq", [step("a", 1), step("b", "two"), step("c", true)])
        const out: [number, string, boolean] = yield* tree
        expect(out).toEqual([1, "two", true])
        expect(order).toEqual(["a", "b", "c"])
      }))

    it.effect("fail-fast skips the children after a failure", () =>
      Effect.gen(function*() {
        const tree = Operation.sequence("seq", [
          Operation.leaf("a", Effect.void),
          Operation.leaf("b", Effect.fail(new Boom())),
          Operation.leaf("c", Effect.void)
        ])
        const report = yield* Operation.runReport(tree)
        expect(Exit.isFailure(report.exit)).toBe(true)
        const s = report.snapshot
        expect([statusOf(s, "seq/a"), statusOf(s, "seq/b"), statusOf(s, "seq/c")]).toEqual([
          "succeeded",
          "failed",
          "skipped"
        ])
        expect(s.root.status).toBe("failed")
        expect(s.percent).toBe(100)
      }))
  })

  describe("parallel", () => {
    it.live("never runs more children at once than the concurrency bound", () =>
      Effect.gen(function*() {
        let inFlight = 0
        let max = 0
        const child = (i: number) =>
          Operation.leaf(
            `job-${i}`,
            Effect.acquireUseRelease(
              Effect.sync(() => {
                inFlight++
                max = Math.max(max, inFlight)
              }),
              () => Effect.sleep(Duration.millis(1 + (i % 3))),
              () => Effect.sync(() => inFlight--)
            )
          )
        const tree = Operation.parallel("p", Array.from({ length: 30 }, (_, i) => child(i)), { concurrency: 4 })
        const out = yield* tree
        expect(out).toHaveLength(30)
        expect(max).toBe(4)
        expect(inFlight).toBe(0)
      }))

    it.effect("returns a typed record for named children", () =>
      Effect.gen(function*() {
        const tree = Operation.parallel("p", {
          user: Operation.leaf("user", Effect.succeed({ id: 7 })),
          stock: Operation.leaf("stock", Effect.succeed(3))
        }, { concurrency: "unbounded" })
        const out: { user: { id: number }; stock: number } = yield* tree
        expect(out).toEqual({ user: { id: 7 }, stock: 3 })
      }))

    it.live("fail-fast interrupts running siblings (finalizers run) and skips pending ones", () =>
      Effect.gen(function*() {
        const finalized: Array<string> = []
        const started: Array<string> = []
        const slow = (name: string) =>
          Operation.leaf(
            name,
            Effect.sync(() => started.push(name)).pipe(
              Effect.zipRight(Effect.never),
              Effect.ensuring(Effect.sync(() => finalized.push(name)))
            )
          )
        const failing = Operation.leaf(
          "failing",
          Effect.sync(() => started.push("failing")).pipe(
            Effect.zipRight(Effect.sleep("5 millis")),
            Effect.zipRight(Effect.fail(new Boom("down")))
          )
        )
        const tree = Operation.parallel("p", [slow("s1"), slow("s2"), failing, slow("later1"), slow("later2")], {
          concurrency: 3
        })
        const report = yield* Operation.runReport(tree)
        expect(Exit.isFailure(report.exit)).toBe(true)
        if (Exit.isFailure(report.exit)) {
          // fail-fast keeps the child's own error type
          expect(Cause.failureOption(report.exit.cause)).toEqual(expect.objectContaining({ value: expect.any(Boom) }))
        }
        expect(finalized.sort()).toEqual(["s1", "s2"])
        expect(started.sort()).toEqual(["failing", "s1", "s2"])
        const s = report.snapshot
        expect(statusOf(s, "p/s1")).toBe("cancelled")
        expect(statusOf(s, "p/s2")).toBe("cancelled")
        expect(statusOf(s, "p/failing")).toBe("failed")
        expect(statusOf(s, "p/later1")).toBe("skipped")
        expect(statusOf(s, "p/later2")).toBe("skipped")
        expect(s.node("p/failing")?.error).toContain("down")
      }))

    it.effect("best-effort runs every child and aggregates exactly the failed leaves with their paths", () =>
      Effect.gen(function*() {
        const ran = yield* Ref.make(0)
        const ok = (name: string) => Operation.leaf(name, Ref.update(ran, (n) => n + 1))
        const bad = (name: string) => Operation.leaf(name, Effect.zipRight(Ref.update(ran, (n) => n + 1), Effect.fail(new Boom(name))))
        const tree = Operation.parallel("root", [
          ok("a"),
          bad("b"),
          Operation.sequence("nested", [ok("c"), bad("d"), ok("e")], { failure: "best-effort" }),
          Operation.sequence("ff", [bad("f"), ok("g")]),
          ok("h")
        ], { concurrency: 2, failure: "best-effort" })
        const result = yield* Effect.either(tree)
        expect(yield* Ref.get(ran)).toBe(7) // everything but ff/g, which fail-fast skipped
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) {
          const error = result.left
          expect(error._tag).toBe("OperationGroupFailed")
          if (error._tag === "OperationGroupFailed") {
            expect(error.path).toBe("root")
            expect(error.failures.map((f) => f.path)).toEqual(["root/b", "root/nested/d", "root/ff/f"])
            const messages = error.failures.map((f) => Cause.squash(f.cause) as Boom).map((e) => e.message)
            expect(messages).toEqual(["b", "d", "f"])
          }
        }
      }))

    it.effect("an empty group succeeds at 100%", () =>
      Effect.gen(function*() {
        const tree = Operation.parallel("empty", [], { concurrency: 4 })
        const report = yield* Operation.runReport(tree)
        expect(Exit.isSuccess(report.exit)).toBe(true)
        expect(report.snapshot.percent).toBe(100)
        expect(report.snapshot.total).toBe(0)
        expect(report.snapshot.root.status).toBe("succeeded")
        expect(yield* Operation.sequence("empty-seq", {})).toEqual({})
      }))
  })

  it.effect("nests three and more levels deep, with status for every node", () =>
    Effect.gen(function*() {
      const leaf = (name: string, n: number) => Operation.leaf(name, Effect.succeed(n))
      const tree = Operation.sequence("l0", {
        first: Operation.parallel("l1", {
          deep: Operation.sequence("l2", [
            Operation.parallel("l3", [leaf("x", 1), leaf("y", 2)], { concurrency: 2 }),
            leaf("z", 3)
          ])
        }, { concurrency: 2 }),
        last: leaf("w", 4)
      })
      const report = yield* Operation.runReport(tree)
      expect(Exit.isSuccess(report.exit)).toBe(true)
      if (Exit.isSuccess(report.exit)) {
        expect(report.exit.value).toEqual({ first: { deep: [[1, 2], 3] }, last: 4 })
      }
      expect(report.snapshot.nodes.map((n) => `${n.path}:${n.status}`)).toEqual([
        "l0:succeeded",
        "l0/l1:succeeded",
        "l0/l1/l2:succeeded",
        "l0/l1/l2/l3:succeeded",
        "l0/l1/l2/l3/x:succeeded",
        "l0/l1/l2/l3/y:succeeded",
        "l0/l1/l2/z:succeeded",
        "l0/w:succeeded"
      ])
      expect(report.snapshot.nodes.map((n) => n.depth)).toEqual([0, 1, 2, 3, 4, 4, 3, 1])
    }))

  it.live("progress batches are monotone, carry every event once, and end at 100%", () =>
    Effect.gen(function*() {
      const batches: Array<OperationStatus.Progress> = []
      const tree = Operation.parallel(
        "p",
        Array.from({ length: 40 }, (_, i) => Operation.leaf(`l${i}`, Effect.sleep(Duration.millis(i % 5)))),
        { concurrency: 8 }
      )
      yield* Operation.run(tree, { interval: "2 millis", onProgress: (p) => Effect.sync(() => batches.push(p)) })
      const percents = batches.map((b) => b.snapshot.percent)
      for (let i = 1; i < percents.length; i++) expect(percents[i]!).toBeGreaterThanOrEqual(percents[i - 1]!)
      expect(percents.at(-1)).toBe(100)
      expect(batches.length).toBeGreaterThan(1)
      const events = batches.flatMap((b) => b.events)
      // every node: one running event and one terminal event
      expect(events.filter((e) => e.status === "running")).toHaveLength(41)
      expect(events.filter((e) => e.status === "succeeded")).toHaveLength(41)
      expect(events[0]).toMatchObject({ _tag: "NodeStatusChanged", path: "p", status: "running" })
      expect(events.at(-1)).toMatchObject({ path: "p", status: "succeeded" })
    }))

  it.live("changes stream emits snapshots and ends after the final one", () =>
    Effect.scoped(Effect.gen(function*() {
      const tree = Operation.sequence("s", Array.from({ length: 5 }, (_, i) => Operation.leaf(`l${i}`, Effect.sleep("3 millis"))))
      const execution = yield* Operation.start(tree, { interval: "1 millis" })
      const seen = Chunk.toReadonlyArray(yield* Stream.runCollect(execution.changes))
      expect(seen.at(-1)?.percent).toBe(100)
      expect(seen.at(-1)?.root.status).toBe("succeeded")
      const report = yield* execution.await
      expect(report.snapshot.completed).toBe(5)
    })))

  it.live("cancellation: running leaves cancelled (finalizers ran), the rest skipped, nothing starts after", () =>
    Effect.scoped(Effect.gen(function*() {
      const started = yield* Ref.make(0)
      const finalized = yield* Ref.make(0)
      const twoRunning = yield* Deferred.make<void>()
      const child = (i: number) =>
        Operation.leaf(
          `l${i}`,
          Effect.gen(function*() {
            const n = yield* Ref.updateAndGet(started, (k) => k + 1)
            if (n === 2) yield* Deferred.succeed(twoRunning, undefined)
            yield* Effect.never
          }).pipe(Effect.ensuring(Ref.update(finalized, (k) => k + 1)))
        )
      const tree = Operation.sequence("root", [
        Operation.leaf("first", Effect.void),
        Operation.parallel("work", Array.from({ length: 10 }, (_, i) => child(i)), { concurrency: 2 }),
        Operation.leaf("after", Effect.void)
      ])
      const execution = yield* Operation.start(tree)
      yield* Deferred.await(twoRunning)
      yield* Fiber.interrupt(execution.fiber)
      const report = yield* execution.await
      expect(Exit.isInterrupted(report.exit)).toBe(true)
      yield* Effect.sleep("20 millis")
      expect(yield* Ref.get(started)).toBe(2)
      expect(yield* Ref.get(finalized)).toBe(2)
      const s = report.snapshot
      expect(statusOf(s, "root/first")).toBe("succeeded")
      expect(statusOf(s, "root/work/l0")).toBe("cancelled")
      expect(statusOf(s, "root/work/l1")).toBe("cancelled")
      for (let i = 2; i < 10; i++) expect(statusOf(s, `root/work/l${i}`)).toBe("skipped")
      expect(statusOf(s, "root/after")).toBe("skipped")
      expect(statusOf(s, "root/work")).toBe("cancelled")
      expect(s.root.status).toBe("cancelled")
      expect(s.percent).toBe(100)
    })))

  it.effect("retry follows its Schedule under TestClock and counts attempts", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const flaky = Operation.leaf(
        "inventory",
        Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) => n < 3 ? Effect.fail(new Boom(`try ${n}`)) : Effect.succeed(n))
      ).pipe(Operation.withRetry(Schedule.spaced("1 second")))
      const tree = Operation.sequence("root", [flaky])
      const fiber = yield* Effect.fork(Operation.runReport(tree))
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(calls)).toBe(2)
      yield* TestClock.adjust("1 second")
      const report = yield* Fiber.join(fiber)
      expect(Exit.isSuccess(report.exit)).toBe(true)
      expect(yield* Ref.get(calls)).toBe(3)
      const node = report.snapshot.node("root/inventory")!
      expect(node.attempts).toBe(3)
      expect(node.status).toBe("succeeded")
      expect(node.endedAt! - node.startedAt!).toBe(2000)
    }))

  it.effect("retry gives up when its Schedule ends and the leaf fails", () =>
    Effect.gen(function*() {
      const tree = Operation.leaf("always", Effect.fail(new Boom("no"))).pipe(Operation.withRetry(Schedule.recurs(2)))
      const report = yield* Operation.runReport(tree)
      expect(Exit.isFailure(report.exit)).toBe(true)
      expect(report.snapshot.root.attempts).toBe(3)
      expect(report.snapshot.root.status).toBe("failed")
    }))

  it.effect("timeout fails with OperationTimeout naming the node", () =>
    Effect.gen(function*() {
      let finalized = false
      const tree = Operation.sequence("root", [
        Operation.parallel("group", [
          Operation.leaf("stuck", Effect.never.pipe(Effect.ensuring(Effect.sync(() => (finalized = true)))))
        ], { concurrency: 1 }).pipe(Operation.withTimeout("5 seconds"))
      ])
      const fiber = yield* Effect.fork(Effect.either(tree))
      yield* TestClock.adjust("5 seconds")
      const result = yield* Fiber.join(fiber)
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        const error = result.left
        expect(error._tag).toBe("OperationTimeout")
        if (error._tag === "OperationTimeout") {
          expect(error.path).toBe("root/group")
          expect(Duration.toMillis(error.duration)).toBe(5000)
          expect(error.message).toContain("root/group")
        }
      }
      expect(finalized).toBe(true)
    }))

  it.effect("a leaf timeout applies per attempt and is retried", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const leaf = Operation.leaf(
        "slow-then-fast",
        Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) => n === 1 ? Effect.never : Effect.succeed("ok"))
      ).pipe(Operation.withTimeout("1 second"), Operation.withRetry(Schedule.recurs(1)))
      const fiber = yield* Effect.fork(Operation.runReport(leaf))
      yield* TestClock.adjust("1 second")
      const report = yield* Fiber.join(fiber)
      expect(report.exit).toEqual(Exit.succeed("ok"))
      expect(report.snapshot.root.attempts).toBe(2)
    }))

  it.live("nested parallel groups whose leaves suspend keep each group's bound and nest their spans", () => {
    const tracer = inMemoryTracer()
    return Effect.gen(function*() {
      let inFlight = 0
      let maxInFlight = 0
      const leaf = (name: string) =>
        Operation.leaf(
          name,
          Effect.acquireUseRelease(
            Effect.sync(() => {
              inFlight++
              maxInFlight = Math.max(maxInFlight, inFlight)
            }),
            () => Effect.sleep("5 millis"),
            () => Effect.sync(() => inFlight--)
          )
        )
      const tree = Operation.parallel(
        "root",
        Array.from({ length: 3 }, (_, a) =>
          Operation.parallel(`a${a}`, Array.from({ length: 4 }, (_, b) => leaf(`b${b}`)), { concurrency: 2 })),
        { concurrency: 2 }
      )
      const report = yield* Operation.runReport(tree)
      expect(Exit.isSuccess(report.exit)).toBe(true)
      // two groups at a time, two leaves each: never more than 4, and the bound is reached
      expect(maxInFlight).toBe(4)
      const parents = parentNames(tracer.spans())
      for (let a = 0; a < 3; a++) expect(parents.get(`root/a${a}`)).toBe("root")
    }).pipe(Effect.provide(tracer.layer), Effect.provideService(Operation.LeafSpans, false))
  })

  it.effect("parallel groups nested 300 deep run without exhausting the stack", () =>
    Effect.gen(function*() {
      let tree: Operation.Operation<unknown, Operation.OperationInvalid> = Operation.leaf("bottom", Effect.succeed(1))
      for (let depth = 0; depth < 300; depth++) {
        tree = Operation.parallel(`p${depth}`, [tree, Operation.leaf("side", Effect.succeed(2))], { concurrency: 2 })
      }
      const report = yield* Operation.runReport(tree)
      expect(Exit.isSuccess(report.exit)).toBe(true)
      expect(report.snapshot.completed).toBe(301)
    }))

  it.effect("each run records its duration and its leaves by final status, once per run", () =>
    Effect.gen(function*() {
      const name = "metrics-probe"
      const leaves = (outcome: string) =>
        Metric.value(Operation.metrics.leaves.pipe(Metric.tagged("operation.name", name), Metric.tagged("outcome", outcome)))
      const runs = (outcome: string) =>
        Metric.value(Operation.metrics.duration.pipe(Metric.tagged("operation.name", name), Metric.tagged("outcome", outcome)))
      const tree = Operation.sequence(name, [
        Operation.leaf("ok", Effect.void),
        Operation.leaf("boom", Effect.fail("boom")),
        Operation.leaf("never", Effect.void)
      ])
      yield* Operation.runReport(tree)
      yield* Operation.runReport(tree)
      expect((yield* leaves("succeeded")).count).toBe(2)
      expect((yield* leaves("failed")).count).toBe(2)
      expect((yield* leaves("skipped")).count).toBe(2)
      expect((yield* runs("failed")).count).toBe(2)
      expect((yield* runs("succeeded")).count).toBe(0)
    }))

  it.effect("a 10,000-leaf tree completes", () =>
    Effect.gen(function*() {
      let n = 0
      const tree = Operation.parallel(
        "big",
        Array.from({ length: 100 }, (_, g) =>
          Operation.parallel(`g${g}`, Array.from({ length: 100 }, (_, i) => Operation.leaf(`l${i}`, Effect.sync(() => ++n))), {
            concurrency: 16
          })),
        { concurrency: 8 }
      )
      const report = yield* Operation.runReport(tree)
      expect(Exit.isSuccess(report.exit)).toBe(true)
      expect(n).toBe(10_000)
      expect(report.snapshot.total).toBe(10_000)
      expect(report.snapshot.completed).toBe(10_000)
      expect(report.snapshot.counts().succeeded).toBe(10_101)
    }))

  describe("construction errors", () => {
    const cases: ReadonlyArray<[string, () => Operation.Operation<unknown, unknown>, string, string]> = [
      [
        "duplicate sibling names",
        () => Operation.sequence("root", [Operation.parallel("g", [Operation.leaf("a", Effect.void), Operation.leaf("a", Effect.void)], { concurrency: 1 })]),
        "root/g",
        "duplicate child name \"a\""
      ],
      ["an empty leaf name", () => Operation.sequence("root", [Operation.leaf("", Effect.void)]), "root/", "name must not be empty"],
      ["an empty group name", () => Operation.sequence("", []), "", "name must not be empty"],
      ["a zero concurrency", () => Operation.sequence("root", [Operation.parallel("p", [], { concurrency: 0 })]), "root/p", "concurrency"],
      ["a negative concurrency", () => Operation.parallel("p", [], { concurrency: -2 }), "p", "concurrency"],
      ["a fractional concurrency", () => Operation.parallel("p", [], { concurrency: 1.5 }), "p", "concurrency"],
      ["a NaN concurrency", () => Operation.parallel("p", [], { concurrency: Number.NaN }), "p", "concurrency"],
      ["a slash in a name", () => Operation.sequence("root", [Operation.leaf("a/b", Effect.void)]), "root/a/b", "must not contain"]
    ]
    for (const [label, build, path, reason] of cases) {
      it.effect(`rejects ${label} before anything runs`, () =>
        Effect.gen(function*() {
          const tree = build()
          const validated = Operation.validate(tree)
          expect(Either.isLeft(validated)).toBe(true)
          const result = yield* Effect.either(tree)
          expect(Either.isLeft(result)).toBe(true)
          if (Either.isLeft(result)) {
            expect(result.left).toBeInstanceOf(Operation.OperationInvalid)
            const error = result.left as Operation.OperationInvalid
            expect(error.path).toBe(path)
            expect(error.reason).toContain(reason)
          }
        }))
    }

    it.effect("runs nothing when a later node is invalid", () =>
      Effect.gen(function*() {
        let ran = false
        const tree = Operation.sequence("root", [
          Operation.leaf("first", Effect.sync(() => (ran = true))),
          Operation.parallel("bad", [], { concurrency: 0 })
        ])
        const report = yield* Operation.runReport(tree)
        expect(Exit.isFailure(report.exit)).toBe(true)
        expect(ran).toBe(false)
      }))
  })

  describe("introspection", () => {
    const tree = Operation.parallel("bulk", [
      Operation.leaf("user", Effect.void),
      Operation.sequence("billing", [Operation.leaf("invoice", Effect.void), Operation.leaf("payment", Effect.void)]),
      Operation.leaf("notify", Effect.void).pipe(Operation.withRetry(Schedule.recurs(1)))
    ], { concurrency: 4, failure: "best-effort" })

    it("lists nodes and counts leaves without running", () => {
      expect(Operation.nodes(tree).map((n) => [n.path, n.kind, n.depth])).toEqual([
        ["bulk", "parallel", 0],
        ["bulk/user", "leaf", 1],
        ["bulk/billing", "sequence", 1],
        ["bulk/billing/invoice", "leaf", 2],
        ["bulk/billing/payment", "leaf", 2],
        ["bulk/notify", "leaf", 1]
      ])
      expect(Operation.leafCount(tree)).toBe(4)
    })

    it("renders an indented text tree", () => {
      expect(Operation.render(tree)).toBe(
        [
          "bulk (parallel ×4, best-effort)",
          "├─ user",
          "├─ billing (sequence)",
          "│  ├─ invoice",
          "│  └─ payment",
          "└─ notify (retry)"
        ].join("\n")
      )
    })

    it("renders a Mermaid flowchart", () => {
      expect(Operation.toMermaid(tree)).toBe(
        [
          "flowchart TD",
          "  n0[[\"bulk<br/>parallel ×4, best-effort\"]]",
          "  n1[\"user\"]",
          "  n0 --> n1",
          "  n2[[\"billing<br/>sequence\"]]",
          "  n0 --> n2",
          "  n3[\"invoice\"]",
          "  n2 --> n3",
          "  n4[\"payment\"]",
          "  n2 --> n4",
          "  n5[\"notify<br/>retry\"]",
          "  n0 --> n5"
        ].join("\n")
      )
    })

    it.effect("renders a status tree and progress bar from a snapshot", () =>
      Effect.gen(function*() {
        const report = yield* Operation.runReport(tree)
        const text = OperationStatus.renderTree(report.snapshot)
        expect(text.split("\n").map((l) => l.replace(/ \d+ms/, ""))).toEqual([
          "✔ bulk succeeded",
          "├─ ✔ user succeeded",
          "├─ ✔ billing succeeded",
          "│  ├─ ✔ invoice succeeded",
          "│  └─ ✔ payment succeeded",
          "└─ ✔ notify succeeded"
        ])
        expect(OperationStatus.renderProgressBar(report.snapshot, 10)).toBe("[██████████] 100% (4/4)")
      }))
  })

  it.effect("spans: one per group by default, per leaf on request, named by path and nested like the tree", () => {
    const tracer = inMemoryTracer()
    return Effect.gen(function*() {
      const tree = Operation.sequence("root", [
        Operation.parallel("group", [
          Operation.leaf("traced", Effect.void, { span: true }),
          Operation.leaf("untraced", Effect.void)
        ], { concurrency: 2 }),
        Operation.leaf("also", Effect.void).pipe(Operation.withSpan(true))
      ])
      yield* tree
      const spans = tracer.spans()
      expect(spans.map((s) => s.name).sort()).toEqual(["root", "root/also", "root/group", "root/group/traced"])
      const parents = parentNames(spans)
      expect(parents.get("root")).toBeUndefined()
      expect(parents.get("root/group")).toBe("root")
      expect(parents.get("root/group/traced")).toBe("root/group")
      expect(parents.get("root/also")).toBe("root")
      const traced = spans.find((s) => s.name === "root/group/traced")!
      expect(traced.attributes["operation.path"]).toBe("root/group/traced")
      expect(traced.attributes["operation.kind"]).toBe("leaf")
    }).pipe(Effect.provide(tracer.layer))
  })

  it.effect("a retried leaf's span covers its attempts and records how many there were", () => {
    const tracer = inMemoryTracer()
    return Effect.gen(function*() {
      let calls = 0
      const flaky = Operation.leaf("flaky", Effect.suspend(() => ++calls < 3 ? Effect.fail("no") : Effect.succeed("ok")), {
        span: true
      }).pipe(Operation.withRetry(Schedule.recurs(5)))
      expect(yield* Operation.run(Operation.sequence("r", [flaky]))).toEqual(["ok"])
      const spans = tracer.spans().filter((s) => s.name === "r/flaky")
      expect(spans).toHaveLength(1)
      expect(spans[0]!.attributes["operation.attempts"]).toBe(3)
    }).pipe(Effect.provide(tracer.layer))
  })

  it.effect("LeafSpans turns on a span for every leaf", () => {
    const tracer = inMemoryTracer()
    return Effect.gen(function*() {
      yield* Operation.parallel("p", [Operation.leaf("a", Effect.void), Operation.leaf("b", Effect.void)], {
        concurrency: 2,
        span: false
      })
      expect(tracer.spans().map((s) => s.name).sort()).toEqual(["p/a", "p/b"])
    }).pipe(Effect.provideService(Operation.LeafSpans, true), Effect.provide(tracer.layer))
  })
})

describe("Operation.withPolicy", () => {
  it.effect("wraps a leaf's attempts with a resilience policy and keeps its status", () =>
    Effect.scoped(Effect.gen(function*() {
      const { Bulkhead } = yield* Effect.promise(() => import("../src/index.js"))
      const bulkhead = yield* Bulkhead.make({ name: "b", maxConcurrent: 1, maxQueued: 0 })
      const gate = yield* Deferred.make<void>()
      const holding = yield* Deferred.make<void>()
      const tree = Operation.parallel("p", [
        Operation.leaf("holder", Effect.zipRight(Deferred.succeed(holding, undefined), Deferred.await(gate))).pipe(
          Operation.withPolicy(bulkhead)
        ),
        Operation.sequence("later", [
          Operation.leaf("wait", Deferred.await(holding)),
          Operation.leaf("rejected", Effect.void).pipe(Operation.withPolicy(bulkhead)),
          Operation.leaf("release", Deferred.succeed(gate, undefined))
        ], { failure: "best-effort" })
      ], { concurrency: 2, failure: "best-effort" })
      const report = yield* Operation.runReport(tree)
      expect(report.snapshot.node("p/holder")?.status).toBe("succeeded")
      expect(report.snapshot.node("p/later/rejected")?.status).toBe("failed")
      expect(report.snapshot.node("p/later/rejected")?.error).toContain("bulkhead \"b\" is full")
    })))
})
