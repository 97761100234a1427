/**
 * The policy-backed built-in interceptors: thin adapters over `CircuitBreaker`, `RateLimit`, `Timeout`,
 * `Retry` and `ResultCache`, one policy instance per service.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as CircuitBreaker from "../CircuitBreaker.js"
import type * as Interceptor from "../Interceptor.js"
import { BuiltinInvalid } from "../Interceptor.js"
import type { Policy, PolicySettingInvalid } from "../Policy.js"
import * as RateLimit from "../RateLimit.js"
import * as ResultCache from "../ResultCache.js"
import * as Retry from "../Retry.js"
import * as Timeout from "../Timeout.js"

/** @internal */
export class RateLimitExceeded extends Data.TaggedError("RateLimitExceeded")<{
  readonly service: string
  readonly limit: number
  readonly interval: Duration.Duration
}> {
  override get message(): string {
    return `Service "${this.service}" is limited to ${this.limit} calls per ${Duration.format(this.interval)}`
  }
}

/** @internal */
export type PolicyError = CircuitBreaker.CircuitBreakerOpen | Timeout.TimeoutExceeded | RateLimitExceeded

/** A duration setting: milliseconds as a number, or a string such as `"30 seconds"`. */
const DurationSetting = Schema.transformOrFail(
  Schema.Union(Schema.NonNegative, Schema.String),
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) =>
      Option.match(Duration.decodeUnknown(typeof input === "number" ? Duration.millis(input) : input), {
        onNone: () =>
          ParseResult.fail(
            new ParseResult.Type(ast, input, `Expected a duration such as "500 millis" or "30 seconds", got "${input}"`)
          ),
        onSome: ParseResult.succeed
      }),
    encode: (duration) => ParseResult.succeed(Duration.toMillis(duration))
  }
)

// BuiltinInvalid is used only when interceptors are built, after every module has loaded
const invalidSetting = (error: PolicySettingInvalid): BuiltinInvalid =>
  new BuiltinInvalid({ path: [error.setting], expected: `${error.expected}, got ${String(error.value)}` })

/** One policy per service, made on first use (`make` runs in the registry's scope). */
const perService = <P>(
  services: ReadonlyMap<string, unknown>,
  make: (service: string) => Effect.Effect<P, PolicySettingInvalid, Scope.Scope>
) =>
  Effect.gen(function*() {
    const policies = new Map<string, P>()
    for (const service of services.keys()) {
      policies.set(service, yield* Effect.mapError(make(service), invalidSetting))
    }
    return policies
  })

const tagOf = (u: unknown) => (Predicate.hasProperty(u, "_tag") ? u._tag : undefined)

/** Handler failures and timeouts count (auth, validation and rejections by other policies do not). */
const isCallFailure = (u: unknown) => tagOf(u) === "ComponentFailed" || tagOf(u) === "TimeoutExceeded"

const wrapWith = <E extends Interceptor.CallError>(policies: ReadonlyMap<string, Policy<E>>): Interceptor.Interceptor["intercept"] => (call, next) => {
  const policy = policies.get(call.service)
  return policy === undefined ? next(call) : policy(next(call))
}

// --- circuitBreaker --------------------------------------------------------------------------------------

const CircuitBreakerConfig = Schema.Struct({
  maxFailures: Schema.optional(Schema.Number),
  failureRatio: Schema.optional(Schema.Struct({
    threshold: Schema.Number,
    window: Schema.Number,
    minimumCalls: Schema.optional(Schema.Number)
  })),
  resetAfter: DurationSetting,
  halfOpenMaxCalls: Schema.optional(Schema.Number)
})

const circuitBreaker: Interceptor.Builtin = {
  name: "circuitBreaker",
  config: CircuitBreakerConfig,
  make: (config: typeof CircuitBreakerConfig.Type, context) =>
    Effect.gen(function*() {
      const breakers = yield* perService(context.services, (service) =>
        CircuitBreaker.make({
          name: service,
          maxFailures: config.maxFailures,
          failureRatio: config.failureRatio,
          resetAfter: config.resetAfter,
          halfOpenMaxCalls: config.halfOpenMaxCalls,
          isFailure: isCallFailure
        }))
      for (const [service, breaker] of breakers) {
        // the stream starts with the current state: once it is seen, no later change can be missed
        const subscribed = yield* Deferred.make<void>()
        yield* breaker.changes.pipe(
          Stream.zipWithIndex,
          Stream.runForEach(([state, index]) =>
            index === 0
              ? Deferred.succeed(subscribed, undefined)
              : Effect.flatMap(Clock.currentTimeMillis, (at) =>
                context.events.publish({ _tag: "CircuitStateChanged", service, at, state: state._tag }))
          ),
          Effect.forkScoped
        )
        yield* Deferred.await(subscribed)
      }
      return wrapWith(breakers)
    })
}

