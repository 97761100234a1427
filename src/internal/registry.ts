import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { pathToFileURL } from "node:url"
import * as Component from "../Component.js"
import * as Interceptor from "../Interceptor.js"
import type { RegistryError, Service, Snapshot } from "../Registry.js"
import {
  ComponentNotFound,
  ConfigFile,
  Registry,
  RegistryConfigInvalid,
  RegistryExportNotComponent,
  RegistryExportNotFound,
  RegistryFileUnreadable,
  RegistryInvalid,
  RegistryInterceptorUnknown,
  RegistryJsonInvalid,
  RegistryModuleFailed,
  RegistryModuleNotFound,
  RegistryModuleOutside,
  RegistrySchemaInvalid,
  RegistryServiceDuplicate,
  ServerSettings
} from "../Registry.js"
import * as ServiceEvent from "../ServiceEvent.js"

type Path = ReadonlyArray<string | number>

/** Finds the first key repeated inside one JSON object (JSON.parse keeps the last silently). */
export const findDuplicateKey = (text: string): { readonly path: Path; readonly key: string } | undefined => {
  type Frame = { kind: "object"; keys: Set<string>; key: string | undefined; expectingKey: boolean } | {
    kind: "array"
    index: number
  }
  const stack: Array<Frame> = []
  let i = 0
  while (i < text.length) {
    const ch = text[i]!
    if (ch === "\"") {
      let j = i + 1
      while (j < text.length && text[j] !== "\"") j += text[j] === "\\" ? 2 : 1
      const top = stack[stack.length - 1]
      if (top !== undefined && top.kind === "object" && top.expectingKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string
        const path: Array<string | number> = stack.slice(0, -1).map((frame) =>
          frame.kind === "object" ? frame.key ?? "" : frame.index
        )
        if (top.keys.has(key)) return { path, key }
        top.keys.add(key)
        top.key = key
        top.expectingKey = false
      }
      i = j + 1
      continue
    }
    if (ch === "{") stack.push({ kind: "object", keys: new Set(), key: undefined, expectingKey: true })
    else if (ch === "[") stack.push({ kind: "array", index: 0 })
    else if (ch === "}" || ch === "]") stack.pop()
    else if (ch === ",") {
      const top = stack[stack.length - 1]
      if (top?.kind === "object") top.expectingKey = true
      else if (top?.kind === "array") top.index++
    }
    i++
  }
  return undefined
}

const issuesAt = (error: ParseResult.ParseError, prefix: Path) => Component.issues(error, prefix)

const errorMessage = (u: unknown): string => (u instanceof Error ? u.message : String(u))

/** Resolves a declared path relative to the config file and confines it to the config's directory tree. */
const confine = (file: string, declared: string, path: Path) =>
  Effect.gen(function*() {
    const pathString = Component.formatPath(path)
    const root = NodePath.dirname(NodePath.resolve(file))
    const isPathLike = declared.startsWith("./") || declared.startsWith("../") || NodePath.isAbsolute(declared)
    const outside = new RegistryModuleOutside({ file, path: pathString, module: declared })
    if (!isPathLike) return yield* outside
    const resolved = NodePath.resolve(root, declared)
    const inside = (base: string, target: string) => {
      const relative = NodePath.relative(base, target)
      return relative === "" || (!relative.startsWith("..") && !NodePath.isAbsolute(relative))
    }
    if (!inside(root, resolved)) return yield* outside
    const real = yield* Effect.try(() => NodeFs.realpathSync(resolved)).pipe(
      Effect.mapError(() => new RegistryModuleNotFound({ file, path: pathString, module: declared }))
    )
    // symlinks must not lead out of the tree either
    if (!inside(NodeFs.realpathSync(root), real)) return yield* outside
    return real
  })

