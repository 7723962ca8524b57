import { Stream } from "effect"
import { Csv } from "effect/encoding"
import type { SqlRunner } from "../Db/Database.ts"
import type { ReconciliationCategory } from "../Db/schema.ts"
import type { ReconciliationSummary } from "./Reconcile.ts"

/**
 * Reading a stored reconciliation report: its summary, its rows (keyset
 * pages by row id, optionally one category), and the forms it is shown in
 * (a table for a terminal, CSV records, JSON).
 */

/**
 * One row of a report. Export fields as the export said them (`line`,
 * `occurredAt` ISO 8601 UTC, `payout` USD decimal text, `deliveryStatus`,
 * `responseCode`), the stored postback it matched (`postbackId`, its
 * `status` here and the `points` its ledger entries sum to, a decimal
 * string), the `mismatch` (`response_code`) and the `problem` (why a line
 * is unreadable, or what a lost row lacks to be re-ingested).
 */
export interface ReportRow {
  readonly id: number
  readonly category: ReconciliationCategory
  readonly line: number | null
  readonly occurredAt: string | null
  readonly offerId: string | null
  readonly advertiserName: string | null
  readonly payout: string | null
  readonly deliveryStatus: string | null
  readonly responseCode: number | null
  readonly userId: string | null
  readonly postbackId: number | null
  readonly status: string | null
  readonly points: string | null
  readonly mismatch: string | null
  readonly problem: string | null
  readonly extra: Readonly<Record<string, string>> | null
}

/** The report's CSV columns, in order. */
export const REPORT_COLUMNS = [
  "category",
  "line",
  "event_time",
  "offer_id",
  "advertiser_name",
  "payout",
  "delivery_status",
  "response_code",
  "user_id",
  "postback_id",
  "status",
  "points",
  "mismatch",
  "problem"
] as const

/** The order categories are shown in: what needs a person first. */
export const CATEGORY_ORDER: ReadonlyArray<ReconciliationCategory> = [
  "missing",
  "lost",
  "unreadable",
  "payout_mismatch",
  "stored_after_failure",
  "unknown",
  "recovered",
  "delivered"
]

const ROWS = `
SELECT r.id, r.category, r.line, r.occurred_at, r.offer_id, r.advertiser_name, r.payout::text AS payout,
  r.delivery_status, r.response_code, r.user_id, r.postback_id, p.status, r.mismatch, r.problem, r.extra,
  (SELECT sum(t.points)::text FROM reward_transactions t WHERE t.postback_id = r.postback_id) AS points
FROM reconciliation_rows r LEFT JOIN postbacks p ON p.id = r.postback_id
WHERE r.reconciliation_id = $1::bigint AND r.id > $2::bigint AND ($3::text IS NULL OR r.category = $3::text)
ORDER BY r.id LIMIT $4::integer`

interface RawRow {
  id: string
  category: ReconciliationCategory
  line: number | null
  occurred_at: Date | null
  offer_id: string | null
  advertiser_name: string | null
  payout: string | null
  delivery_status: string | null
  response_code: number | null
  user_id: string | null
  postback_id: string | null
  status: string | null
  mismatch: string | null
  problem: string | null
  extra: Record<string, string> | null
  points: string | null
}

/**
 * One keyset page of a report's rows, ordered by row id: those after
 * `afterId` (0 for the first page), of `category` when given.
 */
export const reportRows = async (
  runner: SqlRunner,
  id: number,
  options: {
    readonly category?: ReconciliationCategory | undefined
    readonly afterId?: number | undefined
    readonly limit: number
  }
): Promise<Array<ReportRow>> => {
  const rows = await runner.query<RawRow>(ROWS, [
    id,
    options.afterId ?? 0,
    options.category ?? null,
    options.limit
  ])
  return rows.map((row) => ({
    id: Number(row.id),
    category: row.category,
    line: row.line,
    occurredAt: row.occurred_at?.toISOString() ?? null,
    offerId: row.offer_id,
    advertiserName: row.advertiser_name,
    payout: row.payout,
    deliveryStatus: row.delivery_status,
    responseCode: row.response_code,
    userId: row.user_id,
    postbackId: row.postback_id === null ? null : Number(row.postback_id),
    status: row.status,
    points: row.points,
    mismatch: row.mismatch,
    problem: row.problem,
    extra: row.extra
  }))
}

/** Every row of a report (or of one category), page by page. */
export async function* allReportRows(
  runner: SqlRunner,
  id: number,
  category?: ReconciliationCategory,
  pageSize = 5_000
): AsyncGenerator<ReadonlyArray<ReportRow>> {
  let afterId = 0
  for (;;) {
    const page = await reportRows(runner, id, { category, afterId, limit: pageSize })
    if (page.length === 0) return
    yield page
    afterId = page[page.length - 1]!.id
    if (page.length < pageSize) return
  }
}

/** A report row as a CSV record, in {@link REPORT_COLUMNS} order. */
export const reportRecord = (row: ReportRow): ReadonlyArray<string> => [
  row.category,
  row.line === null ? "" : String(row.line),
  row.occurredAt ?? "",
  row.offerId ?? "",
  row.advertiserName ?? "",
  row.payout ?? "",
  row.deliveryStatus ?? "",
  row.responseCode === null ? "" : String(row.responseCode),
  row.userId ?? "",
  row.postbackId === null ? "" : String(row.postbackId),
  row.status ?? "",
  row.points ?? "",
  row.mismatch ?? "",
  row.problem ?? ""
]

