/**
 * The service registry: components bound to service names with their decoded config and the interceptor
 * chain that applies to each, loaded from a `services.json` file (optionally watched and hot-reloaded) or
 * built from code.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Component from "./Component.js"
import * as Interceptor from "./Interceptor.js"
import * as internal from "./internal/registry.js"
import type * as ServiceEvent from "./ServiceEvent.js"

/**
 * A service entry of `services.json`: the module (a path relative to the config file, inside its directory
 * tree), the export name (default `"default"`) and the component's `config`.
 *
 * @since 0.1.0
 * @category config
 */
export const ServiceEntry = Schema.Struct({
  module: Schema.String,
  export: Schema.optionalWith(Schema.String, { default: () => "default" }),
  config: Schema.optional(Schema.Unknown)
})

/**
 * A plugin directory: every module in it that exports implemented components is registered under the
 * components' names; `config` gives each one's config by name.
 *
 * @since 0.1.0
 * @category config
 */
export const PluginEntry = Schema.Struct({
  directory: Schema.String,
  config: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

/**
 * Server settings: `maxBodyBytes` (default 1 MiB).
 *
 * @since 0.1.0
 * @category config
 */
export const ServerSettings = Schema.Struct({
  maxBodyBytes: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1024 * 1024 })
})

/**
 * The whole `services.json` file. Unknown keys are errors.
 *
 * @since 0.1.0
 * @category config
 */
export const ConfigFile = Schema.Struct({
  $schema: Schema.optional(Schema.String),
  services: Schema.Record({ key: Schema.String, value: ServiceEntry }),
  plugins: Schema.optional(Schema.Array(PluginEntry)),
  interceptors: Schema.optional(Schema.Record({ key: Schema.String, value: Interceptor.Entry })),
  server: Schema.optionalWith(ServerSettings, { default: () => ({ maxBodyBytes: 1024 * 1024 }) })
})

/**
 * @since 0.1.0
 * @category config
 */
export type ConfigFile = typeof ConfigFile.Type

/**
 * A registered service: its instance and its composed interceptor chain.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly instance: Component.Instance
  /** The interceptor names that apply, outermost first. */
  readonly interceptors: ReadonlyArray<string>
  /** Runs the chain then the handler. */
  readonly execute: Interceptor.Next
}

/**
 * What the registry serves at one moment; a reload swaps the whole snapshot.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly file: string
  readonly services: ReadonlyMap<string, Service>
  readonly server: typeof ServerSettings.Type
  readonly generation: number
}

/**
 * No service has this name (HTTP 404).
 *
 * @since 0.1.0
 * @category errors
 */
export class ComponentNotFound extends Schema.TaggedError<ComponentNotFound>(
  "effect-loom/Registry/ComponentNotFound"
)("ComponentNotFound", { service: Schema.String }) {
  override get message(): string {
    return `No service named "${this.service}"`
  }
}

const at = (self: { readonly file: string; readonly path: string }) => `${self.file}: at ${self.path}`

/**
 * The file cannot be read.
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistryFileUnreadable extends Data.TaggedError("RegistryFileUnreadable")<{
  readonly file: string
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `${at(this)}: expected a readable file (${this.reason})`
  }
}

/**
 * The file is not valid JSON (or repeats a key outside `services`).
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistryJsonInvalid extends Data.TaggedError("RegistryJsonInvalid")<{
  readonly file: string
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `${at(this)}: expected valid JSON (${this.reason})`
  }
}

/** One line per issue: `<file>: at <path>: <message>`. */
const issuesMessage = (file: string, issues: ReadonlyArray<Component.Issue>): string =>
  issues.map((issue) => `${file}: at ${issue.path}: ${issue.message}`).join("\n")