const importModule = (file: string, real: string, declared: string, path: Path, generation: number) =>
  Effect.tryPromise({
    try: () => import(pathToFileURL(real).href + (generation > 0 ? `?generation=${generation}` : "")),
    catch: (error) =>
      new RegistryModuleFailed({ file, path: Component.formatPath(path), module: declared, reason: errorMessage(error) })
  }) as Effect.Effect<Record<string, unknown>, RegistryModuleFailed>

const decodeConfig = (file: string, schema: Component.AnySchema, config: unknown, path: Path) =>
  Effect.mapError(
    Schema.decodeUnknown(schema, { onExcessProperty: "error", errors: "all" })(config ?? {}),
    (error) => new RegistryConfigInvalid({ file, issues: issuesAt(error, path) })
  )

interface Declared {
  readonly service: string
  readonly implementation: Component.AnyImplementation
  readonly config: unknown
  readonly path: Path
}

const parseFile = (file: string) =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => NodeFs.readFileSync(file, "utf8"),
      catch: (error) => new RegistryFileUnreadable({ file, path: "(root)", reason: errorMessage(error) })
    })
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (error) => new RegistryJsonInvalid({ file, path: "(root)", reason: errorMessage(error) })
    })
    const duplicate = findDuplicateKey(text)
    if (duplicate !== undefined) {
      const path = Component.formatPath([...duplicate.path, duplicate.key])
      if (duplicate.path.length === 1 && duplicate.path[0] === "services") {
        return yield* new RegistryServiceDuplicate({ file, path, service: duplicate.key })
      }
      return yield* new RegistryJsonInvalid({ file, path, reason: `key "${duplicate.key}" appears twice` })
    }
    return yield* Effect.mapError(
      Schema.decodeUnknown(ConfigFile, { onExcessProperty: "error", errors: "all" })(json),
      (error) => new RegistrySchemaInvalid({ file, issues: issuesAt(error, []) })
    )
  })

const moduleExtensions = [".ts", ".mts", ".js", ".mjs"]

const declareService = (
  file: string,
  service: string,
  entry: ConfigFile["services"][string],
  generation: number
): Effect.Effect<Declared, RegistryError> =>
  Effect.gen(function*() {
    const path: Path = ["services", service, "module"]
    const real = yield* confine(file, entry.module, path)
    const module = yield* importModule(file, real, entry.module, path, generation)
    const exported = module[entry.export]
    const exportPath = Component.formatPath(["services", service, "export"])
    if (!(entry.export in module)) {
      return yield* new RegistryExportNotFound({
        file,
        path: exportPath,
        module: entry.module,
        exportName: entry.export,
        available: Object.keys(module)
      })
    }
    if (!Component.isImplementation(exported)) {
      return yield* new RegistryExportNotComponent({
        file,
        path: exportPath,
        module: entry.module,
        exportName: entry.export,
        declaredOnly: Component.isComponent(exported)
      })
    }
    return { service, implementation: exported, config: entry.config, path: ["services", service, "config"] }
  })

const declarePlugin = (
  file: string,
  plugin: NonNullable<ConfigFile["plugins"]>[number],
  index: number,
  declared: Array<Declared>,
  generation: number
): Effect.Effect<void, RegistryError> =>
  Effect.gen(function*() {
    const path: Path = ["plugins", index, "directory"]
    const directory = yield* confine(file, plugin.directory, path)
    const entries = NodeFs.readdirSync(directory).filter((name) =>
      moduleExtensions.some((ext) => name.endsWith(ext)) && !name.endsWith(".d.ts") && !name.includes(".test.")
    ).sort()
    for (const name of entries) {
      const modulePath = NodePath.join(directory, name)
      const module = yield* importModule(file, modulePath, `${plugin.directory}/${name}`, path, generation)
      for (const exported of Object.values(module)) {
        if (!Component.isImplementation(exported)) continue
        const service = exported.component.name
        if (declared.some((d) => d.service === service)) {
          return yield* new RegistryServiceDuplicate({ file, path: Component.formatPath(path), service })
        }
        declared.push({
          service,
          implementation: exported,
          config: plugin.config?.[service],
          path: ["plugins", index, "config", service]
        })
      }
    }
  })

