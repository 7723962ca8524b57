import { and, type SQL, sql } from "drizzle-orm"
import { PgDialect } from "drizzle-orm/pg-core"
import { Context, Effect, Layer, Stream } from "effect"
import { Csv } from "effect/encoding"
import { HttpServerResponse } from "effect/http"
import type postgres from "postgres"
import { Database, type SqlRunner } from "../Db/Database.ts"
import { postbacks } from "../Db/schema.ts"
import type { HistoryKey } from "./Cursor.ts"
import { filterCondition, type ResolvedFilter } from "./Filter.ts"

/**
 * The CSV export's columns, in order. MomentScience's postback history
 * export first (`event_time` .. `http_status`), then the receiver's own:
 *
 * - `event_time`: the conversion time (the postback's `timestamp`), ISO 8601 UTC
 * - `offer_id`, `advertiser_name`: as received
 * - `payout`: USD, the exact decimal text as received (`2.10`)
 * - `delivery_status`: `success` when the receiver answered the latest
 *   delivery with 200, `failed` for any other status (a rejected request's
 *   400), empty when unknown (rows stored before the delivery log)
 * - `http_status`: the HTTP status answered to the latest delivery
 * - `id`, `received_at` (ISO 8601 UTC), `status`, `is_loyaltyboost`
 *   (`true`/`false`), `user_id`
 * - `points`: the sum of its ledger entries (empty when none)
 * - `deliveries`: how many times it was delivered
 * - `source`: `get`, `get-template`, `post-json`, `post-form`
 * - `flags`: the ingest flags' codes, separated by `;`
 * - `error`: one line, as the history's `error`
 * - `test`: `true` for a test postback
 */
export const CSV_COLUMNS = [
  "event_time",
  "offer_id",
  "advertiser_name",
  "payout",
  "delivery_status",
  "http_status",
  "id",
  "received_at",
  "status",
  "is_loyaltyboost",
  "user_id",
  "points",
  "deliveries",
  "source",
  "flags",
  "error",
  "test"
] as const

// Numeric columns: a cell of one of these that is a plain decimal number
// (`-1.00`, `21`) is written as it is. A spreadsheet reads it as a number,
// not as a formula, so the quote that neutralises a leading `-` would only
// turn a negative amount into text.
const NUMERIC_COLUMNS: ReadonlySet<string> = new Set([
  "payout",
  "http_status",
  "id",
  "points",
  "deliveries"
])
const PLAIN_NUMBER = /^-?\d+(?:\.\d+)?$/

// What a spreadsheet may take for the start of a formula (OWASP, CSV injection).
const FORMULA_START = /^[=+\-@\t\r]/

/**
 * A cell as it is written: a text cell that a spreadsheet would read as a
 * formula (it begins with `=`, `+`, `-`, `@`, a tab or a carriage return) is
 * prefixed with `'`, as the OWASP guidance on CSV injection says; a plain
 * decimal number in a numeric column ({@link NUMERIC_COLUMNS}) is exempt.
 */
export const neutralise = (column: string, cell: string): string =>
  FORMULA_START.test(cell) && !(NUMERIC_COLUMNS.has(column) && PLAIN_NUMBER.test(cell))
    ? `'${cell}`
    : cell

/** One export row, every value as the database's text (booleans as booleans). */
interface CsvRow {
  readonly id: string
  readonly received_key: string
  readonly received_at: string
  readonly event_time: string | null
  readonly offer_id: string | null
  readonly advertiser_name: string | null
  readonly payout: string | null
  readonly http_status: string | null
  readonly status: string
  readonly is_loyalty_boost: boolean | null
  readonly user_id: string | null
  readonly points: string | null
  readonly deliveries: string
  readonly source: string
  readonly flags: string | null
  readonly problem_path: string | null
  readonly problem_message: string | null
  readonly last_error: string | null
  readonly test: boolean
}

/** An instant as ISO 8601 text in UTC, to the millisecond (`MS`) or microsecond (`US`). */
const iso = (column: SQL, unit: "MS" | "US") =>
  unit === "MS"
    ? sql`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : sql`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

/**
 * The export's statement: every matching row, newest first, after `after`,
 * at most `limit` (none: all). Every value is text in SQL, so both drivers
 * read it alike.
 */
