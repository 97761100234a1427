import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { createHash, timingSafeEqual } from "node:crypto"
import * as Component from "../Component.js"
import type * as Interceptor from "../Interceptor.js"
import { AuthenticationFailed, AuthorizationDenied, BuiltinInvalid, Interceptors } from "../Interceptor.js"
import * as ServiceEvent from "../ServiceEvent.js"
import * as policies from "./interceptorPolicies.js"

/** @internal */
export type PolicyError = policies.PolicyError

/** @internal */
export const layer = <E, R>(
  interceptor: Interceptor.Interceptor | Effect.Effect<Interceptor.Interceptor, E, R>
): Layer.Layer<Interceptors, E, Exclude<R, Scope.Scope>> =>
  Layer.scoped(
    Interceptors,
    Effect.gen(function*() {
      const added = Effect.isEffect(interceptor) ? yield* interceptor : interceptor
      const current = yield* Interceptors
      return [...current, added]
    })
  )

/** @internal */
export const errorTag = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    return Predicate.hasProperty(failure.value, "_tag") ? String(failure.value._tag) : "Error"
  }
  return Cause.isInterruptedOnly(cause) ? "Interrupted" : "Defect"
}

// --- logging ---------------------------------------------------------------------------------------------

const LoggingConfig = Schema.Struct({
  level: Schema.optionalWith(Schema.Literal("Debug", "Info", "Warning"), { default: () => "Info" as const })
})

const logging: Interceptor.Builtin = {
  name: "logging",
  config: LoggingConfig,
  make: (config: typeof LoggingConfig.Type) =>
    Effect.succeed((call, next) => {
      const level = LogLevel.fromLiteral(config.level)
      return Effect.withFiberRuntime((fiber) => {
        // successes below the minimum level cost nothing beyond this check; failures always log
        const quietSuccess = LogLevel.lessThan(level, fiber.getFiberRef(FiberRef.currentMinimumLogLevel))
        return Effect.flatMap(Clock.currentTimeNanos, (start) =>
          Effect.onExit(next(call), (exit) =>
            Exit.isSuccess(exit) && quietSuccess ? Effect.void : Effect.flatMap(Clock.currentTimeNanos, (end) => {
              const durationMillis = Number(end - start) / 1e6
              const outcome = Exit.isSuccess(exit) ? "success" : errorTag(exit.cause)
              return Effect.logWithLevel(
                Exit.isSuccess(exit) ? level : LogLevel.Warning,
                Exit.isSuccess(exit) ? "call succeeded" : "call failed"
              ).pipe(Effect.annotateLogs({ service: call.service, durationMillis, outcome }))
            })))
      })
    })
}

/** Inputs produced by decoding with their component's input schema (validating them again is redundant). */
const decodedInputs = new WeakSet<object>()

/** @internal */
export const markDecoded = (input: unknown): void => {
  if (typeof input === "object" && input !== null) decodedInputs.add(input)
}

// --- validation ------------------------------------------------------------------------------------------

const validation: Interceptor.Builtin = {
  name: "validation",
  config: Schema.Struct({}),
  make: () =>
    Effect.sync(() => {
      const validators = new WeakMap<Component.Any, {
        input: (u: unknown) => Effect.Effect<unknown, ParseResult.ParseError>
        output: (u: unknown) => Effect.Effect<unknown, ParseResult.ParseError>
      }>()
      const validatorsOf = (component: Component.Any) => {
        let found = validators.get(component)
        if (found === undefined) {
          found = {
            input: Schema.validate(component.input as Component.AnySchema),
            output: Schema.validate(component.output as Component.AnySchema)
          }
          validators.set(component, found)
        }
        return found
      }
      return (call, next) => {
        const { input, output } = validatorsOf(call.instance.component)
        const checked = typeof call.input === "object" && call.input !== null && decodedInputs.has(call.input)
          ? next(call)
          : input(call.input).pipe(
            Effect.mapError((error) =>
              new Component.ComponentInputInvalid({ service: call.service, issues: Component.issues(error) })
            ),
            Effect.zipRight(next(call))
          )
        // the entrypoint encodes the output with the same schema right after the chain: checking it twice is waste
        if (call.encodesOutput) return checked
        return checked.pipe(
          Effect.flatMap((result) =>
            Effect.mapError(
              output(result),
              (error) => new Component.ComponentOutputInvalid({ service: call.service, issues: Component.issues(error) })
            )
          )
        )
      }
    })
}

