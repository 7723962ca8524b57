import { timestampText } from "@org/postback-schema"
import type { SqlRunner } from "../Db/Database.ts"
import type { PostbackSource, RawRequest } from "../Db/schema.ts"

/**
 * When and how one delivery arrived, for its row in the delivery log. Every
 * field is optional: a row without them is logged at the statement's time
 * (`now()`), as a `test` of false, with a wait of 0.
 */
export interface DeliveryTiming {
  /** When the request arrived (the receiver's wall clock). */
  readonly receivedAt?: Date | undefined
  /**
   * `performance.now()` when the request arrived: the wait until its batch
   * was sent is measured on this monotonic clock.
   */
  readonly arrivedAt?: number | undefined
  /** A test postback (the console's test button): stored with `test = true`. */
  readonly test?: boolean | undefined
}

/** One accepted postback, ready for the inbox, every value in its wire text. */
export interface InboxRow extends DeliveryTiming {
  readonly dedupKey: string
  readonly status: "pending" | "held"
  readonly source: PostbackSource
  readonly offerId: string
  readonly advertiserName: string
  readonly payout: string
  readonly occurredAt: string
  readonly isLoyaltyBoost: boolean
  /** The payload as JSON text. */
  readonly payload: string
  readonly userId: string | null
  /** Deliveries of this postback folded into this row (1 unless duplicates met in one batch). */
  readonly deliveryCount: number
  /** What the ingest core normalised (JSON array of flags), or null. */
  readonly flags: string | null
  /** Why it is held for a person (JSON array of `{ path, message }`), or null. */
  readonly problems: string | null
  /**
   * Replayed from the spool (src/Spool): the row's `received_at` is
   * `receivedAt`, when the sender delivered it, rather than the time of the
   * statement that stores it.
   */
  readonly replayed?: boolean | undefined
}

/** One request that was not a valid postback. */
export interface RejectedRow extends DeliveryTiming {
  readonly source: PostbackSource
  /** The HTTP status it is answered with (400 unless said otherwise). */
  readonly httpStatus?: number | undefined
  readonly request: RawRequest
  readonly errors: ReadonlyArray<{ readonly path: string; readonly message: string }>
}

export interface InsertedRow {
  readonly id: number
  readonly dedupKey: string
  /** False when the row existed already (a retry or replay of a stored postback). */
  readonly inserted: boolean
}

