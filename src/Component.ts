/**
 * Components: a unit of work declared with `Schema` contracts (`input`, `output`, `error`, `config`) and
 * implemented separately with `.toLayer(handler)`, like `Workflow.make(...)` then `.toLayer(...)` in
 * `@effect/workflow`.
 *
 * A declaration is a plain value: typed code calls it with `Component.call`, the registry loads its
 * implementation from a module named in `services.json` and the entrypoint executes it by service name.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { withFaults } from "./internal/faults.js"

const ScopeTag = Scope.Scope

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("effect-loom/Component") as never

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export const ImplementationTypeId: unique symbol = Symbol.for("effect-loom/Component/Implementation") as never

/**
 * @since 0.1.0
 * @category type ids
 */
export type ImplementationTypeId = typeof ImplementationTypeId

/**
 * The identifier of the service that holds the handler of the component named `Name`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handler<Name extends string> {
  readonly [ImplementationTypeId]: Name
}

/**
 * The service value of an implemented component: its handler with its requirements already provided.
 *
 * @since 0.1.0
 * @category models
 */
export interface HandlerService<I, O, E, C> {
  readonly handler: (input: I, config: C) => Effect.Effect<O, E>
}

/**
 * A schema without requirements: the shape of every component contract (effect's
 * `Schema.Schema.AnyNoContext`).
 *
 * @since 0.1.0
 * @category models
 */
export type AnySchema = Schema.Schema.AnyNoContext

/**
 * A schema without requirements whose type or encoded side may be `never` (error contracts): effect's
 * `Schema.Schema.All` restricted to `Context = never`.
 *
 * @since 0.1.0
 * @category models
 */
export type AllSchema = Schema.Schema.All & { readonly Context: never }

/**
 * The tag of the service holding the handler of a component: its identifier and handler types follow the
 * component's name and contracts.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { Component } from "effect-loom"
 * import { Schema } from "effect"
 * const Double = Component.make({ name: "double", input: Schema.Number, output: Schema.Number })
 * const tag: Component.HandlerTag<"double", typeof Schema.Number, typeof Schema.Number, typeof Schema.Never, Schema.Struct<{}>> =
 *   Double.tag
 */
export type HandlerTag<
  Name extends string,
  Input extends AnySchema,
  Output extends AnySchema,
  Error extends AllSchema,
  Config extends AnySchema
> = Context.Tag<
  Handler<Name>,
  HandlerService<Schema.Schema.Type<Input>, Schema.Schema.Type<Output>, Schema.Schema.Type<Error>, Schema.Schema.Type<Config>>
>

/**
 * The tag of some component's handler, as every such tag can be seen: a key and, as an effect, a handler
 * service that needs `Handler<string>`. `Context.Tag` is invariant in both its parameters, so no single tag
 * type covers every component's tag; code holding a specific component gets its exact `HandlerTag` back
 * from the component's name and contracts.
 *
 * @since 0.1.0
 * @category models
 * @example
 * import { Component } from "effect-loom"
 * import { Schema } from "effect"
 * const Double = Component.make({ name: "double", input: Schema.Number, output: Schema.Number })
 * const tag: Component.AnyHandlerTag = Double.tag // what `Component.Any["tag"]` is
 */
export interface AnyHandlerTag
  extends Effect.Effect<HandlerService<never, unknown, unknown, never>, never, Handler<string>>
{
  readonly key: string
}

/**
 * A declared component.
 *
 * @since 0.1.0
 * @category models
 */
export interface Component<
  Name extends string,
  Input extends AnySchema,
  Output extends AnySchema,
  Error extends AllSchema,
  Config extends AnySchema
> {
  readonly [TypeId]: TypeId
  readonly name: Name
  readonly input: Input
  readonly output: Output
  readonly error: Error
  readonly config: Config
  readonly description: string | undefined
  readonly tag: HandlerTag<Name, Input, Output, Error, Config>
  /**
   * Implements the component. The result is a `Layer` providing the handler (for typed code) which is also
   * the value a `services.json` module exports.
   */
  readonly toLayer: <R = never>(
    handler: (
      input: Schema.Schema.Type<Input>,
      config: Schema.Schema.Type<Config>
    ) => Effect.Effect<Schema.Schema.Type<Output>, Schema.Schema.Type<Error>, R>
  ) => Implementation<this, R>
}

