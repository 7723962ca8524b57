import { hostname } from "node:os"
import { delayAfter, exponential } from "@org/postback-retry"
import { Decimal } from "@org/postback-schema"
import { Cause, Context, Duration, Effect, Layer, Metric, Random, Result } from "effect"
import { ReceiverConfig } from "../Config.ts"
import { Database, type DatabaseError, useSql } from "../Db/Database.ts"
import { enqueueSettled } from "../Forward/OutboxSql.ts"
import { WakeSignal } from "../WakeSignal.ts"
import { type Credit, type Decision, RewardPolicy, type Settlement } from "./RewardPolicy.ts"
import { type ClaimedRow, claim, credit, type Moved, reschedule, settle } from "./WorkerSql.ts"

const processed = Metric.counter("receiver_postbacks_processed_total", {
  description:
    "Postbacks the worker settled, by final status (credited, recorded, unattributed, dead)",
  incremental: true
})
const processingFailures = Metric.counter("receiver_processing_failures_total", {
  description:
    "Processing attempts that failed (a database error while settling); each is retried later, or dead after WORKER_MAX_ATTEMPTS",
  incremental: true
})

/** What one pass of the worker did. */
export interface BatchReport {
  readonly claimed: number
  readonly credited: number
  readonly failed: number
}

/** What the settlement log line says about a postback besides its status. */
interface SettledDetail {
  readonly userId: string | null
  readonly points: bigint
  readonly error: string | null
}

/** What a batch writes: the credits and every postback's settlement. */
interface Plan {
  readonly credits: ReadonlyArray<Credit>
  readonly settlements: ReadonlyArray<Settlement>
}

/**
 * The conversion of a claimed row, decided by the policy; a test postback
 * is `recorded` with the reason `test` before the policy is asked. A payout the
 * database holds but the decimal type cannot read is impossible by the
 * schema; should it happen, the row is dead with the reason, not retried.
 */
const decideRow = (policy: RewardPolicy["Service"], row: ClaimedRow): Decision => {
  if (row.test) {
    // A test postback (the console's test button, or MomentScience's "Test
    // endpoint" with the test marker) proves the route works; it never
    // credits anyone, whatever its LoyaltyBoost flag and user id say.
    return {
      credit: undefined,
      settlement: {
        postbackId: row.id,
        status: "recorded",
        explanation: {
          credited: false,
          reason: "test",
          payout: row.payout,
          points: "0",
          summary: "a test postback credits nobody: recorded"
        },
        error: null
      }
    }
  }
  const payout = Decimal.fromString(row.payout)
  if (payout === undefined) {
    return {
      credit: undefined,
      settlement: {
        postbackId: row.id,
        status: "dead",
        explanation: null,
        error: `payout: ${JSON.stringify(row.payout)} is not a decimal`
      }
    }
  }
  return policy.decide({
    postbackId: row.id,
    payout,
    offerId: row.offerId,
    advertiserName: row.advertiserName,
    isLoyaltyBoost: row.isLoyaltyBoost,
    occurredAt: row.occurredAt,
    userId: row.userId
  })
}

