import { hostname } from "node:os"
import { Cause, Context, Duration, Effect, Layer, Metric, Result } from "effect"
import { ReceiverConfig } from "../Config.ts"
import { Database, type DatabaseError, useSql } from "../Db/Database.ts"
import { RewardPolicy } from "./RewardPolicy.ts"
import { WakeSignal } from "./WakeSignal.ts"
import {
  type ClaimedRow,
  type Credit,
  claim,
  credit,
  finish,
  type Settlement,
  scheduleRetry
} from "./WorkerSql.ts"

const processed = Metric.counter("receiver_postbacks_processed_total", {
  description: "Postbacks the worker settled, by final status",
  incremental: true
})
const processingFailures = Metric.counter("receiver_processing_failures_total", {
  description: "Postbacks whose processing failed and were sent back for a retry (or marked dead)",
  incremental: true
})

/** What one pass of the worker did. */
export interface BatchReport {
  readonly claimed: number
  readonly credited: number
  readonly failed: number
}

/**
 * Processes the inbox: claims ready postbacks in batches, decides each one's
 * fate with the reward policy, and writes credits and statuses in one
 * transaction per batch. Transient failures go back to `pending` with the
 * retry policy's delay, and to `dead` when it gives up.
 */
export class Worker extends Context.Service<
  Worker,
  {
    readonly id: string
    /** One claim-and-process pass. */
    readonly runBatch: Effect.Effect<BatchReport>
    /** Passes until nothing is ready or everything claimed failed (tests). */
    readonly drain: Effect.Effect<number>
  }
>()("@org/receiver/Worker") {
  static readonly make = Effect.gen(function* () {
    const { sql } = yield* Database
    const config = yield* ReceiverConfig
    const policy = yield* RewardPolicy
    const id = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
    const leaseSeconds = Math.max(1, Math.round(Duration.toSeconds(config.workerLease)))

    const settle = (rows: ReadonlyArray<ClaimedRow>) => {
      const credits: Array<Credit> = []
      const settlements: Array<Settlement> = []
      for (const row of rows) {
        const decision = policy.decide(row)
        switch (decision.status) {
          case "credited":
            credits.push({
              postbackId: row.id,
              userId: decision.userId,
              points: decision.points,
              payout: row.payout,
              explanation: decision.explanation
            })
            settlements.push({
              postbackId: row.id,
              status: "credited",
              outcome: decision.explanation,
              error: null
            })
            break
          case "dead":
            settlements.push({
              postbackId: row.id,
              status: "dead",
              outcome: null,
              error: decision.error
            })
            break
          default:
            settlements.push({
              postbackId: row.id,
              status: decision.status,
              outcome: decision.outcome,
              error: null
            })
        }
      }
      return { credits, settlements }
    }

    /** Credits and settles `rows` in one transaction; the number credited now. */
    const commit = Effect.fn("Worker.commit")(function* (rows: ReadonlyArray<ClaimedRow>) {
      const { credits, settlements } = settle(rows)
      const creditedNow = yield* useSql("credit postbacks", () =>
        sql.transaction(async (tx) => {
          const creditedNow = await credit(tx, id, credits)
          await finish(tx, id, settlements)
          return creditedNow.length
        })
      )
      for (const s of settlements) {
        yield* Metric.update(Metric.withAttributes(processed, { status: s.status }), 1)
      }
      return creditedNow
    })

    /** Back to `pending` after the retry policy's delay, or `dead` when it gives up. */
    const retryLater = Effect.fn("Worker.retryLater")(function* (
      rows: ReadonlyArray<ClaimedRow>,
      error: DatabaseError
    ) {
      yield* Metric.update(processingFailures, rows.length)
      yield* Effect.logWarning(
        `Processing failed for postback(s) ${rows.map((r) => r.id).join(", ")}; retrying later`,
        error.message
      )
      yield* useSql("schedule retries", () =>
        scheduleRetry(
          sql,
          id,
          rows.map((row) => ({
            postbackId: row.id,
            delaySeconds: policy.retryDelay(row.attempts)
          })),
          error.message
        )
      ).pipe(
        // If even that fails the database is gone; the lease brings the rows back.
        Effect.catchTag("DatabaseError", () => Effect.void)
      )
    })

    const runBatch: Effect.Effect<BatchReport> = Effect.gen(function* () {
      const rows = yield* useSql("claim postbacks", () =>
        claim(sql, id, leaseSeconds, config.workerBatchSize)
      )
      if (rows.length === 0) return { claimed: 0, credited: 0, failed: 0 }
      const batch = yield* Effect.result(commit(rows))
      if (Result.isSuccess(batch)) {
        return { claimed: rows.length, credited: batch.success, failed: 0 }
      }
      if (rows.length === 1) {
        yield* retryLater(rows, batch.failure)
        return { claimed: 1, credited: 0, failed: 1 }
      }
      // One bad row must not hold the others back: settle each on its own,
      // and retry only those that fail alone.
      let credited = 0
      let failed = 0
      for (const row of rows) {
        const single = yield* Effect.result(commit([row]))
        if (Result.isSuccess(single)) {
          credited += single.success
        } else {
          failed++
          yield* retryLater([row], single.failure)
        }
      }
      return { claimed: rows.length, credited, failed }
    }).pipe(
      Effect.catchTag("DatabaseError", (error) =>
        Effect.logWarning("Worker could not claim postbacks", error.message).pipe(
          Effect.as({ claimed: 0, credited: 0, failed: 0 })
        )
      ),
      Effect.withSpan("Worker.runBatch")
    )

    const drain = Effect.gen(function* () {
      let total = 0
      for (;;) {
        const report = yield* runBatch
        total += report.claimed - report.failed
        if (report.claimed === 0 || report.failed === report.claimed) return total
      }
    })

    return Worker.of({ id, runBatch, drain })
  })

  static readonly layer: Layer.Layer<Worker, never, Database | ReceiverConfig | RewardPolicy> =
    Layer.effect(Worker, Worker.make)
}

