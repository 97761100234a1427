/**
 * Typed lifecycle events of component calls and of the registry, published on a `PubSub` and read as a
 * `Stream` by any subscriber (the seed's `EventBus`, Effect-native).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/**
 * A component call started.
 *
 * @since 0.1.0
 * @category events
 */
export const CallStarted = Schema.TaggedStruct("CallStarted", {
  service: Schema.String,
  at: Schema.Number
})

/**
 * A component call succeeded.
 *
 * @since 0.1.0
 * @category events
 */
export const CallSucceeded = Schema.TaggedStruct("CallSucceeded", {
  service: Schema.String,
  at: Schema.Number,
  durationMillis: Schema.Number
})

/**
 * A component call failed (`error` is the failure's tag, or `"Defect"` / `"Interrupted"`).
 *
 * @since 0.1.0
 * @category events
 */
export const CallFailed = Schema.TaggedStruct("CallFailed", {
  service: Schema.String,
  at: Schema.Number,
  durationMillis: Schema.Number,
  error: Schema.String
})

/**
 * A service's circuit breaker changed state.
 *
 * @since 0.1.0
 * @category events
 */
export const CircuitStateChanged = Schema.TaggedStruct("CircuitStateChanged", {
  service: Schema.String,
  at: Schema.Number,
  state: Schema.String
})

/**
 * The registry (re)loaded its configuration file.
 *
 * @since 0.1.0
 * @category events
 */
export const RegistryReloaded = Schema.TaggedStruct("RegistryReloaded", {
  file: Schema.String,
  at: Schema.Number,
  services: Schema.Array(Schema.String)
})

/**
 * A changed configuration file was rejected; the previous registry keeps serving.
 *
 * @since 0.1.0
 * @category events
 */
export const RegistryReloadFailed = Schema.TaggedStruct("RegistryReloadFailed", {
  file: Schema.String,
  at: Schema.Number,
  message: Schema.String
})

/**
 * @since 0.1.0
 * @category models
 */
export const ServiceEvent = Schema.Union(
  CallStarted,
  CallSucceeded,
  CallFailed,
  CircuitStateChanged,
  RegistryReloaded,
  RegistryReloadFailed
)

/**
 * @since 0.1.0
 * @category models
 */
export type ServiceEvent = typeof ServiceEvent.Type

/**
 * The event bus.
 *
 * @since 0.1.0
 * @category services
 * @example
 * import { ServiceEvent } from "effect-loom"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const bus = yield* ServiceEvent.ServiceEventBus
 *   const events = yield* bus.subscribe
 *   yield* bus.publish({ _tag: "CallStarted", service: "user", at: 0 })
 *   return yield* Stream.runHead(events)
 * }).pipe(Effect.scoped, Effect.provide(ServiceEvent.layer))
 */
export class ServiceEventBus extends Context.Tag("effect-loom/ServiceEvent/ServiceEventBus")<ServiceEventBus, {
  readonly publish: (event: ServiceEvent) => Effect.Effect<void>
  /** Whether anyone subscribes now: publishers may skip building events nobody reads. */
  readonly hasSubscribers: () => boolean
  /** Subscribes now (events published after this point are seen) and returns them as a stream. */
  readonly subscribe: Effect.Effect<Stream.Stream<ServiceEvent>, never, Scope.Scope>
  /** A stream that subscribes when it is run. */
  readonly stream: Stream.Stream<ServiceEvent>
}>() {}

/**
 * A bus over a sliding `PubSub` (a slow subscriber loses the oldest events rather than slowing calls).
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { ServiceEvent } from "effect-loom"
 * const bus = ServiceEvent.layerCapacity(4096)
 */
export const layerCapacity = (capacity: number): Layer.Layer<ServiceEventBus> =>
  Layer.scoped(
    ServiceEventBus,
    Effect.map(
      Effect.acquireRelease(PubSub.sliding<ServiceEvent>(capacity), PubSub.shutdown),
      (pubsub) => {
        let subscribers = 0
        const counted = Effect.acquireRelease(
          Effect.sync(() => {
            subscribers++
          }),
          () =>
            Effect.sync(() => {
              subscribers--
            })
        )
        const subscribe = Effect.zipRight(counted, Effect.map(PubSub.subscribe(pubsub), Stream.fromQueue))
        return {
          publish: (event) => (subscribers === 0 ? Effect.void : Effect.asVoid(PubSub.publish(pubsub, event))),
          hasSubscribers: () => subscribers > 0,
          subscribe,
          stream: Stream.unwrapScoped(subscribe)
        }
      }
    )
  )

/**
 * The bus with a capacity of 1,024 events per subscriber.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { ServiceEvent } from "effect-loom"
 * const bus = ServiceEvent.layer
 */
export const layer: Layer.Layer<ServiceEventBus> = layerCapacity(1024)

/**
 * Publishes an event on the bus in context.
 *
 * @since 0.1.0
 * @category publishing
 * @example
 * import { ServiceEvent } from "effect-loom"
 * const started = ServiceEvent.publish({ _tag: "CallStarted", service: "user", at: 0 })
 */
export const publish = (event: ServiceEvent): Effect.Effect<void, never, ServiceEventBus> =>
  Effect.flatMap(ServiceEventBus, (bus) => bus.publish(event))
