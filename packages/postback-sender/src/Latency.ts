/** Exact latency figures of a run, in milliseconds. */
export interface LatencyStats {
  /** How many values. */
  readonly count: number
  readonly min: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p95: number
  readonly p99: number
  /** The 99.9th percentile. */
  readonly p999: number
  readonly max: number
}

/**
 * Percentiles computed exactly from every recorded value (no histogram
 * buckets): the nearest-rank percentile `p` is the smallest value with at
 * least `p`% of the values at or below it. `undefined` for no values.
 * Throws a `TypeError` for a value that is not a finite number.
 *
 * @example
 * latencyStats([4, 1, 3, 2]) // { count: 4, min: 1, mean: 2.5, p50: 2, p90: 4, ..., max: 4 }
 */
export const latencyStats = (values: ArrayLike<number>): LatencyStats | undefined => {
  const n = values.length
  if (n === 0) return undefined
  const sorted = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) {
    const v = values[i]!
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new TypeError(`latencyStats: values[${i}] must be a finite number, got ${String(v)}`)
    }
    sorted[i] = v
    sum += v
  }
  sorted.sort()
  // Per mille, so that the rank is integer arithmetic: 0.999 * 1000 is not 999 in floating point.
  const rank = (perMille: number): number =>
    sorted[Math.max(0, Math.ceil((perMille * n) / 1000) - 1)]!
  return {
    count: n,
    min: sorted[0]!,
    mean: sum / n,
    p50: rank(500),
    p90: rank(900),
    p95: rank(950),
    p99: rank(990),
    p999: rank(999),
    max: sorted[n - 1]!
  }
}
