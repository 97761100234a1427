/**
 * The `payment` component in two versions sharing one contract, for traffic splitting.
 */
import { Effect, Schema } from "effect"
import * as Component from "../../../src/Component.js"

export class PaymentDeclined extends Schema.TaggedError<PaymentDeclined>()("PaymentDeclined", {
  amount: Schema.Number,
  limit: Schema.Number
}) {}

const contract = {
  description: "Captures a payment",
  input: Schema.Struct({
    userId: Schema.String,
    amount: Schema.Number.pipe(Schema.positive()),
    currency: Schema.Literal("EUR", "USD")
  }),
  output: Schema.Struct({ paymentId: Schema.String, amount: Schema.Number, processor: Schema.String }),
  error: PaymentDeclined,
  config: Schema.Struct({ limit: Schema.Number.pipe(Schema.positive()), processor: Schema.String })
}

export const Payment = Component.make({ name: "payment", ...contract })
export const PaymentV2 = Component.make({ name: "payment-v2", ...contract })

let sequence = 0

const capture = (
  input: typeof contract.input.Type,
  config: typeof contract.config.Type
): Effect.Effect<typeof contract.output.Type, PaymentDeclined> =>
  input.amount > config.limit
    ? Effect.fail(new PaymentDeclined({ amount: input.amount, limit: config.limit }))
    : Effect.sync(() => ({ paymentId: `pay-${++sequence}`, amount: input.amount, processor: config.processor }))

export const PaymentLive = Payment.toLayer(capture)
export const PaymentV2Live = PaymentV2.toLayer(capture)