// The group-commit statement: the inbox rows and, in the same statement
// (a data-modifying CTE, so no extra round trip), the delivery log. The
// first delivery of a postback this statement inserts is kept on its row
// (first_delivered_at, first_answer_ms: `$20`, `$21`, from the first
// delivery passed for its key), so a postback delivered once, nearly every
// one, writes no log row; every other delivery (a retry folded in the batch,
// or any delivery of a postback stored before) is a row of `deliveries`
// (`$22` marks the first of each key). Every column travels as one text[] parameter
// (NULL when it is null in every row), so the statement text is the same
// for every batch size and stays one
// prepared statement; casts happen in SQL, where they are exact (numeric,
// timestamptz) and where PostgreSQL and PGlite agree on array parameters.
// ON CONFLICT folds retries into the stored row; the caller folds duplicates
// within the batch first, as one statement may not update a row twice, and
// passes one delivery per request (the folded ones included), joined back
// to the row by its dedup key.
// Rows are written in dedup-key order (binary, like the column's collation):
// two batches meeting on the same keys (retries of the same postbacks, in
// two receiver processes) then lock them in the same order and one waits
// for the other instead of both deadlocking.
// `xmax = 0` is true only for rows this statement inserted.
// A held row this statement inserted writes its `postback.held` events
// (`held`): one forward_outbox row per destination that is not disabled and
// takes that type, its body the shape the worker's events have (see
// Forward/OutboxSql.ts: no ledger entry, so `points` is "0"; no outcome or
// settlement yet, so `explanation` and `settledAt` are null). A duplicate
// writes none. With no destination the join is empty: one probe.
// A row replayed from the spool keeps the time it was delivered as its
// `received_at` (`$15`, null for every other row: the statement's time).
// A delivery's `answer_ms` (and a row's `first_answer_ms`) is its wait for the batch (the receiver's
// monotonic clock, passed in) plus the statement's time until the log row is
// written (`clock_timestamp() - statement_timestamp()`, the database's
// clock): each difference is taken on one clock, so no skew between the two
// enters it. The commit (its fsync) and writing the answer come after and
// are not in it.
const insertPostbacksStatement = (held: string) => `
WITH ins AS (
  INSERT INTO postbacks AS p (
    dedup_key, status, source, offer_id, advertiser_name, payout, occurred_at,
    is_loyalty_boost, payload, user_id, delivery_count, flags, errors, next_attempt_at,
    test, last_http_status, received_at, first_delivered_at, first_answer_ms
  )
  SELECT
    b.dedup_key, b.status, b.source, b.offer_id, b.advertiser_name, b.payout::numeric,
    b.occurred_at::timestamptz, b.is_loyalty_boost::boolean, b.payload::jsonb, b.user_id,
    b.delivery_count::integer, b.flags::jsonb, b.problems::jsonb,
    CASE WHEN b.status = 'pending' THEN now() END,
    b.test::boolean, 200, coalesce(b.received_at::timestamptz, now()),
    b.first_delivered_at::timestamptz,
    round(b.first_wait_ms::numeric + extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000, 3)
  FROM unnest(
    $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
    $14::text[], $15::text[], $20::text[], $21::text[]
  ) AS b(
    dedup_key, status, source, offer_id, advertiser_name, payout, occurred_at,
    is_loyalty_boost, payload, user_id, delivery_count, flags, problems, test, received_at,
    first_delivered_at, first_wait_ms
  )
  ORDER BY b.dedup_key COLLATE "C"
  ON CONFLICT (dedup_key) DO UPDATE
    SET delivery_count = p.delivery_count + EXCLUDED.delivery_count,
        last_received_at = now(),
        last_http_status = EXCLUDED.last_http_status
  RETURNING p.id, p.dedup_key, (p.xmax = 0) AS inserted${held}), logged AS (
  INSERT INTO deliveries (postback_id, received_at, source, http_status, answer_ms)
  SELECT ins.id, coalesce(d.received_at::timestamptz, now()), d.source, 200,
    round(d.wait_ms::numeric + extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000, 3)
  FROM unnest($16::text[], $17::text[], $18::text[], $19::text[], $22::text[])
    AS d(dedup_key, received_at, source, wait_ms, first)
  JOIN ins ON ins.dedup_key = d.dedup_key
  WHERE NOT (ins.inserted AND d.first::boolean)
)
SELECT id, dedup_key, inserted FROM ins`

// The `postback.held` events of held rows this statement inserts.
const HELD_EVENTS = `
held AS (
  INSERT INTO forward_outbox (destination_id, postback_id, event_type, payload, next_attempt_at)
  SELECT d.id, p.id, 'postback.held',
    jsonb_build_object(
      'type', 'postback.held',
      'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'data', jsonb_build_object(
        'postbackId', p.id,
        'status', p.status,
        'offerId', p.offer_id,
        'advertiserName', p.advertiser_name,
        'payout', p.payout::text,
        'isLoyaltyBoost', p.is_loyalty_boost,
        'userId', p.user_id,
        'points', '0',
        'payload', p.payload,
        'explanation', p.outcome,
        'occurredAt', to_char(p.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'receivedAt', to_char(p.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'settledAt', to_char(p.processed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'test', p.test
      )
    ),
    now()
  FROM ins p
  JOIN forward_destinations d ON d.state <> 'disabled' AND 'postback.held' = ANY(d.events)
  WHERE p.inserted AND p.status = 'held'
  ORDER BY p.id, d.id`