/**
 * Processes the inbox: claims ready postbacks in batches, plans each one's
 * settlement with the reward policy, and writes credits and statuses in one
 * transaction per batch. Transient failures go back to `pending` after a
 * delay of the worker's retry policy (`WORKER_RETRY_*`), and to `dead` once
 * `WORKER_MAX_ATTEMPTS` are spent. Every postback that reaches a final
 * status is counted once in `receiver_postbacks_processed_total` and logged
 * once at Info.
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
    // The jitter draws from Effect's Random, so a test can fix it.
    const random = yield* Random.Random
    const id = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
    const leaseSeconds = Math.max(1, Math.round(Duration.toSeconds(config.workerLease)))
    const retryPolicy = exponential({
      baseSeconds: Duration.toSeconds(config.workerRetryBase),
      factor: 2,
      capSeconds: Duration.toSeconds(config.workerRetryCap),
      maxAttempts: config.workerMaxAttempts,
      jitter: "full"
    })
    /** Seconds before the next attempt after `attempts` failed ones, or `undefined`: dead. */
    const retryDelay = (attempts: number): number | undefined =>
      delayAfter(retryPolicy, attempts, { random: () => random.nextDoubleUnsafe() })

    /** Decides every row; writes nothing. */
    const plan = (rows: ReadonlyArray<ClaimedRow>): Plan => {
      const credits: Array<Credit> = []
      const settlements: Array<Settlement> = []
      for (const row of rows) {
        const decision = decideRow(policy, row)
        if (decision.credit !== undefined) credits.push(decision.credit)
        settlements.push(decision.settlement)
      }
      return { credits, settlements }
    }

    /**
     * One metric update and one Info line for each postback that reached a
     * final status, counted from what the statement changed (a row whose
     * lease another worker took over is that worker's to report).
     */
    const report = Effect.fn("Worker.report")(function* (
      moved: ReadonlyArray<Moved>,
      details: ReadonlyMap<number, SettledDetail>
    ) {
      for (const row of moved) {
        if (row.status === "pending") continue
        yield* Metric.update(Metric.withAttributes(processed, { status: row.status }), 1)
        const detail = details.get(row.postbackId)
        yield* Effect.logInfo("Postback settled").pipe(
          Effect.annotateLogs({
            postbackId: row.postbackId,
            status: row.status,
            points: (detail?.points ?? 0n).toString(),
            userId: detail?.userId ?? null,
            ...(row.status === "dead" ? { error: detail?.error ?? null } : {})
          })
        )
      }
    })

    /** Credits and settles `rows` in one transaction; the number credited now. */
    const commit = Effect.fn("Worker.commit")(function* (rows: ReadonlyArray<ClaimedRow>) {
      const { credits, settlements } = plan(rows)
      const { creditedNow, settled } = yield* useSql("credit postbacks", () =>
        sql.transaction(async (tx) => {
          const creditedNow = await credit(tx, id, credits)
          const settled = await settle(tx, id, settlements)
          // The forwarded events, in the settlement's transaction: an event
          // exists if and only if its settlement committed.
          await enqueueSettled(
            tx,
            settled.filter((s) => s.status !== "pending").map((s) => s.postbackId)
          )
          return { creditedNow, settled }
        })
      )
      const points = new Map(credits.map((c) => [c.postbackId, c.points]))
      const errors = new Map(settlements.map((s) => [s.postbackId, s.error]))
      yield* report(
        settled,
        new Map(
          rows.map((row) => [
            row.id,
            {
              userId: row.userId,
              points: points.get(row.id) ?? 0n,
              error: errors.get(row.id) ?? null
            }
          ])
        )
      )
      return creditedNow.length
    })

    /** Back to `pending` after the retry delay, or `dead` once the attempts are spent. */
    const retryLater = Effect.fn("Worker.retryLater")(function* (
      rows: ReadonlyArray<ClaimedRow>,
      error: DatabaseError
    ) {
      yield* Metric.update(processingFailures, rows.length)
      yield* Effect.logWarning(
        `Processing failed for postback(s) ${rows.map((r) => r.id).join(", ")}; retrying later`,
        error.message
      )
      const moved = yield* useSql("schedule retries", () =>
        reschedule(
          sql,
          id,
          rows.map((row) => ({ postbackId: row.id, delaySeconds: retryDelay(row.attempts) })),
          error.message
        )
      ).pipe(
        // If even that fails the database is gone; the lease brings the rows back.
        Effect.catchTag("DatabaseError", () => Effect.succeed([]))
      )
      yield* report(
        moved,
        new Map(
          rows.map((row) => [row.id, { userId: row.userId, points: 0n, error: error.message }])
        )
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