// --- rateLimit -------------------------------------------------------------------------------------------

const RateLimitConfig = Schema.Struct({
  limit: Schema.Number,
  interval: DurationSetting,
  algorithm: Schema.optional(Schema.Literal("token-bucket", "fixed-window")),
  /** How long a call may wait for a permit before it is refused (default 0: refuse at once). */
  maxWait: Schema.optionalWith(DurationSetting, { default: () => Duration.zero })
})

const rateLimit: Interceptor.Builtin = {
  name: "rateLimit",
  config: RateLimitConfig,
  make: (config: typeof RateLimitConfig.Type, context) =>
    Effect.gen(function*() {
      const limiters = yield* perService(context.services, () =>
        RateLimit.make({ limit: config.limit, interval: config.interval, algorithm: config.algorithm }))
      return (call, next) => {
        const limiter = limiters.get(call.service)
        if (limiter === undefined) return next(call)
        // the permit is taken through the RateLimit policy; waiting longer than maxWait refuses the call
        const permit = Effect.timeoutFail(limiter(Effect.void), {
          duration: config.maxWait,
          onTimeout: () => new RateLimitExceeded({ service: call.service, limit: config.limit, interval: config.interval })
        })
        return Effect.zipRight(permit, next(call))
      }
    })
}

// --- timeout ---------------------------------------------------------------------------------------------

const TimeoutConfig = Schema.Struct({ duration: DurationSetting })

const timeout: Interceptor.Builtin = {
  name: "timeout",
  config: TimeoutConfig,
  make: (config: typeof TimeoutConfig.Type, context) =>
    Effect.map(
      perService(context.services, (service) => Timeout.make({ name: service, duration: config.duration })),
      wrapWith
    )
}

// --- retry -----------------------------------------------------------------------------------------------

const RetryConfig = Schema.Struct({
  base: DurationSetting,
  factor: Schema.optional(Schema.Number),
  cap: Schema.optional(DurationSetting),
  maxAttempts: Schema.optional(Schema.Number),
  jitter: Schema.optional(Schema.Boolean),
  /** Error tags to retry (default: the handler's failures and timeouts). */
  on: Schema.optionalWith(Schema.Array(Schema.String), { default: () => ["ComponentFailed", "TimeoutExceeded"] })
})

const retry: Interceptor.Builtin = {
  name: "retry",
  config: RetryConfig,
  make: (config: typeof RetryConfig.Type) =>
    Effect.map(
      Effect.mapError(
        Retry.make({
          base: config.base,
          factor: config.factor,
          cap: config.cap,
          maxAttempts: config.maxAttempts,
          jitter: config.jitter,
          while: (error) => config.on.includes(String(tagOf(error)))
        }),
        invalidSetting
      ),
      (policy): Interceptor.Interceptor["intercept"] => (call, next) => policy(Effect.suspend(() => next(call)))
    )
}

// --- cache -----------------------------------------------------------------------------------------------

const CacheConfig = Schema.Struct({
  timeToLive: DurationSetting,
  capacity: Schema.optionalWith(Schema.Number, { default: () => 1000 })
})

const cache: Interceptor.Builtin = {
  name: "cache",
  config: CacheConfig,
  make: (config: typeof CacheConfig.Type, context) =>
    Effect.gen(function*() {
      const caches = yield* perService(context.services, () =>
        ResultCache.make<string, unknown, Interceptor.CallError>({
          timeToLive: config.timeToLive,
          capacity: config.capacity
        }))
      return (call, next) => {
        const found = caches.get(call.service)
        // keyed by the input's JSON; inputs that cannot be serialized are not cached
        let key: string | undefined
        try {
          key = JSON.stringify(call.input)
        } catch {
          key = undefined
        }
        return found === undefined || key === undefined ? next(call) : found.get(key, next(call))
      }
    })
}

/** @internal */
export const builtins: Readonly<Record<string, Interceptor.Builtin>> = {
  circuitBreaker,
  rateLimit,
  timeout,
  retry,
  cache
}
