import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { ActivityTimeout } from "../WorkflowError.js"
import { withFaults } from "./faults.js"
import * as ctx from "./workflowContext.js"
import { observeActivity } from "./workflowTelemetry.js"

/** @internal */
export interface ActivityOptions<A, I, E, EI, R> {
  readonly name: string
  readonly success: Schema.Schema<A, I>
  readonly error?: Schema.Schema<E, EI>
  readonly execute: Effect.Effect<A, E, R>
  readonly retry?: Schedule.Schedule<unknown, NoInfer<E>, never>
  readonly timeout?: Duration.DurationInput
}

/** @internal */
export const make = <A, I, E, EI, R>(
  options: ActivityOptions<A, I, E, EI, R>
): Effect.Effect<A, E | ActivityTimeout, R> => {
  const timeout = options.timeout === undefined ? undefined : Duration.decode(options.timeout)
  const errorSchema = (options.error === undefined
    ? ActivityTimeout
    : Schema.Union(options.error, ActivityTimeout)) as Schema.Schema<E | ActivityTimeout, unknown>
  const codec = ctx.exitCodec(options.success, errorSchema)
  // a timed-out attempt is a value here, so that the retry schedule only ever sees the activity's own
  // errors (it is typed on E); timeouts are not retried and fail the activity with ActivityTimeout
  // injected test faults apply per attempt, inside the retry and the timeout (no wrapping when inactive)
  const execute = withFaults("activity", options.name, options.execute)
  const body: Effect.Effect<Either.Either<A, ActivityTimeout>, E, R> = timeout === undefined
    ? Effect.map(execute, Either.right)
    : Effect.timeoutTo(execute, {
      duration: timeout,
      onSuccess: Either.right,
      onTimeout: () => Either.left(new ActivityTimeout({ activity: options.name, timeoutMillis: Duration.toMillis(timeout) }))
    })

  const attempts = (
    key: string,
    idempotencyKey: string,
    counter: { attempt: number } = { attempt: 0 }
  ): Effect.Effect<A, E | ActivityTimeout, R> =>
    Effect.suspend(() => {
      counter.attempt = 0
      // one info for all attempts, set once around them (a `locally` per attempt copies the fiber's
      // references twice); each attempt updates its number before it runs
      const info: ctx.ActivityInfo = { key, idempotencyKey, attempt: 0 }
      const once = Effect.suspend(() => {
        info.attempt = ++counter.attempt
        return body
      })
      const retried = options.retry === undefined ? once : Effect.retry(once, options.retry)
      return withActivity(info, Effect.flatMap(retried, (r): Effect.Effect<A, ActivityTimeout> => r))
    })

  return ctx.step({
    name: options.name,
    kind: "activity",
    outside: attempts(`local:${options.name}`, `local:${options.name}`),
    replay: (entry) => codec.decode(entry.exit),
    live: (exec, key) => {
      const counter = { attempt: 0 }
      // duration metric, and a span when tracing (telemetry)
      const observed = observeActivity(
        options.name,
        exec,
        key,
        () => counter.attempt,
        attempts(key, `${exec.workflowId}/${exec.run}/${key}`, counter)
      )
      return Effect.flatMap(
        Effect.exit(observed),
        (exit) => {
          const json = codec.encode(exit)
          return json === undefined ? exit : Effect.zipRight(ctx.record(exec, key, options.name, "activity", json), exit)
        }
      )
    }
  })
}

/** `self` with `currentActivity` set to `info`, restored afterwards. */
const withActivity = <A, E, R>(info: ctx.ActivityInfo, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.withFiberRuntime<A, E, R>((fiber) => {
      const previous = fiber.getFiberRef(ctx.currentActivity)
      return Effect.zipRight(
        FiberRef.set(ctx.currentActivity, info),
        Effect.flatMap(Effect.exit(restore(self)), (exit) => Effect.zipRight(FiberRef.set(ctx.currentActivity, previous), exit))
      )
    })
  )

/** @internal */
export const attempt: Effect.Effect<number> = Effect.map(FiberRef.get(ctx.currentActivity), (a) => a?.attempt ?? 1)

/** @internal */
export const idempotencyKey: Effect.Effect<string> = Effect.map(
  FiberRef.get(ctx.currentActivity),
  (a) => a?.idempotencyKey ?? "local"
)
