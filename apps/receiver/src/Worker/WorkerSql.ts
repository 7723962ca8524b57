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
  readonly userId: string | null
  /** Attempts including this one. */
  readonly attempts: number
  /** A test postback (the ingest edge's test marker): settled as `recorded`, never credited. */
  readonly test: boolean
}

// The claim of a batch: up to $1 ready rows, locked for the rest of the
// calling transaction, in which the worker then settles them.
//
// The claim is the row lock itself, not a status written and committed
// first: a settled row is then written once (one new row version, one entry
// in each of the inbox's indexes) instead of twice, and the batch costs one
// commit instead of two. SKIP LOCKED lets concurrent workers (in this
// process or in other replicas) each take different rows without waiting on
// one another. FOR NO KEY UPDATE, not FOR UPDATE: the delivery log's foreign
// key check on a duplicate delivery (FOR KEY SHARE) must not wait for the
// batch.
//
// The lease is the server's: `idle_in_transaction_session_timeout`, set for
// this transaction only, ends the session of a worker that holds its claim
// idle for longer than $2 (a hung process, a dropped network path), and
// ending the session rolls the claim back; a worker process that dies drops
// its connection, which rolls it back at once. Either way the rows are
// `pending` again, untouched. (`statement_timeout` bounds the statements.)
//
// Rows come from two places: postbacks waiting their turn, read through the
// partial ready index, and rows a worker of an earlier version claimed by
// writing `processing` with a lease that then ran out (the partial lease
// index, empty otherwise). The attempt is counted when the row is settled
// or rescheduled, in the same transaction.
const COLUMNS = `p.id::text AS id, p.offer_id, p.advertiser_name, p.payout::text AS payout,
  p.occurred_at, p.is_loyalty_boost, p.user_id, p.attempts + 1 AS attempts, p.test`

// The columns come from the locking SELECTs themselves: a row changed after
// the statement's snapshot (a duplicate delivery counted, say) is locked and
// returned in its latest version.
const CLAIM = `
WITH lease AS (
  SELECT set_config('idle_in_transaction_session_timeout', $2, true)
), expired AS (
  SELECT ${COLUMNS} FROM postbacks p
  WHERE p.status = 'processing' AND p.locked_until < now()
  ORDER BY p.locked_until
  LIMIT $1
  FOR NO KEY UPDATE SKIP LOCKED
), ready AS (
  SELECT ${COLUMNS} FROM postbacks p
  WHERE p.status = 'pending' AND p.next_attempt_at <= now()
  ORDER BY p.next_attempt_at, p.id
  LIMIT $1
  FOR NO KEY UPDATE SKIP LOCKED
)
SELECT picked.* FROM lease CROSS JOIN (
  SELECT * FROM expired
  UNION ALL
  SELECT * FROM ready
  LIMIT $1
) picked`

// The same claim for given ids ($1), one by one after a batch failed: a row
// another worker has taken since (or settled) is left to it.
const CLAIM_IDS = `
WITH lease AS (
  SELECT set_config('idle_in_transaction_session_timeout', $2, true)
)
SELECT picked.* FROM lease CROSS JOIN (
  SELECT ${COLUMNS} FROM postbacks p
  WHERE p.id = ANY($1::bigint[])
    AND (p.status = 'pending' OR (p.status = 'processing' AND p.locked_until < now()))
  FOR NO KEY UPDATE SKIP LOCKED
) picked`

// Settle a claimed batch in one statement: the reward transactions, each
// user's balance by the sum of what was actually inserted, and every
// postback's final status, why, and the attempt counted. The batch travels
// as one JSON array (one parameter, parsed once by the server: as jsonb, so
// that each outcome is taken out of it as jsonb, not parsed again), and each
// explanation once: the ledger entry of a credit reuses its settlement's
// `outcome` unless the credit carries its own.
//
// The unique key on reward_transactions (postback_id, kind) is what makes
// crediting exactly-once: a postback credited before inserts nothing and so
// adds nothing to the balance. Balances are updated in user_id order so
// that two workers never wait on each other's rows in opposite orders
// (deadlock). The statement's parts run on one snapshot: the settlement
// UPDATE and the ledger INSERT touch different tables, and the rows are the
// caller's (claimed in this transaction), so every one of them is settled.
const SETTLE = `
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb)
    AS f(id bigint, status text, outcome jsonb, error text,
         user_id text, points bigint, payout numeric, explanation jsonb)
), inserted AS (
  INSERT INTO reward_transactions (postback_id, user_id, points, payout, explanation)
  SELECT id, user_id, points, payout, COALESCE(explanation, outcome) FROM input
  WHERE points IS NOT NULL
  ON CONFLICT (postback_id, kind) DO NOTHING
  RETURNING user_id, points
), balances AS (
  INSERT INTO accounts AS a (user_id, balance)
  SELECT user_id, sum(points)::bigint FROM inserted GROUP BY user_id ORDER BY user_id
  ON CONFLICT (user_id) DO UPDATE
    SET balance = a.balance + EXCLUDED.balance, updated_at = now()
), settled AS (
  UPDATE postbacks AS p
  SET status = i.status,
      outcome = i.outcome,
      last_error = i.error,
      attempts = p.attempts + 1,
      processed_at = now(),
      next_attempt_at = NULL,
      locked_by = NULL,
      locked_until = NULL
  FROM input i
  WHERE p.id = i.id
  RETURNING 1
)
SELECT (SELECT count(*) FROM inserted)::int AS credited, (SELECT count(*) FROM settled)::int AS settled`