/** Runs `effect`, recording its failure in `errors` instead of stopping, so one run reports every error. */
const collect = <A, R>(errors: Array<RegistryError>, effect: Effect.Effect<A, RegistryError, R>) =>
  Effect.map(Effect.either(effect), (result) => {
    if (Either.isRight(result)) return result.right
    errors.push(result.left)
    return undefined
  })

const failWith = (file: string, errors: ReadonlyArray<RegistryError>): Effect.Effect<void, RegistryError> =>
  errors.length === 0
    ? Effect.void
    : errors.length === 1
    ? Effect.fail(errors[0]!)
    : Effect.fail(
      new RegistryInvalid({ file, errors: errors.flatMap((e) => (e._tag === "RegistryInvalid" ? e.errors : [e])) })
    )

const declareFromFile = (file: string, config: ConfigFile, generation: number, errors: Array<RegistryError>) =>
  Effect.gen(function*() {
    const declared: Array<Declared> = []
    for (const [service, entry] of Object.entries(config.services)) {
      const one = yield* collect(errors, declareService(file, service, entry, generation))
      if (one !== undefined) declared.push(one)
    }
    for (const [index, plugin] of (config.plugins ?? []).entries()) {
      yield* collect(errors, declarePlugin(file, plugin, index, declared, generation))
    }
    return declared
  })

const buildInterceptor = (
  file: string,
  name: string,
  entry: Interceptor.Entry,
  context: {
    readonly names: ReadonlySet<string>
    readonly instances: ReadonlyMap<string, Component.Instance>
    readonly fromCode: ReadonlyArray<Interceptor.Interceptor>
    readonly bus: ServiceEvent.ServiceEventBus["Type"]
  }
): Effect.Effect<Interceptor.Interceptor | undefined, RegistryError, Scope.Scope> =>
  Effect.gen(function*() {
    const scopePath = ["interceptors", name, "scope"]
    for (const kind of ["include", "exclude"] as const) {
      for (const [i, service] of (entry.scope?.[kind] ?? []).entries()) {
        if (!context.names.has(service)) {
          return yield* new RegistryConfigInvalid({
            file,
            issues: [{
              path: Component.formatPath([...scopePath, kind, i]),
              message: `expected a declared service name, got "${service}"`
            }]
          })
        }
      }
    }
    const coded = context.fromCode.find((interceptor) => interceptor.name === name)
    if (coded !== undefined) {
      return entry.enabled
        ? {
          ...coded,
          order: entry.order ?? coded.order,
          include: entry.scope?.include ?? coded.include,
          exclude: entry.scope?.exclude ?? coded.exclude
        }
        : undefined
    }
    const builtin = Interceptor.builtins[name]
    if (builtin === undefined) {
      return yield* new RegistryInterceptorUnknown({
        file,
        path: Component.formatPath(["interceptors", name]),
        name,
        known: [...Object.keys(Interceptor.builtins), ...context.fromCode.map((i) => i.name)]
      })
    }
    if (!entry.enabled) return undefined
    const configPath = ["interceptors", name, "config"]
    const config = yield* decodeConfig(file, builtin.config, entry.config, configPath)
    const intercept = yield* Effect.mapError(
      builtin.make(config as never, { services: context.instances, events: context.bus }),
      (error) =>
        new RegistryConfigInvalid({
          file,
          issues: [{ path: Component.formatPath([...configPath, ...error.path]), message: `expected ${error.expected}` }]
        })
    )
    return { name, order: entry.order ?? 0, include: entry.scope?.include, exclude: entry.scope?.exclude, intercept }
  })

