import { Effect, Layer, Schema } from "effect"
import * as Component from "../../src/Component.js"
import * as Entrypoint from "../../src/Entrypoint.js"
import * as Interceptor from "../../src/Interceptor.js"
import * as Registry from "../../src/Registry.js"
import * as ServiceEvent from "../../src/ServiceEvent.js"

export class Refused extends Schema.TaggedError<Refused>()("Refused", { reason: Schema.String }) {}

export const Greet = Component.make({
  name: "greet",
  input: Schema.Struct({ name: Schema.String, title: Schema.optional(Schema.String) }),
  output: Schema.Struct({ greeting: Schema.String, version: Schema.Number }),
  error: Refused,
  config: Schema.Struct({ version: Schema.Number })
})

export const GreetLive = Greet.toLayer((input, config) =>
  input.name === "nobody"
    ? Effect.fail(new Refused({ reason: "no name" }))
    : input.name === "crash"
    ? Effect.die(new Error("kaboom in /secret/path.ts:1"))
    : input.name === "slow"
    ? Effect.as(Effect.sleep("10 seconds"), { greeting: "late", version: config.version })
    : input.name === "bad-output"
    ? Effect.succeed({ greeting: 42 as unknown as string, version: config.version })
    : Effect.succeed({ greeting: `Hello ${input.title ?? ""}${input.name}`, version: config.version })
)

/** The entrypoint over a code registry of `greet` (v1), `greet-v2` and `other`, with optional interceptors. */
export const entrypointLayer = (options: {
  readonly interceptors?: Readonly<Record<string, typeof Interceptor.Entry.Encoded>>
  readonly code?: ReadonlyArray<Interceptor.Interceptor>
} = {}) => {
  const registry = Registry.layer({
    services: {
      greet: { implementation: GreetLive, config: { version: 1 } },
      "greet-v2": { implementation: GreetLive, config: { version: 2 } },
      other: { implementation: GreetLive, config: { version: 3 } }
    },
    ...(options.interceptors ? { interceptors: options.interceptors } : {})
  })
  const code = (options.code ?? []).reduce<Layer.Layer<Interceptor.Interceptors>>(
    (acc, interceptor) => Layer.provideMerge(Interceptor.layer(interceptor), acc),
    Layer.succeed(Interceptor.Interceptors, [])
  )
  return Entrypoint.layer.pipe(
    Layer.provideMerge(registry),
    Layer.provideMerge(ServiceEvent.layer),
    Layer.provide(code)
  )
}