// --- metrics ---------------------------------------------------------------------------------------------

const callsKey = MetricKey.counter("effect_loom.component.calls", { description: "Component calls", incremental: true })
const errorsKey = MetricKey.counter("effect_loom.component.errors", {
  description: "Component calls that failed",
  incremental: true
})
const durationKey = MetricKey.histogram(
  "effect_loom.component.duration",
  MetricBoundaries.exponential({ start: 0.0005, factor: 2, count: 16 }),
  "Component call duration in seconds"
)

/** @internal */
export const callsTotal = Metric.fromMetricKey(callsKey)
/** @internal */
export const callErrorsTotal = Metric.fromMetricKey(errorsKey)
/** @internal */
export const callDuration = Metric.fromMetricKey(durationKey)

const noTags: ReadonlyArray<never> = []

const metrics: Interceptor.Builtin = {
  name: "metrics",
  config: Schema.Struct({}),
  make: () =>
    Effect.sync(() => {
      // one metric per service with the tag in its key: its registry hook is resolved once, not per update
      const byService = new Map<string, {
        calls: Metric.Metric.Counter<number>
        errors: Metric.Metric.Counter<number>
        duration: Metric.Metric.Histogram<number>
      }>()
      const of = (service: string) => {
        let found = byService.get(service)
        if (found === undefined) {
          found = {
            calls: Metric.fromMetricKey(MetricKey.tagged(callsKey, "service", service)),
            errors: Metric.fromMetricKey(MetricKey.tagged(errorsKey, "service", service)),
            duration: Metric.fromMetricKey(MetricKey.tagged(durationKey, "service", service))
          }
          byService.set(service, found)
        }
        return found
      }
      return (call, next) => {
        const instruments = of(call.service)
        return Effect.flatMap(Clock.currentTimeNanos, (start) =>
          Effect.onExit(next(call), (exit) =>
            Effect.map(Clock.currentTimeNanos, (end) => {
              instruments.duration.unsafeUpdate(Number(end - start) / 1e9, noTags)
              instruments.calls.unsafeUpdate(1, noTags)
              if (Exit.isFailure(exit)) instruments.errors.unsafeUpdate(1, noTags)
            })))
      }
    })
}

// --- tracing ---------------------------------------------------------------------------------------------

const tracing: Interceptor.Builtin = {
  name: "tracing",
  config: Schema.Struct({ spanPrefix: Schema.optionalWith(Schema.String, { default: () => "loom.call" }) }),
  make: (config: { readonly spanPrefix: string }) =>
    Effect.succeed((call, next) =>
      Effect.withSpan(next(call), `${config.spanPrefix} ${call.service}`, {
        kind: "server",
        captureStackTrace: false,
        attributes: {
          "loom.service": call.service,
          "loom.component": call.instance.component.name
        }
      })
    )
}

// --- auth ------------------------------------------------------------------------------------------------

const Secret = Schema.Union(Schema.Redacted(Schema.String), Schema.Struct({ env: Schema.String }))

const AuthConfig = Schema.Struct({
  keys: Schema.Array(Schema.Struct({
    name: Schema.String,
    key: Secret,
    services: Schema.optional(Schema.Array(Schema.String))
  })),
  header: Schema.optionalWith(Schema.String, { default: () => "x-api-key" })
})

const digest = (value: string): Buffer => createHash("sha256").update(value).digest()

const auth: Interceptor.Builtin = {
  name: "auth",
  config: AuthConfig,
  make: (config: typeof AuthConfig.Type) =>
    Effect.gen(function*() {
      const keys: Array<{ name: string; digest: Buffer; services: ReadonlyArray<string> | undefined }> = []
      for (const [index, entry] of config.keys.entries()) {
        const key = entry.key
        const secret: Redacted.Redacted<string> = Redacted.isRedacted(key)
          ? key as Redacted.Redacted<string>
          : yield* Effect.mapError(
            Config.redacted((key as { readonly env: string }).env),
            () =>
              new BuiltinInvalid({
                path: ["keys", index, "key", "env"],
                expected: `environment variable ${(key as { readonly env: string }).env} to be set`
              })
          )
        keys.push({ name: entry.name, digest: digest(Redacted.value(secret)), services: entry.services })
      }
      const header = config.header.toLowerCase()
      return (call, next) => {
        const bearer = call.metadata["authorization"]
        const presented = call.metadata[header] ??
          (bearer !== undefined && bearer.toLowerCase().startsWith("bearer ") ? bearer.slice(7).trim() : undefined)
        if (presented === undefined || presented === "") {
          return Effect.fail(new AuthenticationFailed({ service: call.service, reason: "Missing" }))
        }
        const presentedDigest = digest(presented)
        let matched: (typeof keys)[number] | undefined
        // compare against every key so timing does not reveal which one matched
        for (const key of keys) {
          if (timingSafeEqual(key.digest, presentedDigest) && matched === undefined) matched = key
        }
        if (matched === undefined) {
          return Effect.fail(new AuthenticationFailed({ service: call.service, reason: "Invalid" }))
        }
        if (matched.services !== undefined && !matched.services.includes(call.service)) {
          return Effect.fail(new AuthorizationDenied({ service: call.service, principal: matched.name }))
        }
        return Effect.annotateCurrentSpan("loom.principal", matched.name).pipe(Effect.zipRight(next(call)))
      }
    })
}

