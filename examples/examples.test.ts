import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Operation } from "../src/index.js"
import { otlpReceiver } from "../test/utils/otlpReceiver.js"
import { makeBulkUpdate } from "./bulk-update.js"
import { order, program } from "./quick-start.js"

const root = fileURLToPath(new URL("..", import.meta.url))

/** Runs an example as `npm start` would (piped output, so plain lines), and returns exit code and output. */
const runExample = (file: string, env: Record<string, string> = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ["--import", "tsx", file], { cwd: root, env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }))
  })

describe("examples/bulk-update", () => {
  it.live("succeeds: inventory fails once and succeeds on retry, billing runs invoice then payment", () =>
    Effect.gen(function*() {
      const tree = yield* makeBulkUpdate({ pace: 0.05 })
      const report = yield* Operation.runReport(tree)
      expect(Exit.isSuccess(report.exit)).toBe(true)
      if (Exit.isSuccess(report.exit)) {
        expect(report.exit.value.billing).toEqual({ invoice: { invoiceId: 123 }, payment: { paymentId: "pay-9", amount: 42 } })
        expect(report.exit.value.inventory).toEqual({ sku: "A1", reserved: 3 })
      }
      const s = report.snapshot
      expect(s.node("bulk-update/inventory-service")).toMatchObject({ status: "succeeded", attempts: 2 })
      expect(s.node("bulk-update/billing/payment")!.startedAt!).toBeGreaterThanOrEqual(s.node("bulk-update/billing/invoice")!.endedAt!)
      expect(s.counts().succeeded).toBe(7)
    }))

  it.live("a failing payment fails the run with the aggregated error; the other services still complete", () =>
    Effect.gen(function*() {
      const tree = yield* makeBulkUpdate({ pace: 0.05, failing: ["payment"] })
      const report = yield* Operation.runReport(tree)
      expect(Exit.isFailure(report.exit)).toBe(true)
      if (Exit.isFailure(report.exit)) {
        const error = Cause.squash(report.exit.cause) as Operation.OperationGroupFailed<{ service: string }>
        expect(error._tag).toBe("OperationGroupFailed")
        expect(error.failures.map((f) => f.path)).toEqual(["bulk-update/billing/payment"])
      }
      expect(report.snapshot.node("bulk-update/notifications")?.status).toBe("succeeded")
      expect(report.snapshot.node("bulk-update/user-service")?.status).toBe("succeeded")
    }))

  it("npm start's program prints a line per status change and exits 0", async () => {
    const { code, stdout } = await runExample("examples/bulk-update.ts")
    expect(code).toBe(0)
    expect(stdout).toContain("▶ bulk-update/inventory-service running (attempt 2)")
    expect(stdout).toContain("✔ bulk-update/billing/payment succeeded")
    expect(stdout).toMatch(/bulk-update succeeded in \d+ms — 7 succeeded/)
  })

  it.scopedLive("with OTEL_EXPORTER_OTLP_ENDPOINT set, npm start's program exports the tree's spans and metrics", () =>
    Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const { code, stdout } = yield* Effect.promise(() =>
        runExample("examples/bulk-update.ts", {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_SERVICE_NAME: "bulk-update-job",
          EFFECT_LOOM_LEAF_SPANS: "true"
        })
      )
      expect(code).toBe(0)
      expect(stdout).toMatch(/bulk-update succeeded in \d+ms — 7 succeeded/)
      expect(receiver.errors).toEqual([])
      const spans = receiver.spans
      const named = (name: string) => {
        const found = spans.filter((s) => s.name === name)
        expect(found.map((s) => s.name)).toEqual([name])
        return found[0]!
      }
      const parentOf = (name: string) => spans.find((s) => s.spanId === named(name).parentSpanId)?.name
      expect(named("bulk-update").resource["service.name"]).toBe("bulk-update-job")
      for (const leaf of ["user-service", "inventory-service", "notifications", "billing"]) {
        expect(parentOf(`bulk-update/${leaf}`)).toBe("bulk-update")
      }
      expect(parentOf("bulk-update/billing/invoice")).toBe("bulk-update/billing")
      expect(parentOf("bulk-update/billing/payment")).toBe("bulk-update/billing")
      expect(named("bulk-update/inventory-service").attributes["operation.attempts"]).toBe(2)
      // metrics are pushed when the program ends
      const runs = receiver.metrics.find((m) => m.name === "effect_loom.operation.duration")
      expect(runs).toBeDefined()
    }))

  it("exits non-zero and prints the aggregated errors when a service keeps failing", async () => {
    const { code, stdout, stderr } = await runExample("examples/bulk-update.ts", { BULK_UPDATE_FAIL: "payment" })
    expect(code).toBe(1)
    expect(stdout).toContain("- bulk-update/billing/payment: ServiceError: payment: service unavailable")
    expect(stderr + stdout).toContain("OperationGroupFailed")
  })
})

describe("examples/quick-start", () => {
  it.effect("returns the typed output after one retry", () =>
    Effect.gen(function*() {
      const out = yield* program
      expect(out).toEqual({ lookup: { user: { id: 1, name: "Ada" }, stock: 7 }, confirm: "confirmed" })
      expect(Operation.leafCount(order)).toBe(3)
    }))
})
