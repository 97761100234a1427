import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { placeOrder } from "./order-saga.js"
import { updateUser } from "./user-update-three-phase.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const quiet = () => Effect.void

const runExample = (file: string) =>
  new Promise<{ code: number | null; stdout: string }>((resolve) => {
    execFile(process.execPath, ["--import", "tsx", file], { cwd: root }, (error, stdout) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout }))
  })

describe("examples/order-saga", () => {
  it.effect("shipping fails: the payment is refunded, then the inventory released", () =>
    Effect.gen(function*() {
      const { error, journal } = yield* placeOrder({ shippingWorks: false }, quiet)
      expect(journal.slice(0, 5)).toEqual([
        "reserved 2 × sku-1",
        "charged 59.90 EUR (reservation res-7)",
        "sent order confirmation e-mail",
        "refunded charge ch-3 because: no courier available for order order-42",
        "released reservation res-7"
      ])
      expect(error?.compensations.map((c) => `${c.step}:${c.outcome._tag}`)).toEqual([
        "send-confirmation:Irreversible",
        "charge-payment:Compensated",
        "reserve-inventory:Compensated"
      ])
    }))

  it.effect("shipping works: nothing is compensated", () =>
    Effect.gen(function*() {
      const { error, journal } = yield* placeOrder({ shippingWorks: true }, quiet)
      expect(error).toBeUndefined()
      expect(journal.at(-1)).toBe("order complete, tracking trk-1")
      expect(journal.some((line) => line.startsWith("refunded") || line.startsWith("released"))).toBe(false)
    }))

  it("runs as a script", async () => {
    const { code, stdout } = await runExample("examples/order-saga.ts")
    expect(code).toBe(0)
    expect(stdout).toContain("refunded charge ch-3")
    expect(stdout.indexOf("refunded")).toBeLessThan(stdout.indexOf("released reservation"))
  })
})

describe("examples/user-update-three-phase", () => {
  it.effect("both services accept: both changes committed, nothing pending", () =>
    Effect.gen(function*() {
      const result = yield* updateUser({ paymentRejects: false }, quiet)
      expect(result.state).toBe("completed")
      expect(result.committed).toEqual({ users: { "u-1": "new@example.com" }, payments: { "u-1": "new@example.com" } })
      expect(result.pending).toBe(0)
      expect(result.logs.map((l) => l.phase)).toEqual(["execute", "execute", "verify", "verify", "approve", "approve"])
    }))

  it.effect("payment rejects at verify: both pending changes are discarded, nothing committed", () =>
    Effect.gen(function*() {
      const result = yield* updateUser({ paymentRejects: true }, quiet)
      expect(result.state).toBe("failed")
      expect(result.committed).toEqual({ users: {}, payments: {} })
      expect(result.pending).toBe(0)
      expect(result.lastError).toContain("failed in verify")
      const compensations = result.logs.filter((l) => l.phase === "compensate").map((l) => `${l.participant}:${l.outcome}`)
      expect(compensations.sort()).toEqual(["payment:succeeded", "user:succeeded"])
      expect(result.logs.some((l) => l.phase === "approve")).toBe(false)
    }))

  it("runs as a script", async () => {
    const { code, stdout } = await runExample("examples/user-update-three-phase.ts")
    expect(code).toBe(0)
    expect(stdout).toContain("state: completed")
    expect(stdout).toContain("state: failed")
  })
})
