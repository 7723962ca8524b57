import { Decimal } from "@org/postback-schema"
import type { Sql, SqlRunner } from "../Db/Database.ts"
import { RECONCILIATION_CATEGORIES, type ReconciliationCategory } from "../Db/schema.ts"
import {
  ExportError,
  type ExportOptions,
  type ExportRecord,
  readExport,
  type TimePrecision
} from "./ExportCsv.ts"

/**
 * Reconciliation: MomentScience's postback history export against the
 * inbox, each export row to one stored postback, stored as a report.
 *
 * Bounded memory, a million rows on each side: the export is streamed into
 * `reconciliation_rows` in batches, and the matching is done by the
 * database (a hash join on offer, payout and the time truncated to the
 * export's precision, identical conversions paired by their rank, so by
 * count and never twice). Only what that leaves unmatched on both sides (the
 * anomalies, few by nature) is read back and paired within the tolerance.
 */

/**
 * How to reconcile, beside how to read the export:
 * - `source`: a name for the report (the file name)
 * - `from`/`to`: the conversion-time range `[from, to)`; export rows
 *   outside it are skipped, and only postbacks inside it count as unknown
 *   to MomentScience. Default: the export's first to last timestamp.
 * - `toleranceMs`: how far apart (ms) an export time and a stored one may
 *   be, once the stored one is truncated to the export's precision
 *   (default 1000)
 * - `userIdKey`: the receiver's `USER_ID_KEY` (the payload key of the user id)
 */
export interface ReconcileOptions extends ExportOptions {
  readonly source: string
  readonly from?: Date | undefined
  readonly to?: Date | undefined
  readonly toleranceMs?: number | undefined
  readonly userIdKey: string
  /** Called after each phase with its name and its duration in ms (for the benchmark). */
  readonly onPhase?: ((phase: string, ms: number) => void) | undefined
}

/** Count and payout sum (USD, exact decimal text) of one category. */
export interface CategoryTotal {
  readonly count: number
  readonly payout: string
}

/**
 * A reconciliation's summary: totals per category, response-code
 * mismatches, skipped rows, the range compared, and whether anything is
 * lost or alarming (`lost`, `missing` or `unreadable` rows).
 */
export interface ReconciliationSummary {
  readonly id: number
  readonly source: string
  readonly createdAt: string
  readonly from: string | null
  readonly to: string | null
  readonly precision: TimePrecision | null
  readonly toleranceMs: number
  readonly exportRows: number
  readonly outsideRange: number
  readonly categories: Readonly<Record<ReconciliationCategory, CategoryTotal>>
  readonly responseCodeMismatches: number
  /** Lost rows the export carries enough to re-ingest. */
  readonly recoverable: number
  readonly alarming: boolean
}

const BATCH = 5_000
const DEFAULT_TOLERANCE_MS = 1_000

const PRECISION_ORDER: ReadonlyArray<TimePrecision> = ["millisecond", "second", "minute"]
const PRECISION_MS: Readonly<Record<TimePrecision, number>> = {
  millisecond: 1,
  second: 1_000,
  minute: 60_000
}

// The stored rows a conversion of the export can be: neither a test, nor a
// rejected request (no conversion was stored), nor a repaired one (its
// conversion is the row it was repaired as).
const STORED_CONVERSION = `NOT p.test AND p.status NOT IN ('rejected', 'repaired') AND p.offer_id IS NOT NULL AND p.payout IS NOT NULL AND p.occurred_at IS NOT NULL`

// Export rows go in as one text[] per column (see InboxSql.ts for why).
const INSERT_ROWS = `
INSERT INTO reconciliation_rows (reconciliation_id, category, line, occurred_at, offer_id,
  advertiser_name, payout, delivery_status, response_code, user_id, is_loyalty_boost,
  payload, extra, problem)
SELECT $1::bigint, r.category, r.line::integer, r.occurred_at::timestamptz, r.offer_id,
  r.advertiser_name, r.payout::numeric, r.delivery_status, r.response_code::smallint, r.user_id,
  r.is_loyalty_boost::boolean, r.payload::jsonb, r.extra::jsonb, r.problem
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
  $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
  AS r(category, line, occurred_at, offer_id, advertiser_name, payout, delivery_status,
    response_code, user_id, is_loyalty_boost, payload, extra, problem)`

