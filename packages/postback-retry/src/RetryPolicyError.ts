import { show } from "./internal/checks.ts"

/**
 * An invalid retry policy, or an invalid option of a policy constructor.
 * Thrown eagerly, when the policy is built or first used, never halfway
 * through a delivery. The message names the option and its value:
 *
 * `exponential: factor must be a finite number of at least 1, got 0.5`
 */
export class RetryPolicyError extends Error {
  readonly _tag: "RetryPolicyError" = "RetryPolicyError"
  /** Which function refused the policy (`"RetryPolicy"`, `"exponential"`, ...). */
  readonly where: string
  /** The path of the offending option, such as `"delaysSeconds[2]"`. */
  readonly option: string
  /** The value that was refused. */
  readonly value: unknown

  constructor(where: string, option: string, value: unknown, problem: string) {
    super(`${where}: ${option} ${problem}, got ${show(value)}`)
    this.name = "RetryPolicyError"
    this.where = where
    this.option = option
    this.value = value
  }
}