// A failure: back to pending after a delay, or dead when the retry policy
// has no attempt left (status and delay decided by the caller from the
// attempts the claim returned), the attempt counted. Rows claimed in the
// calling transaction.
const RESCHEDULE = `
UPDATE postbacks AS p
SET status = f.status,
    last_error = $4,
    attempts = p.attempts + 1,
    next_attempt_at = CASE WHEN f.status = 'pending' THEN now() + f.delay::interval END,
    processed_at = CASE WHEN f.status = 'dead' THEN now() END,
    locked_by = NULL,
    locked_until = NULL
FROM unnest($1::text[], $2::text[], $3::text[]) AS f(id, status, delay)
WHERE p.id = f.id::bigint
RETURNING p.id::text AS id, p.status`

interface ClaimRow {
  id: string
  offer_id: string
  advertiser_name: string
  payout: string
  occurred_at: Date | string
  is_loyalty_boost: boolean
  user_id: string | null
  attempts: number
  test: boolean
}

const claimedRows = (rows: ReadonlyArray<ClaimRow>): ReadonlyArray<ClaimedRow> =>
  rows.map((row) => ({
    id: Number(row.id),
    offerId: row.offer_id,
    advertiserName: row.advertiser_name,
    payout: row.payout,
    occurredAt: row.occurred_at instanceof Date ? row.occurred_at : new Date(row.occurred_at),
    isLoyaltyBoost: row.is_loyalty_boost,
    userId: row.user_id,
    attempts: Number(row.attempts),
    test: row.test === true
  }))

/**
 * Claims up to `limit` ready postbacks (and rows of an expired earlier-version
 * claim) for the calling transaction `tx`, under a lease of `leaseSeconds` of
 * idleness; the claim lasts until `tx` ends.
 */
export const claim = async (
  tx: SqlRunner,
  leaseSeconds: number,
  limit: number
): Promise<ReadonlyArray<ClaimedRow>> =>
  claimedRows(await tx.query<ClaimRow>(CLAIM, [limit, `${leaseSeconds}s`]))

/** {@link claim} for the postbacks `ids` that are still ready (not taken by another worker since). */
export const claimIds = async (
  tx: SqlRunner,
  leaseSeconds: number,
  ids: ReadonlyArray<number>
): Promise<ReadonlyArray<ClaimedRow>> =>
  claimedRows(await tx.query<ClaimRow>(CLAIM_IDS, [ids.map(String), `${leaseSeconds}s`]))

/** How many rows {@link settle} credited now (not before) and settled. */
export interface Settled {
  readonly credited: number
  readonly settled: number
}

/**
 * Writes the credits and the final status of every settlement, for rows
 * claimed in the calling transaction `tx`. Each credit must belong to a
 * `credited` settlement of the same call; a credit's `explanation` is stored
 * once, in the settlement's `outcome`, when it is the same value.
 */
export const settle = async (
  tx: SqlRunner,
  settlements: ReadonlyArray<Settlement>,
  credits: ReadonlyArray<Credit>
): Promise<Settled> => {
  if (settlements.length === 0) return { credited: 0, settled: 0 }
  const creditOf = new Map(credits.map((c) => [c.postbackId, c]))
  const input = settlements.map((s) => {
    const c = creditOf.get(s.postbackId)
    return {
      id: s.postbackId,
      status: s.status,
      outcome: s.explanation ?? null,
      error: s.error,
      user_id: c?.userId ?? null,
      // bigint as a JSON string: exact, read by the server as bigint
      points: c === undefined ? null : c.points.toString(),
      payout: c === undefined ? null : c.payout.toString(),
      explanation: c === undefined || c.explanation === s.explanation ? null : c.explanation
    }
  })
  const [row] = await tx.query<Settled>(SETTLE, [JSON.stringify(input)])
  return { credited: Number(row?.credited ?? 0), settled: Number(row?.settled ?? 0) }
}

/** A row {@link reschedule} moved: back to `pending`, or `dead`. */
export interface Moved {
  readonly postbackId: number
  readonly status: SettledStatus | "pending"
}

export interface Retry {
  readonly postbackId: number
  /** Seconds until the next attempt, or `undefined` when the retry policy gives up. */
  readonly delaySeconds: number | undefined
}

/**
 * After a failure, for rows claimed in the calling transaction `tx`: each
 * row back to `pending` after its delay, or `dead` without one.
 */
export const reschedule = async (
  tx: SqlRunner,
  retries: ReadonlyArray<Retry>,
  error: string
): Promise<ReadonlyArray<Moved>> => {
  if (retries.length === 0) return []
  const rows = await tx.query<{ id: string; status: string }>(RESCHEDULE, [
    retries.map((r) => String(r.postbackId)),
    retries.map((r) => (r.delaySeconds === undefined ? "dead" : "pending")),
    retries.map((r) => `${r.delaySeconds ?? 0} seconds`),
    error
  ])
  return rows.map((row) => ({ postbackId: Number(row.id), status: row.status as Moved["status"] }))
}
