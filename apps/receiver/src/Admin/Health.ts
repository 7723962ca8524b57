import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Health, Readiness, ReceiverApi, SpoolHealth, Unavailable } from "../Api.ts"
import { Database, useSql } from "../Db/Database.ts"
import { Spool } from "../Spool/Spool.ts"

/**
 * `/healthz` answers while the process runs (with the spool's state when
 * it is on: the receiver is healthy while it answers from its spool);
 * `/readyz` asks the database, and a failure there is its answer (503),
 * not an error.
 */
export const HealthLive = HttpApiBuilder.group(ReceiverApi, "health", (handlers) =>
  Effect.gen(function* () {
    const { sql } = yield* Database
    const spool = yield* Spool
    return handlers
      .handle("healthz", () =>
        Effect.sync(() => {
          const status = spool.status()
          return new Health(
            status === undefined
              ? { status: "ok" }
              : { status: "ok", spool: new SpoolHealth(status) }
          )
        })
      )
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