export const exportQuery = (
  filter: ResolvedFilter,
  after: HistoryKey | undefined,
  limit: number | undefined
): SQL => {
  const keyset =
    after === undefined
      ? undefined
      : sql`(${postbacks.receivedAt}, ${postbacks.id}) < (${after.receivedAt}::timestamptz, ${after.id}::bigint)`
  const where = and(filterCondition(filter), keyset) ?? sql`true`
  return sql`SELECT
      ${postbacks.id}::text AS id,
      ${iso(sql`${postbacks.receivedAt}`, "US")} AS received_key,
      ${iso(sql`${postbacks.receivedAt}`, "MS")} AS received_at,
      ${iso(sql`${postbacks.occurredAt}`, "MS")} AS event_time,
      ${postbacks.offerId} AS offer_id,
      ${postbacks.advertiserName} AS advertiser_name,
      ${postbacks.payout}::text AS payout,
      ${postbacks.lastHttpStatus}::text AS http_status,
      ${postbacks.status} AS status,
      ${postbacks.isLoyaltyBoost} AS is_loyalty_boost,
      ${postbacks.userId} AS user_id,
      (SELECT sum(t.points)::text FROM reward_transactions t WHERE t.postback_id = ${postbacks.id}) AS points,
      ${postbacks.deliveryCount}::text AS deliveries,
      ${postbacks.source} AS source,
      (SELECT string_agg(f.value ->> 'code', ';' ORDER BY f.n)
         FROM jsonb_array_elements(CASE jsonb_typeof(${postbacks.flags}) WHEN 'array' THEN ${postbacks.flags} ELSE '[]'::jsonb END)
         WITH ORDINALITY AS f(value, n)) AS flags,
      ${postbacks.errors} -> 0 ->> 'path' AS problem_path,
      ${postbacks.errors} -> 0 ->> 'message' AS problem_message,
      ${postbacks.lastError} AS last_error,
      ${postbacks.test} AS test
    FROM ${postbacks}
    WHERE ${where}
    ORDER BY ${postbacks.receivedAt} DESC, ${postbacks.id} DESC
    ${limit === undefined ? sql`` : sql`LIMIT ${limit}`}`
}

const oneLine = (text: string): string => text.replace(/\s+/g, " ").trim()

const errorOf = (row: CsvRow): string => {
  if (row.status === "dead" && row.last_error !== null) return oneLine(row.last_error)
  if (row.problem_message !== null) {
    return oneLine(
      row.problem_path === null || row.problem_path === ""
        ? row.problem_message
        : `${row.problem_path}: ${row.problem_message}`
    )
  }
  return row.last_error === null ? "" : oneLine(row.last_error)
}

/** One export row as its CSV cells, in {@link CSV_COLUMNS} order, neutralised. */
export const csvRecord = (row: CsvRow): ReadonlyArray<string> => {
  const cells: Record<(typeof CSV_COLUMNS)[number], string> = {
    event_time: row.event_time ?? "",
    offer_id: row.offer_id ?? "",
    advertiser_name: row.advertiser_name ?? "",
    payout: row.payout ?? "",
    delivery_status:
      row.http_status === null ? "" : row.http_status === "200" ? "success" : "failed",
    http_status: row.http_status ?? "",
    id: row.id,
    received_at: row.received_at,
    status: row.status,
    is_loyaltyboost: row.is_loyalty_boost === null ? "" : String(row.is_loyalty_boost),
    user_id: row.user_id ?? "",
    points: row.points ?? "",
    deliveries: row.deliveries,
    source: row.source,
    flags: row.flags ?? "",
    error: errorOf(row),
    test: String(row.test)
  }
  return CSV_COLUMNS.map((column) => neutralise(column, cells[column]))
}

/** Rows fetched per round trip (the cursor's batch, or a keyset page on PGlite). */
export const EXPORT_CHUNK = 1_000

/** Exports that may run at once (each holds one database connection while it streams). */
export const MAX_CONCURRENT_EXPORTS = 2

const dialect = new PgDialect()

/**
 * PGlite has no cursor streaming: the rows come a keyset page at a time
 * (the same order and key as the history), each page one query.
 */
async function* keysetPages(
  runner: SqlRunner,
  filter: ResolvedFilter,
  chunk: number
): AsyncGenerator<ReadonlyArray<CsvRow>> {
  let after: HistoryKey | undefined
  for (;;) {
    const compiled = dialect.sqlToQuery(exportQuery(filter, after, chunk))
    const rows = await runner.query<CsvRow>(compiled.sql, compiled.params)
    if (rows.length > 0) yield rows
    if (rows.length < chunk) return
    const last = rows[rows.length - 1]!
    after = { receivedAt: last.received_key, id: Number(last.id) }
  }
}

