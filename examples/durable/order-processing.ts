/**
 * Function chaining: each step feeds the next. Every step is an activity, so after a crash the order
 * resumes at the first step that had not completed.
 *
 * Run: npx tsx examples/durable/order-processing.ts
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Activity from "../../src/Activity.js"
import * as Workflow from "../../src/Workflow.js"
import * as WorkflowEngine from "../../src/WorkflowEngine.js"
import { runIfMain } from "./runtime.js"

export class OrderRejected extends Schema.TaggedError<OrderRejected>()("OrderRejected", {
  reason: Schema.String
}) {}

export const Order = Schema.Struct({ id: Schema.String, sku: Schema.String, quantity: Schema.Number })

export const OrderProcessing = Workflow.make({
  name: "OrderProcessing",
  payload: Order,
  success: Schema.String,
  error: OrderRejected
})

const validate = (order: typeof Order.Type) =>
  Activity.make({
    name: "ValidateOrder",
    success: Order,
    error: OrderRejected,
    execute: order.quantity > 0 ? Effect.succeed(order) : Effect.fail(new OrderRejected({ reason: "empty order" }))
  })
const reserve = (order: typeof Order.Type) =>
  Activity.make({ name: "ReserveInventory", success: Schema.String, execute: Effect.succeed(`res-${order.id}`) })
const pay = (order: typeof Order.Type) =>
  Activity.make({
    name: "ProcessPayment",
    success: Schema.String,
    // the idempotency key lets the payment provider drop a duplicate after a crash
    execute: Effect.map(Activity.idempotencyKey, (key) => `pay-${order.id} (key ${key})`)
  })
const ship = (reservation: string) =>
  Activity.make({ name: "ShipOrder", success: Schema.String, execute: Effect.succeed(`ship-${reservation}`) })

export const OrderProcessingLive = OrderProcessing.toLayer((order) =>
  Effect.gen(function*() {
    const valid = yield* validate(order)
    const reservation = yield* reserve(valid)
    yield* pay(valid)
    const shipment = yield* ship(reservation)
    return `Order complete: ${shipment}`
  })
)

export const program = Effect.gen(function*() {
  const engine = yield* WorkflowEngine.WorkflowEngine
  yield* engine.start(OrderProcessing, { id: "order-42", payload: { id: "42", sku: "book", quantity: 1 } })
  return yield* engine.result(OrderProcessing, "order-42")
})

runIfMain(import.meta.url, OrderProcessingLive, program)
