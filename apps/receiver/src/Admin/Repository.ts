import { and, desc, eq, inArray, lt, sql } from "drizzle-orm"
import { Context, Effect, Layer, Option } from "effect"
import { Database, type SqlRunner, useSql } from "../Db/Database.ts"
import { accounts, postbacks, rewardTransactions } from "../Db/schema.ts"

export type PostbackRow = typeof postbacks.$inferSelect

export interface AccountRow {
  readonly userId: string
  readonly balance: bigint
}

export interface TransactionRow {
  readonly id: number
  readonly postbackId: number
  readonly offerId: string | null
  readonly points: bigint
  readonly payout: string
  readonly explanation: unknown
  readonly createdAt: Date
}

/** One delivery of a postback (the delivery log). */
export interface DeliveryRow {
  /** The `deliveries` row; null for the first delivery, kept on the postback row. */
  readonly id: number | null
  readonly receivedAt: Date
  readonly source: string
  readonly httpStatus: number
  /** Milliseconds, 3 decimals. */
  readonly answerMs: number
}

/** One entry of a postback's audit trail (`operator_actions`). */
export interface ActionRow {
  readonly id: number
  readonly action: string
  readonly operator: string
  readonly at: Date
  readonly reason: string | null
  readonly details: unknown
}

/** One ledger entry of a postback: a credit, or a reversal's negative entry. */
export interface LedgerRow {
  readonly id: number
  readonly postbackId: number
  readonly offerId: string | null
  readonly kind: string
  readonly userId: string
  readonly points: bigint
  readonly payout: string
  readonly explanation: unknown
  readonly createdAt: Date
}

/** What `GET /api/postbacks/:id` adds to the stored row. */
export interface PostbackExtras {
  /** The sum of its ledger entries; null when it has none. */
  readonly points: bigint | null
  /** Newest first, the latest {@link DETAIL_DELIVERIES}. */
  readonly deliveries: ReadonlyArray<DeliveryRow>
  /** Newest first. */
  readonly actions: ReadonlyArray<ActionRow>
  /** Oldest first (the credit, then any reversal). */
  readonly transactions: ReadonlyArray<LedgerRow>
}

/** Deliveries shown with one postback. */
export const DETAIL_DELIVERIES = 100

/** One account in the users list. */
export interface UserRow {
  readonly userId: string
  readonly balance: bigint
  readonly updatedAt: Date
}

/** A page of a keyset-paginated list: `next` is the key after the last item, if more follow. */
export interface KeysetPage<A, K> {
  readonly items: ReadonlyArray<A>
  readonly next: K | undefined
}

/**
 * The postback's deliveries from the delivery log (the view `delivery_log`:
 * the first delivery kept on the postback row, id null, and the repeat
 * deliveries, whose rows older than `DELIVERY_LOG_RETENTION_DAYS` are gone),
 * newest first, at most `limit`.
 */
export const postbackDeliveries = async (
  sql: SqlRunner,
  id: number,
  limit: number = DETAIL_DELIVERIES
): Promise<ReadonlyArray<DeliveryRow>> => {
  const rows = await sql.query<{
    id: string | null
    received_at: Date
    source: string
    http_status: number
    answer_ms: string
  }>(
    "SELECT id, received_at, source, http_status, answer_ms::text AS answer_ms FROM delivery_log WHERE postback_id = $1 ORDER BY received_at DESC, id DESC NULLS LAST LIMIT $2",
    [id, limit]
  )
  return rows.map((r) => ({
    id: r.id === null ? null : Number(r.id),
    receivedAt: r.received_at,
    source: r.source,
    httpStatus: r.http_status,
    answerMs: Number(r.answer_ms)
  }))
}

/**
 * The postback's audit trail (`operator_actions`, written by the operator
 * actions in `Actions.ts`), newest first.
 */
export const postbackActions = async (
  sql: SqlRunner,
  id: number
): Promise<ReadonlyArray<ActionRow>> => {
  try {
    const rows = await sql.query<{
      id: string
      action: string
      operator: string
      at: Date
      reason: string | null
      details: unknown
    }>(
      "SELECT id, action, operator, at, reason, details FROM operator_actions WHERE postback_id = $1 ORDER BY id DESC",
      [id]
    )
    return rows.map((r) => ({ ...r, id: Number(r.id) }))
  } catch (error) {
    // 42P01 undefined_table: a database migrated before the audit trail
    // existed has no operator actions to show.
    if ((error as { code?: unknown } | null)?.code === "42P01") return []
    throw error
  }
}

/**
 * The postback's ledger entries, oldest first. `kind` is read through the
 * row's JSON so that a ledger without the column (before reversals) reads
 * as credits.
 */
export const postbackLedger = async (
  sql: SqlRunner,
  id: number
): Promise<ReadonlyArray<LedgerRow>> => {
  const rows = await sql.query<{
    id: string
    postback_id: string
    offer_id: string | null
    kind: string
    user_id: string
    points: string
    payout: string
    explanation: unknown
    created_at: Date
  }>(
    `SELECT t.id, t.postback_id, p.offer_id, coalesce(to_jsonb(t)->>'kind', 'credit') AS kind,
       t.user_id, t.points::text AS points, t.payout::text AS payout, t.explanation, t.created_at
     FROM reward_transactions t LEFT JOIN postbacks p ON p.id = t.postback_id
     WHERE t.postback_id = $1 ORDER BY t.id`,
    [id]
  )
  return rows.map((r) => ({
    id: Number(r.id),
    postbackId: Number(r.postback_id),
    offerId: r.offer_id,
    kind: r.kind,
    userId: r.user_id,
    points: BigInt(r.points),
    payout: r.payout,
    explanation: r.explanation,
    createdAt: r.created_at
  }))
}