/**
 * The worker's loop as a background layer. Each batch is uninterruptible, so
 * shutdown waits for the batch in hand and then stops; between batches it
 * sleeps until woken by new postbacks or the poll interval passes.
 */
export const WorkerLoopLive: Layer.Layer<
  never,
  never,
  Worker | WakeSignal | Database | ReceiverConfig
> = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* ReceiverConfig
    if (!config.workerEnabled) {
      yield* Effect.logInfo("Worker disabled (WORKER_ENABLED=false)")
      return
    }
    const worker = yield* Worker
    const wake = yield* WakeSignal
    const { sql } = yield* Database
    if (sql.dialect === "postgres") {
      // Other replicas' ingests reach this worker through NOTIFY.
      yield* Effect.acquireRelease(
        useSql("listen", () => sql.listen("postbacks_pending", wake.signal)),
        (unlisten) => Effect.promise(() => unlisten().catch(() => {}))
      ).pipe(
        Effect.catchTag("DatabaseError", (error) =>
          Effect.logWarning("LISTEN failed; polling only", error.message)
        )
      )
    }
    const loop = Effect.gen(function* () {
      for (;;) {
        const report = yield* Effect.uninterruptible(worker.runBatch)
        if (report.claimed < config.workerBatchSize || report.failed > 0) {
          yield* wake.await(config.workerPollInterval)
        }
      }
    }).pipe(
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.void
          : Effect.logError("Worker loop crashed; restarting", cause).pipe(
              Effect.andThen(Effect.sleep(config.workerPollInterval))
            )
      ),
      Effect.forever
    )
    yield* Effect.logInfo(`Worker ${worker.id} started`)
    yield* Effect.forkScoped(loop)
  })
)