const build = (
  file: string,
  declared: ReadonlyArray<Declared>,
  interceptors: Readonly<Record<string, Interceptor.Entry>>,
  server: typeof ServerSettings.Type,
  generation: number,
  errors: Array<RegistryError>,
  declaredNames: ReadonlySet<string>
) =>
  Effect.gen(function*() {
    const instances = new Map<string, Component.Instance>()
    for (const entry of declared) {
      const config = yield* Effect.either(
        decodeConfig(file, entry.implementation.component.config, entry.config, entry.path)
      )
      if (Either.isLeft(config)) {
        errors.push(config.left)
        continue
      }
      const instance = yield* (Component.instantiate(entry.service, entry.implementation, config.right) as Effect.Effect<
        Component.Instance,
        never,
        Scope.Scope
      >)
      instances.set(entry.service, instance)
    }
    const fromCode = yield* Interceptor.Interceptors
    const bus = yield* ServiceEvent.ServiceEventBus
    const names = new Set([...declaredNames, ...declared.map((d) => d.service)])
    const all: Array<Interceptor.Interceptor> = []
    for (const [name, entry] of Object.entries(interceptors)) {
      const built = yield* collect(errors, buildInterceptor(file, name, entry, { names, instances, fromCode, bus }))
      if (built !== undefined) all.push(built)
    }
    for (const interceptor of fromCode) {
      if (!(interceptor.name in interceptors)) all.push(interceptor)
    }
    yield* failWith(file, errors)
    const services = new Map<string, Service>()
    for (const [name, instance] of instances) {
      const chain = Interceptor.select(all, name)
      services.set(name, { instance, interceptors: chain.map((i) => i.name), execute: Interceptor.compose(chain) })
    }
    const snapshot: Snapshot = { file, services, server, generation }
    return snapshot
  })

/** @internal */
export const loadFile = (file: string, generation: number) =>
  Effect.gen(function*() {
    const config = yield* parseFile(file)
    const errors: Array<RegistryError> = []
    const declared = yield* declareFromFile(file, config, generation, errors)
    return yield* build(
      file,
      declared,
      config.interceptors ?? {},
      config.server,
      generation,
      errors,
      new Set(Object.keys(config.services))
    )
  })

const makeService = (
  reload: Effect.Effect<Snapshot, RegistryError>,
  current: { readonly value: Snapshot }
): Registry["Type"] => ({
  snapshot: () => current.value,
  names: () => [...current.value.services.keys()],
  get: (service) =>
    Effect.suspend(() => {
      const found = current.value.services.get(service)
      return found === undefined ? Effect.fail(new ComponentNotFound({ service })) : Effect.succeed(found)
    }),
  reload
})

