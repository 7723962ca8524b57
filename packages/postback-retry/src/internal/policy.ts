import type { Outcome } from "../Outcome.ts"
import type { RandomSource, RetryPolicy, StatusRange } from "../RetryPolicy.ts"
import { RetryPolicyError } from "../RetryPolicyError.ts"
import { show } from "./checks.ts"

/**
 * More attempts than this is a mistake, not a policy; refusing it keeps a
 * typo such as `maxAttempts: 1e9` from allocating a billion delays.
 */
export const MAX_ATTEMPTS_LIMIT = 10_000

const isNonNegativeFinite = (u: unknown): u is number =>
  typeof u === "number" && Number.isFinite(u) && u >= 0

const isStatusCode = (u: unknown): u is number =>
  typeof u === "number" && Number.isInteger(u) && u >= 100 && u <= 599

/** Throws a {@link RetryPolicyError} for the first thing wrong with `input`. */
export const validatePolicy = (input: unknown, where: string): RetryPolicy => {
  if (typeof input !== "object" || input === null) {
    throw new RetryPolicyError(where, "policy", input, "must be an object")
  }
  const p = input as Record<string, unknown>
  const maxAttempts = p.maxAttempts
  if (
    typeof maxAttempts !== "number" ||
    !Number.isInteger(maxAttempts) ||
    maxAttempts < 1 ||
    maxAttempts > MAX_ATTEMPTS_LIMIT
  ) {
    throw new RetryPolicyError(
      where,
      "maxAttempts",
      maxAttempts,
      `must be a whole number from 1 to ${MAX_ATTEMPTS_LIMIT}`
    )
  }
  const delays = p.delaysSeconds
  if (!Array.isArray(delays)) {
    throw new RetryPolicyError(where, "delaysSeconds", delays, "must be an array of seconds")
  }
  if (delays.length !== maxAttempts - 1) {
    throw new RetryPolicyError(
      where,
      "delaysSeconds",
      delays,
      `must hold one delay per retry, maxAttempts - 1 = ${maxAttempts - 1} of them, not ${delays.length}`
    )
  }
  delays.forEach((delay, i) => {
    if (!isNonNegativeFinite(delay)) {
      throw new RetryPolicyError(
        where,
        `delaysSeconds[${i}]`,
        delay,
        "must be a finite number of seconds >= 0"
      )
    }
  })
  if (p.capSeconds !== undefined && !isNonNegativeFinite(p.capSeconds)) {
    throw new RetryPolicyError(
      where,
      "capSeconds",
      p.capSeconds,
      "must be a finite number of seconds >= 0 (or absent)"
    )
  }
  if (p.jitter !== undefined && p.jitter !== "none" && p.jitter !== "full") {
    throw new RetryPolicyError(where, "jitter", p.jitter, `must be "none" or "full" (or absent)`)
  }
  const success = p.successStatuses
  if (!Array.isArray(success) || success.length === 0) {
    throw new RetryPolicyError(
      where,
      "successStatuses",
      success,
      "must be a non-empty array of { from, to } status ranges (MomentScience: [{ from: 200, to: 200 }])"
    )
  }
  success.forEach((range: unknown, i) => {
    if (typeof range !== "object" || range === null) {
      throw new RetryPolicyError(
        where,
        `successStatuses[${i}]`,
        range,
        "must be a { from, to } status range"
      )
    }
    const { from, to } = range as Record<string, unknown>
    if (!isStatusCode(from)) {
      throw new RetryPolicyError(
        where,
        `successStatuses[${i}].from`,
        from,
        "must be an HTTP status from 100 to 599"
      )
    }
    if (!isStatusCode(to) || to < from) {
      throw new RetryPolicyError(
        where,
        `successStatuses[${i}].to`,
        to,
        `must be an HTTP status from ${from} to 599`
      )
    }
  })
  return input as RetryPolicy
}

// Policies known to be valid. Only deeply frozen ones are remembered: a
// mutable object could change after it was checked.
const known = new WeakSet<object>()

const deeplyFrozen = (policy: RetryPolicy): boolean =>
  Object.isFrozen(policy) &&
  Object.isFrozen(policy.delaysSeconds) &&
  Object.isFrozen(policy.successStatuses) &&
  policy.successStatuses.every(Object.isFrozen)

/** Validates `policy` unless it is a frozen policy that was validated before. */
export const ensurePolicy = (policy: RetryPolicy, where: string): RetryPolicy => {
  if (typeof policy === "object" && policy !== null && known.has(policy)) return policy
  validatePolicy(policy, where)
  if (deeplyFrozen(policy)) known.add(policy)
  return policy
}

/** A validated, deeply frozen copy holding only the policy's own fields. */
export const freezePolicy = (input: unknown, where: string): RetryPolicy => {
  const p = validatePolicy(input, where)
  const policy: RetryPolicy = Object.freeze({
    maxAttempts: p.maxAttempts,
    delaysSeconds: Object.freeze([...p.delaysSeconds]),
    ...(p.capSeconds === undefined ? {} : { capSeconds: p.capSeconds }),
    ...(p.jitter === undefined || p.jitter === "none" ? {} : { jitter: p.jitter }),
    successStatuses: Object.freeze(
      p.successStatuses.map((r: StatusRange) => Object.freeze({ from: r.from, to: r.to }))
    )
  })
  known.add(policy)
  return policy
}

/** Whether the policy counts `outcome` as a delivered postback. */
export const succeeded = (policy: RetryPolicy, outcome: Outcome): boolean =>
  outcome._tag === "response" &&
  policy.successStatuses.some((r) => outcome.status >= r.from && outcome.status <= r.to)

/** The capped delay after failed attempt `failed`, in whole milliseconds, before jitter. */
export const nominalDelayMillis = (policy: RetryPolicy, failed: number): number => {
  const seconds = policy.delaysSeconds[failed - 1]!
  const capped = policy.capSeconds === undefined ? seconds : Math.min(seconds, policy.capSeconds)
  return Math.round(capped * 1000)
}

/** One draw from `random`, checked: a broken source must not turn into NaN dates. */
export const draw = (random: RandomSource): number => {
  if (typeof random !== "function") {
    throw new TypeError(
      `random must be a function returning numbers from 0 to 1, got ${show(random)}`
    )
  }
  const r = random()
  if (typeof r !== "number" || !(r >= 0 && r <= 1)) {
    throw new RangeError(`random() must return a number from 0 to 1, got ${show(r)}`)
  }
  return r
}

/**
 * The wait after `failed` failed attempts, in whole milliseconds, or
 * `undefined` when that was the last attempt. The single place delays are
 * computed: the state machine, the Schedule, the simulator and
 * `delayAfter` / `nextAttemptAt` all come here.
 */
export const delayMillis = (
  policy: RetryPolicy,
  failed: number,
  random: RandomSource
): number | undefined => {
  if (failed >= policy.maxAttempts) return undefined
  const nominal = nominalDelayMillis(policy, failed)
  return policy.jitter === "full" ? Math.floor(draw(random) * nominal) : nominal
}