/**
 * Any component, for code that handles components generically (the registry, interceptors).
 *
 * @since 0.1.0
 * @category models
 */
export interface Any {
  readonly [TypeId]: TypeId
  readonly name: string
  readonly input: AnySchema
  readonly output: AnySchema
  readonly error: AllSchema
  readonly config: AnySchema
  readonly description: string | undefined
  readonly tag: AnyHandlerTag
}

/**
 * An implemented component: a `Layer` providing the handler, carrying its declaration.
 *
 * @since 0.1.0
 * @category models
 */
export interface Implementation<C extends Any, R = never> extends Layer.Layer<Handler<C["name"]>, never, R> {
  readonly [ImplementationTypeId]: ImplementationTypeId
  readonly component: C
}

/**
 * Any implementation, whatever component it implements (what the registry accepts).
 *
 * @since 0.1.0
 * @category models
 */
export interface AnyImplementation<R = never> extends Layer.Layer<never, never, R> {
  readonly [ImplementationTypeId]: ImplementationTypeId
  readonly component: Any
}

/**
 * A configured component bound to a service name: what the registry holds and interceptors wrap.
 * `run` executes the handler on a decoded input, its typed failure wrapped in `ComponentFailed`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Instance {
  readonly service: string
  readonly component: Any
  readonly config: unknown
  readonly run: (input: unknown) => Effect.Effect<unknown, ComponentFailed>
}

/**
 * One schema issue: the path inside the value and what was expected there.
 *
 * @since 0.1.0
 * @category models
 */
export const Issue = Schema.Struct({ path: Schema.String, message: Schema.String })

/**
 * @since 0.1.0
 * @category models
 */
export type Issue = typeof Issue.Type

const describeIssues = (issues: ReadonlyArray<Issue>): string =>
  issues.map((issue) => `at ${issue.path}: ${issue.message}`).join("; ")

/**
 * The payload of a call does not match the component's input schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class ComponentInputInvalid extends Schema.TaggedError<ComponentInputInvalid>(
  "effect-loom/Component/ComponentInputInvalid"
)("ComponentInputInvalid", { service: Schema.String, issues: Schema.Array(Issue) }) {
  override get message(): string {
    return `Invalid input for service "${this.service}": ${describeIssues(this.issues)}`
  }
}

/**
 * The handler returned a value that does not match the component's output schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class ComponentOutputInvalid extends Schema.TaggedError<ComponentOutputInvalid>(
  "effect-loom/Component/ComponentOutputInvalid"
)("ComponentOutputInvalid", { service: Schema.String, issues: Schema.Array(Issue) }) {
  override get message(): string {
    return `Invalid output from service "${this.service}": ${describeIssues(this.issues)}`
  }
}

/**
 * The handler failed with its declared error; `error` is the failure encoded with the `error` schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class ComponentFailed extends Schema.TaggedError<ComponentFailed>("effect-loom/Component/ComponentFailed")(
  "ComponentFailed",
  { service: Schema.String, error: Schema.Unknown }
) {
  override get message(): string {
    const tag = Predicate.hasProperty(this.error, "_tag") ? String(this.error._tag) : "error"
    return `Service "${this.service}" failed with ${tag}`
  }
}

/**
 * Formats a `path` of property keys as `a.b[0].c`, `(root)` when empty.
 *
 * @since 0.1.0
 * @category utils
 * @example
 * import { Component } from "effect-loom"
 * Component.formatPath(["services", "user", "config", 0]) // "services.user.config[0]"
 */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  if (path.length === 0) return "(root)"
  let out = ""
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else out += out === "" ? String(key) : `.${String(key)}`
  }
  return out.startsWith("[") ? `(root)${out}` : out
}

/**
 * Flattens a `ParseError` into issues with formatted paths, `prefix` prepended to every path.
 *
 * @since 0.1.0
 * @category utils
 * @example
 * import { Component } from "effect-loom"
 * import { Schema } from "effect"
 * import { Either } from "effect"
 * const result = Schema.decodeUnknownEither(Schema.Struct({ a: Schema.Number }))({ a: "x" })
 * if (Either.isLeft(result)) Component.issues(result.left) // [{ path: "a", message: "Expected number, actual \"x\"" }]
 */
