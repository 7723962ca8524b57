import { Cause, Duration, Effect, type Pull, Random, Schedule } from "effect"
import type { DeliveryState } from "./Delivery.ts"
import { isOutcome } from "./internal/checks.ts"
import { drawsRandom, pending, transition } from "./internal/machine.ts"
import { ensurePolicy } from "./internal/policy.ts"
import type { Outcome } from "./Outcome.ts"
import type { RandomSource, RetryPolicy } from "./RetryPolicy.ts"

/** Options of {@link schedule}. */
export interface ScheduleOptions {
  /**
   * Random numbers for `jitter: "full"`. By default the Schedule draws from
   * Effect's `Random` service, so `Random.withSeed` (or providing another
   * `Random.Random`) makes it reproducible.
   */
  readonly random?: RandomSource
}

const describe = (input: unknown): string | undefined => {
  if (input instanceof Error) return input.message || input.name
  if (typeof input === "object" && input !== null && "_tag" in input) return String(input._tag)
  if (typeof input === "string") return input
  return undefined
}

/**
 * What a Schedule input says about the attempt: an `Outcome`, or an error
 * carrying one in `outcome`, as it is; Effect's `Cause.TimeoutError` as a
 * timeout; anything else as a failure without an HTTP answer.
 */
const outcomeOf = (input: unknown): Outcome => {
  if (isOutcome(input)) return input
  if (typeof input === "object" && input !== null && "outcome" in input) {
    if (isOutcome(input.outcome)) return input.outcome
  }
  if (Cause.isTimeoutError(input)) return { _tag: "timeout" }
  const reason = describe(input)
  return reason === undefined ? { _tag: "connectionError" } : { _tag: "connectionError", reason }
}

/**
 * The policy as an Effect `Schedule`, stepping the same state machine as
 * `onOutcome`: each input is the outcome of an attempt, observed at the
 * clock's current time; the Schedule waits until the next attempt is due
 * and stops when the delivery is delivered or failed. Its output is the
 * `DeliveryState` after each attempt.
 *
 * - With `Effect.retry(deliver, schedule(policy))`, every failure of
 *   `deliver` is a failed attempt; fail with an `Outcome` (or an error with
 *   an `outcome` field) so the final state records it. Effect's
 *   `Cause.TimeoutError` (from `Effect.timeout`) counts as a timeout, any
 *   other error as a connection error.
 * - With `Effect.repeat(attempt, schedule(policy))`, where `attempt`
 *   succeeds with the `Outcome`, the policy's success rule decides, and the
 *   result is the final state (`delivered` or `failed`).
 *
 * @example
 * import { Effect } from "effect"
 * import { momentScience, Outcome, schedule } from "@org/postback-retry"
 *
 * const attempt = Effect.succeed(Outcome.response(503)) // a real sender does the HTTP call here
 * const final = Effect.repeat(attempt, schedule(momentScience))
 * // after 420 s: { _tag: "failed", attempts: 5, lastOutcome: { _tag: "response", status: 503 }, ... }
 */
export const schedule = (
  policy: RetryPolicy,
  options?: ScheduleOptions
): Schedule.Schedule<DeliveryState, unknown> => {
  const p = ensurePolicy(policy, "schedule")
  const random = options?.random
  if (random !== undefined && typeof random !== "function") {
    throw new TypeError(
      `schedule: options.random must be a function returning numbers from 0 to 1, got ${String(random)}`
    )
  }
  return Schedule.fromStep(
    Effect.sync(() => {
      // The Schedule first hears of a delivery when its first attempt has
      // ended, so the machine starts (pending) at that same instant.
      let state: DeliveryState | undefined
      const advance = (
        now: number,
        current: DeliveryState,
        outcome: Outcome,
        draw: RandomSource
      ): Pull.Pull<[DeliveryState, Duration.Duration], never, DeliveryState> => {
        const next = transition(p, current, outcome, now, draw)
        state = next
        // The machine gives the absolute time of the next attempt; the
        // Schedule waits for what is left of it when the step runs.
        return next._tag === "retrying"
          ? Effect.succeed([next, Duration.millis(Math.max(0, next.nextAt.getTime() - now))])
          : Cause.done(next)
      }
      return (now: number, input: unknown) => {
        const current = state ?? pending(now)
        const outcome = outcomeOf(input)
        // Draw from Effect's Random only when the machine will use the number,
        // so a seeded or fixed Random is consumed exactly as by onOutcome.
        return random === undefined && drawsRandom(p, current, outcome)
          ? Effect.flatMap(Random.next, (r) => advance(now, current, outcome, () => r))
          : Effect.suspend(() => advance(now, current, outcome, random ?? Math.random))
      }
    })
  )
}