// The exact pass: both sides ranked within (offer, payout, truncated time),
// so that n identical conversions pair with n stored ones, one to one.
// Export rows MomentScience delivered rank first: of identical conversions,
// the stored ones are the delivered ones, and those left over the failed.
// A first pass pairs by user id too, where the export has one.
// Categorised in the same statement: a matched row is written once.
const MATCH_EXACT = (unit: string, byUser: boolean, withoutUser: boolean) => `
WITH e AS (
  SELECT id, offer_id, payout, user_id, date_trunc('${unit}', occurred_at) AS t,
    row_number() OVER (PARTITION BY offer_id, payout, ${byUser ? "user_id, " : ""}date_trunc('${unit}', occurred_at)
      ORDER BY delivery_status <> 'success', line) AS n
  FROM reconciliation_rows
  WHERE reconciliation_id = $1::bigint AND category IS NULL${byUser ? " AND user_id IS NOT NULL" : withoutUser ? " AND user_id IS NULL" : ""}
), p AS (
  SELECT p.id, p.offer_id, p.payout, p.user_id, p.recovered_by, p.last_http_status,
    date_trunc('${unit}', p.occurred_at) AS t,
    row_number() OVER (PARTITION BY p.offer_id, p.payout, ${byUser ? "p.user_id, " : ""}date_trunc('${unit}', p.occurred_at) ORDER BY p.id) AS n
  FROM postbacks p
  WHERE p.occurred_at >= $2::timestamptz AND p.occurred_at < $3::timestamptz AND ${STORED_CONVERSION}
    ${
      byUser
        ? "AND p.user_id IS NOT NULL"
        : `AND NOT EXISTS (SELECT 1 FROM reconciliation_rows r
      WHERE r.reconciliation_id = $1::bigint AND r.postback_id = p.id)`
    }
)
UPDATE reconciliation_rows r
SET postback_id = p.id,
  category = CASE
    WHEN r.delivery_status = 'success' THEN 'delivered'
    WHEN p.recovered_by IS NOT NULL THEN 'recovered'
    ELSE 'stored_after_failure' END,
  mismatch = CASE
    WHEN r.response_code IS NOT NULL AND p.last_http_status IS NOT NULL
      AND r.response_code <> p.last_http_status THEN 'response_code' END
FROM e JOIN p ON e.offer_id = p.offer_id AND e.payout = p.payout AND e.t = p.t AND e.n = p.n
  ${byUser ? "AND e.user_id = p.user_id" : ""}
WHERE r.id = e.id`

const SET_MATCHES = `
UPDATE reconciliation_rows r
SET postback_id = m.postback_id::bigint,
  category = CASE
    WHEN m.kind = 'payout' THEN 'payout_mismatch'
    WHEN r.delivery_status = 'success' THEN 'delivered'
    WHEN p.recovered_by IS NOT NULL THEN 'recovered'
    ELSE 'stored_after_failure' END,
  mismatch = CASE
    WHEN r.response_code IS NOT NULL AND p.last_http_status IS NOT NULL
      AND r.response_code <> p.last_http_status THEN 'response_code' END
FROM unnest($1::text[], $2::text[], $3::text[]) AS m(id, postback_id, kind)
JOIN postbacks p ON p.id = m.postback_id::bigint
WHERE r.id = m.id::bigint`

const UNKNOWN_ROWS = `
INSERT INTO reconciliation_rows (reconciliation_id, category, occurred_at, offer_id,
  advertiser_name, payout, user_id, is_loyalty_boost, postback_id)
SELECT $1::bigint, 'unknown', p.occurred_at, p.offer_id, p.advertiser_name, p.payout, p.user_id,
  p.is_loyalty_boost, p.id
FROM postbacks p
WHERE p.occurred_at >= $2::timestamptz AND p.occurred_at < $3::timestamptz AND ${STORED_CONVERSION}
  AND NOT EXISTS (
    SELECT 1 FROM reconciliation_rows r
    WHERE r.reconciliation_id = $1::bigint AND r.postback_id = p.id)`

