import { dateAt, millisOf } from "./internal/checks.ts"
import {
  delayMillis,
  ensurePolicy,
  freezePolicy,
  MAX_ATTEMPTS_LIMIT,
  nominalDelayMillis,
  succeeded
} from "./internal/policy.ts"
import type { Outcome } from "./Outcome.ts"
import { RetryPolicyError } from "./RetryPolicyError.ts"

/**
 * How each delay is randomised.
 *
 * - `"none"`: the delay is exactly the one listed (capped).
 * - `"full"`: "full jitter", a uniformly random wait between 0 and the
 *   capped delay, so that many failed deliveries do not retry in lockstep.
 */
export type Jitter = "none" | "full"

/**
 * A source of random numbers from 0 to 1, like `Math.random`. Pass a seeded
 * one (see {@link seededRandom}) to make jittered delays reproducible.
 */
export type RandomSource = () => number

/** An inclusive range of HTTP statuses: `{ from: 200, to: 299 }` is "any 2xx". */
export interface StatusRange {
  readonly from: number
  readonly to: number
}

/**
 * A sender's retry policy as plain, serialisable data.
 *
 * Attempt 1 is made at once. After failed attempt `n` (1-based, `n <
 * maxAttempts`) the sender waits `delaysSeconds[n - 1]` (at most
 * `capSeconds`, randomised by `jitter`) and makes attempt `n + 1`. After
 * failed attempt `maxAttempts` the postback is failed for good. An attempt
 * succeeds when the receiver answers with a status inside one of
 * `successStatuses`; anything else (another status, a timeout, a
 * connection error) is a failure.
 *
 * Build one with {@link retryPolicy} or a constructor ({@link fixed},
 * {@link linear}, {@link exponential}, {@link fromOffsets}); those validate
 * eagerly and return a frozen object. A hand-written object is validated by
 * every function that receives it.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included: a whole number from 1 to 10 000. */
  readonly maxAttempts: number
  /** Seconds to wait after failed attempt n before attempt n + 1; exactly `maxAttempts - 1` of them. */
  readonly delaysSeconds: ReadonlyArray<number>
  /** An upper bound on every delay, applied before jitter. */
  readonly capSeconds?: number
  /** How delays are randomised; absent means `"none"`. */
  readonly jitter?: Jitter
  /** The HTTP statuses that count as delivered. MomentScience: exactly 200. */
  readonly successStatuses: ReadonlyArray<StatusRange>
}

/** Options every policy constructor takes besides its delays. */
export interface PolicyOptions {
  /** An upper bound on every delay, applied before jitter. */
  readonly capSeconds?: number
  /** `"none"` (default) or `"full"`. */
  readonly jitter?: Jitter
  /** The statuses that count as delivered; default `[{ from: 200, to: 299 }]`, any 2xx. */
  readonly successStatuses?: ReadonlyArray<StatusRange>
}

/** The statuses most webhook senders accept as delivered: any 2xx. */
export const ANY_2XX: ReadonlyArray<StatusRange> = Object.freeze([
  Object.freeze({ from: 200, to: 299 })
])

/** Exactly `200 OK`, MomentScience's rule. */
export const EXACTLY_200: ReadonlyArray<StatusRange> = Object.freeze([
  Object.freeze({ from: 200, to: 200 })
])

const build = (
  where: string,
  delaysSeconds: ReadonlyArray<number>,
  options: PolicyOptions & { readonly maxAttempts?: number }
): RetryPolicy =>
  freezePolicy(
    {
      maxAttempts: options.maxAttempts ?? delaysSeconds.length + 1,
      delaysSeconds,
      capSeconds: options.capSeconds,
      jitter: options.jitter,
      successStatuses: options.successStatuses ?? ANY_2XX
    },
    where
  )

const requireNumber = (
  where: string,
  option: string,
  value: unknown,
  min: number,
  problem: string
): number => {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RetryPolicyError(where, option, value, problem)
  }
  return value
}