/**
 * What the admin API reads and changes in the database. A database failure
 * here is a defect, on purpose and only here: an admin request can do
 * nothing about it but fail, and the API's error middleware answers it with
 * a 500 in the JSON error shape and logs the cause. Handlers therefore see
 * only the outcomes they decide on (found or not, replayable or not).
 */
/** A ledger entry as the admin API shows it: the entry and its postback's offer. */
const transactionColumns = {
  id: rewardTransactions.id,
  postbackId: rewardTransactions.postbackId,
  offerId: postbacks.offerId,
  points: rewardTransactions.points,
  payout: rewardTransactions.payout,
  explanation: rewardTransactions.explanation,
  createdAt: rewardTransactions.createdAt
}

export class AdminRepository extends Context.Service<
  AdminRepository,
  {
    readonly account: (userId: string) => Effect.Effect<Option.Option<AccountRow>>
    /** A user's reward transactions, newest first. */
    readonly transactions: (
      userId: string,
      limit: number
    ) => Effect.Effect<ReadonlyArray<TransactionRow>>
    readonly postback: (id: number) => Effect.Effect<Option.Option<PostbackRow>>
    /** Points, deliveries, audit trail and ledger entries of one postback. */
    readonly postbackExtras: (id: number) => Effect.Effect<PostbackExtras>
    /**
     * Accounts by user id (the database's collation), after `after`, whose id
     * contains `search` (case-insensitive); at most `limit`.
     */
    readonly users: (options: {
      readonly search: string | undefined
      readonly after: string | undefined
      readonly limit: number
    }) => Effect.Effect<KeysetPage<UserRow, string>>
    /** A user's reward transactions, newest first, with ids below `before`; at most `limit`. */
    readonly transactionsPage: (options: {
      readonly userId: string
      readonly before: number | undefined
      readonly limit: number
    }) => Effect.Effect<KeysetPage<TransactionRow, number>>
    /**
     * Sends a `dead` or `held` postback back to the worker (`pending`, attempts
     * reset); none when the postback has another status or does not exist.
     */
    readonly replay: (id: number) => Effect.Effect<Option.Option<PostbackRow>>
  }
>()("@org/receiver/AdminRepository") {
  static readonly layer: Layer.Layer<AdminRepository, never, Database> = Layer.effect(
    AdminRepository,
    Effect.gen(function* () {
      const { db, sql: raw } = yield* Database
      const query = <A>(operation: string, f: () => Promise<A>): Effect.Effect<A> =>
        useSql(operation, f).pipe(Effect.orDie)
      return AdminRepository.of({
        account: (userId) =>
          query("read account", () =>
            db.select().from(accounts).where(eq(accounts.userId, userId))
          ).pipe(Effect.map((rows) => Option.fromNullishOr(rows[0]))),
        transactions: (userId, limit) =>
          query("read transactions", () =>
            db
              .select(transactionColumns)
              .from(rewardTransactions)
              .leftJoin(postbacks, eq(postbacks.id, rewardTransactions.postbackId))
              .where(eq(rewardTransactions.userId, userId))
              .orderBy(desc(rewardTransactions.id))
              .limit(limit)
          ),
        postback: (id) =>
          query("read postback", () =>
            db.select().from(postbacks).where(eq(postbacks.id, id))
          ).pipe(Effect.map((rows) => Option.fromNullishOr(rows[0]))),
        postbackExtras: (id) =>
          query("read postback details", async () => {
            const [deliveries, actions, transactions] = await Promise.all([
              postbackDeliveries(raw, id),
              postbackActions(raw, id),
              postbackLedger(raw, id)
            ])
            const points =
              transactions.length === 0
                ? null
                : transactions.reduce((sum, t) => sum + t.points, BigInt(0))
            return { points, deliveries, actions, transactions }
          }),
        users: ({ search, after, limit }) =>
          query("list users", async () => {
            const rows = await raw.query<{ user_id: string; balance: string; updated_at: Date }>(
              `SELECT user_id, balance::text AS balance, updated_at FROM accounts
               WHERE ($1::text IS NULL OR strpos(lower(user_id), lower($1::text)) > 0)
                 AND ($2::text IS NULL OR user_id > $2::text)
               ORDER BY user_id LIMIT $3`,
              [search ?? null, after ?? null, limit + 1]
            )
            const items = rows.slice(0, limit).map((r) => ({
              userId: r.user_id,
              balance: BigInt(r.balance),
              updatedAt: r.updated_at
            }))
            return { items, next: rows.length > limit ? items.at(-1)?.userId : undefined }
          }),
        transactionsPage: ({ userId, before, limit }) =>
          query("read transactions", async () => {
            const rows = await db
              .select(transactionColumns)
              .from(rewardTransactions)
              .leftJoin(postbacks, eq(postbacks.id, rewardTransactions.postbackId))
              .where(
                and(
                  eq(rewardTransactions.userId, userId),
                  before === undefined ? undefined : lt(rewardTransactions.id, before)
                )
              )
              .orderBy(desc(rewardTransactions.id))
              .limit(limit + 1)
            const items = rows.slice(0, limit)
            return { items, next: rows.length > limit ? items.at(-1)?.id : undefined }
          }),
        replay: (id) =>
          // One conditional UPDATE: a postback credited meanwhile is never replayed.
          query("replay postback", () =>
            db
              .update(postbacks)
              .set({
                status: "pending",
                attempts: 0,
                nextAttemptAt: sql`now()`,
                lastError: null,
                processedAt: null
              })
              .where(and(eq(postbacks.id, id), inArray(postbacks.status, ["dead", "held"])))
              .returning()
          ).pipe(Effect.map((rows) => Option.fromNullishOr(rows[0])))
      })
    })
  )
}
