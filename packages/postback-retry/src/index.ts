/**
 * The MomentScience postback retry policy as data, a pure delivery state
 * machine (`start`, `onOutcome`), the same policy as an Effect `Schedule`
 * (`schedule`), next-attempt times for workers (`delayAfter`,
 * `nextAttemptAt`) and an outage simulator (`simulate`).
 *
 * @example
 * import { attemptOffsets, momentScience, toleratedOutageSeconds } from "@org/postback-retry"
 *
 * attemptOffsets(momentScience)         // [0, 60, 150, 270, 420]
 * toleratedOutageSeconds(momentScience) // 420
 *
 * @module
 */
export * from "./Delivery.ts"
export * from "./Outcome.ts"
export * from "./RetryPolicy.ts"
export * from "./RetryPolicyError.ts"
export * from "./RetrySchedule.ts"
export * from "./Simulation.ts"