/**
 * The file does not match `ConfigFile` (wrong types, missing or unknown keys); one issue per path.
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistrySchemaInvalid extends Data.TaggedError("RegistrySchemaInvalid")<{
  readonly file: string
  readonly issues: ReadonlyArray<Component.Issue>
}> {
  override get message(): string {
    return issuesMessage(this.file, this.issues)
  }
}

/**
 * A module path is not a relative path inside the config file's directory tree.
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistryModuleOutside extends Data.TaggedError("RegistryModuleOutside")<{
  readonly file: string
  readonly path: string
  readonly module: string
}> {
  override get message(): string {
    return `${at(this)}: expected a relative path inside the config directory, got "${this.module}"`
  }
}

/**
 * A declared module (or plugin directory) does not exist.
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistryModuleNotFound extends Data.TaggedError("RegistryModuleNotFound")<{
  readonly file: string
  readonly path: string
  readonly module: string
}> {
  override get message(): string {
    return `${at(this)}: expected an existing module, "${this.module}" was not found`
  }
}

/**
 * A declared module failed to load (syntax error, throwing top-level code).
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistryModuleFailed extends Data.TaggedError("RegistryModuleFailed")<{
  readonly file: string
  readonly path: string
  readonly module: string
  readonly reason: string
}> {
  override get message(): string {
    return `${at(this)}: expected "${this.module}" to load, it failed: ${this.reason}`
  }
}

/**
 * The module has no export of that name.
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistryExportNotFound extends Data.TaggedError("RegistryExportNotFound")<{
  readonly file: string
  readonly path: string
  readonly module: string
  readonly exportName: string
  readonly available: ReadonlyArray<string>
}> {
  override get message(): string {
    return `${at(this)}: expected "${this.module}" to export "${this.exportName}" (exports: ${
      this.available.join(", ") || "none"
    })`
  }
}

/**
 * The export is not an implemented component (`Component.make(...).toLayer(handler)`).
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistryExportNotComponent extends Data.TaggedError("RegistryExportNotComponent")<{
  readonly file: string
  readonly path: string
  readonly module: string
  readonly exportName: string
  readonly declaredOnly: boolean
}> {
  override get message(): string {
    return `${at(this)}: expected export "${this.exportName}" of "${this.module}" to be an implemented component${
      this.declaredOnly ? " (it is declared but not implemented: call .toLayer(handler))" : ""
    }`
  }
}

/**
 * A component's (or a built-in interceptor's) `config` fails its schema, or an interceptor scope names an
 * unknown service.
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistryConfigInvalid extends Data.TaggedError("RegistryConfigInvalid")<{
  readonly file: string
  readonly issues: ReadonlyArray<Component.Issue>
}> {
  override get message(): string {
    return issuesMessage(this.file, this.issues)
  }
}

/**
 * Two services share one name (a repeated key in `services`, or a plugin component named like a service).
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistryServiceDuplicate extends Data.TaggedError("RegistryServiceDuplicate")<{
  readonly file: string
  readonly path: string
  readonly service: string
}> {
  override get message(): string {
    return `${at(this)}: expected unique service names, "${this.service}" is declared twice`
  }
}

/**
 * An `interceptors` key names neither a built-in nor an interceptor added by code.
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistryInterceptorUnknown extends Data.TaggedError("RegistryInterceptorUnknown")<{
  readonly file: string
  readonly path: string
  readonly name: string
  readonly known: ReadonlyArray<string>
}> {
  override get message(): string {
    return `${at(this)}: expected one of ${this.known.join(", ")}, got "${this.name}"`
  }
}

/**
 * Several errors in one file (each keeps its own file and JSON path).
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistryInvalid extends Data.TaggedError("RegistryInvalid")<{
  readonly file: string
  readonly errors: ReadonlyArray<Exclude<RegistryError, RegistryInvalid>>
}> {
  override get message(): string {
    return this.errors.map((error) => error.message).join("\n")
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export type RegistryError =
  | RegistryInvalid
  | RegistryFileUnreadable
  | RegistryJsonInvalid
  | RegistrySchemaInvalid
  | RegistryModuleOutside
  | RegistryModuleNotFound
  | RegistryModuleFailed
  | RegistryExportNotFound
  | RegistryExportNotComponent
  | RegistryConfigInvalid
  | RegistryServiceDuplicate
  | RegistryInterceptorUnknown

/**
 * The registry service.
 *
 * @since 0.1.0
 * @category services
 * @example
 * import { Registry } from "effect-loom"
 * import { Effect } from "effect"
 * const names = Effect.map(Registry.Registry, (registry) => registry.names())
 */
export class Registry extends Context.Tag("effect-loom/Registry")<Registry, {
  /** The current snapshot (a reload replaces it atomically). */
  readonly snapshot: () => Snapshot
  readonly names: () => ReadonlyArray<string>
  readonly get: (service: string) => Effect.Effect<Service, ComponentNotFound>
  /** Reloads the file now; a failure keeps the current snapshot. */
  readonly reload: Effect.Effect<Snapshot, RegistryError>
}>() {}

/**
 * Loads and checks a config file without serving it: modules imported, configs decoded, components and
 * interceptors built in the given scope.
 *
 * @since 0.1.0
 * @category loading
 * @example
 * import { Registry, ServiceEvent } from "effect-loom"
 * import { Effect } from "effect"
 * const check = Registry.load("examples/registry/services.json").pipe(
 *   Effect.scoped,
 *   Effect.provide(ServiceEvent.layer)
 * )
 */
export const load = (
  file: string
): Effect.Effect<Snapshot, RegistryError, Scope.Scope | ServiceEvent.ServiceEventBus> => internal.loadFile(file, 0)

/**
 * The registry from a `services.json` file. With `watch: true`, changes to the file reload it; a bad new
 * file is logged, published as `RegistryReloadFailed` and the previous registry keeps serving.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { Registry, ServiceEvent } from "effect-loom"
 * import { Layer } from "effect"
 * const live = Registry.layerFile("services.json", { watch: true }).pipe(Layer.provideMerge(ServiceEvent.layer))
 */
export const layerFile = (
  file: string,
  options?: { readonly watch?: boolean; readonly debounce?: number }
): Layer.Layer<Registry, RegistryError, ServiceEvent.ServiceEventBus> => internal.layerFile(file, options ?? {})

/**
 * The registry from code: implementations by service name with their (encoded) configs and an optional
 * `interceptors` section shaped as in `services.json`.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * import { Component, Registry, ServiceEvent } from "effect-loom"
 * import { Effect, Layer, Schema } from "effect"
 *
 * const Echo = Component.make({ name: "echo", input: Schema.String, output: Schema.String })
 * const live = Registry.layer({
 *   services: { echo: { implementation: Echo.toLayer((s) => Effect.succeed(s)) } },
 *   interceptors: { logging: { order: 1 } }
 * }).pipe(Layer.provideMerge(ServiceEvent.layer))
 */
export const layer = (options: {
  readonly services: Readonly<
    Record<string, { readonly implementation: Component.AnyImplementation; readonly config?: unknown }>
  >
  readonly interceptors?: Readonly<Record<string, typeof Interceptor.Entry.Encoded>>
  readonly server?: typeof ServerSettings.Encoded
}): Layer.Layer<Registry, RegistryError, ServiceEvent.ServiceEventBus> => internal.layer(options)

/**
 * Looks a service up in the registry in context.
 *
 * @since 0.1.0
 * @category accessors
 * @example
 * import { Registry } from "effect-loom"
 * const user = Registry.get("user")
 */
export const get = (service: string): Effect.Effect<Service, ComponentNotFound, Registry> =>
  internal.get(service)
