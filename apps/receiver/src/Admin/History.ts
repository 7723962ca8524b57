import { and, type SQL, sql } from "drizzle-orm"
import { PgDialect } from "drizzle-orm/pg-core"
import { DateTime, Effect, Layer } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import {
  InvalidRequest,
  PostbackItem,
  PostbackPage,
  PostbackSeries,
  PostbackSummary,
  ReceiverApi
} from "../Api.ts"
import { ReceiverConfig } from "../Config.ts"
import { Database, type SqlRunner, useSql } from "../Db/Database.ts"
import { POSTBACK_STATUSES, type PostbackStatus, postbacks } from "../Db/schema.ts"
import { decodeHistoryCursor, encodeHistoryCursor, type HistoryKey } from "./Cursor.ts"
import { ExportRoute } from "./Export.ts"
import {
  filterCondition,
  type PostbackFilter,
  type ResolvedFilter,
  resolveFilter
} from "./Filter.ts"

const dialect = new PgDialect()

/**
 * Runs a drizzle `sql` fragment through the raw runner (rows normalised
 * alike on PostgreSQL and PGlite: int8 and numeric as strings, timestamps as
 * `Date`, jsonb parsed).
 */
export const runSql = <Row>(runner: SqlRunner, query: SQL): Promise<Array<Row>> => {
  const compiled = dialect.sqlToQuery(query)
  return runner.query<Row>(compiled.sql, compiled.params)
}

/** A history row as the list and the CSV export read it. */
export interface HistoryRow {
  readonly id: string
  readonly received_at: Date
  /** `received_at` in UTC with microseconds: the keyset cursor's exact key. */
  readonly received_key: string
  readonly occurred_at: Date | null
  readonly offer_id: string | null
  readonly advertiser_name: string | null
  readonly payout: string | null
  readonly is_loyalty_boost: boolean | null
  readonly user_id: string | null
  readonly status: PostbackStatus
  readonly source: string
  readonly last_http_status: number | null
  readonly delivery_count: number
  readonly points: string | null
  readonly flags: ReadonlyArray<{ code: string; path: string; message: string }> | null
  readonly problem_path: string | null
  readonly problem_message: string | null
  readonly last_error: string | null
  readonly test: boolean
}

/**
 * The history's columns, from `postbacks`: `points` is the sum of the row's
 * ledger entries (credits and reversals), `problem_path` and
 * `problem_message` the first of its `errors`.
 */
export const HISTORY_COLUMNS = sql`
  ${postbacks.id} AS id,
  ${postbacks.receivedAt} AS received_at,
  to_char(${postbacks.receivedAt} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS received_key,
  ${postbacks.occurredAt} AS occurred_at,
  ${postbacks.offerId} AS offer_id,
  ${postbacks.advertiserName} AS advertiser_name,
  ${postbacks.payout}::text AS payout,
  ${postbacks.isLoyaltyBoost} AS is_loyalty_boost,
  ${postbacks.userId} AS user_id,
  ${postbacks.status} AS status,
  ${postbacks.source} AS source,
  ${postbacks.lastHttpStatus} AS last_http_status,
  ${postbacks.deliveryCount} AS delivery_count,
  (SELECT sum(t.points)::text FROM reward_transactions t WHERE t.postback_id = ${postbacks.id}) AS points,
  ${postbacks.flags} AS flags,
  ${postbacks.errors} -> 0 ->> 'path' AS problem_path,
  ${postbacks.errors} -> 0 ->> 'message' AS problem_message,
  ${postbacks.lastError} AS last_error,
  ${postbacks.test} AS test`

/** Rows after `after` (newest first: received time, then id, both descending). */
export const afterKey = (after: HistoryKey | undefined): SQL | undefined =>
  after === undefined
    ? undefined
    : sql`(${postbacks.receivedAt}, ${postbacks.id}) < (${after.receivedAt}::timestamptz, ${after.id}::bigint)`

/** One page of the history: `limit` rows after `after`, newest first. */
export const historyPage = (
  filter: ResolvedFilter,
  after: HistoryKey | undefined,
  limit: number
): SQL =>
  sql`SELECT ${HISTORY_COLUMNS} FROM ${postbacks}
    WHERE ${and(filterCondition(filter), afterKey(after)) ?? sql`true`}
    ORDER BY ${postbacks.receivedAt} DESC, ${postbacks.id} DESC
    LIMIT ${limit}`

const oneLine = (text: string): string => text.replace(/\s+/g, " ").trim()

/**
 * The one-line reason of a row: a rejected or held row's first problem
 * (`path: message`), a dead row's last error; otherwise null.
 */