/**
 * A report as CSV (RFC 4180 by Effect's `Csv` encoder, UTF-8, CRLF): a
 * header of {@link REPORT_COLUMNS}, then every row (or every row of one
 * category), read from the database page by page.
 */
export const reportCsv = (
  runner: SqlRunner,
  id: number,
  category?: ReconciliationCategory
): Stream.Stream<Uint8Array, unknown> =>
  Stream.fromAsyncIterable(allReportRows(runner, id, category), (cause) => cause).pipe(
    Stream.map((rows) => rows.map(reportRecord)),
    Stream.prepend([[REPORT_COLUMNS as ReadonlyArray<string>]]),
    Stream.flattenIterable,
    Stream.pipeThroughChannel(Csv.encode())
  )

/** A stored report's summary, or `undefined` when there is no such report. */
export const getSummary = async (
  runner: SqlRunner,
  id: number
): Promise<ReconciliationSummary | undefined> => {
  const [row] = await runner.query<SummaryRow>(`${SUMMARIES} WHERE id = $1::bigint`, [id])
  return row === undefined ? undefined : summaryOf(row)
}

/** The latest reports, newest first (`limit` of them, before id `beforeId` when given). */
export const listSummaries = async (
  runner: SqlRunner,
  options: { readonly limit: number; readonly beforeId?: number | undefined }
): Promise<Array<ReconciliationSummary>> => {
  const rows = await runner.query<SummaryRow>(
    `${SUMMARIES} WHERE ($1::bigint IS NULL OR id < $1::bigint) ORDER BY id DESC LIMIT $2::integer`,
    [options.beforeId ?? null, options.limit]
  )
  return rows.map(summaryOf)
}

const SUMMARIES = `SELECT id, source, created_at, range_from, range_to, summary FROM reconciliations`

interface SummaryRow {
  id: string
  source: string
  created_at: Date
  range_from: Date | null
  range_to: Date | null
  summary: Omit<ReconciliationSummary, "id" | "source" | "createdAt" | "from" | "to"> | null
}

const summaryOf = (row: SummaryRow): ReconciliationSummary => ({
  id: Number(row.id),
  source: row.source,
  createdAt: row.created_at.toISOString(),
  from: row.range_from?.toISOString() ?? null,
  to: row.range_to?.toISOString() ?? null,
  // A report without a summary never finished (the process stopped midway).
  ...(row.summary ?? {
    precision: null,
    toleranceMs: 0,
    exportRows: 0,
    outsideRange: 0,
    categories: {} as ReconciliationSummary["categories"],
    responseCodeMismatches: 0,
    recoverable: 0,
    alarming: true
  })
})

const LABELS: Readonly<Record<ReconciliationCategory, string>> = {
  delivered: "delivered and stored",
  lost: "LOST (failed at MomentScience, absent here)",
  stored_after_failure: "failed at MomentScience but stored here",
  recovered: "recovered (re-ingested from the export)",
  missing: "ALARM: delivered at MomentScience, absent here",
  unknown: "stored here, unknown to MomentScience",
  payout_mismatch: "payout mismatch",
  unreadable: "unreadable lines"
}

/**
 * The summary as a plain-text table for a terminal, then up to `detail`
 * rows of each category that needs a person (everything but `delivered`).
 */
export const summaryTable = (
  summary: ReconciliationSummary,
  details: ReadonlyArray<ReportRow>
): string => {
  const lines = [
    `Reconciliation ${summary.id} of ${summary.source}: ${summary.exportRows} export rows, ${summary.from ?? "-"} to ${summary.to ?? "-"} (precision ${summary.precision ?? "-"}, tolerance ${summary.toleranceMs} ms)`,
    ""
  ]
  const rows = CATEGORY_ORDER.map((category) => {
    const total = summary.categories[category] ?? { count: 0, payout: "0" }
    return [LABELS[category], String(total.count), total.payout] as const
  })
  const width = Math.max(...rows.map(([label]) => label.length))
  lines.push(`${"category".padEnd(width)}  ${"rows".padStart(9)}  payout USD`)
  for (const [label, count, payout] of rows) {
    lines.push(`${label.padEnd(width)}  ${count.padStart(9)}  ${payout}`)
  }
  lines.push(
    `${"response code mismatches".padEnd(width)}  ${String(summary.responseCodeMismatches).padStart(9)}`
  )
  if (summary.outsideRange > 0) {
    lines.push(
      `${"outside the range (skipped)".padEnd(width)}  ${String(summary.outsideRange).padStart(9)}`
    )
  }
  if (details.length > 0) {
    lines.push(
      "",
      "line  category              event time                offer     payout  code  postback  note"
    )
    for (const row of details) {
      lines.push(
        [
          String(row.line ?? "-").padEnd(5),
          row.category.padEnd(21),
          (row.occurredAt ?? "-").padEnd(25),
          (row.offerId ?? "-").padEnd(9),
          (row.payout ?? "-").padStart(7),
          String(row.responseCode ?? "-").padStart(5),
          String(row.postbackId ?? "-").padStart(9),
          row.problem ?? row.mismatch ?? ""
        ].join(" ")
      )
    }
  }
  return `${lines.join("\n")}\n`
}
