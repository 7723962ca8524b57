import { HttpApiBuilder, HttpApiError } from "@effect/platform"
import { desc, eq } from "drizzle-orm"
import { Effect, Layer, Redacted } from "effect"
import { AdminAuth, ReceiverApi, RewardTransaction, UserLedger } from "../Api.ts"
import { Database, useSql } from "../Db/Database.ts"
import { accounts, postbacks, rewardTransactions } from "../Db/schema.ts"
import { prometheusText } from "../Metrics.ts"
import { Secrets, secretCheck } from "../Secrets.ts"

export const AdminAuthLive: Layer.Layer<AdminAuth, never, Secrets> = Layer.effect(
  AdminAuth,
  Effect.gen(function* () {
    const { adminToken } = yield* Secrets
    const matches = secretCheck(adminToken)
    return {
      bearer: (token) =>
        matches(Redacted.value(token)) ? Effect.void : Effect.fail(new HttpApiError.Unauthorized())
    }
  })
)

export const UsersLive = HttpApiBuilder.group(ReceiverApi, "users", (handlers) =>
  Effect.gen(function* () {
    const { db } = yield* Database
    return handlers.handle("getUser", ({ path, urlParams }) =>
      Effect.gen(function* () {
        const [account] = yield* useSql("read account", () =>
          db.select().from(accounts).where(eq(accounts.userId, path.userId))
        )
        if (account === undefined) return yield* new HttpApiError.NotFound()
        const transactions = yield* useSql("read transactions", () =>
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
            .where(eq(rewardTransactions.userId, path.userId))
            .orderBy(desc(rewardTransactions.id))
            .limit(urlParams.limit ?? 100)
        )
        return new UserLedger({
          userId: account.userId,
          balance: account.balance,
          transactions: transactions.map((t) => new RewardTransaction(t))
        })
      }).pipe(Effect.orDie)
    )
  })
)

export const MetricsLive = HttpApiBuilder.group(ReceiverApi, "metrics", (handlers) =>
  handlers.handle("metrics", () => Effect.sync(prometheusText))
)

export const HealthLive = HttpApiBuilder.group(ReceiverApi, "health", (handlers) =>
  Effect.gen(function* () {
    const { sql } = yield* Database
    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" as const }))
      .handle("readyz", () =>
        useSql("ping", () => sql.query("SELECT 1")).pipe(
          Effect.as({ status: "ready" as const, database: sql.dialect }),
          Effect.mapError(() => new HttpApiError.ServiceUnavailable())
        )
      )
  })
)
