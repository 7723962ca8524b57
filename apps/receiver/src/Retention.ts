import { Duration, Effect, Layer, Schedule } from "effect"
import { ReceiverConfig } from "./Config.ts"
import { Database, type SqlRunner, useSql } from "./Db/Database.ts"

/** Rows one retention statement deletes at most: short statements, short locks. */
export const RETENTION_BATCH = 1_000

/** How often the retention job runs. */
export const RETENTION_INTERVAL = Duration.minutes(1)

// Batches one run deletes at most (1,000,000 rows): a backlog is worked off
// over several runs instead of in one long loop.
const MAX_BATCHES_PER_RUN = 1_000

const DELETE_EXPIRED = `
DELETE FROM deliveries
WHERE id IN (
  SELECT id FROM deliveries
  WHERE received_at < now() - make_interval(days => $1::integer)
  LIMIT $2::integer
)`

/**
 * Deletes delivery log rows received more than `days` days ago (by the
 * database's clock), in statements of at most `batch` rows, until none is
 * left or `maxBatches` statements ran. Answers how many rows it deleted.
 * Only the delivery log is pruned: postbacks and the ledger are kept.
 */
export const deleteExpiredDeliveries = async (
  sql: SqlRunner,
  days: number,
  batch: number = RETENTION_BATCH,
  maxBatches: number = MAX_BATCHES_PER_RUN
): Promise<number> => {
  let deleted = 0
  for (let n = 0; n < maxBatches; n++) {
    const rows = await sql.query<{ id: string }>(`${DELETE_EXPIRED} RETURNING id`, [days, batch])
    deleted += rows.length
    if (rows.length < batch) break
  }
  return deleted
}

/**
 * The delivery log's retention (`DELIVERY_LOG_RETENTION_DAYS`, default 30):
 * every minute (on the Effect clock), deletes what has expired in batches of
 * {@link RETENTION_BATCH}. A failed run is logged and the next one tries
 * again; the job stops with the receiver.
 */
export const RetentionLive: Layer.Layer<never, never, Database | ReceiverConfig> =
  Layer.effectDiscard(
    Effect.gen(function* () {
      const { sql } = yield* Database
      const { deliveryLogRetentionDays: days } = yield* ReceiverConfig
      const run = useSql("delete expired deliveries", () =>
        deleteExpiredDeliveries(sql, days)
      ).pipe(
        Effect.tap((deleted) =>
          deleted > 0
            ? Effect.logInfo(
                `Delivery log: deleted ${deleted} deliveries older than ${days} days (DELIVERY_LOG_RETENTION_DAYS)`
              )
            : Effect.void
        ),
        Effect.catch((error) =>
          Effect.logWarning("Delivery log retention failed; retrying in a minute", error)
        )
      )
      yield* Effect.forkScoped(
        Effect.repeat(run, Schedule.spaced(RETENTION_INTERVAL)).pipe(Effect.asVoid)
      )
    })
  )
