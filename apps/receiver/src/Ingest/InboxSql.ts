import type { SqlRunner } from "../Db/Database.ts"
import type { PostbackSource, RawRequest } from "../Db/schema.ts"

/** One accepted postback, ready for the inbox, every value in its wire text. */
export interface InboxRow {
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
}

/** One request that was not a valid postback. */
export interface RejectedRow {
  readonly source: PostbackSource
  readonly request: RawRequest
  readonly errors: ReadonlyArray<{ readonly path: string; readonly message: string }>
}

export interface InsertedRow {
  readonly id: number
  readonly dedupKey: string
  /** False when the row existed already (a retry or replay of a stored postback). */
  readonly inserted: boolean
}

// The group-commit statement. Every column travels as one text[] parameter,
// so the statement text is the same for every batch size and stays one
// prepared statement; casts happen in SQL, where they are exact (numeric,
// timestamptz) and where PostgreSQL and PGlite agree on array parameters.
// ON CONFLICT folds retries into the stored row; the caller folds duplicates
// within the batch first, as one statement may not update a row twice.
// Rows are written in dedup-key order (binary, like the column's collation):
// two batches meeting on the same keys (retries of the same postbacks, in
// two receiver processes) then lock them in the same order and one waits
// for the other instead of both deadlocking.
// `xmax = 0` is true only for rows this statement inserted.
const INSERT_POSTBACKS = `
INSERT INTO postbacks AS p (
  dedup_key, status, source, offer_id, advertiser_name, payout, occurred_at,
  is_loyalty_boost, payload, user_id, delivery_count, flags, errors, next_attempt_at
)
SELECT
  b.dedup_key, b.status, b.source, b.offer_id, b.advertiser_name, b.payout::numeric,
  b.occurred_at::timestamptz, b.is_loyalty_boost::boolean, b.payload::jsonb, b.user_id,
  b.delivery_count::integer, b.flags::jsonb, b.problems::jsonb,
  CASE WHEN b.status = 'pending' THEN now() END
FROM unnest(
  $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
  $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[]
) AS b(
  dedup_key, status, source, offer_id, advertiser_name, payout, occurred_at,
  is_loyalty_boost, payload, user_id, delivery_count, flags, problems
)
ORDER BY b.dedup_key COLLATE "C"
ON CONFLICT (dedup_key) DO UPDATE
  SET delivery_count = p.delivery_count + EXCLUDED.delivery_count,
      last_received_at = now()
RETURNING p.id, p.dedup_key, (p.xmax = 0) AS inserted`

// Rejected rows have no key to match them back by: they are inserted in
// input order, so the ids the sequence hands out, ascending, are theirs in
// that order.
const INSERT_REJECTED = `
INSERT INTO postbacks (status, source, request, errors)
SELECT 'rejected', b.source, b.request::jsonb, b.errors::jsonb
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS b(source, request, errors, n)
ORDER BY b.n
RETURNING id`

/** Writes a batch of accepted postbacks (distinct dedup keys) in one statement. */
export const insertPostbacks = async (
  sql: SqlRunner,
  rows: ReadonlyArray<InboxRow>
): Promise<ReadonlyArray<InsertedRow>> => {
  const columns: Array<Array<string | null>> = Array.from({ length: 13 }, () => [])
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
  }
  const result = await sql.query<{ id: string; dedup_key: string; inserted: boolean }>(
    INSERT_POSTBACKS,
    columns
  )
  return result.map((r) => ({ id: Number(r.id), dedupKey: r.dedup_key, inserted: r.inserted }))
}

/** Keeps rejected requests for debugging, in one statement; their ids, in the order of `rows`. */
export const insertRejected = async (
  sql: SqlRunner,
  rows: ReadonlyArray<RejectedRow>
): Promise<ReadonlyArray<number>> => {
  const result = await sql.query<{ id: string }>(INSERT_REJECTED, [
    rows.map((row) => row.source),
    rows.map((row) => JSON.stringify(storableRequest(row.request))),
    rows.map((row) => storableJson(row.errors))
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