// Two prepared statements: a batch with a held row returns what its events
// need and writes them; every other batch (nearly all) returns the ids alone
// and skips the probe of the destinations.
const INSERT_POSTBACKS = insertPostbacksStatement("")
const INSERT_POSTBACKS_HELD = insertPostbacksStatement(`, p.status, p.offer_id,
    p.advertiser_name, p.payout, p.is_loyalty_boost, p.user_id, p.payload, p.outcome,
    p.occurred_at, p.received_at, p.processed_at, p.test
), ${HELD_EVENTS}
`)

// A rejected request is a row of its own, never folded: its one delivery is
// kept on it (first_delivered_at, first_answer_ms; its status is
// last_http_status), so it writes no delivery log row.
const INSERT_REJECTED = `
INSERT INTO postbacks (status, source, request, errors, test, last_http_status,
  first_delivered_at, first_answer_ms)
SELECT 'rejected', b.source, b.request::jsonb, b.errors::jsonb, b.test::boolean,
  b.http_status::smallint, coalesce(b.received_at::timestamptz, now()),
  round(b.wait_ms::numeric + extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000, 3)
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
  WITH ORDINALITY AS b(source, request, errors, test, http_status, received_at, wait_ms, n)
ORDER BY b.n
RETURNING id`

/** Milliseconds (3 decimals) from `arrivedAt` until `sentAt`, both `performance.now()`. */
const waitMs = (arrivedAt: number | undefined, sentAt: number): string =>
  arrivedAt === undefined ? "0" : Math.max(0, sentAt - arrivedAt).toFixed(3)

/**
 * One delivery of an accepted postback, for the delivery log: retries of one
 * postback folded into one row in a batch each still have their own.
 */
export interface AcceptedDelivery extends DeliveryTiming {
  readonly dedupKey: string
  readonly source: PostbackSource
}

/**
 * Writes a batch of accepted postbacks (distinct dedup keys) and their
 * deliveries (all answered 200) in one statement. `deliveries` defaults to
 * one per row (the row's own timing); each must name a dedup key of `rows`,
 * and the first listed for a key is the row's first delivery: kept on the
 * row when the statement inserts it, a `deliveries` row like the others when
 * the postback was stored before.
 */
export const insertPostbacks = async (
  sql: SqlRunner,
  rows: ReadonlyArray<InboxRow>,
  deliveries: ReadonlyArray<AcceptedDelivery> = rows
): Promise<ReadonlyArray<InsertedRow>> => {
  const columns: Array<Array<string | null>> = Array.from({ length: 22 }, () => [])
  const sentAt = performance.now()
  // The first delivery of each key, with its time and wait as written once
  // (the row keeps them, and its log row when the postback was stored before).
  const first = new Map<string, { readonly receivedAt: string; readonly waitMs: string }>()
  for (const delivery of deliveries) {
    const receivedAt = timestampText(delivery.receivedAt ?? new Date())
    const wait = waitMs(delivery.arrivedAt, sentAt)
    const isFirst = !first.has(delivery.dedupKey)
    if (isFirst) first.set(delivery.dedupKey, { receivedAt, waitMs: wait })
    columns[15]!.push(delivery.dedupKey)
    columns[16]!.push(delivery.receivedAt === undefined ? null : receivedAt)
    columns[17]!.push(delivery.source)
    columns[18]!.push(wait)
    columns[21]!.push(isFirst ? "t" : "f")
  }
  for (const row of rows) {
    columns[0]!.push(row.dedupKey)
    columns[1]!.push(row.status)
    columns[2]!.push(row.source)
    columns[3]!.push(row.offerId)
    columns[4]!.push(row.advertiserName)
    columns[5]!.push(row.payout)
    columns[6]!.push(row.occurredAt)
    columns[7]!.push(row.isLoyaltyBoost ? "t" : "f")
    columns[8]!.push(row.payload)
    columns[9]!.push(row.userId)
    columns[10]!.push(String(row.deliveryCount))
    columns[11]!.push(row.flags)
    columns[12]!.push(row.problems)
    columns[13]!.push(row.test === true ? "t" : "f")
    columns[14]!.push(row.replayed === true ? (row.receivedAt?.toISOString() ?? null) : null)
    const own = first.get(row.dedupKey)
    columns[19]!.push(own === undefined ? null : own.receivedAt)
    columns[20]!.push(own === undefined ? null : own.waitMs)
  }
  const result = await sql.query<{ id: string; dedup_key: string; inserted: boolean }>(
    rows.some((row) => row.status === "held") ? INSERT_POSTBACKS_HELD : INSERT_POSTBACKS,
    // A column null in every row (flags, problems, a replay's time: nearly
    // always) is passed as NULL: `unnest` pads a missing array with nulls to
    // the longest one, the same rows, and PostgreSQL parses one array less
    // (about 3 µs a statement each, and 0.3 µs an element).
    columns.map((values) => (values.every((value) => value === null) ? null : textArray(values)))
  )
  return result.map((r) => ({ id: Number(r.id), dedupKey: r.dedup_key, inserted: r.inserted }))
}

