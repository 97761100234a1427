import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Fiber, HashMap, Layer, Logger, Metric, Option, Random, Redacted, Ref, Stream, TestClock, Tracer } from "effect"
import * as Component from "../src/Component.js"
import * as Entrypoint from "../src/Entrypoint.js"
import * as Interceptor from "../src/Interceptor.js"
import * as Registry from "../src/Registry.js"
import * as ServiceEvent from "../src/ServiceEvent.js"
import { entrypointLayer } from "./utils/services.js"

const recorder = (name: string, log: Array<string>, options: { order?: number; include?: Array<string> } = {}) =>
  Interceptor.make({
    name,
    ...options,
    intercept: (call, next) =>
      Effect.sync(() => log.push(`${name}>${call.service}`)).pipe(
        Effect.zipRight(next(call)),
        Effect.ensuring(Effect.sync(() => log.push(`${name}<`)))
      )
  })

const execute = (service: string, payload: unknown, metadata?: Record<string, string>) =>
  Entrypoint.execute({ service, payload, metadata })

describe("Interceptor", () => {
  it.effect("runs interceptors by order, outermost first, in their scope", () => {
    const log: Array<string> = []
    return Effect.gen(function*() {
      yield* execute("greet", { name: "a" })
      expect(log).toEqual(["first>greet", "second>greet", "third>greet", "third<", "second<", "first<"])
      log.length = 0
      yield* execute("other", { name: "a" })
      // "second" is scoped to greet only, "third" is excluded from other by the config
      expect(log).toEqual(["first>other", "first<"])
    }).pipe(
      Effect.provide(entrypointLayer({
        code: [
          recorder("third", log, { order: 3 }),
          recorder("first", log, { order: 1 }),
          recorder("second", log, { order: 2, include: ["greet"] })
        ],
        interceptors: { third: { order: 3, scope: { exclude: ["other"] } } }
      }))
    )
  })

  it.effect("config can reorder and disable code interceptors", () => {
    const log: Array<string> = []
    return Effect.gen(function*() {
      yield* execute("greet", { name: "a" })
      expect(log).toEqual(["b>greet", "a>greet", "a<", "b<"])
    }).pipe(
      Effect.provide(entrypointLayer({
        code: [recorder("a", log, { order: 1 }), recorder("b", log, { order: 2 }), recorder("c", log)],
        interceptors: { b: { order: 0 }, c: { enabled: false } }
      }))
    )
  })

  it.effect("logging: one structured line per call with service, duration and outcome", () => {
    const lines: Array<{ message: unknown; level: string; annotations: Record<string, unknown> }> = []
    const logger = Logger.make(({ annotations, logLevel, message }) => {
      lines.push({
        message: Array.isArray(message) ? message[0] : message,
        level: logLevel.label,
        annotations: Object.fromEntries(HashMap.toEntries(annotations))
      })
    })
    return Effect.gen(function*() {
      yield* execute("greet", { name: "a" })
      yield* Effect.either(execute("greet", { name: "nobody" }))
      expect(lines.map((l) => [l.message, l.level, l.annotations.service, l.annotations.outcome])).toEqual([
        ["call succeeded", "INFO", "greet", "success"],
        ["call failed", "WARN", "greet", "ComponentFailed"]
      ])
      expect(typeof lines[0]!.annotations.durationMillis).toBe("number")
    }).pipe(
      Effect.provide(entrypointLayer({ interceptors: { logging: {} } })),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    )
  })

  it.effect("validation: output that breaks its schema is a typed error; so is an invalid decoded input", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(execute("greet", { name: "bad-output" }))
      expect(error._tag).toBe("ComponentOutputInvalid")
      expect(error.message).toContain("at greet")
      // a call whose decoded input breaks the schema (as typed code could build) is rejected before the handler
      const service = yield* Registry.get("greet")
      const invalid = yield* Effect.flip(service.execute({
        service: "greet",
        instance: service.instance,
        input: { name: 42 },
        metadata: {},
        lookup: () => Option.none(),
        encodesOutput: false
      }))
      expect(invalid._tag).toBe("ComponentInputInvalid")
      expect(invalid.message).toContain("at name")
      // outside the entrypoint (which encodes the output itself), the interceptor checks the output
      const badOutput = yield* Effect.flip(service.execute({
        service: "greet",
        instance: service.instance,
        input: { name: "bad-output" },
        metadata: {},
        lookup: () => Option.none(),
        encodesOutput: false
      }))
      expect(badOutput._tag).toBe("ComponentOutputInvalid")
      expect(badOutput.message).toContain("at greeting")
    }).pipe(Effect.provide(entrypointLayer({ interceptors: { validation: {} } }))))

  it.effect("metrics: counts calls and errors and records durations per service", () =>
    Effect.gen(function*() {
      const service = "greet"
      const calls = Interceptor.callMetrics.calls.pipe(Metric.tagged("service", service))
      const errors = Interceptor.callMetrics.errors.pipe(Metric.tagged("service", service))
      const duration = Interceptor.callMetrics.duration.pipe(Metric.tagged("service", service))
      const countBefore = (yield* Metric.value(duration)).count
      const before = { calls: (yield* Metric.value(calls)).count, errors: (yield* Metric.value(errors)).count }
      yield* execute(service, { name: "a" })
      yield* execute(service, { name: "b" })
      yield* Effect.either(execute(service, { name: "nobody" }))
      expect((yield* Metric.value(calls)).count - before.calls).toBe(3)
      expect((yield* Metric.value(errors)).count - before.errors).toBe(1)
      expect((yield* Metric.value(duration)).count - countBefore).toBe(3)
    }).pipe(Effect.provide(entrypointLayer({ interceptors: { metrics: {} } }))))

  it.effect("tracing: a span per call with the service attributes", () => {
    const seen: Array<Tracer.Span> = []
    const inside = Interceptor.make({
      name: "inside",
      order: 100,
      intercept: (call, next) =>
        Effect.flatMap(Effect.orDie(Effect.currentSpan), (span) => {
          seen.push(span)
          return next(call)
        })
    })
    return Effect.gen(function*() {
      yield* execute("greet", { name: "a" })
      const span = seen[0]!
      expect(span.name).toBe("loom.call greet")
      expect(span.attributes.get("loom.service")).toBe("greet")
      expect(span.attributes.get("loom.component")).toBe("greet")
      expect(span.kind).toBe("server")
      expect(span.status._tag).toBe("Ended")
    }).pipe(Effect.provide(entrypointLayer({ interceptors: { tracing: { order: 1 } }, code: [inside] })))
  })

  it.effect("auth: rejects missing and wrong keys, denies keys scoped elsewhere, accepts API keys and bearer tokens", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(execute("greet", { name: "a" }))
      expect(missing).toMatchObject({ _tag: "AuthenticationFailed", reason: "Missing" })
      const wrong = yield* Effect.flip(execute("greet", { name: "a" }, { "x-api-key": "s3cret-wrong" }))
      expect(wrong).toMatchObject({ _tag: "AuthenticationFailed", reason: "Invalid" })
      const denied = yield* Effect.flip(execute("greet", { name: "a" }, { "x-api-key": "other-secret" }))
      expect(denied).toMatchObject({ _tag: "AuthorizationDenied", principal: "other" })
      expect(yield* execute("greet", { name: "a" }, { "x-api-key": "s3cret" })).toMatchObject({ version: 1 })
      expect(yield* execute("greet", { name: "a" }, { authorization: "Bearer s3cret" })).toMatchObject({ version: 1 })
    }).pipe(Effect.provide(entrypointLayer({
      interceptors: {
        auth: {
          config: {
            keys: [{ name: "main", key: "s3cret" }, { name: "other", key: "other-secret", services: ["other"] }]
          }
        }
      }
    }))))

  it.effect("auth: secrets can come from the environment through Config and stay redacted", () =>
    Effect.gen(function*() {
      const built = yield* Interceptor.builtin("auth", { config: { keys: [{ name: "env", key: { env: "LOOM_TEST_KEY" } }] } })
      expect(built.name).toBe("auth")
      const missingVar = yield* Effect.either(
        Interceptor.builtin("auth", { config: { keys: [{ name: "env", key: { env: "LOOM_NOT_SET_ANYWHERE" } }] } })
      )
      expect(Either.isLeft(missingVar) && missingVar.left.message).toContain("LOOM_NOT_SET_ANYWHERE")
      expect(String(Redacted.make("x"))).toBe("<redacted>")
    }).pipe(
      Effect.scoped,
      Effect.provide(entrypointLayer()),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["LOOM_TEST_KEY", "from-env"]])))
    ))

  it.effect("transform: rewrites the request before the handler and the response after it", () =>
    Effect.gen(function*() {
      const result = yield* execute("greet", { name: "Ada" })
      expect(result).toEqual({ greeting: "Hello Dr. Ada", version: 99 })
    }).pipe(Effect.provide(entrypointLayer({
      interceptors: {
        transform: {
          config: { request: { set: { title: "Dr. " } }, response: { set: { version: 99 } } }
        }
      }
    }))))

  it.effect("split: sends the configured share of traffic to the other version (2,000 calls, fixed seed)", () =>
    Effect.gen(function*() {
      const counts = yield* Ref.make({ v1: 0, v2: 0 })
      for (let i = 0; i < 2000; i++) {
        const result = (yield* execute("greet", { name: "a" })) as { version: number }
        yield* Ref.update(counts, (c) => (result.version === 2 ? { ...c, v2: c.v2 + 1 } : { ...c, v1: c.v1 + 1 }))
      }
      const { v1, v2 } = yield* Ref.get(counts)
      expect(v1 + v2).toBe(2000)
      const share = v2 / 2000
      expect(Math.abs(share - 0.3)).toBeLessThanOrEqual(0.3 * 0.05)
    }).pipe(
      Effect.provide(entrypointLayer({
        interceptors: { split: { config: { routes: { greet: { to: "greet-v2", weight: 0.3 } } } } }
      })),
      Effect.withRandom(Random.make("effect-loom-split"))
    ))

  describe("policy-backed interceptors", () => {
    const counting = (calls: { n: number }, fail: (n: number) => boolean = () => false) =>
      Interceptor.make({
        name: "inner",
        order: 100,
        intercept: (call, next) =>
          Effect.suspend(() => {
            calls.n++
            return fail(calls.n)
              ? Effect.fail(new Component.ComponentFailed({ service: call.service, error: { _tag: "Flaky" } }))
              : next(call)
          })
      })

    it.scoped("circuitBreaker: opens after maxFailures, publishes state changes, closes after a good trial", () =>
      Effect.gen(function*() {
        const bus = yield* ServiceEvent.ServiceEventBus
        const events = yield* bus.subscribe
        const changes: Array<[string, string]> = []
        yield* Effect.forkScoped(Stream.runForEach(events, (e) =>
          Effect.sync(() => {
            if (e._tag === "CircuitStateChanged") changes.push([e.service, e.state])
          })))
        yield* Effect.flip(execute("greet", { name: "nobody" }))
        yield* Effect.flip(execute("greet", { name: "nobody" }))
        const open = yield* Effect.flip(execute("greet", { name: "a" }))
        expect(open._tag).toBe("CircuitBreakerOpen")
        // other services have their own breaker
        expect(yield* execute("other", { name: "a" })).toMatchObject({ version: 3 })
        yield* TestClock.adjust("30 seconds")
        expect(yield* execute("greet", { name: "a" })).toMatchObject({ version: 1 })
        yield* Effect.repeatN(Effect.yieldNow(), 20)
        expect(changes).toEqual([
          ["greet", "Open"],
          ["greet", "HalfOpen"],
          ["greet", "Closed"]
        ])
      }).pipe(Effect.provide(entrypointLayer({
        interceptors: { circuitBreaker: { config: { maxFailures: 2, resetAfter: "30 seconds" } } }
      }))))

    it.effect("rateLimit: refuses calls over the limit until the interval passes", () =>
      Effect.gen(function*() {
        yield* execute("greet", { name: "a" })
        yield* execute("greet", { name: "a" })
        const refused = yield* Effect.flip(execute("greet", { name: "a" }))
        expect(refused._tag).toBe("RateLimitExceeded")
        yield* TestClock.adjust("1 second")
        expect(yield* execute("greet", { name: "a" })).toMatchObject({ version: 1 })
      }).pipe(Effect.provide(entrypointLayer({
        interceptors: { rateLimit: { config: { limit: 2, interval: "1 second", algorithm: "fixed-window" } } }
      }))))

    it.effect("timeout: a call over the duration fails with TimeoutExceeded", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.flip(execute("greet", { name: "slow" })))
        yield* TestClock.adjust("2 seconds")
        const error = yield* Fiber.join(fiber)
        expect(error._tag).toBe("TimeoutExceeded")
        expect(yield* execute("greet", { name: "a" })).toMatchObject({ version: 1 })
      }).pipe(Effect.provide(entrypointLayer({ interceptors: { timeout: { config: { duration: "1 second" } } } }))))

    it.effect("retry: retries handler failures with backoff up to maxAttempts", () => {
      const calls = { n: 0 }
      return Effect.gen(function*() {
        const fiber = yield* Effect.fork(execute("greet", { name: "a" }))
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(fiber)).toMatchObject({ version: 1 })
        expect(calls.n).toBe(3)
        calls.n = 0
        // input errors are not retried
        yield* Effect.flip(execute("greet", { name: 1 }))
        expect(calls.n).toBe(0)
      }).pipe(Effect.provide(entrypointLayer({
        interceptors: { retry: { order: 1, config: { base: "10 millis", maxAttempts: 3 } } },
        code: [counting(calls, (n) => n < 3)]
      })))
    })

    it.effect("cache: serves a repeated input from the cache until its time to live", () => {
      const calls = { n: 0 }
      return Effect.gen(function*() {
        yield* execute("greet", { name: "a" })
        yield* execute("greet", { name: "a" })
        expect(calls.n).toBe(1)
        yield* execute("greet", { name: "b" })
        expect(calls.n).toBe(2)
        yield* TestClock.adjust("2 minutes")
        yield* execute("greet", { name: "a" })
        expect(calls.n).toBe(3)
      }).pipe(Effect.provide(entrypointLayer({
        interceptors: { cache: { order: 1, config: { timeToLive: "1 minute" } } },
        code: [counting(calls)]
      })))
    })

    it.effect("bad policy settings are typed registry errors naming the setting", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Layer.build(entrypointLayer({
          interceptors: { circuitBreaker: { config: { maxFailures: -1, resetAfter: "1 second" } } }
        })))
        expect(error.message).toContain("at interceptors.circuitBreaker.config.maxFailures")
        const duration = yield* Effect.flip(Layer.build(entrypointLayer({
          interceptors: { timeout: { config: { duration: "soon" } } }
        })))
        expect(duration.message).toContain("at interceptors.timeout.config.duration")
      }).pipe(Effect.scoped))
  })
})
