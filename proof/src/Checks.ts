import type { Traffic } from "./Report.ts"

/**
 * The answer-time bound of the receiver's README ("What the receiver
 * answers"): every ingest answer within twice `DATABASE_TIMEOUT_MS` plus
 * `INGEST_BATCH_WAIT_MS`, in milliseconds.
 */
export const answerBound = (databaseTimeoutMs: number, batchWaitMs = 0): number =>
  2 * databaseTimeoutMs + batchWaitMs

/**
 * The promises every suite checks on its traffic: no `5xx` but `503`, no
 * status outside `allowed`, no request left without an answer by a running
 * receiver (a client-side timeout), and no answer slower than `boundMs`.
 * Connection errors are the kills' doing and are not violations.
 */
export const trafficViolations = (
  traffic: Traffic,
  options: { readonly allowed: ReadonlyArray<number>; readonly boundMs: number }
): Array<string> => {
  const out: Array<string> = []
  const unexpected = traffic.unexpected(options.allowed)
  const isServerError = (status: string) => Number(status) >= 500 && status !== "503"
  const fiveHundreds = Object.entries(unexpected).filter(([s]) => isServerError(s))
  if (fiveHundreds.length > 0)
    out.push(`5xx other than 503: ${JSON.stringify(Object.fromEntries(fiveHundreds))}`)
  const others = Object.entries(unexpected).filter(([s]) => !isServerError(s))
  if (others.length > 0)
    out.push(`unexpected statuses: ${JSON.stringify(Object.fromEntries(others))}`)
  const timeouts = traffic.errors.get("timeout") ?? 0
  if (timeouts > 0) out.push(`${timeouts} requests not answered within the client's time limit`)
  const limit = options.boundMs * (1 + BOUND_TOLERANCE)
  const slow = traffic.latencies.filter((l) => l > limit).length
  if (slow > 0) {
    const max = Math.max(...traffic.latencies)
    out.push(
      `${slow} answers slower than ${options.boundMs} ms + ${BOUND_TOLERANCE * 100}% (max ${max.toFixed(0)} ms)`
    )
  }
  return out
}

/**
 * How far past the documented bound an answer, as the client measures it,
 * may come before it counts as a broken promise: the receiver's timers fire
 * no earlier than their time and a busy machine delays them, and the
 * client's own reading, by some milliseconds to tens of them. A request
 * that really waits longer waits a whole extra `DATABASE_TIMEOUT_MS` (a
 * second batch, an answer never sent), which is half the bound or more, so
 * a quarter still tells the two apart.
 */
export const BOUND_TOLERANCE = 0.25

/** The answers past the exact bound (within the tolerance, or not), as a table row. */
export const boundFigure = (traffic: Traffic, boundMs: number): readonly [string, string] => {
  const over = traffic.latencies.filter((l) => l > boundMs)
  return [
    `answers over ${boundMs} ms`,
    over.length === 0
      ? "none"
      : `${over.length} (max ${Math.max(...over).toFixed(0)} ms; the limit with the ${BOUND_TOLERANCE * 100}% tolerance is ${(boundMs * (1 + BOUND_TOLERANCE)).toFixed(0)} ms)`
  ]
}

/** "Never a crash": every exit of a receiver that no suite asked for, with the output before it. */
export const crashViolations = (
  receivers: ReadonlyArray<{
    readonly crashes: ReadonlyArray<{ exit: number | string; output: string }>
  }>
): Array<string> =>
  receivers.flatMap((r) =>
    r.crashes.map((c) => `receiver exited by itself (${c.exit}); its last output:\n${c.output}`)
  )