export const issues = (error: ParseResult.ParseError, prefix: ReadonlyArray<PropertyKey> = []): Array<Issue> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    path: formatPath([...prefix, ...issue.path]),
    message: issue.message
  }))

/**
 * Declares a component. Only `name` and `input` are required: `output` defaults to `Schema.Void`, `error`
 * to `Schema.Never` and `config` to an empty struct.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Component } from "effect-loom"
 * import { Effect, Schema } from "effect"
 *
 * const Greet = Component.make({
 *   name: "greet",
 *   input: Schema.Struct({ name: Schema.String }),
 *   output: Schema.Struct({ greeting: Schema.String }),
 *   config: Schema.Struct({ prefix: Schema.String })
 * })
 * export const GreetLive = Greet.toLayer((input, config) =>
 *   Effect.succeed({ greeting: `${config.prefix} ${input.name}` }))
 */
export const make = <
  const Name extends string,
  Input extends AnySchema,
  Output extends AnySchema = typeof Schema.Void,
  Error extends AllSchema = typeof Schema.Never,
  Config extends AnySchema = Schema.Struct<{}>
>(options: {
  readonly name: Name
  readonly input: Input
  readonly output?: Output
  readonly error?: Error
  readonly config?: Config
  readonly description?: string
}): Component<Name, Input, Output, Error, Config> => {
  type Service = HandlerService<
    Schema.Schema.Type<Input>,
    Schema.Schema.Type<Output>,
    Schema.Schema.Type<Error>,
    Schema.Schema.Type<Config>
  >
  const tag = Context.GenericTag<Handler<Name>, Service>(`effect-loom/Component/${options.name}`)
  const self: Component<Name, Input, Output, Error, Config> = {
    [TypeId]: TypeId,
    name: options.name,
    input: options.input,
    output: (options.output ?? Schema.Void) as Output,
    error: (options.error ?? Schema.Never) as Error,
    config: (options.config ?? Schema.Struct({})) as Config,
    description: options.description,
    tag,
    toLayer: <R>(
      handler: (
        input: Schema.Schema.Type<Input>,
        config: Schema.Schema.Type<Config>
      ) => Effect.Effect<Schema.Schema.Type<Output>, Schema.Schema.Type<Error>, R>
    ) => {
      const layer = Layer.effect(
        tag,
        Effect.map(Effect.context<R>(), (captured): Service => {
          // what the implementation's own layers provide; providing an empty context per call is skipped
          const context = Context.omit(Layer.CurrentMemoMap, ScopeTag)(captured) as Context.Context<R>
          // the handler's requirements `R` are what `context` holds: with it the handler needs nothing more
          const provided = (effect: Effect.Effect<Schema.Schema.Type<Output>, Schema.Schema.Type<Error>, R>) =>
            effect as Effect.Effect<Schema.Schema.Type<Output>, Schema.Schema.Type<Error>>
          return {
            handler: context.unsafeMap.size === 0
              ? (input, config) => provided(handler(input, config))
              : (input, config) => provided(Effect.provide(handler(input, config), context))
          }
        })
      )
      return Object.assign(layer, { [ImplementationTypeId]: ImplementationTypeId, component: self }) as never
    }
  }
  return self
}

/**
 * @since 0.1.0
 * @category guards
 * @example
 * import { Component } from "effect-loom"
 * Component.isComponent({}) // false
 */
export const isComponent = (u: unknown): u is Any => Predicate.hasProperty(u, TypeId)

/**
 * @since 0.1.0
 * @category guards
 * @example
 * import { Component } from "effect-loom"
 * Component.isImplementation({}) // false
 */
export const isImplementation = (u: unknown): u is AnyImplementation =>
  Predicate.hasProperty(u, ImplementationTypeId) && Predicate.hasProperty(u, "component") && isComponent(u.component)