// What an unmatched row is; a lost one that cannot be re-ingested says why.
const CLASSIFY_UNMATCHED = (userIdKey: string) => `
UPDATE reconciliation_rows
SET category = CASE WHEN delivery_status = 'success' THEN 'missing' ELSE 'lost' END,
  problem = CASE
    WHEN delivery_status <> 'success' AND user_id IS NULL AND is_loyalty_boost IS DISTINCT FROM false
    THEN 'the export has no ${userIdKey.replaceAll("'", "''")} for this conversion: it cannot be re-ingested (add the column, or name it with --columns user_id=<label>)'
    END
WHERE reconciliation_id = $1::bigint AND category IS NULL`

const SUMMARY = `
SELECT category, count(*)::text AS count, coalesce(sum(payout), 0)::text AS payout,
  count(*) FILTER (WHERE mismatch = 'response_code')::text AS mismatches,
  count(*) FILTER (WHERE category = 'lost' AND problem IS NULL)::text AS recoverable
FROM reconciliation_rows WHERE reconciliation_id = $1::bigint GROUP BY category`

interface Leftover {
  readonly id: string
  readonly userId: string | null
  readonly offerId: string
  readonly payout: string
  readonly time: number
}

const payoutKey = (payout: string): string => Decimal.parse(payout).normalize().toString()

/**
 * Pairs what the exact pass left within the tolerance, greedily in time
 * order: for each export row, the nearest unpaired stored postback of the
 * same offer (and the same payout, or, when `samePayout` is false, any
 * other payout). `truncate` is the export's precision in ms.
 */
const pairWithin = (
  exported: ReadonlyArray<Leftover>,
  stored: Array<Leftover & { taken?: boolean }>,
  toleranceMs: number,
  truncate: number,
  samePayout: boolean
): Array<readonly [exportId: string, postbackId: string]> => {
  const byOffer = new Map<string, Array<Leftover & { taken?: boolean }>>()
  for (const row of stored) {
    const key = samePayout ? `${row.offerId}\u0000${payoutKey(row.payout)}` : row.offerId
    const list = byOffer.get(key)
    if (list === undefined) byOffer.set(key, [row])
    else list.push(row)
  }
  const pairs: Array<readonly [string, string]> = []
  for (const row of exported) {
    const key = samePayout ? `${row.offerId}\u0000${payoutKey(row.payout)}` : row.offerId
    const candidates = byOffer.get(key)
    if (candidates === undefined) continue
    let best: (Leftover & { taken?: boolean }) | undefined
    let bestDistance = Number.POSITIVE_INFINITY
    for (const candidate of candidates) {
      if (candidate.taken === true) continue
      if (!samePayout && payoutKey(candidate.payout) === payoutKey(row.payout)) continue
      if (row.userId !== null && candidate.userId !== null && row.userId !== candidate.userId)
        continue
      const distance = Math.abs(Math.floor(candidate.time / truncate) * truncate - row.time)
      if (distance <= toleranceMs && distance < bestDistance) {
        best = candidate
        bestDistance = distance
      }
    }
    if (best !== undefined) {
      best.taken = true
      pairs.push([row.id, best.id])
    }
  }
  return pairs
}

type LeftoverRow = {
  id: string
  user_id: string | null
  offer_id: string
  payout: string
  occurred_at: Date
  delivery_status?: string
}

const leftoverOf = (row: LeftoverRow): Leftover => ({
  id: row.id,
  userId: row.user_id,
  offerId: row.offer_id,
  payout: row.payout,
  time: row.occurred_at.getTime()
})

// How many unmatched export rows are paired in memory at a time.
const WINDOW = 20_000

/**
 * The unmatched rows of both sides, a window at a time: up to
 * {@link WINDOW} unmatched export rows in time order after `after`, and
 * the unmatched stored postbacks from the window's first time to its last,
 * widened by `reach` (the tolerance and the export's precision). Memory
 * stays bounded however many rows the exact pass leaves (a clock skew
 * between the export and the timestamps leaves them all).
 */
