import { Clock, Effect } from "effect"

/**
 * A warning for a failure that repeats while it lasts (a background loop
 * polling a database that is away): the first occurrence is logged at once,
 * then at most one line per `intervalMs` with the count since the last line,
 * so that an outage of hours writes a line every `intervalMs`, not one per
 * poll. Times come from Effect's `Clock` (the TestClock in tests).
 */
export const sampledWarning = (intervalMs: number) => {
  let count = 0
  let last: number | undefined
  return (message: string, detail: string): Effect.Effect<void> =>
    Effect.gen(function* () {
      count++
      const now = yield* Clock.currentTimeMillis
      if (last !== undefined && now - last < intervalMs) return
      const since = count
      count = 0
      last = now
      yield* Effect.logWarning(
        since === 1 ? message : `${message} (${since} times since the last report)`,
        detail
      )
    })
}

/** How often a background loop reports a failure that goes on: 30 s. */
export const BACKGROUND_FAILURE_REPORT_MS = 30_000
