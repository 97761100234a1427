/**
 * Interceptors wrap component calls: `(call, next) => Effect`. An interceptor sees the service name, the
 * decoded input and (through `Effect.onExit`) the call's `Exit`, and may change the input, the output or
 * the error, or not call `next` at all.
 *
 * Built-ins are enabled, ordered and scoped by the `interceptors` section of `services.json`; code adds its
 * own with `Interceptor.layer`.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Component from "./Component.js"
import * as internal from "./internal/interceptor.js"
import * as policies from "./internal/interceptorPolicies.js"
import type * as ServiceEvent from "./ServiceEvent.js"

/**
 * One call going through the chain.
 *
 * @since 0.1.0
 * @category models
 */
export interface Call {
  readonly service: string
  /** The instance that will run; traffic splitting replaces it. */
  readonly instance: Component.Instance
  /** The decoded input. */
  readonly input: unknown
  /** Request metadata with lower-case keys (HTTP headers through the server). */
  readonly metadata: Readonly<Record<string, string | undefined>>
  /** Looks up another service of the same registry snapshot. */
  readonly lookup: (service: string) => Option.Option<Component.Instance>
  /**
   * `true` when the call comes through the entrypoint, which encodes the output with the component's
   * schema after the chain (so the validation interceptor leaves that check to it).
   */
  readonly encodesOutput: boolean
}

/**
 * The credentials of a call are missing or do not match any configured key (HTTP 401).
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthenticationFailed extends Schema.TaggedError<AuthenticationFailed>(
  "effect-loom/Interceptor/AuthenticationFailed"
)("AuthenticationFailed", { service: Schema.String, reason: Schema.Literal("Missing", "Invalid") }) {
  override get message(): string {
    return this.reason === "Missing"
      ? `Credentials are required to call service "${this.service}"`
      : `Invalid credentials for service "${this.service}"`
  }
}

/**
 * Valid credentials that are not allowed to call the service (HTTP 403).
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthorizationDenied extends Schema.TaggedError<AuthorizationDenied>(
  "effect-loom/Interceptor/AuthorizationDenied"
)("AuthorizationDenied", { service: Schema.String, principal: Schema.String }) {
  override get message(): string {
    return `"${this.principal}" may not call service "${this.service}"`
  }
}

/**
 * A custom interceptor refused a call.
 *
 * @since 0.1.0
 * @category errors
 */
export class InterceptorRejected extends Schema.TaggedError<InterceptorRejected>(
  "effect-loom/Interceptor/InterceptorRejected"
)("InterceptorRejected", { service: Schema.String, interceptor: Schema.String, reason: Schema.String }) {
  override get message(): string {
    return `Interceptor "${this.interceptor}" rejected the call to "${this.service}": ${this.reason}`
  }
}

/**
 * The `rateLimit` interceptor refused a call: no permit within its `maxWait` (HTTP 429).
 *
 * @since 0.1.0
 * @category errors
 */
export const RateLimitExceeded: typeof policies.RateLimitExceeded = policies.RateLimitExceeded

/**
 * @since 0.1.0
 * @category errors
 */
export type RateLimitExceeded = policies.RateLimitExceeded

/**
 * What the policy-backed interceptors add: `CircuitBreakerOpen` (503), `TimeoutExceeded` (504),
 * `RateLimitExceeded` (429).
 *
 * @since 0.1.0
 * @category errors
 */
export type PolicyError = policies.PolicyError

/**
 * The failures a call can end with once it is inside the chain.
 *
 * @since 0.1.0
 * @category models
 */
export type CallError =
  | Component.ComponentFailed
  | Component.ComponentInputInvalid
  | Component.ComponentOutputInvalid
  | AuthenticationFailed
  | AuthorizationDenied
  | InterceptorRejected
  | PolicyError

/**
 * The rest of the chain.
 *
 * @since 0.1.0
 * @category models
 */
export type Next = (call: Call) => Effect.Effect<unknown, CallError>