/** @internal */
export const layerFile = (
  file: string,
  options: { readonly watch?: boolean; readonly debounce?: number }
): Layer.Layer<Registry, RegistryError, ServiceEvent.ServiceEventBus> =>
  Layer.scoped(
    Registry,
    Effect.gen(function*() {
      const layerScope = yield* Effect.scope
      const bus = yield* ServiceEvent.ServiceEventBus
      const fromCode = yield* Interceptor.Interceptors
      const absolute = NodePath.resolve(file)
      let generation = 0
      const loadInto = (scope: Scope.CloseableScope) =>
        loadFile(absolute, generation).pipe(
          Effect.provideService(Scope.Scope, scope),
          Effect.provideService(ServiceEvent.ServiceEventBus, bus),
          Effect.provideService(Interceptor.Interceptors, fromCode)
        )
      const firstScope = yield* Scope.fork(layerScope, ExecutionStrategy.sequential)
      const initial = yield* loadInto(firstScope).pipe(Effect.tapError(() => Scope.close(firstScope, Exit.void)))
      const current = { value: initial, scope: firstScope }
      const semaphore = yield* Effect.makeSemaphore(1)
      const published = (snapshot: Snapshot) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) =>
          bus.publish({ _tag: "RegistryReloaded", file: absolute, at, services: [...snapshot.services.keys()] }))
      yield* published(initial)
      const reload = semaphore.withPermits(1)(Effect.gen(function*() {
        generation++
        const scope = yield* Scope.fork(layerScope, ExecutionStrategy.sequential)
        const exit = yield* Effect.exit(loadInto(scope))
        if (Exit.isFailure(exit)) {
          yield* Scope.close(scope, Exit.void)
          return yield* exit
        }
        const previous = current.scope
        current.value = exit.value
        current.scope = scope
        yield* Scope.close(previous, Exit.void)
        yield* published(exit.value)
        return exit.value
      }))
      const reloadLogged = reload.pipe(
        Effect.tapError((error) =>
          Effect.zipRight(
            Effect.logError("registry reload rejected, previous registry kept").pipe(
              Effect.annotateLogs({ file: absolute, error: error.message })
            ),
            Effect.flatMap(Clock.currentTimeMillis, (at) =>
              bus.publish({ _tag: "RegistryReloadFailed", file: absolute, at, message: error.message }))
          )
        )
      )
      if (options.watch === true) {
        const changes = yield* watchFile(absolute)
        yield* changes.pipe(
          Stream.debounce(options.debounce ?? 50),
          Stream.runForEach(() => Effect.ignore(reloadLogged)),
          Effect.forkIn(layerScope)
        )
      }
      return makeService(reloadLogged, current)
    })
  )

/**
 * Changes to one file, watching its directory so editors that replace the file are seen too. The watcher
 * is installed when this effect runs (not when the stream is consumed), so no change after it is missed.
 */
const watchFile = (file: string): Effect.Effect<Stream.Stream<void>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Effect.acquireRelease(Queue.sliding<void>(1), Queue.shutdown)
    const name = NodePath.basename(file)
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        NodeFs.watch(NodePath.dirname(file), (_event, changed) => {
          if (changed === null || changed.toString() === name) Queue.unsafeOffer(queue, undefined)
        })
      ),
      (watcher) => Effect.sync(() => watcher.close())
    )
    return Stream.fromQueue(queue)
  })

/** @internal */
export const layer = (options: {
  readonly services: Readonly<
    Record<string, { readonly implementation: Component.AnyImplementation; readonly config?: unknown }>
  >
  readonly interceptors?: Readonly<Record<string, typeof Interceptor.Entry.Encoded>>
  readonly server?: typeof ServerSettings.Encoded
}): Layer.Layer<Registry, RegistryError, ServiceEvent.ServiceEventBus> =>
  Layer.scoped(
    Registry,
    Effect.gen(function*() {
      const file = "<code>"
      const interceptors = yield* Effect.mapError(
        Schema.decodeUnknown(Schema.Record({ key: Schema.String, value: Interceptor.Entry }), {
          onExcessProperty: "error",
          errors: "all"
        })(options.interceptors ?? {}),
        (error) => new RegistrySchemaInvalid({ file, issues: issuesAt(error, ["interceptors"]) })
      )
      const server = yield* Effect.mapError(
        Schema.decodeUnknown(ServerSettings)(options.server ?? {}),
        (error) => new RegistrySchemaInvalid({ file, issues: issuesAt(error, ["server"]) })
      )
      const declared: Array<Declared> = Object.entries(options.services).map(([service, entry]) => ({
        service,
        implementation: entry.implementation,
        config: entry.config,
        path: ["services", service, "config"]
      }))
      const snapshot = yield* (build(file, declared, interceptors, server, 0, [], new Set()) as Effect.Effect<
        Snapshot,
        RegistryError,
        Scope.Scope | ServiceEvent.ServiceEventBus
      >)
      const current = { value: snapshot }
      return makeService(Effect.succeed(snapshot), current)
    })
  )

/** @internal */
export const get = (service: string): Effect.Effect<Service, ComponentNotFound, Registry> =>
  Effect.flatMap(Registry, (registry) => registry.get(service))
