/**
 * The service entrypoint: `execute({ service, payload })` looks the service up, decodes the payload with
 * the component's input schema, runs the interceptor chain and the handler, and encodes the output.
 * Lifecycle events are published on the `ServiceEventBus`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Component from "./Component.js"
import * as Interceptor from "./Interceptor.js"
import * as Registry from "./Registry.js"
import * as ServiceEvent from "./ServiceEvent.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly service: string
  /** The encoded input (e.g. parsed JSON). */
  readonly payload: unknown
  /** Request metadata (credentials, headers) with lower-case keys. */
  readonly metadata?: Readonly<Record<string, string | undefined>> | undefined
}

/**
 * Unknown service (`ComponentNotFound`), invalid payload (`ComponentInputInvalid`), handler failure
 * (`ComponentFailed`) and what interceptors add (auth, policies, output validation).
 *
 * @since 0.1.0
 * @category errors
 */
export type ExecuteError = Registry.ComponentNotFound | Interceptor.CallError

/**
 * @since 0.1.0
 * @category services
 * @example
 * import { Entrypoint } from "effect-loom"
 * import { Effect } from "effect"
 * const program = Effect.flatMap(Entrypoint.Entrypoint, (entry) => entry.execute({ service: "user", payload: {} }))
 */
export class Entrypoint extends Context.Tag("effect-loom/Entrypoint")<Entrypoint, {
  /** Returns the encoded output. */
  readonly execute: (request: Request) => Effect.Effect<unknown, ExecuteError>
}>() {}

interface Codec {
  readonly decode: (u: unknown) => Effect.Effect<unknown, ParseResult.ParseError>
  readonly encode: (u: unknown) => Effect.Effect<unknown, ParseResult.ParseError>
}

const codecs = new WeakMap<Component.Any, Codec>()

const codecOf = (component: Component.Any): Codec => {
  let found = codecs.get(component)
  if (found === undefined) {
    found = {
      decode: Schema.decodeUnknown(component.input as Component.AnySchema, { errors: "all" }),
      encode: Schema.encodeUnknown(component.output as Component.AnySchema, { errors: "all" })
    }
    codecs.set(component, found)
  }
  return found
}

const noMetadata: Readonly<Record<string, string | undefined>> = {}

/**
 * The entrypoint over the registry in context.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { Entrypoint, Registry, ServiceEvent } from "effect-loom"
 * import { Layer } from "effect"
 * const live = Entrypoint.layer.pipe(
 *   Layer.provideMerge(Registry.layerFile("services.json")),
 *   Layer.provideMerge(ServiceEvent.layer)
 * )
 */
export const layer: Layer.Layer<Entrypoint, never, Registry.Registry | ServiceEvent.ServiceEventBus> = Layer.effect(
  Entrypoint,
  Effect.gen(function*() {
    const registry = yield* Registry.Registry
    const bus = yield* ServiceEvent.ServiceEventBus
    const lookupIn = (snapshot: Registry.Snapshot) => (other: string) =>
      Option.map(Option.fromNullable(snapshot.services.get(other)), (s) => s.instance)
    const execute = (request: Request): Effect.Effect<unknown, ExecuteError> =>
      Effect.suspend((): Effect.Effect<unknown, ExecuteError> => {
        const snapshot = registry.snapshot()
        const name = request.service
        const service = snapshot.services.get(name)
        if (service === undefined) return Effect.fail(new Registry.ComponentNotFound({ service: name }))
        const codec = codecOf(service.instance.component)
        const run = codec.decode(request.payload).pipe(
          Effect.mapError((error) => new Component.ComponentInputInvalid({ service: name, issues: Component.issues(error) })),
          Effect.flatMap((input) => {
            Interceptor.markDecoded(input)
            return service.execute({
              service: name,
              instance: service.instance,
              input,
              metadata: request.metadata ?? noMetadata,
              lookup: lookupIn(snapshot),
              encodesOutput: true
            })
          }),
          Effect.flatMap((output) =>
            Effect.mapError(
              codec.encode(output),
              (error) => new Component.ComponentOutputInvalid({ service: name, issues: Component.issues(error) })
            )
          )
        )
        // lifecycle events are built only when someone listens
        if (!bus.hasSubscribers()) return run
        return Effect.flatMap(Clock.currentTimeMillis, (start) =>
          bus.publish({ _tag: "CallStarted", service: name, at: start }).pipe(
            Effect.zipRight(run),
            Effect.onExit((exit) =>
              Effect.flatMap(Clock.currentTimeMillis, (at) =>
                bus.publish(
                  Exit.isSuccess(exit)
                    ? { _tag: "CallSucceeded", service: name, at, durationMillis: at - start }
                    : {
                      _tag: "CallFailed",
                      service: name,
                      at,
                      durationMillis: at - start,
                      error: Interceptor.causeTag(exit.cause)
                    }
                ))
            )
          ))
      })
    return { execute }
  })
)

/**
 * Executes a request with the entrypoint in context.
 *
 * @since 0.1.0
 * @category execution
 * @example
 * import { Entrypoint } from "effect-loom"
 * const result = Entrypoint.execute({ service: "user", payload: { id: "u1" } })
 */
export const execute = (request: Request): Effect.Effect<unknown, ExecuteError, Entrypoint> => Effect.flatMap(Entrypoint, (entry) => entry.execute(request))
