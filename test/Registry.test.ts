import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Stream } from "effect"
import * as NodeFs from "node:fs"
import * as Registry from "../src/Registry.js"
import * as ServiceEvent from "../src/ServiceEvent.js"
import { echoService, exampleConfig, fixtureDir, tempConfig } from "./utils/registry.js"
import * as NodePath from "node:path"

const loadError = (content: unknown) =>
  Effect.gen(function*() {
    const file = yield* tempConfig(content)
    const result = yield* Effect.either(Registry.load(file))
    if (Either.isRight(result)) throw new Error("expected the config to be rejected")
    expect(result.left.message).toContain(NodePath.basename(file))
    return result.left
  }).pipe(Effect.scoped, Effect.provide(ServiceEvent.layer))

describe("Registry", () => {
  it.effect("loads the example registry with its services and interceptor chains", () =>
    Effect.gen(function*() {
      const snapshot = yield* Registry.load(exampleConfig)
      expect([...snapshot.services.keys()].sort()).toEqual(["notification", "payment", "payment-v2", "user"])
      expect(snapshot.services.get("payment")!.interceptors).toEqual([
        "logging",
        "metrics",
        "tracing",
        "auth",
        "validation",
        "split",
        "circuitBreaker",
        "timeout"
      ])
      expect(snapshot.services.get("user")!.interceptors).toEqual([
        "logging",
        "metrics",
        "tracing",
        "validation",
        "timeout",
        "cache"
      ])
      expect(snapshot.services.get("user")!.instance.config).toEqual({
        domain: "example.com",
        users: { u1: "Ada", u2: "Grace" }
      })
      expect(snapshot.server.maxBodyBytes).toBe(1048576)
    }).pipe(Effect.scoped, Effect.provide(ServiceEvent.layer)))

  it.effect("registers plugin components discovered in a declared directory", () =>
    Effect.gen(function*() {
      const snapshot = yield* Registry.load(NodePath.join(fixtureDir, "services.json"))
      expect([...snapshot.services.keys()].sort()).toEqual(["clock", "echo"])
      expect(yield* snapshot.services.get("clock")!.instance.run({})).toEqual({ now: 7 })
    }).pipe(Effect.scoped, Effect.provide(ServiceEvent.layer)))

  it.effect("invalid JSON", () =>
    Effect.gen(function*() {
      const error = yield* loadError("{ \"services\": { ")
      expect(error._tag).toBe("RegistryJsonInvalid")
      expect(error.message).toContain("at (root)")
    }))

  it.effect("unknown keys, with their path", () =>
    Effect.gen(function*() {
      const error = yield* loadError({ services: { echo: echoService({ clas: "Echo" }) }, extra: true })
      expect(error._tag).toBe("RegistrySchemaInvalid")
      expect(error.message).toContain("at services.echo.clas")
      expect(error.message).toContain("at extra")
    }))

  it.effect("wrong types, with their path and what was expected", () =>
    Effect.gen(function*() {
      const error = yield* loadError({ services: { echo: { module: 42 } } })
      expect(error._tag).toBe("RegistrySchemaInvalid")
      expect(error.message).toMatch(/at services\.echo\.module: Expected string, actual 42/)
    }))

  it.effect("a missing module", () =>
    Effect.gen(function*() {
      const error = yield* loadError({ services: { echo: echoService({ module: "./components/nope.ts" }) } })
      expect(error._tag).toBe("RegistryModuleNotFound")
      expect(error.message).toContain("at services.echo.module")
      expect(error.message).toContain("./components/nope.ts")
    }))

  it.effect("a module that throws while loading", () =>
    Effect.gen(function*() {
      const error = yield* loadError({ services: { echo: echoService({ module: "./components/broken.ts" }) } })
      expect(error._tag).toBe("RegistryModuleFailed")
      expect(error.message).toContain("at services.echo.module")
      expect(error.message).toContain("broken module")
    }))

  it.effect("module paths escaping the config directory, absolute or bare, are rejected", () =>
    Effect.gen(function*() {
      for (const module of ["../Registry.test.ts", "/etc/passwd", "node:fs", "effect", "./components/../../x.ts"]) {
        const error = yield* loadError({ services: { echo: echoService({ module }) } })
        expect(error._tag).toBe("RegistryModuleOutside")
        expect(error.message).toContain("at services.echo.module")
      }
    }))

  it.effect("a missing export", () =>
    Effect.gen(function*() {
      const error = yield* loadError({ services: { echo: echoService({ export: "Nope" }) } })
      expect(error._tag).toBe("RegistryExportNotFound")
      expect(error.message).toContain("at services.echo.export")
      expect(error.message).toContain("EchoLive")
    }))

  it.effect("an export that is not a component, or only declared", () =>
    Effect.gen(function*() {
      const notComponent = yield* loadError({ services: { echo: echoService({ export: "notAComponent" }) } })
      expect(notComponent._tag).toBe("RegistryExportNotComponent")
      expect(notComponent.message).toContain("at services.echo.export")
      const declared = yield* loadError({ services: { echo: echoService({ export: "Echo" }) } })
      expect(declared.message).toContain("declared but not implemented")
    }))

  it.effect("a component config that fails its schema", () =>
    Effect.gen(function*() {
      const error = yield* loadError({ services: { echo: echoService({ config: { prefix: 1 } }) } })
      expect(error._tag).toBe("RegistryConfigInvalid")
      expect(error.message).toMatch(/at services\.echo\.config\.prefix: Expected string, actual 1/)
      const unknownKey = yield* loadError({ services: { echo: echoService({ config: { prefix: "", x: 1 } }) } })
      expect(unknownKey.message).toContain("at services.echo.config.x")
    }))

  it.effect("two services with one name", () =>
    Effect.gen(function*() {
      const text = `{ "services": { "echo": ${JSON.stringify(echoService())}, "echo": ${JSON.stringify(echoService())} } }`
      const error = yield* loadError(text)
      expect(error._tag).toBe("RegistryServiceDuplicate")
      expect(error.message).toContain("at services.echo")
      const plugin = yield* loadError({
        services: { clock: echoService() },
        plugins: [{ directory: "./plugins", config: { clock: { fixed: 1 } } }]
      })
      expect(plugin._tag).toBe("RegistryServiceDuplicate")
      expect(plugin.message).toContain("at plugins[0].directory")
    }))

  it.effect("interceptor errors: unknown name, bad config, scope naming an unknown service", () =>
    Effect.gen(function*() {
      const unknown = yield* loadError({ services: { echo: echoService() }, interceptors: { lgging: {} } })
      expect(unknown._tag).toBe("RegistryInterceptorUnknown")
      expect(unknown.message).toContain("at interceptors.lgging")
      const badConfig = yield* loadError({
        services: { echo: echoService() },
        interceptors: { logging: { config: { level: "Loud" } } }
      })
      expect(badConfig.message).toContain("at interceptors.logging.config.level")
      const scope = yield* loadError({
        services: { echo: echoService() },
        interceptors: { logging: { scope: { include: ["echo", "ghost"] } } }
      })
      expect(scope.message).toContain("at interceptors.logging.scope.include[1]")
      const split = yield* loadError({
        services: { echo: echoService() },
        interceptors: { split: { config: { routes: { echo: { to: "ghost", weight: 0.5 } } } } }
      })
      expect(split.message).toContain("at interceptors.split.config.routes.echo.to")
    }))

  it.effect("reports every error of a file at once", () =>
    Effect.gen(function*() {
      const error = yield* loadError({
        services: {
          a: echoService({ export: "Nope" }),
          b: echoService({ config: {} }),
          c: echoService()
        },
        interceptors: { logging: { scope: { include: ["zzz"] } } }
      })
      expect(error._tag).toBe("RegistryInvalid")
      expect(error._tag === "RegistryInvalid" && error.errors.map((e) => e._tag)).toEqual([
        "RegistryExportNotFound",
        "RegistryConfigInvalid",
        "RegistryConfigInvalid"
      ])
      expect(error.message).toContain("at services.a.export")
      expect(error.message).toContain("at services.b.config.prefix: is missing")
      expect(error.message).toContain("at interceptors.logging.scope.include[0]")
    }))

  it.live("hot reload swaps a component; a broken file keeps the previous registry", () =>
    Effect.gen(function*() {
      const file = yield* tempConfig({ services: { echo: echoService() } })
      const nextRegistryEvent = (events: Stream.Stream<ServiceEvent.ServiceEvent>) =>
        events.pipe(Stream.filter((e) => e._tag.startsWith("Registry")), Stream.runHead, Effect.timeout("10 seconds"))
      yield* Effect.gen(function*() {
        const registry = yield* Registry.Registry
        const bus = yield* ServiceEvent.ServiceEventBus
        const events = yield* bus.subscribe
        const call = Effect.flatMap(registry.get("echo"), (service) => service.instance.run({ text: "hi" }))
        expect(yield* call).toEqual({ text: "> hi" })

        NodeFs.writeFileSync(file, JSON.stringify({ services: { echo: echoService({ export: "EchoUpperLive" }) } }))
        const reloaded = yield* nextRegistryEvent(events)
        expect(reloaded._tag === "Some" && reloaded.value._tag).toBe("RegistryReloaded")
        expect(yield* call).toEqual({ text: "> HI" })

        NodeFs.writeFileSync(file, JSON.stringify({ services: { echo: echoService({ export: "Nope" }) } }))
        const failed = yield* nextRegistryEvent(events)
        expect(failed._tag === "Some" && failed.value._tag).toBe("RegistryReloadFailed")
        if (failed._tag === "Some" && failed.value._tag === "RegistryReloadFailed") {
          expect(failed.value.message).toContain("at services.echo.export")
        }
        expect(yield* call).toEqual({ text: "> HI" })
        expect(registry.snapshot().generation).toBe(1)
      }).pipe(
        Effect.provide(Registry.layerFile(file, { watch: true }).pipe(Layer.provideMerge(ServiceEvent.layer)))
      )
    }).pipe(Effect.scoped))
})