export const errorLine = (row: {
  readonly status: string
  readonly problem_path: string | null
  readonly problem_message: string | null
  readonly last_error: string | null
}): string | null => {
  if (row.status === "dead" && row.last_error !== null) return oneLine(row.last_error)
  if (row.problem_message === null) {
    return row.last_error === null ? null : oneLine(row.last_error)
  }
  return oneLine(
    row.problem_path === null || row.problem_path === ""
      ? row.problem_message
      : `${row.problem_path}: ${row.problem_message}`
  )
}

/** A history row as the API's item. */
export const toItem = (row: HistoryRow): PostbackItem =>
  new PostbackItem({
    id: Number(row.id),
    receivedAt: row.received_at,
    occurredAt: row.occurred_at,
    offerId: row.offer_id,
    advertiserName: row.advertiser_name,
    payout: row.payout,
    isLoyaltyBoost: row.is_loyalty_boost,
    userId: row.user_id,
    status: row.status,
    source: row.source,
    lastHttpStatus: row.last_http_status,
    deliveryCount: row.delivery_count,
    points: row.points === null ? null : BigInt(row.points),
    flags: row.flags ?? [],
    error: errorLine(row),
    test: row.test
  })

/** Default page size of the history. */
export const DEFAULT_PAGE = 50

/** Most buckets one series may have; past it, a 400 naming `bucket`. */
export const MAX_BUCKETS = 2_000

/**
 * The starts of the series' buckets from `from` to `to` (exclusive), in
 * `timeZone`, followed by the end of the last one:
 * - `day`: local midnights, by calendar days (23 or 25 hours where the
 *   clocks change);
 * - `hour`: local hour starts, by elapsed hours (a fall-back night has two
 *   buckets at 01:00 local time, a spring-forward night none at 02:00).
 * `undefined` when there would be more than `max` buckets.
 */
export const bucketStarts = (
  bucket: "hour" | "day",
  from: Date,
  to: Date,
  timeZone: string,
  max: number = MAX_BUCKETS
): ReadonlyArray<Date> | undefined => {
  if (to <= from) return []
  const zoned = DateTime.makeZonedUnsafe(from, { timeZone })
  const starts: Array<Date> = []
  if (bucket === "day") {
    let day = DateTime.startOf(zoned, "day")
    for (;;) {
      const start = DateTime.toDateUtc(day)
      if (start >= to) {
        starts.push(start)
        break
      }
      if (starts.length > max) return undefined
      starts.push(start)
      day = DateTime.startOf(DateTime.add(day, { days: 1 }), "day")
    }
  } else {
    const first = DateTime.toEpochMillis(DateTime.startOf(zoned, "hour"))
    const count = Math.ceil((to.getTime() - first) / 3_600_000)
    if (count > max) return undefined
    for (let i = 0; i <= count; i++) starts.push(new Date(first + i * 3_600_000))
  }
  if (starts.length - 1 > max) return undefined
  return starts
}

const zeroByStatus = (): Record<string, number> =>
  Object.fromEntries(POSTBACK_STATUSES.map((status) => [status, 0]))

/**
 * `GET /api/postbacks` (the history), `/summary`, `/series` and
 * `/export.csv`, all on the console's filter (Filter.ts), in the filter's
 * time zone (default `CONSOLE_TIME_ZONE`); presets are worked out at the
 * time of the request on the Effect clock.
 */
