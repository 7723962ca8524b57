/** A sender's retry policy as plain data. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number
  /** Seconds to wait after failed attempt n before attempt n + 1 (length maxAttempts - 1). */
  readonly delaysSeconds: ReadonlyArray<number>
}

/** MomentScience: 5 attempts, the first at once, then 60, 90, 120 and 150 s after each failure. */
export const momentScience: RetryPolicy = {
  maxAttempts: 5,
  delaysSeconds: [60, 90, 120, 150]
}

/** Seconds after the first attempt at which each attempt is made: `[0, 60, 150, 270, 420]`. */
export const attemptOffsets = (policy: RetryPolicy): ReadonlyArray<number> => {
  const offsets = [0]
  let at = 0
  for (const delay of policy.delaysSeconds.slice(0, policy.maxAttempts - 1)) {
    at += delay
    offsets.push(at)
  }
  return offsets
}
