/**
 * The bulk update of the composite-pattern seed, as an operation tree:
 * user-service, inventory-service (fails once, then succeeds on retry), a
 * billing flow (invoice then payment, in sequence) and notifications run in
 * parallel against simulated services with latency.
 *
 *   npm start                                  # everything succeeds, exit code 0
 *   BULK_UPDATE_FAIL=payment npm start         # payment keeps failing, exit code 1
 *
 * On a terminal the progress bar and status tree redraw in place; when output
 * is piped, one plain line is printed per status change.
 *
 * The job runs under `Telemetry.layer`, configured from the environment: with
 * nothing set it exports nothing; with a collector it sends traces (a span per
 * node with leaf spans on), metrics and JSON logs:
 *
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_SERVICE_NAME=bulk-update \
 *   EFFECT_LOOM_LEAF_SPANS=true npm start
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import { pathToFileURL } from "node:url"
import { Operation, OperationConsole, Telemetry } from "../src/index.js"

/** What a simulated service fails with. */
export class ServiceError extends Data.TaggedError("ServiceError")<{
  readonly service: string
  readonly reason: string
}> {
  override get message() {
    return `${this.service}: ${this.reason}`
  }
}

export interface BulkUpdateOptions {
  /** Services that always fail (e.g. `["payment"]`), to see the failure path. */
  readonly failing?: ReadonlyArray<string>
  /** Scales every simulated latency (1 = the demo's pace). */
  readonly pace?: number
}

/** Builds the tree. The inventory service is flaky: its first call fails. */
export const makeBulkUpdate = (options: BulkUpdateOptions = {}) =>
  Effect.gen(function*() {
    const failing = new Set(options.failing ?? [])
    const pace = options.pace ?? 1
    const inventoryCalls = yield* Ref.make(0)

    // A remote call: some latency, then the result or a typed error.
    const call = <A>(service: string, latencyMs: number, result: A) =>
      Effect.sleep(latencyMs * pace).pipe(
        Effect.zipRight(
          failing.has(service)
            ? Effect.fail(new ServiceError({ service, reason: "service unavailable" }))
            : Effect.succeed(result)
        )
      )

    const inventory = Effect.flatMap(
      Ref.updateAndGet(inventoryCalls, (n) => n + 1),
      (n) =>
        n === 1
          ? Effect.sleep(200 * pace).pipe(
            Effect.zipRight(Effect.fail(new ServiceError({ service: "inventory-service", reason: "lock timeout" })))
          )
          : call("inventory-service", 250, { sku: "A1", reserved: 3 })
    )

    return Operation.parallel("bulk-update", {
      user: Operation.leaf("user-service", call("user-service", 300, { userId: 1, updated: true })),
      inventory: Operation.leaf("inventory-service", inventory).pipe(
        Operation.withTimeout("2 seconds"),
        Operation.withRetry(Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(3))))
      ),
      billing: Operation.sequence("billing", {
        invoice: Operation.leaf("invoice", call("invoice", 250, { invoiceId: 123 })),
        payment: Operation.leaf("payment", call("payment", 300, { paymentId: "pay-9", amount: 42 }))
      }),
      notifications: Operation.leaf("notifications", call("notifications", 450, { sent: 2 }))
    }, { concurrency: 4, failure: "best-effort" })
  })

/** The main job: run the tree with a live view, print the final report, fail if it failed. */
export const main = Effect.gen(function*() {
  const failing = yield* Config.array(Config.string(), "BULK_UPDATE_FAIL").pipe(Config.withDefault([]))
  const tree = yield* makeBulkUpdate({ failing })
  yield* Console.log(Operation.render(tree) + "\n")
  const report = yield* Operation.runReport(tree, {
    interval: "50 millis",
    onProgress: OperationConsole.view({ interactive: process.stdout.isTTY === true })
  })
  yield* Console.log("\n" + OperationConsole.renderReport(report))
  // A failed run fails the program: runMain prints the aggregated error and exits non-zero.
  return yield* report.exit
})

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  NodeRuntime.runMain(main.pipe(Effect.provide(Telemetry.layer)))
}
