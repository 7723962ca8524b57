import type { SqlRunner } from "../Db/Database.ts"
import type { Credit, SettledStatus, Settlement } from "./RewardPolicy.ts"

/** A postback claimed for processing, as stored (the worker makes it a `Conversion`). */
export interface ClaimedRow {
  readonly id: number
  readonly offerId: string
  readonly advertiserName: string
  readonly payout: string
  readonly occurredAt: Date
  readonly isLoyaltyBoost: boolean
  readonly payload: Record<string, string>
  readonly userId: string | null
  /** Attempts including this one. */
  readonly attempts: number
  /** A test postback (the ingest edge's test marker): settled as `recorded`, never credited. */
  readonly test: boolean
}

// Claim up to $3 ready rows for worker $1 under a lease of $2.
//
// Rows come from two places: postbacks waiting their turn, and rows whose
// lease ran out because the worker that claimed them died. Each source is
// read through its own partial index and locked with SKIP LOCKED, so
// concurrent workers (in this process or in other replicas) each take
// different rows without waiting on one another. The UPDATE records the claim
// and counts the attempt in the same statement; if this worker then dies,
// the lease expires and the rows come back.
const CLAIM = `
WITH expired AS (
  SELECT id FROM postbacks
  WHERE status = 'processing' AND locked_until < now()
  ORDER BY locked_until
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), ready AS (
  SELECT id FROM postbacks
  WHERE status = 'pending' AND next_attempt_at <= now()
  ORDER BY next_attempt_at, id
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), picked AS (
  SELECT id FROM expired
  UNION ALL
  SELECT id FROM ready
  LIMIT $3
)
UPDATE postbacks AS p
SET status = 'processing',
    locked_by = $1,
    locked_until = now() + $2::interval,
    attempts = p.attempts + 1
FROM picked
WHERE p.id = picked.id
RETURNING p.id::text AS id, p.offer_id, p.advertiser_name, p.payout::text AS payout,
          p.occurred_at, p.is_loyalty_boost, p.payload, p.user_id, p.attempts, p.test`

// Credit a batch in one statement: the reward transactions, then each
// user's balance by the sum of what was actually inserted. The unique key on
// reward_transactions (postback_id, kind) is what makes crediting
// exactly-once: a postback credited before (by this worker or another whose
// lease expired) inserts nothing and so adds nothing to the balance. Balances are updated in
// user_id order so that two workers never wait on each other's rows in
// opposite orders (deadlock).
const CREDIT = `
WITH input AS (
  SELECT t.postback_id::bigint AS postback_id, t.user_id, t.points::bigint AS points,
         t.payout::numeric AS payout, t.explanation::jsonb AS explanation
  FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
    AS t(postback_id, user_id, points, payout, explanation)
  JOIN postbacks p ON p.id = t.postback_id::bigint
  WHERE p.status = 'processing' AND p.locked_by = $1
), inserted AS (
  INSERT INTO reward_transactions (postback_id, user_id, points, payout, explanation)
  SELECT postback_id, user_id, points, payout, explanation FROM input
  ON CONFLICT (postback_id, kind) DO NOTHING
  RETURNING postback_id, user_id, points
), balances AS (
  INSERT INTO accounts AS a (user_id, balance)
  SELECT user_id, sum(points)::bigint FROM inserted GROUP BY user_id ORDER BY user_id
  ON CONFLICT (user_id) DO UPDATE
    SET balance = a.balance + EXCLUDED.balance, updated_at = now()
  RETURNING 1
)
SELECT postback_id::text AS postback_id FROM inserted`

// Settle the claimed rows this worker still owns: final status, why, and the
// lease released. A row whose lease was taken over is left to its new owner;
// RETURNING tells which rows this statement settled, so that metrics and
// logs count each postback once.
const SETTLE = `
UPDATE postbacks AS p
SET status = f.status,
    outcome = f.outcome::jsonb,
    last_error = f.error,
    processed_at = now(),
    next_attempt_at = NULL,
    locked_by = NULL,
    locked_until = NULL
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS f(id, status, outcome, error)
WHERE p.id = f.id::bigint AND p.status = 'processing' AND p.locked_by = $1
RETURNING p.id::text AS id, p.status`

