import { and, eq, inArray, sql } from "drizzle-orm"
import { Effect } from "effect"
import { HttpApiBuilder, HttpApiError } from "effect/http-api"
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
    flags: row.flags,
    request: row.request,
    errors: row.errors
  })

export const PostbacksLive = HttpApiBuilder.group(ReceiverApi, "postbacks", (handlers) =>
  Effect.gen(function* () {
    const { db } = yield* Database
    const wake = yield* WakeSignal
    const find = Effect.fn("Postbacks.find")(function* (id: number) {
      const [row] = yield* useSql("read postback", () =>
        db.select().from(postbacks).where(eq(postbacks.id, id))
      )
      if (row === undefined) return yield* new HttpApiError.NotFound()
      return row
    })
    return handlers
      .handle("getPostback", ({ params }) =>
        find(params.id).pipe(Effect.map(toStored), Effect.catchTag("DatabaseError", Effect.die))
      )
      .handle(
        "replayPostback",
        Effect.fn("Postbacks.replayPostback")(
          function* ({ params }) {
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
                .where(
                  and(eq(postbacks.id, params.id), inArray(postbacks.status, ["dead", "held"]))
                )
                .returning()
            )
            if (row === undefined) {
              const current = yield* find(params.id)
              return yield* new NotReplayable({
                message: `postback ${params.id} is ${current.status}; only dead and held postbacks can be replayed`
              })
            }
            wake.signal()
            return toStored(row)
          },
          Effect.catchTag("DatabaseError", Effect.die)
        )
      )
  })
)
