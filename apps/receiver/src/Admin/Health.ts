import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Health, Readiness, ReceiverApi, Unavailable } from "../Api.ts"
import { Database, useSql } from "../Db/Database.ts"

/**
 * `/healthz` answers while the process runs; `/readyz` asks the database,
 * and a failure there is its answer (503), not an error.
 */
export const HealthLive = HttpApiBuilder.group(ReceiverApi, "health", (handlers) =>
  Effect.gen(function* () {
    const { sql } = yield* Database
    return handlers
      .handle("healthz", () => Effect.succeed(new Health({ status: "ok" })))
      .handle(
        "readyz",
        Effect.fn("Health.readyz")(function* () {
          yield* useSql("ping", () => sql.query("SELECT 1")).pipe(
            // Unauthenticated: the answer says what, never the driver's details.
            Effect.mapError(() => new Unavailable({ message: "the database does not answer" }))
          )
          return new Readiness({ status: "ready", database: sql.dialect })
        })
      )
  })
)
