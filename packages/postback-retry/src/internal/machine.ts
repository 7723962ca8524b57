import type { DeliveryState, Pending } from "../Delivery.ts"
import type { Outcome } from "../Outcome.ts"
import type { RandomSource, RetryPolicy } from "../RetryPolicy.ts"
import { dateAt } from "./checks.ts"
import { delayMillis, succeeded } from "./policy.ts"

/** The state before any attempt: attempt 1 is due at `atMillis`. */
export const pending = (atMillis: number): Pending => ({
  _tag: "pending",
  nextAt: new Date(atMillis)
})

/** The number of the attempt an outcome in `state` belongs to; `undefined` once the delivery is over. */
const attemptDue = (state: DeliveryState): number | undefined => {
  switch (state._tag) {
    case "pending":
      return 1
    case "retrying":
      return state.attempt
    default:
      return undefined
  }
}

/**
 * Whether {@link transition} will draw a random number for this step: only
 * a failure with attempts left under a jittered policy does. Lets a caller
 * whose randomness is effectful (Effect's `Random`) draw exactly as often as
 * the pure machine.
 */
export const drawsRandom = (
  policy: RetryPolicy,
  state: DeliveryState,
  outcome: Outcome
): boolean => {
  const attempt = attemptDue(state)
  return (
    policy.jitter === "full" &&
    attempt !== undefined &&
    attempt < policy.maxAttempts &&
    !succeeded(policy, outcome)
  )
}

/**
 * One step of the delivery state machine, on inputs already checked. The
 * public `onOutcome`, the Effect Schedule and the simulator all step through
 * here, so they cannot disagree.
 */
export const transition = (
  policy: RetryPolicy,
  state: DeliveryState,
  outcome: Outcome,
  atMillis: number,
  random: RandomSource
): DeliveryState => {
  const attempt = attemptDue(state)
  if (attempt === undefined) return state
  if (succeeded(policy, outcome)) {
    return { _tag: "delivered", attempt, at: new Date(atMillis) }
  }
  const wait = delayMillis(policy, attempt, random)
  if (wait === undefined) {
    return { _tag: "failed", attempts: attempt, lastOutcome: outcome, at: new Date(atMillis) }
  }
  return {
    _tag: "retrying",
    attempt: attempt + 1,
    nextAt: dateAt(atMillis + wait, `attempt ${attempt + 1}`),
    lastOutcome: outcome
  }
}
