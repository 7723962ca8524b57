import { assertOutcome, millisOf, show } from "./internal/checks.ts"
import { pending, transition } from "./internal/machine.ts"
import { ensurePolicy } from "./internal/policy.ts"
import type { Outcome } from "./Outcome.ts"
import type { DelayOptions, RetryPolicy } from "./RetryPolicy.ts"

/** Created, not attempted yet: attempt 1 is due at `nextAt`. */
export interface Pending {
  readonly _tag: "pending"
  readonly nextAt: Date
}

/** An attempt failed and another is due: attempt number `attempt` (2 or more) at `nextAt`. */
export interface Retrying {
  readonly _tag: "retrying"
  /** The number of the attempt due at `nextAt`; `attempt - 1` attempts have failed. */
  readonly attempt: number
  readonly nextAt: Date
  /** What the previous attempt got. */
  readonly lastOutcome: Outcome
}

/** Attempt number `attempt` succeeded, observed at `at`. Terminal. */
export interface Delivered {
  readonly _tag: "delivered"
  readonly attempt: number
  readonly at: Date
}

/** All `attempts` attempts failed, the last one with `lastOutcome` at `at`; never retried. Terminal. */
export interface Failed {
  readonly _tag: "failed"
  readonly attempts: number
  readonly lastOutcome: Outcome
  readonly at: Date
}

/**
 * Where one postback's delivery stands:
 *
 * ```text
 * pending ──success──▶ delivered { attempt, at }
 *    │failure
 *    ▼
 * retrying { attempt, nextAt } ──success──▶ delivered
 *    │failure, attempts left: retrying { attempt + 1, nextAt }
 *    │failure, none left
 *    ▼
 * failed { attempts, lastOutcome }
 * ```
 *
 * States are plain, immutable objects; `delivered` and `failed` are final.
 */
export type DeliveryState = Pending | Retrying | Delivered | Failed

/** Whether the delivery is over (`delivered` or `failed`). */
export const isTerminal = (state: DeliveryState): state is Delivered | Failed =>
  state._tag === "delivered" || state._tag === "failed"

/**
 * The attempt to make next and when, or `undefined` once the delivery is
 * over. What a sender loop waits for.
 */
export const dueAttempt = (
  state: DeliveryState
): { readonly attempt: number; readonly at: Date } | undefined => {
  switch (state._tag) {
    case "pending":
      return { attempt: 1, at: state.nextAt }
    case "retrying":
      return { attempt: state.attempt, at: state.nextAt }
    default:
      return undefined
  }
}

/** How many attempts have been made so far. */
export const attemptsMade = (state: DeliveryState): number => {
  switch (state._tag) {
    case "pending":
      return 0
    case "retrying":
      return state.attempt - 1
    case "delivered":
      return state.attempt
    case "failed":
      return state.attempts
  }
}

/**
 * A new delivery whose first attempt is due at `at`.
 *
 * @example
 * import { momentScience, onOutcome, Outcome, start } from "@org/postback-retry"
 *
 * let state = start(momentScience, new Date("2025-01-01T00:00:00Z"))
 * state = onOutcome(momentScience, state, Outcome.response(503), new Date("2025-01-01T00:00:00Z"))
 * // { _tag: "retrying", attempt: 2, nextAt: 2025-01-01T00:01:00Z, lastOutcome: { _tag: "response", status: 503 } }
 */
export const start = (policy: RetryPolicy, at: Date): Pending => {
  ensurePolicy(policy, "start")
  return pending(millisOf(at, "start: at"))
}

const checkState = (policy: RetryPolicy, state: unknown): DeliveryState => {
  const bad = (problem: string) => new TypeError(`onOutcome: state ${problem}, got ${show(state)}`)
  if (typeof state !== "object" || state === null || !("_tag" in state)) {
    throw bad("must be a DeliveryState (pending, retrying, delivered or failed)")
  }
  const s = state as DeliveryState
  switch (s._tag) {
    case "pending":
      millisOf(s.nextAt, "onOutcome: state.nextAt")
      return s
    case "retrying":
      millisOf(s.nextAt, "onOutcome: state.nextAt")
      if (!Number.isInteger(s.attempt) || s.attempt < 2 || s.attempt > policy.maxAttempts) {
        throw new RangeError(
          `onOutcome: state.attempt must be a whole number from 2 to the policy's maxAttempts (${policy.maxAttempts}), got ${show(s.attempt)}`
        )
      }
      return s
    case "delivered":
    case "failed":
      return s
    default:
      throw bad("must be a DeliveryState (pending, retrying, delivered or failed)")
  }
}

/**
 * The state after the attempt due in `state` ended with `outcome`, observed
 * at `at`. Pure: the same arguments always give the same state (pass a
 * seeded `random` for policies with jitter).
 *
 * - a success (per `policy.successStatuses`) gives `delivered`;
 * - a failure with attempts left gives `retrying`, the next attempt due the
 *   policy's delay after `at` (delays run from the failure, not from when
 *   the attempt started);
 * - a failure of the last attempt gives `failed`;
 * - `delivered` and `failed` are final: any outcome leaves them unchanged.
 *
 * `at` is when the outcome was observed, at or after the attempt's due time.
 * Throws a `TypeError` or `RangeError` naming the argument that is not valid
 * (a state whose attempt the policy does not allow, an invalid Date or
 * outcome), and a `RetryPolicyError` for an invalid policy.
 */
export const onOutcome = (
  policy: RetryPolicy,
  state: DeliveryState,
  outcome: Outcome,
  at: Date,
  options?: DelayOptions
): DeliveryState => {
  const p = ensurePolicy(policy, "onOutcome")
  const s = checkState(p, state)
  const o = assertOutcome(outcome, "onOutcome: outcome")
  const atMillis = millisOf(at, "onOutcome: at")
  return transition(p, s, o, atMillis, options?.random ?? Math.random)
}
