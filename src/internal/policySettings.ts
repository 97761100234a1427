import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { PolicySettingInvalid } from "../Policy.js"

/** @internal */
export const invalid = (policy: string, setting: string, value: unknown, expected: string) =>
  Effect.fail(new PolicySettingInvalid({ policy, setting, value, expected }))

/** @internal */
export const positiveInt = (
  policy: string,
  setting: string,
  value: number
): Effect.Effect<number, PolicySettingInvalid> =>
  Number.isSafeInteger(value) && value > 0 ? Effect.succeed(value) : invalid(policy, setting, value, "a positive integer")

/** @internal */
export const nonNegativeInt = (
  policy: string,
  setting: string,
  value: number
): Effect.Effect<number, PolicySettingInvalid> =>
  Number.isSafeInteger(value) && value >= 0 ?
    Effect.succeed(value) :
    invalid(policy, setting, value, "a non-negative integer")

/** @internal */
export const ratio = (
  policy: string,
  setting: string,
  value: number
): Effect.Effect<number, PolicySettingInvalid> =>
  Number.isFinite(value) && value > 0 && value <= 1 ?
    Effect.succeed(value) :
    invalid(policy, setting, value, "a ratio greater than 0 and at most 1")

/** @internal */
export const positiveNumber = (
  policy: string,
  setting: string,
  value: number
): Effect.Effect<number, PolicySettingInvalid> =>
  Number.isFinite(value) && value > 0 ? Effect.succeed(value) : invalid(policy, setting, value, "a positive number")

const DURATION_SIGN = /^\s*-/

/**
 * Decodes a `DurationInput` without the silent clamping of `Duration.decode`
 * (which turns `-5` into zero): negative, NaN and unparsable inputs fail.
 *
 * @internal
 */
export const duration = (
  policy: string,
  setting: string,
  input: Duration.DurationInput,
  options: { readonly allowZero: boolean }
): Effect.Effect<Duration.Duration, PolicySettingInvalid> => {
  const expected = options.allowZero ? "a non-negative duration" : "a positive duration"
  const negative = typeof input === "number" ?
    Number.isNaN(input) || input < 0 :
    typeof input === "bigint" ?
    input < BigInt(0) :
    typeof input === "string" ?
    DURATION_SIGN.test(input) :
    Array.isArray(input) ?
    input.some((n) => typeof n !== "number" || Number.isNaN(n) || n < 0) :
    false
  if (negative) return invalid(policy, setting, input, expected)
  const decoded = Duration.decodeUnknown(input)
  if (decoded._tag === "None") return invalid(policy, setting, input, expected)
  if (!options.allowZero && Duration.isZero(decoded.value)) return invalid(policy, setting, input, expected)
  return Effect.succeed(decoded.value)
}