const ARRAY_SPECIAL = /["\\]/
const ARRAY_ESCAPE = /["\\]/g

/**
 * A `text[]` parameter as PostgreSQL's array literal: every element quoted,
 * `"` and `\` escaped with a backslash, `NULL` for null (the PostgreSQL
 * documentation, 8.15.6 "Array Value Input"). Both drivers pass a string
 * given for an array parameter as it is; this is what postgres.js would
 * write for the array, for a fraction of its cost on the hot statement
 * (elements without a quote or backslash, nearly all, are copied as they
 * are).
 */
export const textArray = (values: ReadonlyArray<string | null>): string => {
  let literal = "{"
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    if (i > 0) literal += ","
    literal +=
      value === null || value === undefined
        ? "NULL"
        : ARRAY_SPECIAL.test(value)
          ? `"${value.replace(ARRAY_ESCAPE, "\\$&")}"`
          : `"${value}"`
  }
  return `${literal}}`
}

/**
 * Keeps rejected requests for debugging, each with its one delivery kept on
 * its row, in one statement; their ids, in the order of `rows`.
 */
export const insertRejected = async (
  sql: SqlRunner,
  rows: ReadonlyArray<RejectedRow>
): Promise<ReadonlyArray<number>> => {
  const sentAt = performance.now()
  const result = await sql.query<{ id: string }>(INSERT_REJECTED, [
    rows.map((row) => row.source),
    rows.map((row) => JSON.stringify(storableRequest(row.request))),
    rows.map((row) => storableJson(row.errors)),
    rows.map((row) => (row.test === true ? "t" : "f")),
    rows.map((row) => String(row.httpStatus ?? 400)),
    rows.map((row) => (row.receivedAt ?? new Date()).toISOString()),
    rows.map((row) => waitMs(row.arrivedAt, sentAt))
  ])
  return result.map((r) => Number(r.id)).sort((a, b) => a - b)
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what must be found
const NUL = /\u0000/

// What jsonb (and text) cannot hold: a NUL, and a surrogate without its pair.
const UNSTORABLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what must be found
  /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

const escapeUnstorable = (text: string): string =>
  text.replace(UNSTORABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/**
 * JSON text for a jsonb column of messages (problems, flags): a message may
 * quote the bytes of a request it could not read (a NUL, half of a
 * surrogate pair), which jsonb refuses; those characters are written as the
 * text of their escape (`\u0000`), so the message is kept, readable.
 */
export const storableJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "string" && v.search(UNSTORABLE) !== -1 ? escapeUnstorable(v) : v
  )

/**
 * The raw request as jsonb can hold it. The ingest core keeps a body that is
 * UTF-8 as text, but jsonb (like text) cannot hold a NUL character: such a
 * body is kept as the base64 of its bytes instead, as a body that is not
 * text is. Nothing is lost; the query's values are already storable.
 */
export const storableRequest = (request: RawRequest): RawRequest =>
  request.bodyEncoding === "utf8" && request.body !== null && NUL.test(request.body)
    ? {
        ...request,
        body: Buffer.from(request.body, "utf8").toString("base64"),
        bodyEncoding: "base64"
      }
    : request
