/**
 * An order saga: reserve inventory → charge payment → ship. Shipping fails,
 * so the payment is refunded and the inventory released, in reverse order.
 * The order confirmation e-mail cannot be unsent: it is recorded as
 * irreversible.
 *
 *   npx tsx examples/order-saga.ts
 */
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Saga from "../src/Saga.js"

/** The courier refused the parcel. */
export class ShippingFailed extends Data.TaggedError("ShippingFailed")<{ readonly orderId: string }> {
  override get message() {
    return `no courier available for order ${this.orderId}`
  }
}

/** What happened, in order, for the test and the printout. */
export interface Outcome {
  readonly journal: ReadonlyArray<string>
  readonly error: Saga.SagaFailed<ShippingFailed> | undefined
}

/** Places an order; `shippingWorks: false` makes shipping fail. */
export const placeOrder = (
  options: { readonly shippingWorks: boolean },
  print: (line: string) => Effect.Effect<void> = Console.log
): Effect.Effect<Outcome> =>
  Effect.gen(function*() {
    const journal: Array<string> = []
    const note = (line: string) => Effect.zipRight(Effect.sync(() => journal.push(line)), print(line))
    const orderId = "order-42"

    const order = Saga.run(
      "order",
      Effect.gen(function*() {
        const reservation = yield* Saga.step(
          "reserve-inventory",
          Effect.as(note("reserved 2 × sku-1"), { reservationId: "res-7" }),
          ({ reservationId }) => note(`released reservation ${reservationId}`)
        )
        const charge = yield* Saga.step(
          "charge-payment",
          Effect.as(note(`charged 59.90 EUR (reservation ${reservation.reservationId})`), { chargeId: "ch-3" }),
          ({ chargeId }, cause) => note(`refunded charge ${chargeId} because: ${Saga.reasonOf(cause)}`)
        )
        yield* Saga.irreversible("send-confirmation", note("sent order confirmation e-mail"))
        const shipment = yield* Saga.step(
          "ship",
          options.shippingWorks
            ? Effect.as(note(`shipped (charge ${charge.chargeId})`), { trackingId: "trk-1" })
            : Effect.fail(new ShippingFailed({ orderId })),
          ({ trackingId }) => note(`cancelled shipment ${trackingId}`)
        )
        return shipment.trackingId
      })
    )

    const error = yield* order.pipe(
      Effect.tap((trackingId) => note(`order complete, tracking ${trackingId}`)),
      Effect.as(undefined),
      Effect.catchTag("SagaFailed", (failed) =>
        Effect.as(
          note(
            `order failed: ${failed.message}\n` +
              failed.compensations.map((c) => `  ${c.step}: ${c.outcome._tag}`).join("\n")
          ),
          failed
        ))
    )
    return { journal, error }
  })

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(placeOrder({ shippingWorks: false }))
}
