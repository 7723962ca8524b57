import { desc, eq } from "drizzle-orm"
import { Effect, Layer, Metric, Redacted } from "effect"
import { HttpApiBuilder, HttpApiError } from "effect/http-api"
import { AdminAuth, Health, Readiness, ReceiverApi, RewardTransaction, UserLedger } from "../Api.ts"
import { Database, useSql } from "../Db/Database.ts"
import { accounts, postbacks, rewardTransactions } from "../Db/schema.ts"
import { prometheusText } from "../Metrics.ts"
import { redactedSecretCheck, Secrets } from "../Secrets.ts"

export const AdminAuthLive: Layer.Layer<AdminAuth, never, Secrets> = Layer.effect(
  AdminAuth,
  Effect.gen(function* () {
    const { adminToken } = yield* Secrets
    const matches = redactedSecretCheck(adminToken)
    return AdminAuth.of({
      bearer: (httpEffect, { credential }) =>
        matches(Redacted.value(credential))
          ? httpEffect
          : Effect.fail(new HttpApiError.Unauthorized())
    })
  })
)

export const UsersLive = HttpApiBuilder.group(ReceiverApi, "users", (handlers) =>
  Effect.gen(function* () {
    const { db } = yield* Database
    return handlers.handle(
      "getUser",
      Effect.fn("Users.getUser")(
        function* ({ params, query }) {
          const [account] = yield* useSql("read account", () =>
            db.select().from(accounts).where(eq(accounts.userId, params.userId))
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
              .where(eq(rewardTransactions.userId, params.userId))
              .orderBy(desc(rewardTransactions.id))
              .limit(query.limit ?? 100)
          )
          return new UserLedger({
            userId: account.userId,
            balance: account.balance,
            transactions: transactions.map((t) => new RewardTransaction(t))
          })
        },
        Effect.catchTag("DatabaseError", Effect.die)
      )
    )
  })
)

export const MetricsLive = HttpApiBuilder.group(ReceiverApi, "metrics", (handlers) =>
  handlers.handle("metrics", () => Effect.map(Metric.snapshot, prometheusText))
)

export const HealthLive = HttpApiBuilder.group(ReceiverApi, "health", (handlers) =>
  Effect.gen(function* () {
    const { sql } = yield* Database
    return handlers
      .handle("healthz", () => Effect.succeed(new Health({ status: "ok" })))
      .handle(
        "readyz",
        Effect.fn("Health.readyz")(function* () {
          yield* useSql("ping", () => sql.query("SELECT 1")).pipe(
            Effect.mapError(() => new HttpApiError.ServiceUnavailable())
          )
          return new Readiness({ status: "ready", database: sql.dialect })
        })
      )
  })
)