/**
 * Which services an interceptor applies to: all when `include` is absent, minus `exclude`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scoping {
  readonly include?: ReadonlyArray<string> | undefined
  readonly exclude?: ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Interceptor extends Scoping {
  readonly name: string
  /** Lower runs first (outermost). Ties keep declaration order. */
  readonly order: number
  readonly intercept: (call: Call, next: Next) => Effect.Effect<unknown, CallError>
}

/**
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Interceptor } from "effect-loom"
 * import { Effect } from "effect"
 *
 * const audit = Interceptor.make({
 *   name: "audit",
 *   order: 5,
 *   intercept: (call, next) => Effect.tap(next(call), () => Effect.logInfo(`called ${call.service}`))
 * })
 */
export const make = (options: {
  readonly name: string
  readonly order?: number
  readonly include?: ReadonlyArray<string>
  readonly exclude?: ReadonlyArray<string>
  readonly intercept: (call: Call, next: Next) => Effect.Effect<unknown, CallError>
}): Interceptor => ({
  name: options.name,
  order: options.order ?? 0,
  include: options.include,
  exclude: options.exclude,
  intercept: options.intercept
})

/**
 * Whether an interceptor's scoping admits a service.
 *
 * @since 0.1.0
 * @category guards
 * @example
 * import { Interceptor } from "effect-loom"
 * Interceptor.appliesTo({ include: ["a", "b"], exclude: ["b"] }, "b") // false
 */
export const appliesTo = (scoping: Scoping, service: string): boolean =>
  (scoping.include === undefined || scoping.include.includes(service)) &&
  (scoping.exclude === undefined || !scoping.exclude.includes(service))

/**
 * The interceptors that apply to `service`, outermost first (by `order`, then declaration order).
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * import { Interceptor } from "effect-loom"
 * const forUser = Interceptor.select([], "user")
 */
export const select = (interceptors: ReadonlyArray<Interceptor>, service: string): ReadonlyArray<Interceptor> =>
  interceptors
    .map((interceptor, index) => ({ interceptor, index }))
    .filter(({ interceptor }) => appliesTo(interceptor, service))
    .sort((a, b) => a.interceptor.order - b.interceptor.order || a.index - b.index)
    .map(({ interceptor }) => interceptor)

/**
 * Composes interceptors (outermost first) around `call.instance.run`.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * import { Interceptor } from "effect-loom"
 * const run = Interceptor.compose([])
 */
export const compose = (interceptors: ReadonlyArray<Interceptor>): Next =>
  interceptors.reduceRight<Next>(
    (next, interceptor) => (call) => interceptor.intercept(call, next),
    (call) => call.instance.run(call.input)
  )

/**
 * Interceptors added by code, applied with those the configuration enables.
 *
 * @since 0.1.0
 * @category services
 * @example
 * import { Interceptor } from "effect-loom"
 * import { Effect } from "effect"
 * const current = Effect.map(Interceptor.Interceptors, (all) => all.map((i) => i.name))
 */
export class Interceptors extends Context.Reference<Interceptors>()("effect-loom/Interceptor/Interceptors", {
  defaultValue: (): ReadonlyArray<Interceptor> => []
}) {}

/**
 * Adds an interceptor (or a scoped effect building one) to the `Interceptors` in context. Layers added
 * this way accumulate when composed with `Layer.provideMerge`.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { Interceptor } from "effect-loom"
 * import { Effect } from "effect"
 * const layer = Interceptor.layer(Interceptor.make({ name: "noop", intercept: (call, next) => next(call) }))
 */
export const layer = <E = never, R = never>(
  interceptor: Interceptor | Effect.Effect<Interceptor, E, R>
): Layer.Layer<Interceptors, E, Exclude<R, Scope.Scope>> => internal.layer(interceptor)

/**
 * The configuration of one interceptor in `services.json`.
 *
 * @since 0.1.0
 * @category config
 */
export const Entry = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  order: Schema.optional(Schema.Number),
  scope: Schema.optional(Schema.Struct({
    include: Schema.optional(Schema.Array(Schema.String)),
    exclude: Schema.optional(Schema.Array(Schema.String))
  })),
  config: Schema.optional(Schema.Unknown)
})

/**
 * @since 0.1.0
 * @category config
 */
