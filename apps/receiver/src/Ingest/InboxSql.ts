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
ON CONFLICT (dedup_key) DO UPDATE
  SET delivery_count = p.delivery_count + EXCLUDED.delivery_count,
      last_received_at = now()
RETURNING p.id::text AS id, p.dedup_key, (p.xmax = 0) AS inserted`

const INSERT_REJECTED = `
INSERT INTO postbacks (status, source, request, errors)
SELECT 'rejected', b.source, b.request::jsonb, b.errors::jsonb
FROM unnest($1::text[], $2::text[], $3::text[]) AS b(source, request, errors)`

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

/** Keeps rejected requests for debugging, in one statement. */
export const insertRejected = async (
  sql: SqlRunner,
  rows: ReadonlyArray<RejectedRow>
): Promise<void> => {
  await sql.query(INSERT_REJECTED, [
    rows.map((row) => row.source),
    rows.map((row) => JSON.stringify(row.request)),
    rows.map((row) => JSON.stringify(row.errors))
  ])
}