const requireAttempts = (where: string, value: unknown): number => {
  if (
    typeof value !== "number" ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > MAX_ATTEMPTS_LIMIT
  ) {
    throw new RetryPolicyError(
      where,
      "maxAttempts",
      value,
      `must be a whole number from 1 to ${MAX_ATTEMPTS_LIMIT}`
    )
  }
  return value
}

/**
 * Validates a policy given as data (for instance read from configuration)
 * and returns a frozen copy. `maxAttempts` defaults to one more than the
 * number of delays; `successStatuses` defaults to any 2xx.
 *
 * Throws a {@link RetryPolicyError} naming the bad option and its value.
 *
 * @example
 * import { retryPolicy } from "@org/postback-retry"
 *
 * // Svix: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
 * const svix = retryPolicy({ delaysSeconds: [5, 300, 1800, 7200, 18000, 36000, 36000] })
 */
export const retryPolicy = (
  options: PolicyOptions & {
    readonly delaysSeconds: ReadonlyArray<number>
    readonly maxAttempts?: number
  }
): RetryPolicy => {
  if (typeof options !== "object" || options === null) {
    throw new RetryPolicyError("retryPolicy", "options", options, "must be an object")
  }
  if (!Array.isArray(options.delaysSeconds)) {
    throw new RetryPolicyError(
      "retryPolicy",
      "delaysSeconds",
      options.delaysSeconds,
      "must be an array of seconds"
    )
  }
  return build("retryPolicy", options.delaysSeconds, options)
}

/**
 * The same delay before every retry.
 *
 * @example
 * fixed({ delaySeconds: 30, maxAttempts: 4 }) // attempts at 0, 30, 60, 90 s
 */
export const fixed = (
  options: PolicyOptions & { readonly delaySeconds: number; readonly maxAttempts: number }
): RetryPolicy => {
  const maxAttempts = requireAttempts("fixed", options.maxAttempts)
  const delay = requireNumber(
    "fixed",
    "delaySeconds",
    options.delaySeconds,
    0,
    "must be a finite number of seconds >= 0"
  )
  return build(
    "fixed",
    Array.from({ length: maxAttempts - 1 }, () => delay),
    options
  )
}

/**
 * Delays that grow by the same step: `initialSeconds`, then
 * `initialSeconds + incrementSeconds`, and so on. MomentScience's policy is
 * `linear({ initialSeconds: 60, incrementSeconds: 30, maxAttempts: 5 })`
 * with exactly 200 as success.
 */
export const linear = (
  options: PolicyOptions & {
    readonly initialSeconds: number
    readonly incrementSeconds: number
    readonly maxAttempts: number
  }
): RetryPolicy => {
  const maxAttempts = requireAttempts("linear", options.maxAttempts)
  const initial = requireNumber(
    "linear",
    "initialSeconds",
    options.initialSeconds,
    0,
    "must be a finite number of seconds >= 0"
  )
  const increment = requireNumber(
    "linear",
    "incrementSeconds",
    options.incrementSeconds,
    0,
    "must be a finite number of seconds >= 0"
  )
  return build(
    "linear",
    Array.from({ length: maxAttempts - 1 }, (_, i) => initial + increment * i),
    options
  )
}

/**
 * Exponential backoff: `baseSeconds × factor^(n - 1)` after failed attempt
 * `n`, each capped at `capSeconds`. With `jitter: "full"` this is the
 * "full jitter" backoff: a uniformly random wait between 0 and the capped
 * delay.
 *
 * Throws when the delays would overflow and no cap is given.
 *
 * @example
 * exponential({ baseSeconds: 1, factor: 2, capSeconds: 60, maxAttempts: 10, jitter: "full" })
 */
