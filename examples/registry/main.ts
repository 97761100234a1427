/**
 * The example registry in action, without HTTP:
 *
 *   npx tsx examples/registry/main.ts
 *
 * Loads `services.json`, watches the lifecycle events, and executes a few calls through the entrypoint
 * (interceptors included), then calls the `user` component directly from typed code.
 */
import { Console, Effect, Layer, Stream } from "effect"
import { fileURLToPath } from "node:url"
import * as Component from "../../src/Component.js"
import * as Entrypoint from "../../src/Entrypoint.js"
import * as Registry from "../../src/Registry.js"
import * as ServiceEvent from "../../src/ServiceEvent.js"
import { User, UserLive } from "./components/user.js"

const config = fileURLToPath(new URL("./services.json", import.meta.url))

const program = Effect.gen(function*() {
  const bus = yield* ServiceEvent.ServiceEventBus
  const events = yield* bus.subscribe
  yield* Effect.forkScoped(
    Stream.runForEach(events, (event) =>
      event._tag === "CallSucceeded" || event._tag === "CallFailed"
        ? Console.log(`  event ${event._tag} ${event.service}`)
        : Effect.void)
  )
  const show = (service: string, payload: unknown, metadata?: Record<string, string>) =>
    Entrypoint.execute({ service, payload, metadata }).pipe(
      Effect.matchEffect({
        onSuccess: (output) => Console.log(`${service} -> ${JSON.stringify(output)}`),
        onFailure: (error) => Console.log(`${service} -> ${error._tag}: ${error.message}`)
      })
    )
  yield* show("user", { id: "u1" })
  yield* show("user", { id: "u9" })
  yield* show("user", { id: 42 })
  yield* show("payment", { userId: "u1", amount: 20, currency: "EUR" })
  yield* show("payment", { userId: "u1", amount: 20, currency: "EUR" }, { "x-api-key": "shop-secret-key" })
  yield* show("notification", { to: "ada@example.com", message: "Your payment went through" })
  yield* show("ghost", {})
  yield* Effect.yieldNow()

  // the same component from typed code, no registry involved
  const direct = yield* Component.call(User, { id: "u2" }, { domain: "example.org", users: { u2: "Grace" } }).pipe(
    Effect.provide(UserLive)
  )
  yield* Console.log(`typed call -> ${JSON.stringify(direct)}`)
})

program.pipe(
  Effect.scoped,
  Effect.provide(
    Entrypoint.layer.pipe(Layer.provideMerge(Registry.layerFile(config)), Layer.provideMerge(ServiceEvent.layer))
  ),
  Effect.tapErrorCause(Effect.logError),
  Effect.runPromise
).catch(() => {
  process.exitCode = 1
})