const loadWindow = async (
  tx: SqlRunner,
  id: number,
  range: { readonly from: Date; readonly to: Date },
  reach: number,
  after: { readonly time: Date; readonly id: string } | undefined
): Promise<{
  exported: Array<Leftover>
  stored: Array<Leftover>
  last: LeftoverRow | undefined
}> => {
  const rows = await tx.query<LeftoverRow>(
    `SELECT id, user_id, offer_id, payout::text AS payout, occurred_at, delivery_status
     FROM reconciliation_rows
     WHERE reconciliation_id = $1::bigint AND category IS NULL
       AND ($2::timestamptz IS NULL OR (occurred_at, id) > ($2::timestamptz, $3::bigint))
     ORDER BY occurred_at, id LIMIT $4::integer`,
    [id, after?.time.toISOString() ?? null, after?.id ?? "0", WINDOW]
  )
  if (rows.length === 0) return { exported: [], stored: [], last: undefined }
  const first = rows[0]!.occurred_at.getTime()
  const last = rows[rows.length - 1]!
  const from = Math.max(first - reach, range.from.getTime())
  const to = Math.min(last.occurred_at.getTime() + reach + 1, range.to.getTime())
  const stored = await tx.query<LeftoverRow>(
    `SELECT p.id, p.user_id, p.offer_id, p.payout::text AS payout, p.occurred_at FROM postbacks p
     WHERE p.occurred_at >= $2::timestamptz AND p.occurred_at < $3::timestamptz AND ${STORED_CONVERSION}
       AND NOT EXISTS (SELECT 1 FROM reconciliation_rows r
         WHERE r.reconciliation_id = $1::bigint AND r.postback_id = p.id)
     ORDER BY p.occurred_at, p.id`,
    [id, new Date(from).toISOString(), new Date(to).toISOString()]
  )
  // Delivered rows choose first (as in the exact pass), then by time.
  const exported = [...rows]
    .sort(
      (a, b) =>
        Number(a.delivery_status !== "success") - Number(b.delivery_status !== "success") ||
        a.occurred_at.getTime() - b.occurred_at.getTime()
    )
    .map(leftoverOf)
  return { exported, stored: stored.map(leftoverOf), last }
}

const setMatches = async (
  tx: SqlRunner,
  pairs: ReadonlyArray<readonly [string, string]>,
  kind: "match" | "payout"
): Promise<void> => {
  for (let i = 0; i < pairs.length; i += BATCH) {
    const chunk = pairs.slice(i, i + BATCH)
    await tx.query(SET_MATCHES, [
      chunk.map(([id]) => id),
      chunk.map(([, postbackId]) => postbackId),
      chunk.map(() => kind)
    ])
  }
}

const toColumns = (records: ReadonlyArray<ExportRecord>): Array<Array<string | null>> => {
  const columns: Array<Array<string | null>> = Array.from({ length: 13 }, () => [])
  for (const record of records) {
    const values: Array<string | null> =
      record._tag === "Unreadable"
        ? [
            "unreadable",
            String(record.line),
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            record.problem
          ]
        : [
            null,
            String(record.line),
            record.occurredAt.toISOString(),
            record.offerId,
            record.advertiserName,
            record.payout,
            record.deliveryStatus,
            record.responseCode === null ? null : String(record.responseCode),
            record.userId,
            record.isLoyaltyBoost === null ? null : String(record.isLoyaltyBoost),
            Object.keys(record.payload).length === 0 ? null : JSON.stringify(record.payload),
            Object.keys(record.extra).length === 0 ? null : JSON.stringify(record.extra),
            null
          ]
    for (let i = 0; i < 13; i++) columns[i]!.push(values[i]!)
  }
  return columns
}