export const exponential = (
  options: PolicyOptions & {
    readonly baseSeconds: number
    /** Growth per retry; default 2. */
    readonly factor?: number
    readonly maxAttempts: number
  }
): RetryPolicy => {
  const maxAttempts = requireAttempts("exponential", options.maxAttempts)
  const base = requireNumber(
    "exponential",
    "baseSeconds",
    options.baseSeconds,
    0,
    "must be a finite number of seconds >= 0"
  )
  const factor = requireNumber(
    "exponential",
    "factor",
    options.factor ?? 2,
    1,
    "must be a finite number of at least 1"
  )
  const cap = options.capSeconds
  if (cap !== undefined) {
    requireNumber(
      "exponential",
      "capSeconds",
      cap,
      0,
      "must be a finite number of seconds >= 0 (or absent)"
    )
  }
  const delays: Array<number> = []
  let delay = base
  for (let n = 1; n < maxAttempts; n++) {
    if (!Number.isFinite(delay) && cap === undefined) {
      throw new RetryPolicyError(
        "exponential",
        "capSeconds",
        cap,
        `is needed: without it delay ${n} (${base} × ${factor}^${n - 1} s) overflows`
      )
    }
    delays.push(cap === undefined ? delay : Math.min(delay, cap))
    delay *= factor
  }
  return build("exponential", delays, options)
}

/**
 * A policy from the times of the attempts, in seconds after the first
 * (which must be 0): the inverse of {@link attemptOffsets}. Handy for
 * documentation that lists "retry at" times rather than waits:
 * `fromOffsets([0, 60, 90, 120, 150])` has delays `[60, 30, 30, 30]`.
 */
export const fromOffsets = (
  offsetsSeconds: ReadonlyArray<number>,
  options: PolicyOptions = {}
): RetryPolicy => {
  if (!Array.isArray(offsetsSeconds) || offsetsSeconds.length === 0) {
    throw new RetryPolicyError(
      "fromOffsets",
      "offsetsSeconds",
      offsetsSeconds,
      "must be a non-empty array of seconds starting with 0"
    )
  }
  if (offsetsSeconds[0] !== 0) {
    throw new RetryPolicyError(
      "fromOffsets",
      "offsetsSeconds[0]",
      offsetsSeconds[0],
      "must be 0 (the first attempt is made at once)"
    )
  }
  const delays: Array<number> = []
  for (let i = 1; i < offsetsSeconds.length; i++) {
    const previous = offsetsSeconds[i - 1]!
    const offset = offsetsSeconds[i]
    if (typeof offset !== "number" || !Number.isFinite(offset) || offset < previous) {
      throw new RetryPolicyError(
        "fromOffsets",
        `offsetsSeconds[${i}]`,
        offset,
        `must be a finite number of seconds >= the one before (${previous})`
      )
    }
    delays.push(offset - previous)
  }
  return build("fromOffsets", delays, options)
}

/**
 * The same policy with every delay (and the cap) multiplied by `factor`:
 * `scaled(momentScience, 0.01)` runs MomentScience's 420 s in 4.2 s, for
 * emulators and demos in real time.
 */
export const scaled = (policy: RetryPolicy, factor: number): RetryPolicy => {
  const p = ensurePolicy(policy, "scaled")
  if (typeof factor !== "number" || !Number.isFinite(factor) || factor <= 0) {
    throw new RetryPolicyError("scaled", "factor", factor, "must be a finite number > 0")
  }
  return freezePolicy(
    {
      ...p,
      delaysSeconds: p.delaysSeconds.map((d) => d * factor),
      ...(p.capSeconds === undefined ? {} : { capSeconds: p.capSeconds * factor })
    },
    "scaled"
  )
}

/**
 * MomentScience's policy: 5 attempts in all, the first at once, then 60,
 * 90, 120 and 150 s after each failure; only `200 OK` is a success. Its
 * attempts fall at 0, 60, 150, 270 and 420 s (see the README for the other
 * reading of MomentScience's table).
 */
export const momentScience: RetryPolicy = retryPolicy({
  maxAttempts: 5,
  delaysSeconds: [60, 90, 120, 150],
  successStatuses: EXACTLY_200
})

