/**
 * Testing the order saga (examples/order-saga.ts) with effect-loom's test kit, as a user would.
 *
 * The saga reserves inventory, charges the payment, sends a confirmation e-mail (irreversible) and
 * ships. Instead of editing the saga to make a step fail, the tests inject faults from outside with
 * `Testing.faults([...])`, then assert what the user cares about:
 *
 * - the compensations that ran, in reverse order (the saga's own journal),
 * - the span tree the saga recorded (`Testing.layerSpans` + `Testing.spanTree`),
 * - the compensation metric (`Testing.layerMetrics` + `Testing.metricValue`).
 *
 * Everything comes from the public API: `Testing` from the package index.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { Testing } from "../src/index.js"
import { placeOrder } from "./order-saga.js"

/** The order saga prints each line by default; in tests we only keep its journal. */
const quietly = () => Effect.void

/**
 * One layer per test: spans and metrics are recorded from scratch, and the faults' attempt counters start
 * at zero. `Layer.mergeAll` is all it takes to combine the kit's layers.
 */
const testKit = (faults: ReadonlyArray<Testing.Fault>) =>
  Layer.mergeAll(Testing.layerSpans, Testing.layerMetrics, Testing.faults(faults))

describe("testing the order saga with the test kit", () => {
  it.effect("the payment step fails: only the reservation is released, and nothing else runs", () =>
    Effect.gen(function*() {
      // Shipping would work; the fault makes the "charge-payment" step fail instead.
      const outcome = yield* placeOrder({ shippingWorks: true }, quietly)

      expect(outcome.journal.slice(0, 2)).toEqual([
        "reserved 2 × sku-1",
        // the only completed step is compensated; the charge, the e-mail and the shipment never happened
        "released reservation res-7"
      ])
      expect(outcome.error?.compensations.map((c) => [c.step, c.outcome._tag])).toEqual([
        ["reserve-inventory", "Compensated"]
      ])
      // The injected failure is a `Testing.FaultInjected` naming the step (pass your own error with
      // `Testing.failWith("step", "charge-payment", new CardDeclined())`).
      expect(outcome.error?.message).toContain(`Injected fault on step "charge-payment"`)

      // The span tree: `status: true` marks failed spans, `attributes` shows chosen attributes.
      expect(yield* Testing.spanTree({ status: true })).toBe(
        [
          "order.saga [error]",
          "  reserve-inventory.forward",
          "  charge-payment.forward [error]",
          "  reserve-inventory.compensate"
        ].join("\n")
      )
      expect(yield* Testing.metricValue("effect_loom.saga.compensations", { saga: "order" })).toBe(1)
    }).pipe(Effect.provide(testKit([Testing.failTimes("step", "charge-payment", 1)]))))

  it.effect("shipping fails: refund then release, in reverse order; the e-mail is irreversible", () =>
    Effect.gen(function*() {
      const outcome = yield* placeOrder({ shippingWorks: true }, quietly)

      expect(outcome.journal.slice(0, 5)).toEqual([
        "reserved 2 × sku-1",
        "charged 59.90 EUR (reservation res-7)",
        "sent order confirmation e-mail",
        `refunded charge ch-3 because: Injected fault on step "ship" (attempt 1)`,
        "released reservation res-7"
      ])
      expect(outcome.error?.compensations.map((c) => [c.step, c.outcome._tag])).toEqual([
        ["send-confirmation", "Irreversible"],
        ["charge-payment", "Compensated"],
        ["reserve-inventory", "Compensated"]
      ])

      // Compensation spans come after the failed step, newest step first.
      expect(yield* Testing.spanTree({ status: true, attributes: ["saga.step"] })).toBe(
        [
          "order.saga [error]",
          "  reserve-inventory.forward {saga.step=reserve-inventory}",
          "  charge-payment.forward {saga.step=charge-payment}",
          "  send-confirmation.forward {saga.step=send-confirmation}",
          "  ship.forward {saga.step=ship} [error]",
          "  charge-payment.compensate {saga.step=charge-payment}",
          "  reserve-inventory.compensate {saga.step=reserve-inventory}"
        ].join("\n")
      )

      // Individual spans can be looked up, with their parent and attributes.
      const refund = yield* Testing.findSpan("charge-payment.compensate")
      const parent = yield* Testing.parentOf(refund)
      expect(Option.map(parent, (span) => span.name)).toEqual(Option.some("order.saga"))

      expect(yield* Testing.metricValue("effect_loom.saga.compensations", { saga: "order" })).toBe(2)
      expect(yield* Testing.metricValue("effect_loom.saga.compensations", { saga: "order", step: "charge-payment" }))
        .toBe(1)
    }).pipe(Effect.provide(testKit([Testing.failTimes("step", "ship", 1)]))))

  it.effect("a fault for one attempt only: the next order goes through", () =>
    Effect.gen(function*() {
      const first = yield* placeOrder({ shippingWorks: true }, quietly)
      expect(first.error?._tag).toBe("SagaFailed")
      const second = yield* placeOrder({ shippingWorks: true }, quietly)
      expect(second.error).toBeUndefined()
      expect(second.journal.at(-1)).toBe("order complete, tracking trk-1")
      expect(yield* Testing.metricValue("effect_loom.saga.compensations", { saga: "order" })).toBe(2)
    }).pipe(Effect.provide(testKit([Testing.failTimes("step", "ship", 1)]))))

  it.effect("a slow payment provider: latency follows TestClock, so no test waits for real", () =>
    Effect.gen(function*() {
      // 30 seconds of injected latency on the payment step…
      const order = yield* Effect.fork(placeOrder({ shippingWorks: true }, quietly))
      yield* TestClock.adjust("29 seconds")
      expect(yield* Fiber.poll(order)).toEqual(Option.none())
      // …pass in an instant when the test moves the clock.
      yield* TestClock.adjust("1 second")
      const outcome = yield* Fiber.join(order)
      expect(outcome.error).toBeUndefined()
    }).pipe(Effect.provide(testKit([Testing.latency("step", "charge-payment", "30 seconds")]))))
})