/** Checks the options that do not depend on the export; fails naming the bad one. */
export const checkReconcileOptions = (options: ReconcileOptions): void => {
  const tolerance = options.toleranceMs ?? DEFAULT_TOLERANCE_MS
  if (!Number.isSafeInteger(tolerance) || tolerance < 0 || tolerance > 86_400_000) {
    throw new ExportError({
      field: "tolerance",
      message: `tolerance: ${tolerance} is not a whole number of milliseconds from 0 to 86400000`
    })
  }
  for (const [name, value] of [
    ["from", options.from],
    ["to", options.to]
  ] as const) {
    if (value !== undefined && Number.isNaN(value.getTime())) {
      throw new ExportError({ field: name, message: `${name}: is not a valid date and time` })
    }
  }
  if (
    options.from !== undefined &&
    options.to !== undefined &&
    options.from.getTime() >= options.to.getTime()
  ) {
    throw new ExportError({ field: "to", message: "to: must be after from" })
  }
}

/**
 * Reconciles one export against the inbox and stores the report; returns
 * its summary. Fails with an {@link ExportError} when the export or an
 * option cannot be read (then what was written is deleted again).
 */
export const reconcile = async (
  sql: Sql,
  input: AsyncIterable<Uint8Array | string>,
  options: ReconcileOptions
): Promise<ReconciliationSummary> => {
  checkReconcileOptions(options)
  const toleranceMs = options.toleranceMs ?? DEFAULT_TOLERANCE_MS
  // Statement by statement, not one transaction: a transaction would hold
  // PGlite's single connection (and so the ingest) for the whole upload, and
  // each statement is bounded by DATABASE_TIMEOUT_MS. A failure deletes what
  // was written; a crash leaves a report without a summary (listed as
  // incomplete).
  const tx: SqlRunner = sql
  let mark = performance.now()
  const phase = (name: string) => {
    const now = performance.now()
    options.onPhase?.(name, now - mark)
    mark = now
  }
  const [created] = await tx.query<{ id: string }>(
    `INSERT INTO reconciliations (source, options) VALUES ($1, $2::jsonb) RETURNING id`,
    [
      options.source,
      JSON.stringify({
        toleranceMs,
        timeZone: options.timeZone ?? "UTC",
        columns: options.columns ?? {},
        delimiter: options.delimiter ?? null,
        from: options.from?.toISOString() ?? null,
        to: options.to?.toISOString() ?? null
      })
    ]
  )
  const id = Number(created!.id)
  try {
    let first = Number.POSITIVE_INFINITY
    let last = Number.NEGATIVE_INFINITY
    let precision: TimePrecision | null = null
    let exportRows = 0
    let outsideRange = 0
    let hasUserIds = false
    let withoutUserId = 0
    let batch: Array<ExportRecord> = []
    const flush = async () => {
      if (batch.length === 0) return
      await tx.query(INSERT_ROWS, [id, ...toColumns(batch)])
      batch = []
    }
    for await (const record of readExport(input, options)) {
      exportRows++
      if (record._tag === "Row") {
        const time = record.occurredAt.getTime()
        if (
          (options.from !== undefined && time < options.from.getTime()) ||
          (options.to !== undefined && time >= options.to.getTime())
        ) {
          outsideRange++
          continue
        }
        if (record.userId !== null) hasUserIds = true
        else withoutUserId++
        if (time < first) first = time
        if (time > last) last = time
        // The coarsest precision seen decides how stored times are truncated.
        if (
          precision === null ||
          PRECISION_ORDER.indexOf(record.precision) > PRECISION_ORDER.indexOf(precision)
        ) {
          precision = record.precision
        }
      }
      batch.push(record)
      if (batch.length >= BATCH) await flush()
    }
    await flush()
    // Fresh statistics: the planner has never seen these rows.
    await tx.query("ANALYZE reconciliation_rows")
    phase("read the export")
    const unit = precision ?? "millisecond"
    const step = PRECISION_MS[unit]
    const from = options.from ?? (Number.isFinite(first) ? new Date(first) : null)
    const to = options.to ?? (Number.isFinite(last) ? new Date(last + step) : null)
    if (from !== null && to !== null) {
      // Stored postbacks just outside the range may still be the export's
      // rows at its edges, within the tolerance.
      const matchFrom = new Date(from.getTime() - toleranceMs)
      const matchTo = new Date(to.getTime() + toleranceMs + step)
      const range = [id, matchFrom.toISOString(), matchTo.toISOString()]
      // With user ids on both sides, identical conversions are told apart
      // by them first; what is left is paired by count.
      // (An export row and a stored postback with different user ids are
      // different conversions, so the second pass takes rows without one.)
      if (hasUserIds) await tx.query(MATCH_EXACT(unit, true, false), range)
      if (!hasUserIds || withoutUserId > 0) {
        await tx.query(MATCH_EXACT(unit, false, hasUserIds), range)
      }
      phase("match exactly")
      let after: { time: Date; id: string } | undefined
      for (;;) {
        const left = await loadWindow(
          tx,
          id,
          { from: matchFrom, to: matchTo },
          toleranceMs + step,
          after
        )
        if (left.last === undefined) break
        after = { time: left.last.occurred_at, id: left.last.id }
        const matched = pairWithin(left.exported, left.stored, toleranceMs, step, true)
        await setMatches(tx, matched, "match")
        const paired = new Set(matched.map(([exportId]) => exportId))
        const pairedStored = new Set(matched.map(([, postbackId]) => postbackId))
        const payouts = pairWithin(
          left.exported.filter((row) => !paired.has(row.id)),
          left.stored.filter((row) => !pairedStored.has(row.id)),
          toleranceMs,
          step,
          false
        )
        await setMatches(tx, payouts, "payout")
      }
      phase("match within the tolerance")
      await tx.query(UNKNOWN_ROWS, [id, from.toISOString(), to.toISOString()])
      phase("find the unknown")
    }
    await tx.query(CLASSIFY_UNMATCHED(options.userIdKey), [id])
    phase("classify the unmatched")
    const summary = await summarize(tx, id, {
      precision,
      toleranceMs,
      exportRows,
      outsideRange
    })
    await tx.query(
      `UPDATE reconciliations SET range_from = $2::timestamptz, range_to = $3::timestamptz, summary = $4::jsonb
       WHERE id = $1::bigint`,
      [id, from?.toISOString() ?? null, to?.toISOString() ?? null, JSON.stringify(summary)]
    )
    const [row] = await tx.query<{ created_at: Date }>(
      "SELECT created_at FROM reconciliations WHERE id = $1::bigint",
      [id]
    )
    return {
      id,
      source: options.source,
      createdAt: row!.created_at.toISOString(),
      from: from?.toISOString() ?? null,
      to: to?.toISOString() ?? null,
      ...summary
    }
  } catch (error) {
    await sql
      .query("DELETE FROM reconciliations WHERE id = $1::bigint", [id])
      .catch(() => undefined)
    throw error
  }
}

