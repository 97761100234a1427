import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Layer, Schema } from "effect"
import * as Component from "../src/Component.js"
import { Greet, GreetLive, Refused } from "./utils/services.js"

describe("Component", () => {
  it("make fills defaults and declarations are plain values", () => {
    const Ping = Component.make({ name: "ping", input: Schema.Struct({}) })
    expect(Ping.name).toBe("ping")
    expect(Ping.output).toBe(Schema.Void)
    expect(Ping.error).toBe(Schema.Never)
    expect(Component.isComponent(Ping)).toBe(true)
    expect(Component.isImplementation(Ping)).toBe(false)
    expect(Component.isImplementation(Ping.toLayer(() => Effect.void))).toBe(true)
    expect(Component.isComponent({ name: "ping" })).toBe(false)
  })

  it.effect("call runs the handler provided by toLayer, with its own requirements provided", () =>
    Effect.gen(function*() {
      expect(yield* Component.call(Greet, { name: "Ada", title: "Dr. " }, { version: 3 })).toEqual({
        greeting: "Hello Dr. Ada",
        version: 3
      })
      const failure = yield* Effect.flip(Component.call(Greet, { name: "nobody" }, { version: 3 }))
      expect(failure).toBeInstanceOf(Refused)
    }).pipe(Effect.provide(GreetLive)))

  it.scoped("instantiate binds a config and wraps declared failures in ComponentFailed, encoded", () =>
    Effect.gen(function*() {
      const instance = yield* Component.instantiate("hello", GreetLive, { version: 9 })
      expect(instance.service).toBe("hello")
      expect(yield* instance.run({ name: "Ada" })).toEqual({ greeting: "Hello Ada", version: 9 })
      const failed = yield* Effect.flip(instance.run({ name: "nobody" }))
      expect(failed).toBeInstanceOf(Component.ComponentFailed)
      expect(failed.error).toEqual({ _tag: "Refused", reason: "no name" })
      expect(failed.message).toBe("Service \"hello\" failed with Refused")
    }))

  it("formatPath and issues name the JSON path of every problem", () => {
    expect(Component.formatPath([])).toBe("(root)")
    expect(Component.formatPath(["services", "user", "config", 0, "x"])).toBe("services.user.config[0].x")
    expect(Component.formatPath([1, "a"])).toBe("(root)[1].a")
    const result = Schema.decodeUnknownEither(
      Schema.Struct({ a: Schema.Number, b: Schema.Array(Schema.String) }),
      { errors: "all" }
    )({ a: "x", b: ["ok", 2] })
    if (Either.isRight(result)) throw new Error("expected a failure")
    expect(Component.issues(result.left, ["config"])).toEqual([
      { path: "config.a", message: "Expected number, actual \"x\"" },
      { path: "config.b[1]", message: "Expected string, actual 2" }
    ])
  })

  it("input and output errors carry their issues in the message", () => {
    const error = new Component.ComponentInputInvalid({
      service: "user",
      issues: [{ path: "id", message: "is missing" }]
    })
    expect(error.message).toBe("Invalid input for service \"user\": at id: is missing")
  })

  it.scoped("provide keeps an implementation recognisable and gives the handler its dependencies", () =>
    Effect.gen(function*() {
      class Prefix extends Context.Tag("test/Prefix")<Prefix, string>() {}
      const Hello = Component.make({ name: "hello", input: Schema.String, output: Schema.String })
      const HelloLive = Hello.toLayer((name) => Effect.map(Prefix, (prefix) => `${prefix} ${name}`)).pipe(
        Component.provide(Layer.succeed(Prefix, "Hello"))
      )
      expect(Component.isImplementation(HelloLive)).toBe(true)
      const instance = yield* Component.instantiate("hello", HelloLive, {})
      expect(yield* instance.run("Ada")).toBe("Hello Ada")
    }))
})
