import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Layer, Stream } from "effect"
import * as Component from "../src/Component.js"
import * as Entrypoint from "../src/Entrypoint.js"
import * as Registry from "../src/Registry.js"
import * as ServiceEvent from "../src/ServiceEvent.js"
import { spawnSync } from "node:child_process"
import * as NodePath from "node:path"
import { exampleConfig } from "./utils/registry.js"
import { entrypointLayer, Greet, GreetLive } from "./utils/services.js"

describe("Entrypoint", () => {
  it.effect("decodes the payload, runs the handler and encodes the output", () =>
    Effect.gen(function*() {
      expect(yield* Entrypoint.execute({ service: "greet", payload: { name: "Ada" } })).toEqual({
        greeting: "Hello Ada",
        version: 1
      })
    }).pipe(Effect.provide(entrypointLayer())))

  it.effect("unknown service, invalid payload and handler failure are distinct typed errors", () =>
    Effect.gen(function*() {
      const unknown = yield* Effect.flip(Entrypoint.execute({ service: "ghost", payload: {} }))
      expect(unknown).toBeInstanceOf(Registry.ComponentNotFound)
      const invalid = yield* Effect.flip(Entrypoint.execute({ service: "greet", payload: { name: 1 } }))
      expect(invalid).toBeInstanceOf(Component.ComponentInputInvalid)
      expect(invalid._tag === "ComponentInputInvalid" && invalid.issues).toEqual([
        { path: "name", message: "Expected string, actual 1" }
      ])
      const failed = yield* Effect.flip(Entrypoint.execute({ service: "greet", payload: { name: "nobody" } }))
      expect(failed).toBeInstanceOf(Component.ComponentFailed)
      expect(failed._tag === "ComponentFailed" && failed.error).toEqual({ _tag: "Refused", reason: "no name" })
      const defect = yield* Effect.exit(Entrypoint.execute({ service: "greet", payload: { name: "crash" } }))
      expect(Exit.isFailure(defect) && Exit.causeOption(defect)).toBeTruthy()
    }).pipe(Effect.provide(entrypointLayer())))

  it.scoped("publishes call lifecycle events on the bus", () =>
    Effect.gen(function*() {
      const bus = yield* ServiceEvent.ServiceEventBus
      const events = yield* bus.subscribe
      const collected = yield* Effect.fork(Stream.runCollect(Stream.take(events, 4)))
      yield* Entrypoint.execute({ service: "greet", payload: { name: "a" } })
      yield* Effect.either(Entrypoint.execute({ service: "greet", payload: { name: "nobody" } }))
      const tags = Chunk.toArray(yield* Fiber.join(collected)).map((e) => [e._tag, "service" in e ? e.service : ""])
      expect(tags).toEqual([
        ["CallStarted", "greet"],
        ["CallSucceeded", "greet"],
        ["CallStarted", "greet"],
        ["CallFailed", "greet"]
      ])
    }).pipe(Effect.provide(entrypointLayer())))

  it.effect("components are plain values usable from typed code", () =>
    Effect.gen(function*() {
      const result = yield* Component.call(Greet, { name: "Ada" }, { version: 7 })
      expect(result).toEqual({ greeting: "Hello Ada", version: 7 })
    }).pipe(Effect.provide(GreetLive)))

  it.effect("runs the example registry from its services.json", () =>
    Effect.gen(function*() {
      const user = yield* Entrypoint.execute({ service: "user", payload: { id: "u1" } })
      expect(user).toEqual({ id: "u1", name: "Ada", email: "ada@example.com" })
      const missing = yield* Effect.flip(Entrypoint.execute({ service: "user", payload: { id: "u9" } }))
      expect(missing._tag === "ComponentFailed" && missing.error).toEqual({ _tag: "UserNotFound", id: "u9" })
      const unauthenticated = yield* Effect.flip(
        Entrypoint.execute({ service: "payment", payload: { userId: "u1", amount: 10, currency: "EUR" } })
      )
      expect(unauthenticated._tag).toBe("AuthenticationFailed")
      const payment = yield* Entrypoint.execute({
        service: "payment",
        payload: { userId: "u1", amount: 10, currency: "EUR" },
        metadata: { "x-api-key": "shop-secret-key" }
      })
      expect(payment).toMatchObject({ amount: 10 })
      const sent = yield* Entrypoint.execute({ service: "notification", payload: { to: "ada@example.com", message: "hi" } })
      expect(sent).toEqual({ delivered: true, channel: "email", to: "ada@example.com" })
    }).pipe(
      Effect.provide(
        Entrypoint.layer.pipe(
          Layer.provideMerge(Registry.layerFile(exampleConfig)),
          Layer.provideMerge(ServiceEvent.layer)
        )
      )
    ))

  it("the example program runs the registry end to end", () => {
    const root = NodePath.resolve(import.meta.dirname, "..")
    const result = spawnSync(NodePath.join(root, "node_modules/.bin/tsx"), ["examples/registry/main.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000
    })
    expect(result.status).toBe(0)
    expect(result.stdout).toContain("user -> {\"id\":\"u1\",\"name\":\"Ada\",\"email\":\"ada@example.com\"}")
    expect(result.stdout).toContain("user -> ComponentInputInvalid: Invalid input for service \"user\": at id")
    expect(result.stdout).toContain("payment -> AuthenticationFailed")
    expect(result.stdout).toContain("ghost -> ComponentNotFound")
    expect(result.stdout).toContain("typed call -> {\"id\":\"u2\"")
    expect(result.stdout).toContain("event CallSucceeded notification")
  })
})