/**
 * PostgreSQL: one statement read through a server-side cursor (postgres.js
 * `cursor(n)`), `chunk` rows per round trip, on a connection reserved from
 * the pool for the export's length; the next batch is fetched only once the
 * previous one was written to the client. The pool's connections run with
 * `statement_timeout = DATABASE_TIMEOUT_MS`, which a cursor read at the
 * client's pace outlasts: the reserved connection lifts it for the export
 * and restores it (`RESET`) before it goes back to the pool. The export
 * ends with the client: a download given up closes the cursor.
 */
async function* cursorPages(
  client: postgres.Sql,
  filter: ResolvedFilter,
  chunk: number
): AsyncGenerator<ReadonlyArray<CsvRow>> {
  const compiled = dialect.sqlToQuery(exportQuery(filter, undefined, undefined))
  const reserved = await client.reserve()
  try {
    await reserved.unsafe("SET statement_timeout = 0")
    // Through a generator of its own: the cursor's iterator answers return()
    // without a promise, and the stream closes an iterator by awaiting it.
    for await (const rows of reserved
      .unsafe<Array<CsvRow>>(
        compiled.sql,
        compiled.params as Array<postgres.ParameterOrJSON<never>>
      )
      .cursor(chunk)) {
      yield rows
    }
  } finally {
    await reserved.unsafe("RESET statement_timeout").catch(() => undefined)
    reserved.release()
  }
}

const fileTime = (date: Date | undefined, open: string): string =>
  date === undefined
    ? open
    : date
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d+Z$/, "Z")

/** `postbacks-<from>-<to>.csv` (UTC, `20260301T050000Z`; `start`/`now` for an open end). */
export const exportFileName = (filter: ResolvedFilter): string =>
  `postbacks-${fileTime(filter.received.from, "start")}-${fileTime(filter.received.to, "now")}.csv`

/** 503 body when {@link MAX_CONCURRENT_EXPORTS} exports run already. */
const busy = () =>
  HttpServerResponse.jsonUnsafe(
    {
      error: "unavailable",
      message: `${MAX_CONCURRENT_EXPORTS} CSV exports are running; retry when one has finished`
    },
    { status: 503, headers: { "retry-after": "10", "cache-control": "no-store" } }
  )

/**
 * The CSV export (`GET /api/postbacks/export.csv`): RFC 4180 (Effect's
 * `Csv` encoder), UTF-8, CRLF, a header row, streamed from the database in
 * chunks of {@link EXPORT_CHUNK} rows so memory stays constant whatever the
 * row count. A failure after the first bytes ends the response early (the
 * status was sent already): the file is then incomplete, and the error is
 * logged.
 */
export class ExportRoute extends Context.Service<
  ExportRoute,
  {
    /** The streamed response for `filter`, or a 503 when too many exports run. */
    readonly response: (filter: ResolvedFilter) => HttpServerResponse.HttpServerResponse
  }
>()("@org/receiver/ExportRoute") {
  static readonly layer: Layer.Layer<ExportRoute, never, Database> = Layer.effect(
    ExportRoute,
    Effect.gen(function* () {
      const { db, sql: runner } = yield* Database
      const client =
        runner.dialect === "postgres"
          ? ((db as unknown as { $client: postgres.Sql }).$client as postgres.Sql)
          : undefined
      let running = 0
      return ExportRoute.of({
        response: (filter) => {
          if (running >= MAX_CONCURRENT_EXPORTS) return busy()
          const header: ReadonlyArray<string> = CSV_COLUMNS
          let counted = false
          // Counted from the moment the body starts streaming until it ends,
          // however it ends (done, failed, or the client went away).
          const records = Stream.suspend(() => {
            running++
            counted = true
            const pages =
              client === undefined
                ? keysetPages(runner, filter, EXPORT_CHUNK)
                : cursorPages(client, filter, EXPORT_CHUNK)
            return Stream.fromAsyncIterable(pages, (cause) => cause)
          }).pipe(
            Stream.map((rows) => rows.map(csvRecord)),
            Stream.prepend([[header]]),
            Stream.flattenIterable
          )
          const body = records.pipe(
            Stream.pipeThroughChannel(Csv.encode()),
            Stream.tapCause((cause) => Effect.logError("CSV export failed midway", cause)),
            Stream.ensuring(
              Effect.sync(() => {
                if (counted) running--
                counted = false
              })
            )
          )
          return HttpServerResponse.stream(body, {
            contentType: "text/csv; charset=utf-8",
            headers: {
              "content-disposition": `attachment; filename="${exportFileName(filter)}"`,
              "cache-control": "no-store"
            }
          })
        }
      })
    })
  )
}