/** The part of the summary computed from the stored rows (also after a re-ingest). */
export type StoredSummary = Omit<
  ReconciliationSummary,
  "id" | "source" | "createdAt" | "from" | "to"
>

/** Recomputes a report's totals from its rows. */
export const summarize = async (
  tx: SqlRunner,
  id: number,
  run: Pick<StoredSummary, "precision" | "toleranceMs" | "exportRows" | "outsideRange">
): Promise<StoredSummary> => {
  const rows = await tx.query<{
    category: ReconciliationCategory
    count: string
    payout: string
    mismatches: string
    recoverable: string
  }>(SUMMARY, [id])
  const categories = Object.fromEntries(
    RECONCILIATION_CATEGORIES.map((category) => [category, { count: 0, payout: "0" }])
  ) as Record<ReconciliationCategory, CategoryTotal>
  let responseCodeMismatches = 0
  let recoverable = 0
  for (const row of rows) {
    categories[row.category] = { count: Number(row.count), payout: row.payout }
    responseCodeMismatches += Number(row.mismatches)
    recoverable += Number(row.recoverable)
  }
  return {
    ...run,
    categories,
    responseCodeMismatches,
    recoverable,
    alarming:
      categories.lost.count > 0 || categories.missing.count > 0 || categories.unreadable.count > 0
  }
}
