import type { SqlRunner } from "../Db/Database.ts"
import type { OperatorAction, PostbackStatus, RawRequest } from "../Db/schema.ts"
import { enqueueSettled } from "../Forward/OutboxSql.ts"
import { type InboxRow, insertPostbacks } from "../Ingest/InboxSql.ts"

/** One row of the audit trail (`operator_actions`). */
export interface ActionRow {
  readonly id: number
  readonly postbackId: number
  readonly action: OperatorAction
  readonly operator: string
  readonly at: Date
  readonly reason: string | null
  readonly details: Record<string, unknown>
}

/** Who acts and why, as the audit row records it. */
export interface Actor {
  /** Who acts (`"admin"` unless the console says otherwise). */
  readonly operator: string
  readonly reason: string | null
  /** The request's `Idempotency-Key` header, or null. */
  readonly idempotencyKey: string | null
}

/** An action that changed something: the postback's status now and its audit row. */
export interface Changed {
  readonly postbackId: number
  readonly status: PostbackStatus
  readonly action: ActionRow
}

/**
 * Why an action changed nothing: no such postback, or its status (read
 * after the conditional update found nothing to change) is not one the
 * action applies to.
 */
export type Unchanged =
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "WrongStatus"; readonly status: PostbackStatus }

interface RawActionRow {
  id: string
  postback_id: string
  action: OperatorAction
  operator: string
  at: Date
  reason: string | null
  details: Record<string, unknown> | string
}

const ACTION_COLUMNS = `id::text AS id, postback_id::text AS postback_id, action, operator, at, reason, details`

const actionRow = (row: RawActionRow): ActionRow => ({
  id: Number(row.id),
  postbackId: Number(row.postback_id),
  action: row.action,
  operator: row.operator,
  at: row.at,
  reason: row.reason,
  details: typeof row.details === "string" ? JSON.parse(row.details) : row.details
})

// Writes the audit row of an action in the transaction of its change.
const INSERT_ACTION = `
INSERT INTO operator_actions (postback_id, action, operator, reason, details, idempotency_key)
VALUES ($1::bigint, $2, $3, $4, $5::jsonb, $6)
RETURNING ${ACTION_COLUMNS}`

/** Records one action (call it inside the transaction of the change it records). */
export const recordAction = async (
  tx: SqlRunner,
  postbackId: number,
  action: OperatorAction,
  actor: Actor,
  details: Record<string, unknown>
): Promise<ActionRow> => {
  const rows = await tx.query<RawActionRow>(INSERT_ACTION, [
    String(postbackId),
    action,
    actor.operator,
    actor.reason,
    JSON.stringify(details),
    actor.idempotencyKey
  ])
  return actionRow(rows[0]!)
}

/**
 * The status changes of the simple actions: from which statuses, and what
 * the row becomes. Each runs as one conditional UPDATE (see `transitionStatement`).
 */
const TRANSITIONS = {
  // Back to the worker, as a fresh postback: attempts reset, ready now.
  // The worker never holds (holds are decided at ingest), so an approved
  // postback is credited like any other and cannot be held again.
  approve: {
    from: ["held"],
    set: `status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL,
          processed_at = NULL, outcome = NULL`
  },
  reject: {
    from: ["held"],
    set: `status = 'rejected', processed_at = now(), next_attempt_at = NULL,
          outcome = jsonb_build_object('reason', 'rejected-by-operator', 'summary', target.value)`
  },
  attribute: {
    from: ["unattributed"],
    set: `status = 'pending', user_id = target.value, attempts = 0, next_attempt_at = now(),
          last_error = NULL, processed_at = NULL, outcome = NULL`
  }
} as const satisfies Record<string, { from: ReadonlyArray<PostbackStatus>; set: string }>

/** An action that is one status change of the postback row. */
export type Transition = keyof typeof TRANSITIONS

// Change postback $1 if its status is one of $2, and return what it was;
// $3 is the action's value (the reason of a rejection, the user id given).
//
// Two operators (or two clicks) running the same action at once must make
// one change and one audit row. The row lock taken by FOR UPDATE makes the
// second wait for the first's commit; PostgreSQL then reads the row again
// and checks the status anew (READ COMMITTED re-evaluates the WHERE clause
// on the newest version), so the second finds nothing to change and the
// caller answers 409 with the status it finds. The previous status comes
// from the locked row, so the audit row says what really changed.
const transitionStatement = (set: string) => `
WITH target AS (
  SELECT id, status, $3::text AS value FROM postbacks
  WHERE id = $1::bigint AND status = ANY($2::text[])
  FOR UPDATE
)
UPDATE postbacks AS p
SET ${set}
FROM target
WHERE p.id = target.id
RETURNING p.id::text AS id, target.status AS previous, p.status`

const STATUS_OF = `SELECT status FROM postbacks WHERE id = $1::bigint`

