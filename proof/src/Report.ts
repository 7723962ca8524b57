import { type LatencyStats, latencyStats } from "@org/postback-sender"

/**
 * What one client saw: every request's answer (by HTTP status) or its
 * absence (a connection error or a client-side timeout), and the answer
 * times of the answered requests, in milliseconds.
 */
export class Traffic {
  readonly statuses = new Map<number, number>()
  readonly errors = new Map<string, number>()
  /** Answer times in milliseconds, every answered request (any status). */
  readonly latencies: Array<number> = []
  sent = 0

  /** Counts one answered request. */
  answered(status: number, latencyMs: number): void {
    this.sent++
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1)
    this.latencies.push(latencyMs)
  }

  /** Counts one request without an answer; `reason` such as `ECONNREFUSED` or `timeout`. */
  unanswered(reason: string): void {
    this.sent++
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + 1)
  }

  count(status: number): number {
    return this.statuses.get(status) ?? 0
  }

  /** Statuses other than `allowed` that were answered, as `{ status: count }`. */
  unexpected(allowed: ReadonlyArray<number>): Record<string, number> {
    return Object.fromEntries([...this.statuses].filter(([status]) => !allowed.includes(status)))
  }

  latency(): LatencyStats | undefined {
    return latencyStats(this.latencies)
  }
}

/**
 * The end state of a run, read from the database: the promises of the
 * receiver's README ("Exactly once, and nothing lost") as numbers.
 */
export interface Ledger {
  /** Acknowledged postbacks (a `200` with a row id) whose row is not in the inbox. */
  readonly acknowledgedMissing: number
  /** Distinct postbacks of the run with no inbox row at all. */
  readonly distinctMissing: number
  /** Postbacks of the run with more than one inbox row (a dedup failure). */
  readonly duplicateRows: number
  /** Inbox rows with more than one reward transaction (impossible by the unique key, checked anyway). */
  readonly doubleCredits: number
  /** LoyaltyBoost postbacks of the run with a user that were not credited. */
  readonly uncredited: number
  /** Inbox rows still `pending` or `processing` when the run was read. */
  readonly unsettled: number
  /** Sum of the run's users' balances, points (exact). */
  readonly balanceSum: bigint
  /** Sum of the points the run's distinct postbacks are worth, points (exact). */
  readonly expectedSum: bigint
  /** Sum of the run's reward transactions, points (exact): must equal `balanceSum`. */
  readonly ledgerSum: bigint
}

/** One suite's (or one variant's) result: figures to print and the promises broken. */
export interface SuiteResult {
  readonly name: string
  readonly traffic?: Traffic
  readonly kills?: number
  readonly ledger?: Ledger
  /** Extra `label: value` lines (recovery times, heap figures, rates...). */
  readonly figures: Array<readonly [string, string]>
  /** Each broken promise, in words; empty when the suite passed. */
  readonly violations: Array<string>
  readonly elapsedMs: number
}

const fmt = (n: number): string => n.toLocaleString("en-US")
const ms = (n: number): string => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0))

/** Checks a ledger against the promises; returns the broken ones in words. */
export const ledgerViolations = (ledger: Ledger): Array<string> => {
  const out: Array<string> = []
  if (ledger.acknowledgedMissing > 0)
    out.push(`${ledger.acknowledgedMissing} acknowledged postbacks are not stored`)
  if (ledger.distinctMissing > 0)
    out.push(`${ledger.distinctMissing} delivered postbacks have no inbox row`)
  if (ledger.duplicateRows > 0) out.push(`${ledger.duplicateRows} postbacks are stored twice`)
  if (ledger.doubleCredits > 0) out.push(`${ledger.doubleCredits} postbacks are credited twice`)
  if (ledger.uncredited > 0) out.push(`${ledger.uncredited} LoyaltyBoost postbacks not credited`)
  if (ledger.unsettled > 0) out.push(`${ledger.unsettled} postbacks still pending or processing`)
  if (ledger.balanceSum !== ledger.expectedSum)
    out.push(`sum of balances ${ledger.balanceSum} != expected points ${ledger.expectedSum}`)
  if (ledger.ledgerSum !== ledger.balanceSum)
    out.push(
      `sum of reward transactions ${ledger.ledgerSum} != sum of balances ${ledger.balanceSum}`
    )
  return out
}

/** The summary table of one result, as printed lines. */
export const formatResult = (result: SuiteResult): string => {
  const rows: Array<readonly [string, string]> = []
  const t = result.traffic
  if (t !== undefined) {
    const statuses = [...t.statuses]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}: ${fmt(n)}`)
      .join("  ")
    const errors = [...t.errors].map(([r, n]) => `${r}: ${fmt(n)}`).join("  ")
    rows.push(["requests sent", fmt(t.sent)])
    rows.push(["by status", statuses === "" ? "-" : statuses])
    rows.push(["no answer", errors === "" ? "0" : errors])
    const l = t.latency()
    if (l !== undefined) {
      rows.push([
        "answer ms",
        `p50 ${ms(l.p50)}  p90 ${ms(l.p90)}  p99 ${ms(l.p99)}  p99.9 ${ms(l.p999)}  max ${ms(l.max)}`
      ])
    }
  }
  if (result.kills !== undefined) rows.push(["kills (SIGKILL)", fmt(result.kills)])
  const g = result.ledger
  if (g !== undefined) {
    rows.push(["acknowledged but missing", fmt(g.acknowledgedMissing)])
    rows.push(["stored twice", fmt(g.duplicateRows)])
    rows.push(["double credits", fmt(g.doubleCredits)])
    rows.push(["not credited / unsettled", `${fmt(g.uncredited)} / ${fmt(g.unsettled)}`])
    rows.push([
      "balance check",
      `${g.balanceSum === g.expectedSum && g.ledgerSum === g.balanceSum ? "ok" : "MISMATCH"}: balances ${g.balanceSum}, ledger ${g.ledgerSum}, expected ${g.expectedSum}`
    ])
  }
  rows.push(...result.figures)
  rows.push(["elapsed", `${(result.elapsedMs / 1000).toFixed(1)} s`])
  rows.push([
    "result",
    result.violations.length === 0 ? "PASS" : `FAIL (${result.violations.length})`
  ])
  const width = Math.max(...rows.map(([k]) => k.length))
  const lines = [`== ${result.name}`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)]
  for (const v of result.violations) lines.push(`  VIOLATION: ${v}`)
  return lines.join("\n")
}