// --- transform -------------------------------------------------------------------------------------------

const Mapping = Schema.Struct({
  set: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  remove: Schema.optional(Schema.Array(Schema.String))
})

const TransformConfig = Schema.Struct({ request: Schema.optional(Mapping), response: Schema.optional(Mapping) })

/** @internal */
export const applyMapping = (mapping: typeof Mapping.Type | undefined, value: unknown): unknown => {
  if (mapping === undefined || !Predicate.isRecord(value)) return value
  const out: Record<string, unknown> = { ...value }
  for (const key of mapping.remove ?? []) delete out[key]
  return { ...out, ...mapping.set }
}

const transform: Interceptor.Builtin = {
  name: "transform",
  config: TransformConfig,
  make: (config: typeof TransformConfig.Type) =>
    Effect.succeed((call, next) =>
      Effect.map(
        next({ ...call, input: applyMapping(config.request, call.input) }),
        (output) => applyMapping(config.response, output)
      )
    )
}

// --- split -----------------------------------------------------------------------------------------------

const SplitConfig = Schema.Struct({
  routes: Schema.Record({
    key: Schema.String,
    value: Schema.Struct({ to: Schema.String, weight: Schema.Number.pipe(Schema.between(0, 1)) })
  })
})

const split: Interceptor.Builtin = {
  name: "split",
  config: SplitConfig,
  make: (config: typeof SplitConfig.Type, context) =>
    Effect.gen(function*() {
      const routes = new Map<string, { instance: Component.Instance; weight: number }>()
      for (const [service, route] of Object.entries(config.routes)) {
        const instance = context.services.get(route.to)
        if (instance === undefined) {
          return yield* new BuiltinInvalid({
            path: ["routes", service, "to"],
            expected: `the name of a declared service, got "${route.to}"`
          })
        }
        routes.set(service, { instance, weight: route.weight })
      }
      return (call, next) => {
        const route = routes.get(call.service)
        if (route === undefined) return next(call)
        return Effect.flatMap(Random.next, (n) =>
          n < route.weight
            ? Effect.annotateCurrentSpan("loom.split", route.instance.service).pipe(
              Effect.zipRight(next({ ...call, instance: route.instance }))
            )
            : next(call))
      }
    })
}

/** @internal */
export const builtins: Readonly<Record<string, Interceptor.Builtin>> = {
  logging,
  validation,
  metrics,
  tracing,
  auth,
  transform,
  split,
  ...policies.builtins
}

/** @internal */
export const builtin = (
  name: string,
  options: { readonly order?: number; readonly config?: unknown } & Interceptor.Scoping
): Effect.Effect<Interceptor.Interceptor, BuiltinInvalid, Scope.Scope | ServiceEvent.ServiceEventBus> =>
  Effect.gen(function*() {
    const definition = builtins[name]
    if (definition === undefined) {
      return yield* new BuiltinInvalid({ path: [], expected: `one of ${Object.keys(builtins).join(", ")}` })
    }
    const config = yield* Schema.decodeUnknown(definition.config, { onExcessProperty: "error" })(
      options.config ?? {}
    ).pipe(
      Effect.mapError((error) =>
        new BuiltinInvalid({
          path: ["config"],
          expected: Component.issues(error).map((i) => `${i.path}: ${i.message}`).join("; ")
        })
      )
    )
    const events = yield* ServiceEvent.ServiceEventBus
    const intercept = yield* definition.make(config as never, { services: new Map(), events })
    return { name, order: options.order ?? 0, include: options.include, exclude: options.exclude, intercept }
  })