/**
 * Provides an implementation's requirements, keeping it an implementation (a plain `Layer.provide` would
 * return a layer the registry does not recognise). The registry builds implementations with no ambient
 * services, so this is how a component gets its dependencies.
 *
 * @since 0.1.0
 * @category combinators
 * @example
 * import { Component } from "effect-loom"
 * import { Context, Effect, Layer, Schema } from "effect"
 *
 * class Prefix extends Context.Tag("Prefix")<Prefix, string>() {}
 * const Hello = Component.make({ name: "hello", input: Schema.String, output: Schema.String })
 * export const HelloLive = Hello.toLayer((name) => Effect.map(Prefix, (prefix) => `${prefix} ${name}`)).pipe(
 *   Component.provide(Layer.succeed(Prefix, "Hello"))
 * )
 */
export const provide: {
  <ROut, E2, R2>(
    layer: Layer.Layer<ROut, E2, R2>
  ): <C extends Any, R>(self: Implementation<C, R>) => Implementation<C, Exclude<R, ROut> | R2>
  <C extends Any, R, ROut, E2, R2>(
    self: Implementation<C, R>,
    layer: Layer.Layer<ROut, E2, R2>
  ): Implementation<C, Exclude<R, ROut> | R2>
} = dual(2, <C extends Any, R, ROut, E2, R2>(
  self: Implementation<C, R>,
  layer: Layer.Layer<ROut, E2, R2>
): Implementation<C, Exclude<R, ROut> | R2> =>
  Object.assign(Layer.provide(self, layer), {
    [ImplementationTypeId]: ImplementationTypeId,
    component: self.component
  }) as never)

const tagOf = <C extends Any>(component: C): HandlerTag<C["name"], C["input"], C["output"], C["error"], C["config"]> =>
  // a component's tag is built by `make` from the very name and contracts `C` carries
  component.tag as HandlerTag<C["name"], C["input"], C["output"], C["error"], C["config"]>

/**
 * Calls an implemented component from typed code, with the handler provided by its `toLayer` layer.
 *
 * @since 0.1.0
 * @category execution
 * @example
 * import { Component } from "effect-loom"
 * import { Effect, Schema } from "effect"
 *
 * const Double = Component.make({ name: "double", input: Schema.Number, output: Schema.Number })
 * const program = Component.call(Double, 21, {}).pipe(
 *   Effect.provide(Double.toLayer((n) => Effect.succeed(n * 2)))
 * )
 */
export const call = <C extends Any>(
  component: C,
  input: Schema.Schema.Type<C["input"]>,
  config: Schema.Schema.Type<C["config"]>
): Effect.Effect<Schema.Schema.Type<C["output"]>, Schema.Schema.Type<C["error"]>, Handler<C["name"]>> =>
  Effect.flatMap(tagOf(component), (service) => service.handler(input, config))

/**
 * Binds an implementation to a service name and a decoded config. The implementation's layer is built in
 * the current scope with no ambient services (an implementation provides its own requirements with
 * `Layer.provide`); the instance's `run` wraps the handler's failure in `ComponentFailed` (encoded with
 * the component's `error` schema).
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * import { Component } from "effect-loom"
 * import { Effect, Schema } from "effect"
 *
 * const Double = Component.make({ name: "double", input: Schema.Number, output: Schema.Number })
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const instance = yield* Component.instantiate("double", Double.toLayer((n) => Effect.succeed(n * 2)), {})
 *   return yield* instance.run(21)
 * }))
 */
export const instantiate = (
  service: string,
  implementation: AnyImplementation,
  config: unknown
): Effect.Effect<Instance, never, Scope.Scope> =>
  Effect.scopeWith((scope) =>
    Effect.map(
      Effect.mapInputContext(Layer.buildWithScope(implementation, scope), () => Context.empty()),
      (context): Instance => {
        const component = implementation.component
        const handlerService: HandlerService<unknown, unknown, unknown, unknown> = Context.unsafeGet(
          context,
          tagOf(component)
        )
        const encodeError = Schema.encodeUnknown(component.error as AnySchema)
        return {
          service,
          component,
          config,
          run: (input: unknown) =>
            // innermost: interceptors (retry, circuit breaker …) see an injected test fault like a real failure
            Effect.catchAll(withFaults("component", service, handlerService.handler(input, config)), (error) =>
              Effect.flatMap(
                Effect.orElseSucceed(encodeError(error), () => error),
                (encoded) => Effect.fail(new ComponentFailed({ service, error: encoded }))
              ))
        }
      }
    )
  )
