/**
 * Updating a user across two services with a three-phase saga (from the Go
 * orchestrator seed): the user service and the payment service each stage a
 * pending change (execute), confirm they can accept it (verify), then commit
 * it (approve). If the payment service rejects the change at verification,
 * both pending changes are discarded.
 *
 *   npx tsx examples/user-update-three-phase.ts
 */
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as ThreePhaseSaga from "../src/ThreePhaseSaga.js"

/** A service refused a pending change. */
export class ChangeRejected extends Data.TaggedError("ChangeRejected")<{
  readonly service: string
  readonly reason: string
}> {
  override get message() {
    return `${this.service} rejected the change: ${this.reason}`
  }
}

interface User {
  readonly id: string
  readonly email: string
}

/** An in-memory service with committed records and staged (pending) changes. */
const makeService = (service: string, rejectAtVerify: boolean) =>
  Effect.gen(function*() {
    const committed = yield* Ref.make(new Map<string, string>())
    const pending = yield* Ref.make(new Map<string, string>())
    let next = 0
    return {
      stage: (user: User) =>
        Effect.gen(function*() {
          const pendingId = `${service}-pending-${++next}`
          yield* Ref.update(pending, (m) => new Map(m).set(pendingId, user.email))
          return { pendingId, userId: user.id }
        }),
      verify: (pendingId: string) =>
        rejectAtVerify
          ? Effect.fail(new ChangeRejected({ service, reason: "e-mail already used by another billing account" }))
          : Effect.flatMap(Ref.get(pending), (m) =>
            m.has(pendingId) ? Effect.void : Effect.fail(new ChangeRejected({ service, reason: `unknown ${pendingId}` }))),
      commit: (pendingId: string, userId: string) =>
        Effect.gen(function*() {
          const email = (yield* Ref.get(pending)).get(pendingId)
          if (email === undefined) return yield* new ChangeRejected({ service, reason: `unknown ${pendingId}` })
          yield* Ref.update(committed, (m) => new Map(m).set(userId, email))
          yield* Ref.update(pending, (m) => {
            const copy = new Map(m)
            copy.delete(pendingId)
            return copy
          })
        }),
      discard: (pendingId: string) =>
        Ref.update(pending, (m) => {
          const copy = new Map(m)
          copy.delete(pendingId)
          return copy
        }),
      committed: Effect.map(Ref.get(committed), (m) => Object.fromEntries(m)),
      pending: Effect.map(Ref.get(pending), (m) => m.size)
    }
  })

/** What a run leaves behind. */
export interface Result {
  readonly state: ThreePhaseSaga.State
  readonly logs: ReadonlyArray<ThreePhaseSaga.LogEntry>
  readonly lastError: string | undefined
  readonly committed: { readonly users: Record<string, string>; readonly payments: Record<string, string> }
  readonly pending: number
}

/** Updates user `u-1`'s e-mail; `paymentRejects` makes the payment service refuse at verify. */
export const updateUser = (
  options: { readonly paymentRejects: boolean },
  print: (line: string) => Effect.Effect<void> = Console.log
): Effect.Effect<Result, ThreePhaseSaga.ThreePhaseSagaInvalid> =>
  Effect.gen(function*() {
    const users = yield* makeService("user-service", false)
    const payments = yield* makeService("payment-service", options.paymentRejects)
    const user: User = { id: "u-1", email: "new@example.com" }

    const participantFor = (name: string, service: typeof users) => {
      const execute = service.stage(user)
      return ThreePhaseSaga.participant({
        name,
        execute,
        verify: ({ pendingId }) => service.verify(pendingId),
        approve: ({ pendingId, userId }) => service.commit(pendingId, userId),
        compensate: ({ pendingId }) => service.discard(pendingId)
      })
    }

    const saga = yield* ThreePhaseSaga.make("user-update", [
      participantFor("user", users),
      participantFor("payment", payments)
    ])
    yield* Effect.ignore(saga.run)

    const logs = yield* saga.executionLogs
    for (const entry of logs) {
      yield* print(`${entry.participant.padEnd(8)} ${entry.phase.padEnd(10)} ${entry.outcome}${entry.error ? ` (${entry.error})` : ""}`)
    }
    const state = yield* saga.state
    const lastError = Option.getOrUndefined(Option.map(yield* saga.lastError, (e) => e.message))
    yield* print(`state: ${state}${lastError ? ` — ${lastError}` : ""}`)
    return {
      state,
      logs,
      lastError,
      committed: { users: yield* users.committed, payments: yield* payments.committed },
      pending: (yield* users.pending) + (yield* payments.pending)
    }
  })

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(
    Effect.zipRight(
      Effect.zipRight(Console.log("— payment service accepts —"), updateUser({ paymentRejects: false })),
      Effect.zipRight(Console.log("\n— payment service rejects at verify —"), updateUser({ paymentRejects: true }))
    )
  )
}