/** Why nothing changed: the postback's status, or that there is no such postback. */
export const unchanged = async (sql: SqlRunner, postbackId: number): Promise<Unchanged> => {
  const rows = await sql.query<{ status: PostbackStatus }>(STATUS_OF, [String(postbackId)])
  return rows[0] === undefined
    ? { _tag: "NotFound" }
    : { _tag: "WrongStatus", status: rows[0].status }
}

/**
 * Runs a status change and its audit row in one transaction: the change is
 * made only when the postback is in one of the action's statuses (see
 * {@link TRANSITIONS}), and recorded only when made.
 *
 * @returns the change, or `undefined` when the postback is not (or no
 *   longer) in such a status; the caller then tells why with {@link unchanged}
 */
export const transition = (
  sql: { transaction<A>(f: (tx: SqlRunner) => Promise<A>): Promise<A> },
  postbackId: number,
  action: Transition,
  actor: Actor,
  extra: { readonly userId?: string } = {}
): Promise<Changed | undefined> =>
  sql.transaction(async (tx) => {
    const { from, set } = TRANSITIONS[action]
    const value =
      action === "reject" ? actor.reason : action === "attribute" ? (extra.userId ?? null) : null
    const rows = await tx.query<{ id: string; previous: PostbackStatus; status: PostbackStatus }>(
      transitionStatement(set),
      [String(postbackId), from, value]
    )
    const changed = rows[0]
    if (changed === undefined) return undefined
    const details: Record<string, unknown> = { from: changed.previous, to: changed.status }
    if (action === "attribute") details.userId = extra.userId
    const recorded = await recordAction(tx, postbackId, action, actor, details)
    return { postbackId, status: changed.status, action: recorded }
  })

// The credit of postback $1, locked together with the postback row: a
// reversal reads the points it negates from the ledger itself, never from
// a copy elsewhere.
const REVERSE_STATUS = `
UPDATE postbacks AS p
SET status = 'reversed'
FROM (SELECT id FROM postbacks WHERE id = $1::bigint AND status = 'credited' FOR UPDATE) AS target
WHERE p.id = target.id
RETURNING p.id::text AS id`

// The compensating entry: the credit's points and payout negated, linked to
// it. The unique key on (postback_id, kind) allows one reversal per
// postback whatever happens above; DO NOTHING then inserts nothing, and
// the balance below moves only by what was inserted.
const INSERT_REVERSAL = `
WITH credit AS (
  SELECT id, postback_id, user_id, points, payout
  FROM reward_transactions
  WHERE postback_id = $1::bigint AND kind = 'credit'
), reversal AS (
  INSERT INTO reward_transactions (postback_id, user_id, points, payout, explanation, kind, reverses_id)
  SELECT postback_id, user_id, -points, -payout,
         jsonb_build_object(
           'reason', 'reversed-by-operator',
           'reverses', id::text,
           'points', (-points)::text,
           'summary', 'reversal of ledger entry ' || id || ': ' || (-points)::text || ' points (' || $2::text || ')'
         ),
         'reversal', id
  FROM credit
  ON CONFLICT (postback_id, kind) DO NOTHING
  RETURNING id, user_id, points, reverses_id
), balance AS (
  UPDATE accounts AS a
  SET balance = a.balance + r.points, updated_at = now()
  FROM reversal AS r
  WHERE a.user_id = r.user_id
  RETURNING a.balance
)
SELECT r.id::text AS id, r.user_id, r.points::text AS points, r.reverses_id::text AS reverses_id,
       (SELECT balance::text FROM balance) AS balance
FROM reversal AS r`

/**
 * Reverses the credit of postback `postbackId` in one transaction: the
 * postback `credited` → `reversed`, a `reversal` ledger entry with the
 * credit's points negated (never an update or delete of the credit), the
 * user's balance lowered by as much (it may go below zero when the points
 * were spent meanwhile: the debt is shown, not hidden), and the audit row.
 *
 * @returns the change, or `undefined` when the postback is not `credited`
 * @throws when a credited postback has no credit in the ledger (the
 *   transaction is rolled back: that ledger is broken and a person must look)
 */
export const reverse = (
  sql: { transaction<A>(f: (tx: SqlRunner) => Promise<A>): Promise<A> },
  postbackId: number,
  actor: Actor
): Promise<Changed | undefined> =>
  sql.transaction(async (tx) => {
    const moved = await tx.query<{ id: string }>(REVERSE_STATUS, [String(postbackId)])
    if (moved.length === 0) return undefined
    const entries = await tx.query<{
      id: string
      user_id: string
      points: string
      reverses_id: string
      balance: string | null
    }>(INSERT_REVERSAL, [String(postbackId), actor.reason ?? ""])
    const entry = entries[0]
    if (entry === undefined) {
      throw new Error(
        `postback ${postbackId} is credited but the ledger holds no credit (or already a reversal) for it`
      )
    }
    const recorded = await recordAction(tx, postbackId, "reverse", actor, {
      from: "credited",
      to: "reversed",
      transactionId: Number(entry.id),
      reverses: Number(entry.reverses_id),
      userId: entry.user_id,
      points: entry.points,
      balance: entry.balance
    })
    // The `postback.reversed` event of forwarding, in the reversal's transaction.
    await enqueueSettled(tx, [postbackId])
    return { postbackId, status: "reversed", action: recorded }
  })