/**
 * Seconds after the first attempt at which each attempt is made, when
 * every attempt fails at once: `[0, 60, 150, 270, 420]` for MomentScience.
 * Delays are capped; with `jitter: "full"` these are the latest times the
 * attempts can fall at.
 */
export const attemptOffsets = (policy: RetryPolicy): ReadonlyArray<number> => {
  const p = ensurePolicy(policy, "attemptOffsets")
  const offsets = [0]
  let at = 0
  for (let failed = 1; failed < p.maxAttempts; failed++) {
    at += nominalDelayMillis(p, failed)
    offsets.push(at / 1000)
  }
  return offsets
}

/**
 * The longest receiver outage, in seconds, that loses no postback when
 * failures are immediate (connection refused, instant 5xx): an outage of
 * exactly this long, or shorter, still lets the last attempt of every
 * postback through; a longer one loses the postbacks first sent during
 * its first (length − this) seconds. 420 for MomentScience. With
 * `jitter: "full"` no outage is safe for certain, so the answer is 0.
 */
export const toleratedOutageSeconds = (policy: RetryPolicy): number => {
  const p = ensurePolicy(policy, "toleratedOutageSeconds")
  if (p.jitter === "full") return 0
  return attemptOffsets(p).at(-1)!
}

/** Whether `policy` counts `outcome` as delivered. */
export const isSuccess = (policy: RetryPolicy, outcome: Outcome): boolean =>
  succeeded(ensurePolicy(policy, "isSuccess"), outcome)

/** Options of the functions that compute delays. */
export interface DelayOptions {
  /** Random numbers for `jitter: "full"`; default `Math.random`. */
  readonly random?: RandomSource
}

const checkAttempts = (attempts: unknown, where: string): number => {
  if (typeof attempts !== "number" || !Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(
      `${where}: attempts must be a whole number >= 1 (the failed attempts so far), got ${String(attempts)}`
    )
  }
  return attempts
}

/**
 * How long to wait, in seconds, after `attempts` failed attempts before
 * the next one; `undefined` when `attempts` reached `maxAttempts` and the
 * delivery is over. The same computation the state machine uses.
 *
 * @example
 * delayAfter(momentScience, 1) // 60
 * delayAfter(momentScience, 4) // 150
 * delayAfter(momentScience, 5) // undefined: failed for good
 */
export const delayAfter = (
  policy: RetryPolicy,
  attempts: number,
  options?: DelayOptions
): number | undefined => {
  const p = ensurePolicy(policy, "delayAfter")
  const n = checkAttempts(attempts, "delayAfter")
  const millis = delayMillis(p, n, options?.random ?? Math.random)
  return millis === undefined ? undefined : millis / 1000
}

/**
 * When to make the next attempt after `attempts` failed attempts, the
 * last of which failed at `lastAt`; `undefined` when there is none. For a
 * worker that keeps `attempts` and `lastAt` in its database:
 *
 * @example
 * const next = nextAttemptAt(policy, job.attempts, job.failedAt)
 * if (next === undefined) markDead(job)
 * else reschedule(job, next)
 */
export const nextAttemptAt = (
  policy: RetryPolicy,
  attempts: number,
  lastAt: Date,
  options?: DelayOptions
): Date | undefined => {
  const p = ensurePolicy(policy, "nextAttemptAt")
  const n = checkAttempts(attempts, "nextAttemptAt")
  const from = millisOf(lastAt, "nextAttemptAt: lastAt")
  const millis = delayMillis(p, n, options?.random ?? Math.random)
  return millis === undefined ? undefined : dateAt(from + millis, "nextAttemptAt: the next attempt")
}

/**
 * A small, fast, seeded random source (mulberry32): the same seed gives the
 * same numbers on every runtime. For reproducible jitter in tests and
 * simulations; not for anything secret.
 */
export const seededRandom = (seed: number): RandomSource => {
  if (typeof seed !== "number" || !Number.isInteger(seed)) {
    throw new RangeError(`seededRandom: seed must be a whole number, got ${String(seed)}`)
  }
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
