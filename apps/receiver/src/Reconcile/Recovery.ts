import type { SqlRunner } from "../Db/Database.ts"
import type { ReconciliationSummary } from "./Reconcile.ts"
import { summarize } from "./Reconcile.ts"

/**
 * Recovery: the lost conversions of a report sent again through the
 * receiver's normal ingest route (`POST /postbacks` with the secret, a JSON
 * body as MomentScience sends it), so that they are stored, logged and
 * credited exactly like any delivery.
 *
 * Exactly once, however often it runs: the body is built from the export
 * row alone, so every run sends the same postback, with the same identity
 * (dedup key); a second delivery is answered as a duplicate and credits
 * nothing. The stored row is then marked `recovered_by` (the report's id),
 * and the report's row becomes `recovered`.
 */

/** Where to send: the ingest URL with the secret in it, and the payload key of the user id. */
export interface IngestTarget {
  readonly url: string
  readonly userIdKey: string
  /** Bound on one request (ms). */
  readonly timeoutMs?: number | undefined
}

/** What one re-ingest did: how many sent, newly stored, already stored, refused. */
export interface ReingestResult {
  readonly sent: number
  readonly stored: number
  readonly duplicates: number
  readonly failed: ReadonlyArray<{ readonly line: number | null; readonly message: string }>
  readonly summary: ReconciliationSummary | undefined
}

interface Recoverable {
  id: string
  line: number | null
  occurred_at: Date
  offer_id: string
  advertiser_name: string | null
  payout: string
  user_id: string | null
  is_loyalty_boost: boolean | null
  payload: Record<string, string> | null
}

const CONCURRENCY = 8

/**
 * The wire body of a lost row, as MomentScience would have sent it: its
 * timestamp, offer, advertiser and payout; LoyaltyBoost unless the export
 * says otherwise; the user id (under `userIdKey`) and any payload columns.
 */
export const recoveryBody = (row: Recoverable, userIdKey: string): string =>
  JSON.stringify({
    offer_id: row.offer_id,
    advertiser_name: row.advertiser_name ?? "",
    payout: row.payout,
    timestamp: row.occurred_at.toISOString(),
    is_loyaltyboost: row.is_loyalty_boost === false ? "0" : "1",
    payload: {
      ...(row.payload ?? {}),
      ...(row.user_id === null ? {} : { [userIdKey]: row.user_id })
    }
  })

/**
 * Re-ingests report `id`'s lost rows that carry what a postback needs
 * (and sends its already recovered rows again, which the dedup key answers
 * as duplicates). Returns what happened; rows the ingest route refused are
 * listed with its message. `undefined` summary: no such report.
 */
export const reingest = async (
  runner: SqlRunner,
  id: number,
  target: IngestTarget
): Promise<ReingestResult> => {
  const rows = await runner.query<Recoverable>(
    `SELECT id, line, occurred_at, offer_id, advertiser_name, payout::text AS payout, user_id,
       is_loyalty_boost, payload
     FROM reconciliation_rows
     WHERE reconciliation_id = $1::bigint AND category IN ('lost', 'recovered') AND line IS NOT NULL
       AND problem IS NULL
     ORDER BY id`,
    [id]
  )
  let stored = 0
  let duplicates = 0
  const failed: Array<{ line: number | null; message: string }> = []
  const send = async (row: Recoverable) => {
    let status = 0
    let answer: { id?: unknown; duplicate?: unknown; message?: unknown } = {}
    try {
      const response = await fetch(target.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: recoveryBody(row, target.userIdKey),
        signal: AbortSignal.timeout(target.timeoutMs ?? 30_000)
      })
      status = response.status
      answer = (await response.json().catch(() => ({}))) as typeof answer
    } catch (error) {
      failed.push({
        line: row.line,
        message: `the ingest route did not answer: ${error instanceof Error ? error.message : String(error)}`
      })
      return
    }
    if (status !== 200 || typeof answer.id !== "number") {
      failed.push({
        line: row.line,
        message: `the ingest route answered ${status}${typeof answer.message === "string" ? `: ${answer.message}` : ""}`
      })
      return
    }
    if (answer.duplicate === true) duplicates++
    else stored++
    // The first reconciliation that brought the conversion back owns it.
    await runner.query(
      "UPDATE postbacks SET recovered_by = $2::bigint WHERE id = $1::bigint AND recovered_by IS NULL",
      [answer.id, id]
    )
    await runner.query(
      `UPDATE reconciliation_rows SET category = 'recovered', postback_id = $2::bigint WHERE id = $1::bigint`,
      [row.id, answer.id]
    )
  }
  for (let i = 0; i < rows.length; i += CONCURRENCY) {
    await Promise.all(rows.slice(i, i + CONCURRENCY).map(send))
  }
  const [current] = await runner.query<{
    id: string
    source: string
    created_at: Date
    range_from: Date | null
    range_to: Date | null
    summary: ReconciliationSummary | null
  }>(
    "SELECT id, source, created_at, range_from, range_to, summary FROM reconciliations WHERE id = $1::bigint",
    [id]
  )
  if (current === undefined) return { sent: 0, stored, duplicates, failed, summary: undefined }
  const previous = current.summary
  const totals = await summarize(runner, id, {
    precision: previous?.precision ?? null,
    toleranceMs: previous?.toleranceMs ?? 0,
    exportRows: previous?.exportRows ?? 0,
    outsideRange: previous?.outsideRange ?? 0
  })
  await runner.query("UPDATE reconciliations SET summary = $2::jsonb WHERE id = $1::bigint", [
    id,
    JSON.stringify(totals)
  ])
  return {
    sent: rows.length,
    stored,
    duplicates,
    failed,
    summary: {
      id,
      source: current.source,
      createdAt: current.created_at.toISOString(),
      from: current.range_from?.toISOString() ?? null,
      to: current.range_to?.toISOString() ?? null,
      ...totals
    }
  }
}