/** A postback as repair reads it: its status, raw request, arrival and test mark. */
export interface StoredRequest {
  readonly status: PostbackStatus
  readonly receivedAt: Date
  /** The raw request (kept for rejected rows only). */
  readonly request: RawRequest | null
  readonly test: boolean
}

const READ_REQUEST = `
SELECT status, received_at, request, test FROM postbacks WHERE id = $1::bigint`

/** Postback `postbackId` as repair reads it, or `undefined` when there is none. */
export const storedRequest = async (
  sql: SqlRunner,
  postbackId: number
): Promise<StoredRequest | undefined> => {
  const rows = await sql.query<{
    status: PostbackStatus
    received_at: Date
    request: RawRequest | string | null
    test: boolean
  }>(READ_REQUEST, [String(postbackId)])
  const row = rows[0]
  if (row === undefined) return undefined
  return {
    status: row.status,
    receivedAt: row.received_at,
    request: typeof row.request === "string" ? JSON.parse(row.request) : row.request,
    test: row.test === true
  }
}

const MARK_REPAIRED = `
UPDATE postbacks AS p
SET status = 'repaired', processed_at = now()
FROM (SELECT id FROM postbacks WHERE id = $1::bigint AND status = 'rejected' FOR UPDATE) AS target
WHERE p.id = target.id
RETURNING p.id::text AS id`

const LINK_REPAIRED = `
UPDATE postbacks SET repaired_as_id = $2::bigint WHERE id = $1::bigint
RETURNING (SELECT status FROM postbacks WHERE id = $2::bigint) AS status`

/** What a repair stored: the postback the corrected request became. */
export interface Repaired {
  readonly id: number
  readonly duplicate: boolean
  readonly status: PostbackStatus
  readonly action: ActionRow
}

/**
 * Stores a rejected postback's corrected request as a fresh delivery, in
 * one transaction: the rejected row `rejected` → `repaired` (conditionally,
 * so two repairs at once store one postback), the corrected postback
 * written by the ingest statement itself (a duplicate of a stored postback
 * folds into it, as a retry would), the link, and the audit row.
 *
 * @returns what was stored, or `undefined` when the row is not (or no longer) `rejected`
 */
export const repair = (
  sql: { transaction<A>(f: (tx: SqlRunner) => Promise<A>): Promise<A> },
  postbackId: number,
  row: InboxRow,
  actor: Actor,
  fields: Record<string, unknown>
): Promise<Repaired | undefined> =>
  sql.transaction(async (tx) => {
    const marked = await tx.query<{ id: string }>(MARK_REPAIRED, [String(postbackId)])
    if (marked.length === 0) return undefined
    const [stored] = await insertPostbacks(tx, [row])
    if (stored === undefined) throw new Error("the ingest statement returned no row")
    const linked = await tx.query<{ status: PostbackStatus }>(LINK_REPAIRED, [
      String(postbackId),
      String(stored.id)
    ])
    const recorded = await recordAction(tx, postbackId, "repair", actor, {
      from: "rejected",
      to: "repaired",
      repairedAsId: stored.id,
      duplicate: !stored.inserted,
      fields
    })
    return {
      id: stored.id,
      duplicate: !stored.inserted,
      status: linked[0]?.status ?? row.status,
      action: recorded
    }
  })

/** The action recorded under `key`, if any (a repeated request with an `Idempotency-Key`). */
export const actionByKey = async (sql: SqlRunner, key: string): Promise<ActionRow | undefined> => {
  const rows = await sql.query<RawActionRow>(
    `SELECT ${ACTION_COLUMNS} FROM operator_actions WHERE idempotency_key = $1`,
    [key]
  )
  return rows[0] === undefined ? undefined : actionRow(rows[0])
}

/**
 * One page of the audit trail, newest first (keyset pagination on `id`):
 * of one postback, or of all. `before` is the last id of the previous page.
 */
export const listActions = async (
  sql: SqlRunner,
  options: {
    readonly postbackId: number | undefined
    readonly before: number | undefined
    readonly limit: number
  }
): Promise<ReadonlyArray<ActionRow>> => {
  // The id is ordered as the bigint it is (not as the text it is read as).
  const rows = await sql.query<RawActionRow>(
    `SELECT ${ACTION_COLUMNS} FROM operator_actions
     WHERE ($1::bigint IS NULL OR postback_id = $1::bigint)
       AND ($2::bigint IS NULL OR id < $2::bigint)
     ORDER BY operator_actions.id DESC
     LIMIT $3`,
    [
      options.postbackId === undefined ? null : String(options.postbackId),
      options.before === undefined ? null : String(options.before),
      options.limit
    ]
  )
  return rows.map(actionRow)
}
