import { hostname } from "node:os"
import { delayAfter, exponential } from "@org/postback-retry"
import { Decimal } from "@org/postback-schema"
import {
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Layer,
  LogLevel,
  Metric,
  Random,
  Result
} from "effect"
import { ReceiverConfig } from "../Config.ts"
import { Database, type DatabaseError, type SqlRunner, useSql } from "../Db/Database.ts"
import { enqueueSettled } from "../Forward/OutboxSql.ts"
import { BACKGROUND_FAILURE_REPORT_MS, sampledWarning } from "../SampledLog.ts"
import { WakeSignal } from "../WakeSignal.ts"
import { type Credit, type Decision, RewardPolicy, type Settlement } from "./RewardPolicy.ts"
import { type ClaimedRow, claim, claimIds, type Moved, reschedule, settle } from "./WorkerSql.ts"

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
 * settlement with the reward policy, and writes credits and statuses in the
 * transaction that claimed them (one claim, one settling statement, one
 * commit per batch). Transient failures go back to `pending` after a delay
 * of the worker's retry policy (`WORKER_RETRY_*`), and to `dead` once
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
    // an outage makes every poll fail: one line per 30 s, with the count
    const claimFailed = sampledWarning(BACKGROUND_FAILURE_REPORT_MS)
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
     * One metric update per status and one Info line for each postback that
     * reached a final status (the lines only when Info is enabled: building
     * them is most of the cost of a batch's report).
     */
    const report = Effect.fn("Worker.report")(function* (
      moved: ReadonlyArray<Moved>,
      detail: (postbackId: number) => SettledDetail
    ) {
      const counts = new Map<string, number>()
      for (const row of moved) {
        if (row.status !== "pending") counts.set(row.status, (counts.get(row.status) ?? 0) + 1)
      }
      for (const [status, n] of counts) {
        yield* Metric.update(Metric.withAttributes(processed, { status }), n)
      }
      if (!(yield* LogLevel.isEnabled("Info"))) return
      for (const row of moved) {
        if (row.status === "pending") continue
        const { userId, points, error } = detail(row.postbackId)
        yield* Effect.logInfo("Postback settled").pipe(
          Effect.annotateLogs({
            postbackId: row.postbackId,
            status: row.status,
            points: points.toString(),
            userId,
            ...(row.status === "dead" ? { error } : {})
          })
        )
      }
    })

    /**
     * Claims (with `pick`), plans and settles in one transaction. The rows
     * claimed are handed to `claimed` as soon as the claim returns, so that a
     * failure later in the transaction knows which rows it rolled back.
     */
    const commit = Effect.fn("Worker.commit")(function* (
      pick: (tx: SqlRunner) => Promise<ReadonlyArray<ClaimedRow>>,
      claimed: (rows: ReadonlyArray<ClaimedRow>) => void
    ) {
      const done = yield* useSql("credit postbacks", () =>
        sql.transaction(async (tx) => {
          const rows = await pick(tx)
          claimed(rows)
          if (rows.length === 0) return undefined
          const { credits, settlements } = plan(rows)
          // Sent together (the second does not wait for the first's answer);
          // the events see the settlement, which runs first. An event exists
          // if and only if its settlement committed.
          const [written] = await Promise.all([
            settle(tx, settlements, credits),
            enqueueSettled(
              tx,
              rows.map((row) => row.id)
            )
          ])
          if (written.settled !== rows.length) {
            throw new Error(`settled ${written.settled} of the ${rows.length} postbacks claimed`)
          }
          return { rows, credits, settlements, credited: written.credited }
        })
      )
      if (done === undefined) return { claimed: 0, credited: 0 }
      const points = new Map(done.credits.map((c) => [c.postbackId, c.points]))
      const settlementOf = new Map(done.settlements.map((s) => [s.postbackId, s]))
      const rowOf = new Map(done.rows.map((row) => [row.id, row]))
      yield* report(
        done.settlements.map((s) => ({ postbackId: s.postbackId, status: s.status })),
        (postbackId) => ({
          userId: rowOf.get(postbackId)?.userId ?? null,
          points: points.get(postbackId) ?? 0n,
          error: settlementOf.get(postbackId)?.error ?? null
        })
      )
      return { claimed: done.rows.length, credited: done.credited }
    })

    /**
     * Back to `pending` after the retry delay, or `dead` once the attempts are
     * spent: claimed again (a row another worker has taken since is its own),
     * and rescheduled in that transaction.
     */
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
        sql.transaction(async (tx) => {
          const again = await claimIds(
            tx,
            leaseSeconds,
            rows.map((row) => row.id)
          )
          return reschedule(
            tx,
            again.map((row) => ({ postbackId: row.id, delaySeconds: retryDelay(row.attempts) })),
            error.message
          )
        })
      ).pipe(
        // If even that fails the database is gone: the rows are still
        // pending (the failed transaction rolled back), and are tried again.
        Effect.catchTag("DatabaseError", () => Effect.succeed([]))
      )
      const userOf = new Map(rows.map((row) => [row.id, row.userId]))
      yield* report(moved, (postbackId) => ({
        userId: userOf.get(postbackId) ?? null,
        points: 0n,
        error: error.message
      }))
    })

    const runBatch: Effect.Effect<BatchReport> = Effect.gen(function* () {
      let rows: ReadonlyArray<ClaimedRow> = []
      const batch = yield* Effect.result(
        commit(
          (tx) => claim(tx, leaseSeconds, config.workerBatchSize),
          (claimed) => {
            rows = claimed
          }
        )
      )
      if (Result.isSuccess(batch)) {
        return { claimed: batch.success.claimed, credited: batch.success.credited, failed: 0 }
      }
      if (rows.length === 0) {
        yield* claimFailed("Worker could not claim postbacks", batch.failure.message)
        return { claimed: 0, credited: 0, failed: 0 }
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
        const single = yield* Effect.result(
          commit(
            (tx) => claimIds(tx, leaseSeconds, [row.id]),
            () => {}
          )
        )
        if (Result.isSuccess(single)) {
          credited += single.success.credited
        } else {
          failed++
          yield* retryLater([row], single.failure)
        }
      }
      return { claimed: rows.length, credited, failed }
    }).pipe(Effect.withSpan("Worker.runBatch"))

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
 * shutdown waits for the batch in hand and then stops; after a short batch
 * it sleeps until woken by new postbacks or the poll interval passes, and
 * then until `WORKER_BATCH_WAIT_MS` after that batch's start.
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
      const gather = Duration.toMillis(config.workerBatchWait)
      for (;;) {
        const began = yield* Clock.currentTimeMillis
        const report = yield* Effect.uninterruptible(worker.runBatch)
        if (report.claimed < config.workerBatchSize || report.failed > 0) {
          yield* wake.await(config.workerPollInterval)
          // Under a steady load every ingest commit wakes the worker; a batch
          // per wake-up would be a few dozen rows, each batch paying its
          // claim, statements and commit, and each row updated while the
          // ingest still writes its pages and index leaves. Letting them
          // gather makes fuller batches on pages the ingest has left, for
          // at most WORKER_BATCH_WAIT_MS of crediting lag.
          const wait = gather - ((yield* Clock.currentTimeMillis) - began)
          if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
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