export type Entry = typeof Entry.Type

/**
 * What a built-in interceptor may use while it is built.
 *
 * @since 0.1.0
 * @category models
 */
export interface BuildContext {
  readonly services: ReadonlyMap<string, Component.Instance>
  readonly events: ServiceEvent.ServiceEventBus["Type"]
}

/**
 * A built-in interceptor: its config schema and how to build its `intercept` (in the registry's scope).
 *
 * @since 0.1.0
 * @category models
 */
export interface Builtin {
  readonly name: string
  readonly config: Component.AnySchema
  /** Receives the config decoded with `config` (typed `never` so each built-in can name its own type). */
  readonly make: (
    config: never,
    context: BuildContext
  ) => Effect.Effect<Interceptor["intercept"], BuiltinInvalid, Scope.Scope>
}

/**
 * A built-in's configuration is inconsistent beyond its schema (e.g. a split to an unknown service).
 *
 * @since 0.1.0
 * @category errors
 */
export class BuiltinInvalid extends Schema.TaggedError<BuiltinInvalid>("effect-loom/Interceptor/BuiltinInvalid")(
  "BuiltinInvalid",
  { path: Schema.Array(Schema.Union(Schema.String, Schema.Number)), expected: Schema.String }
) {
  override get message(): string {
    return `at ${this.path.join(".")}: expected ${this.expected}`
  }
}

/**
 * The built-in interceptors by name: `logging`, `validation`, `metrics`, `tracing`, `auth`, `transform`,
 * `split`, and the policy-backed `circuitBreaker`, `rateLimit`, `timeout`, `retry` and `cache` (one
 * `CircuitBreaker` / `RateLimit` / `Timeout` / `Retry` / `ResultCache` policy per service).
 *
 * @since 0.1.0
 * @category built-ins
 * @example
 * import { Interceptor } from "effect-loom"
 * Object.keys(Interceptor.builtins) // ["logging", "validation", ...]
 */
export const builtins: Readonly<Record<string, Builtin>> = internal.builtins

/**
 * Builds a built-in interceptor from code, its `config` decoded with the built-in's schema.
 *
 * @since 0.1.0
 * @category built-ins
 * @example
 * import { Interceptor } from "effect-loom"
 * const logging = Interceptor.builtin("logging", { order: 1 })
 */
export const builtin = (
  name: string,
  options?: { readonly order?: number; readonly config?: unknown } & Scoping
): Effect.Effect<Interceptor, BuiltinInvalid, Scope.Scope | ServiceEvent.ServiceEventBus> =>
  internal.builtin(name, options ?? {})

/**
 * The tag of a failed call's error for logs, metrics and events: the failure's `_tag`, or `"Defect"` /
 * `"Interrupted"`.
 *
 * @since 0.1.0
 * @category utils
 * @example
 * import { Interceptor } from "effect-loom"
 * import { Cause } from "effect"
 * Interceptor.causeTag(Cause.die("boom")) // "Defect"
 */
export const causeTag: (cause: Cause.Cause<unknown>) => string = internal.errorTag

/**
 * The metrics of the `metrics` built-in, tagged with `service`: `effect_loom.component.calls`,
 * `effect_loom.component.errors` and the `effect_loom.component.duration` histogram (seconds).
 *
 * @since 0.1.0
 * @category built-ins
 * @example
 * import { Interceptor } from "effect-loom"
 * import { Metric } from "effect"
 * const userCalls = Metric.value(Interceptor.callMetrics.calls.pipe(Metric.tagged("service", "user")))
 */
export const callMetrics = {
  calls: internal.callsTotal,
  errors: internal.callErrorsTotal,
  duration: internal.callDuration
}

/**
 * Records that `input` was just decoded with its component's input schema, so the validation interceptor
 * does not check it again (the entrypoint does this; an interceptor that builds a new input object gets it
 * validated).
 *
 * @since 0.1.0
 * @category utils
 * @example
 * import { Interceptor } from "effect-loom"
 * Interceptor.markDecoded({ id: "u1" })
 */
export const markDecoded: (input: unknown) => void = internal.markDecoded