// A transient failure: back to pending after a delay, or dead when the retry
// policy has no attempt left (status and delay decided by the caller).
const RESCHEDULE = `
UPDATE postbacks AS p
SET status = f.status,
    last_error = $5,
    next_attempt_at = CASE WHEN f.status = 'pending' THEN now() + f.delay::interval END,
    processed_at = CASE WHEN f.status = 'dead' THEN now() END,
    locked_by = NULL,
    locked_until = NULL
FROM unnest($2::text[], $3::text[], $4::text[]) AS f(id, status, delay)
WHERE p.id = f.id::bigint AND p.status = 'processing' AND p.locked_by = $1
RETURNING p.id::text AS id, p.status`

/** Claims up to `limit` ready postbacks (and expired claims) for `workerId`. */
export const claim = async (
  sql: SqlRunner,
  workerId: string,
  leaseSeconds: number,
  limit: number
): Promise<ReadonlyArray<ClaimedRow>> => {
  const rows = await sql.query<{
    id: string
    offer_id: string
    advertiser_name: string
    payout: string
    occurred_at: Date | string
    is_loyalty_boost: boolean
    payload: Record<string, string> | string
    user_id: string | null
    attempts: number
    test: boolean
  }>(CLAIM, [workerId, `${leaseSeconds} seconds`, limit])
  return rows.map((row) => ({
    id: Number(row.id),
    offerId: row.offer_id,
    advertiserName: row.advertiser_name,
    payout: row.payout,
    occurredAt: new Date(row.occurred_at),
    isLoyaltyBoost: row.is_loyalty_boost,
    payload: typeof row.payload === "string" ? JSON.parse(row.payload) : row.payload,
    userId: row.user_id,
    attempts: Number(row.attempts),
    test: row.test === true
  }))
}

/** Writes `credits` (those still claimed by `workerId`); returns the ids credited now, not before. */
export const credit = async (
  sql: SqlRunner,
  workerId: string,
  credits: ReadonlyArray<Credit>
): Promise<ReadonlyArray<number>> => {
  if (credits.length === 0) return []
  const rows = await sql.query<{ postback_id: string }>(CREDIT, [
    workerId,
    credits.map((c) => String(c.postbackId)),
    credits.map((c) => c.userId),
    credits.map((c) => c.points.toString()),
    credits.map((c) => c.payout.toString()),
    credits.map((c) => JSON.stringify(c.explanation))
  ])
  return rows.map((row) => Number(row.postback_id))
}

/** A row this worker moved to a status: what `settle` and `reschedule` return. */
export interface Moved {
  readonly postbackId: number
  readonly status: SettledStatus | "pending"
}

const moved = (rows: ReadonlyArray<{ id: string; status: string }>): ReadonlyArray<Moved> =>
  rows.map((row) => ({ postbackId: Number(row.id), status: row.status as Moved["status"] }))

/** Gives each postback of `settlements` still claimed by `workerId` its final status. */
export const settle = async (
  sql: SqlRunner,
  workerId: string,
  settlements: ReadonlyArray<Settlement>
): Promise<ReadonlyArray<Moved>> => {
  if (settlements.length === 0) return []
  return moved(
    await sql.query<{ id: string; status: string }>(SETTLE, [
      workerId,
      settlements.map((s) => String(s.postbackId)),
      settlements.map((s) => s.status),
      settlements.map((s) => JSON.stringify(s.explanation ?? null)),
      settlements.map((s) => s.error)
    ])
  )
}

export interface Retry {
  readonly postbackId: number
  /** Seconds until the next attempt, or `undefined` when the retry policy gives up. */
  readonly delaySeconds: number | undefined
}

/** After a failure: each row back to `pending` after its delay, or `dead` without one. */
export const reschedule = async (
  sql: SqlRunner,
  workerId: string,
  retries: ReadonlyArray<Retry>,
  error: string
): Promise<ReadonlyArray<Moved>> => {
  if (retries.length === 0) return []
  return moved(
    await sql.query<{ id: string; status: string }>(RESCHEDULE, [
      workerId,
      retries.map((r) => String(r.postbackId)),
      retries.map((r) => (r.delaySeconds === undefined ? "dead" : "pending")),
      retries.map((r) => `${r.delaySeconds ?? 0} seconds`),
      error
    ])
  )
}
