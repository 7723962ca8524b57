import { HttpApiBuilder, HttpApiError } from "@effect/platform"
import { and, eq, inArray, sql } from "drizzle-orm"
import { Effect } from "effect"
import { NotReplayable, ReceiverApi, StoredPostback } from "../Api.ts"
import { Database, useSql } from "../Db/Database.ts"
import { postbacks } from "../Db/schema.ts"
import { WakeSignal } from "../Worker/WakeSignal.ts"

const toStored = (row: typeof postbacks.$inferSelect): StoredPostback =>
  new StoredPostback({
    id: row.id,
    status: row.status,
    source: row.source,
    offerId: row.offerId,
    advertiserName: row.advertiserName,
    payout: row.payout,
    occurredAt: row.occurredAt,
    isLoyaltyBoost: row.isLoyaltyBoost,
    payload: row.payload,
    userId: row.userId,
    receivedAt: row.receivedAt,
    deliveryCount: row.deliveryCount,
    attempts: row.attempts,
    processedAt: row.processedAt,
    outcome: row.outcome,
    lastError: row.lastError,
    request: row.request,
    errors: row.errors
  })

export const PostbacksLive = HttpApiBuilder.group(ReceiverApi, "postbacks", (handlers) =>
  Effect.gen(function* () {
    const { db } = yield* Database
    const wake = yield* WakeSignal
    const find = (id: number) =>
      useSql("read postback", () => db.select().from(postbacks).where(eq(postbacks.id, id))).pipe(
        Effect.flatMap(([row]) =>
          row === undefined ? Effect.fail(new HttpApiError.NotFound()) : Effect.succeed(row)
        )
      )
    return handlers
      .handle("getPostback", ({ path }) =>
        find(path.id).pipe(Effect.map(toStored), Effect.catchTag("DatabaseError", Effect.die))
      )
      .handle("replayPostback", ({ path }) =>
        Effect.gen(function* () {
          // One conditional UPDATE: a postback credited meanwhile is never replayed.
          const [row] = yield* useSql("replay postback", () =>
            db
              .update(postbacks)
              .set({
                status: "pending",
                attempts: 0,
                nextAttemptAt: sql`now()`,
                lastError: null,
                processedAt: null
              })
              .where(and(eq(postbacks.id, path.id), inArray(postbacks.status, ["dead", "held"])))
              .returning()
          )
          if (row === undefined) {
            const current = yield* find(path.id)
            return yield* new NotReplayable({
              message: `postback ${path.id} is ${current.status}; only dead and held postbacks can be replayed`
            })
          }
          wake.signal()
          return toStored(row)
        }).pipe(Effect.catchTag("DatabaseError", Effect.die))
      )
  })
)