export const HistoryLive = HttpApiBuilder.group(ReceiverApi, "history", (handlers) =>
  Effect.gen(function* () {
    const { sql: runner } = yield* Database
    const config = yield* ReceiverConfig
    const exportRoute = yield* ExportRoute
    const query = <A>(operation: string, f: () => Promise<A>): Effect.Effect<A> =>
      useSql(operation, f).pipe(Effect.orDie)
    const resolve = (filter: PostbackFilter) =>
      Effect.map(DateTime.now, (now) =>
        resolveFilter(filter, config.consoleTimeZone, DateTime.toDateUtc(now))
      )

    return handlers
      .handle(
        "listPostbacks",
        Effect.fn("History.listPostbacks")(function* ({ query: params }) {
          const { limit = DEFAULT_PAGE, cursor, ...filter } = params
          const after = cursor === undefined ? undefined : decodeHistoryCursor(cursor)
          if (after instanceof InvalidRequest) return yield* after
          const resolved = yield* resolve(filter)
          const rows = yield* query("list postbacks", () =>
            runSql<HistoryRow>(runner, historyPage(resolved, after, limit + 1))
          )
          const items = rows.slice(0, limit)
          const last = items.at(-1)
          return new PostbackPage({
            items: items.map(toItem),
            nextCursor:
              rows.length > limit && last !== undefined
                ? encodeHistoryCursor({ receivedAt: last.received_key, id: Number(last.id) })
                : null
          })
        })
      )
      .handle(
        "summarizePostbacks",
        Effect.fn("History.summarizePostbacks")(function* ({ query: filter }) {
          const resolved = yield* resolve(filter)
          const where = filterCondition(resolved) ?? sql`true`
          const [totals] = yield* query("summarize postbacks", () =>
            runSql<{
              total: string
              payout_total: string
              points_total: string
              duplicates: string
              distinct_users: string
            }>(
              runner,
              sql`WITH m AS (
                SELECT ${postbacks.id} AS id, ${postbacks.payout} AS payout,
                  ${postbacks.deliveryCount} AS delivery_count, ${postbacks.userId} AS user_id
                FROM ${postbacks} WHERE ${where}
              )
              SELECT
                (SELECT count(*) FROM m)::text AS total,
                (SELECT coalesce(sum(payout), 0) FROM m)::text AS payout_total,
                (SELECT coalesce(sum(t.points), 0) FROM reward_transactions t JOIN m ON m.id = t.postback_id)::text AS points_total,
                (SELECT coalesce(sum(delivery_count - 1), 0) FROM m)::text AS duplicates,
                (SELECT count(DISTINCT user_id) FROM m)::text AS distinct_users`
            )
          )
          const byStatus = yield* query("count postbacks by status", () =>
            runSql<{ status: string; n: string }>(
              runner,
              sql`SELECT ${postbacks.status} AS status, count(*)::text AS n FROM ${postbacks}
                WHERE ${where} GROUP BY ${postbacks.status}`
            )
          )
          return new PostbackSummary({
            total: Number(totals!.total),
            byStatus: Object.fromEntries(byStatus.map((r) => [r.status, Number(r.n)])),
            payoutTotal: totals!.payout_total,
            pointsTotal: BigInt(totals!.points_total),
            duplicates: Number(totals!.duplicates),
            distinctUsers: Number(totals!.distinct_users),
            from: resolved.received.from ?? null,
            to: resolved.received.to ?? null,
            timeZone: resolved.timeZone
          })
        })
      )
      .handle(
        "postbackSeries",
        Effect.fn("History.postbackSeries")(function* ({ query: params }) {
          const { bucket = "day", ...filter } = params
          const resolved = yield* resolve(filter)
          const where = filterCondition(resolved) ?? sql`true`
          // An open range runs from the first matching row to now.
          let { from, to } = resolved.received
          if (to === undefined) to = DateTime.toDateUtc(yield* DateTime.now)
          if (from === undefined) {
            const [first] = yield* query("first matching postback", () =>
              runSql<{ first: Date | null }>(
                runner,
                sql`SELECT min(${postbacks.receivedAt}) AS first FROM ${postbacks} WHERE ${where}`
              )
            )
            from = first?.first ?? to
          }
          const starts = bucketStarts(bucket, from, to, resolved.timeZone)
          if (starts === undefined) {
            return yield* new InvalidRequest({
              message: `bucket: the range from ${from.toISOString()} to ${to.toISOString()} holds more than ${MAX_BUCKETS} ${bucket} buckets; choose bucket=day or a shorter range`,
              issues: [
                {
                  path: "bucket",
                  message: `more than ${MAX_BUCKETS} ${bucket} buckets in the range`
                }
              ]
            })
          }
          const buckets = starts.slice(0, -1).map((start) => ({ start, byStatus: zeroByStatus() }))
          if (buckets.length > 0) {
            // width_bucket: 1 for the first bucket, n + 1 at or past the end.
            const counts = yield* query("count postbacks per bucket", () =>
              runSql<{ b: number; status: string; n: string }>(
                runner,
                sql`SELECT width_bucket(${postbacks.receivedAt}, ${`{${starts.map((d) => d.toISOString()).join(",")}}`}::timestamptz[]) AS b,
                    ${postbacks.status} AS status, count(*)::text AS n
                  FROM ${postbacks}
                  WHERE ${where} AND ${postbacks.receivedAt} >= ${starts[0]!.toISOString()}::timestamptz
                    AND ${postbacks.receivedAt} < ${to.toISOString()}::timestamptz
                  GROUP BY 1, 2`
              )
            )
            for (const row of counts) {
              const target = buckets[Number(row.b) - 1]
              if (target !== undefined && row.b >= 1) target.byStatus[row.status] = Number(row.n)
            }
          }
          return new PostbackSeries({ bucket, timeZone: resolved.timeZone, buckets })
        })
      )
      .handle(
        "exportPostbacks",
        Effect.fn("History.exportPostbacks")(function* ({ query: filter }) {
          const resolved = yield* resolve(filter)
          return exportRoute.response(resolved)
        })
      )
  })
).pipe(Layer.provide(ExportRoute.layer))
