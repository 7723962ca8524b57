import { and, desc, eq, inArray, sql } from "drizzle-orm"
import { Context, Effect, Layer, Option } from "effect"
import { Database, useSql } from "../Db/Database.ts"
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

/**
 * What the admin API reads and changes in the database. A database failure
 * here is a defect, on purpose and only here: an admin request can do
 * nothing about it but fail, and the API's error middleware answers it with
 * a 500 in the JSON error shape and logs the cause. Handlers therefore see
 * only the outcomes they decide on (found or not, replayable or not).
 */
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
      const { db } = yield* Database
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
              .select({
                id: rewardTransactions.id,
                postbackId: rewardTransactions.postbackId,
                offerId: postbacks.offerId,
                points: rewardTransactions.points,
                payout: rewardTransactions.payout,
                explanation: rewardTransactions.explanation,
                createdAt: rewardTransactions.createdAt
              })
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
