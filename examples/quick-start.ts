/**
 * The README's quick start: three calls, two of them in parallel, a retry,
 * and a report at the end.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { Operation, OperationConsole } from "../src/index.js"

let attempts = 0
const flakyStock = Effect.suspend(() => ++attempts < 2 ? Effect.fail("busy" as const) : Effect.succeed(7))

export const order = Operation.sequence("order", {
  lookup: Operation.parallel("lookup", {
    user: Operation.leaf("user", Effect.succeed({ id: 1, name: "Ada" })),
    stock: Operation.leaf("stock", flakyStock).pipe(Operation.withRetry(Schedule.recurs(2)))
  }, { concurrency: 2 }),
  confirm: Operation.leaf("confirm", Effect.succeed("confirmed"))
})

export const program = Effect.gen(function*() {
  const report = yield* Operation.runReport(order)
  yield* Effect.log(OperationConsole.renderReport(report))
  // Typed output: { lookup: { user: { id: number; name: string }; stock: number }; confirm: string }
  return yield* report.exit
})

if (process.argv[1]?.endsWith("quick-start.ts")) Effect.runPromise(program).then((out) => process.stdout.write(`${JSON.stringify(out)}\n`))
