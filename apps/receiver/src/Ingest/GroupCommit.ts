import { Context, Duration, Effect, Layer, Metric } from "effect"
import { clockTimer, type Timer } from "../ClockTimer.ts"
import { ReceiverConfig } from "../Config.ts"
import { Database, DEFAULT_TIMEOUT_MS, type SqlRunner } from "../Db/Database.ts"
import { WakeSignal } from "../WakeSignal.ts"
import {
  type InboxRow,
  type InsertedRow,
  insertPostbacks,
  insertRejected,
  type RejectedRow
} from "./InboxSql.ts"

/** What the sender is told about its postback once the batch has committed. */
export interface Stored {
  readonly id: number
  /** True when this delivery repeated a postback already stored (a retry or replay). */
  readonly duplicate: boolean
}

/**
 * The row was not written: the database did not answer in time or failed,
 * the queue was full, or the receiver is shutting down. The request must not
 * be acknowledged (503: the sender retries).
 */
export class StoreUnavailable extends Error {
  override readonly name: string = "StoreUnavailable"
}

/** The queue was full: refused before anything was tried (503 at once). */
export class QueueFull extends StoreUnavailable {
  override readonly name: string = "QueueFull"
}

/** The database refused the row's data, alone: it can never be stored as it is. */
export class StoreRefused extends Error {
  override readonly name: string = "StoreRefused"
}

const batchRows = Metric.histogram("receiver_ingest_batch_rows", {
  description: "Postbacks written per ingest statement",
  boundaries: Metric.exponentialBoundaries({ start: 1, factor: 2, count: 10 })
})

/** Rows waiting for an ingest batch (the number `INGEST_MAX_QUEUE` bounds). */
export const queueDepth = Metric.gauge("receiver_ingest_queue_depth", {
  description:
    "Requests (accepted and rejected) waiting for an ingest batch; past INGEST_MAX_QUEUE new ones are answered 503 at once"
})

export type { Timer } from "../ClockTimer.ts"

const realTimer: Timer = (ms, f) => {
  const handle = setTimeout(f, ms)
  return () => clearTimeout(handle)
}

export interface GroupCommitOptions {
  /** Flush as soon as this many rows wait. */
  readonly maxBatch: number
  /** Flush at the latest this long after the first row of a batch arrived (0: next turn of the event loop). */
  readonly maxWaitMs: number
  /** Batches written at the same time (each on its own connection). */
  readonly maxInFlight: number
  /**
   * Rows (accepted and rejected) that may wait for a batch; past it a new row
   * is refused at once ({@link QueueFull}). Default `maxBatch × maxInFlight`:
   * one round of batches, so a row waits for at most the batches ahead of it
   * and its own.
   */
  readonly maxQueue?: number | undefined
  /**
   * The longest one batch may take, retries and the isolation of a bad row
   * included (default `DEFAULT_TIMEOUT_MS`); past it its rows are refused
   * with {@link StoreUnavailable} and the next batch starts.
   */
  readonly timeoutMs?: number
  /** Attempts of a statement that fails with a deadlock or serialization failure (default 5). */
  readonly conflictAttempts?: number
  /** Called after each statement that inserted rows, with how many. */
  readonly onCommitted?: (inserted: number) => void
  /** The timer of the batch timeout and of `maxWaitMs` (tests pass the Effect clock's). */
  readonly timer?: Timer
  /** Where the metrics are recorded (the default metric registry if empty). */
  readonly context?: Context.Context<never>
}

interface Waiter {
  readonly row: InboxRow
  readonly resolve: (stored: Stored) => void
  readonly reject: (error: Error) => void
  done: boolean
}

interface RejectedWaiter {
  readonly row: RejectedRow
  readonly resolve: (id: number) => void
  readonly reject: (error: Error) => void
  done: boolean
}

/** Retries of one postback met in one batch: one row, with every delivery's waiter. */
interface Group {
  readonly row: InboxRow
  readonly waiters: Array<Waiter>
}

/** One batch being written: its deadline, and what ended it early. */
interface Attempt {
  expired: boolean
  /** Set once the database failed for a reason that is not the rows' data. */
  unavailable: Error | undefined
}

/**
 * Group commit for the ingest path: concurrent requests are written with one
 * multi-row INSERT per tick, and each request's callback runs only after its
 * batch has COMMITTED, so a `200` is never sent for a row that is not on
 * disk. Plain callbacks and arrays, no fiber per request: this sits on the
 * hottest path of the service, where a per-request Effect queue and deferred
 * measurably cost throughput.
 *
 * Bounded: at most `maxQueue` rows wait (the rest are refused at once), and
 * a batch that has not committed within `timeoutMs` fails its rows, so every
 * row is answered within twice `timeoutMs` plus `maxWaitMs` whatever the
 * database does.
 */
export class GroupCommit extends Context.Service<
  GroupCommit,
  {
    /** Stores one accepted postback; resolves after commit. */
    readonly submit: (row: InboxRow) => Promise<Stored>
    /**
     * `submit` with callbacks instead of a promise: the HTTP edge calls this
     * once per request, and a promise per request is measurable there.
     */
    readonly enqueue: (
      row: InboxRow,
      resolve: (stored: Stored) => void,
      reject: (error: Error) => void
    ) => void
    /** Keeps a rejected request; resolves with its row's id after commit. */
    readonly submitRejected: (row: RejectedRow) => Promise<number>
    /** `submitRejected` with callbacks. */
    readonly enqueueRejected: (
      row: RejectedRow,
      resolve: (id: number) => void,
      reject: (error: Error) => void
    ) => void
    /** Rows waiting for a batch. */
    readonly waiting: () => number
    /** Refuses new rows, writes what waits, and resolves when nothing is in flight. */
    readonly close: () => Promise<void>
  }
>()("@org/receiver/GroupCommit") {
  /** A group commit on `sql` (tests use it without the layer). */
  static readonly make = (sql: SqlRunner, options: GroupCommitOptions): GroupCommit["Service"] => {
    const impl = new GroupCommitImpl(sql, options)
    return {
      submit: (row) => new Promise<Stored>((resolve, reject) => impl.enqueue(row, resolve, reject)),
      enqueue: (row, resolve, reject) => impl.enqueue(row, resolve, reject),
      submitRejected: (row) =>
        new Promise<number>((resolve, reject) => impl.enqueueRejected(row, resolve, reject)),
      enqueueRejected: (row, resolve, reject) => impl.enqueueRejected(row, resolve, reject),
      waiting: () => impl.waiting,
      close: () => impl.close()
    }
  }

  /**
   * The group commit of the receiver, from its settings; it wakes the worker
   * after each commit, and its timers run on the Effect clock. Closing its
   * scope writes what waits.
   */
  static readonly layer: Layer.Layer<GroupCommit, never, Database | ReceiverConfig | WakeSignal> =
    Layer.effect(
      GroupCommit,
      Effect.gen(function* () {
        const { sql } = yield* Database
        const config = yield* ReceiverConfig
        const wake = yield* WakeSignal
        const context = yield* Effect.context<never>()
        const runFork = Effect.runForkWith(context)
        const timer = yield* clockTimer(runFork)
        return yield* Effect.acquireRelease(
          Effect.sync(() =>
            GroupCommit.make(sql, {
              maxBatch: config.ingestBatchSize,
              maxWaitMs: Duration.toMillis(config.ingestBatchWait),
              maxInFlight: config.ingestMaxInFlight,
              maxQueue: config.ingestMaxQueue,
              timeoutMs: config.databaseTimeoutMs,
              onCommitted: () => wake.signal(),
              timer,
              context
            })
          ),
          (groupCommit) => Effect.promise(() => groupCommit.close())
        )
      })
    )
}

/** The state and the write path behind {@link GroupCommit.make}. */
class GroupCommitImpl {
  private queue: Array<Waiter> = []
  private rejected: Array<RejectedWaiter> = []
  private cancelWait: (() => void) | undefined
  private immediate: ReturnType<typeof setImmediate> | undefined
  private inFlight = 0
  private closed = false
  private readonly idle: Array<() => void> = []
  private readonly maxQueue: number
  private readonly timeoutMs: number
  private readonly conflictAttempts: number
  private readonly timer: Timer
  private readonly context: Context.Context<never>

  constructor(
    private readonly sql: SqlRunner,
    private readonly options: GroupCommitOptions
  ) {
    this.maxQueue = options.maxQueue ?? options.maxBatch * options.maxInFlight
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.conflictAttempts = options.conflictAttempts ?? 5
    this.timer = options.timer ?? realTimer
    this.context = options.context ?? Context.empty()
  }

  get waiting(): number {
    return this.queue.length + this.rejected.length
  }

  enqueue(row: InboxRow, resolve: (stored: Stored) => void, reject: (error: Error) => void): void {
    const refused = this.admit()
    if (refused !== undefined) {
      reject(refused)
      return
    }
    this.queue.push({ row, resolve, reject, done: false })
    this.queued()
  }

  enqueueRejected(
    row: RejectedRow,
    resolve: (id: number) => void,
    reject: (error: Error) => void
  ): void {
    const refused = this.admit()
    if (refused !== undefined) {
      reject(refused)
      return
    }
    this.rejected.push({ row, resolve, reject, done: false })
    this.queued()
  }

  close(): Promise<void> {
    this.closed = true
    this.flushNow()
    return this.inFlight === 0 && this.waiting === 0
      ? Promise.resolve()
      : new Promise((resolve) => this.idle.push(resolve))
  }

  private admit(): StoreUnavailable | undefined {
    if (this.closed) return new StoreUnavailable("the receiver is shutting down")
    if (this.waiting >= this.maxQueue) {
      return new QueueFull(
        `the ingest queue is full (${this.maxQueue} requests wait for the database, INGEST_MAX_QUEUE)`
      )
    }
    return undefined
  }

  private queued(): void {
    this.schedule()
    queueDepth.updateUnsafe(this.waiting, this.context)
  }

  private schedule(): void {
    if (this.waiting >= this.options.maxBatch) {
      this.flushNow()
    } else if (this.options.maxWaitMs === 0) {
      // Flush once the requests read in this turn of the event loop are in.
      this.immediate ??= setImmediate(() => {
        this.immediate = undefined
        this.flushNow()
      })
    } else if (this.cancelWait === undefined) {
      this.cancelWait = this.timer(this.options.maxWaitMs, () => {
        this.cancelWait = undefined
        this.flushNow()
      })
    }
  }

  private flushNow(): void {
    if (this.cancelWait !== undefined) {
      this.cancelWait()
      this.cancelWait = undefined
    }
    // Requests arriving while every slot is busy wait for the next free slot,
    // which takes all of them at once: the batch grows with the load.
    while (this.inFlight < this.options.maxInFlight && this.waiting > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch)
      const rejected = this.rejected.splice(0, Math.max(0, this.options.maxBatch - batch.length))
      this.inFlight++
      void this.run(batch, rejected).then(() => {
        this.inFlight--
        if (this.waiting > 0) {
          if (this.closed || this.waiting >= this.options.maxBatch) this.flushNow()
          else this.schedule()
        } else if (this.inFlight === 0) {
          for (const resolve of this.idle.splice(0)) resolve()
        }
        queueDepth.updateUnsafe(this.waiting, this.context)
      })
    }
    queueDepth.updateUnsafe(this.waiting, this.context)
  }

  /**
   * Writes one batch, within `timeoutMs`: at the deadline its unsettled rows
   * are refused and the slot is free for the next batch. A statement still
   * running then is abandoned; were it to commit later, the sender's retry is
   * a duplicate of a stored row (the dedup key), never a second one.
   */
  private run(batch: Array<Waiter>, rejected: Array<RejectedWaiter>): Promise<void> {
    return new Promise<void>((done) => {
      const attempt: Attempt = { expired: false, unavailable: undefined }
      let finished = false
      const finish = () => {
        if (finished) return
        finished = true
        cancel()
        done()
      }
      const cancel = this.timer(this.timeoutMs, () => {
        attempt.expired = true
        const failure = new StoreUnavailable(
          `the database did not commit the batch within ${this.timeoutMs} ms (DATABASE_TIMEOUT_MS)`
        )
        for (const waiter of batch) fail(waiter, failure)
        for (const waiter of rejected) fail(waiter, failure)
        finish()
      })
      this.write(batch, rejected, attempt).then(finish, (error: unknown) => {
        // Not expected (every failure is handled below); never leave a request hanging.
        const failure = new StoreUnavailable(errorMessage(error))
        for (const waiter of batch) fail(waiter, failure)
        for (const waiter of rejected) fail(waiter, failure)
        finish()
      })
    })
  }

  private async write(
    batch: Array<Waiter>,
    rejected: Array<RejectedWaiter>,
    attempt: Attempt
  ): Promise<void> {
    if (rejected.length > 0) await this.writeRejected(rejected, attempt)
    if (batch.length === 0) return
    // Retries of one postback can meet in one batch: fold them into one row.
    const byKey = new Map<string, Group>()
    for (const waiter of batch) {
      const group = byKey.get(waiter.row.dedupKey)
      if (group === undefined)
        byKey.set(waiter.row.dedupKey, { row: waiter.row, waiters: [waiter] })
      else group.waiters.push(waiter)
    }
    await this.writeGroups(Array.from(byKey.values()), attempt)
  }

  /**
   * One statement for `groups`; when the database refuses the data of a row
   * in it, each half is written again on its own, down to the row, so that
   * only the offending requests are refused ({@link StoreRefused}) and their
   * neighbours are stored. Any other failure refuses what is left with
   * {@link StoreUnavailable}.
   */
  private async writeGroups(groups: Array<Group>, attempt: Attempt): Promise<void> {
    const unavailable = this.stopped(attempt)
    if (unavailable !== undefined) {
      for (const group of groups) for (const waiter of group.waiters) fail(waiter, unavailable)
      return
    }
    const rows = groups.map((g) =>
      g.waiters.length === 1 ? g.row : { ...g.row, deliveryCount: g.waiters.length }
    )
    try {
      // One delivery log row per request, the folded retries included.
      const deliveries = groups.flatMap((g) => g.waiters.map((w) => w.row))
      const result = await this.retryingConflicts(attempt, () =>
        insertPostbacks(this.sql, rows, deliveries)
      )
      batchRows.updateUnsafe(rows.length, this.context)
      this.settle(groups, result)
    } catch (error) {
      if (!isDataError(error)) {
        attempt.unavailable ??= new StoreUnavailable(errorMessage(error))
        for (const group of groups) {
          for (const waiter of group.waiters) fail(waiter, attempt.unavailable)
        }
      } else if (groups.length === 1) {
        const refused = new StoreRefused(errorMessage(error))
        for (const waiter of groups[0]!.waiters) fail(waiter, refused)
      } else {
        const half = Math.ceil(groups.length / 2)
        await this.writeGroups(groups.slice(0, half), attempt)
        await this.writeGroups(groups.slice(half), attempt)
      }
    }
  }

  /** Rejected requests, isolated like {@link writeGroups}. */
  private async writeRejected(rejected: Array<RejectedWaiter>, attempt: Attempt): Promise<void> {
    const unavailable = this.stopped(attempt)
    if (unavailable !== undefined) {
      for (const waiter of rejected) fail(waiter, unavailable)
      return
    }
    try {
      const ids = await insertRejected(
        this.sql,
        rejected.map((w) => w.row)
      )
      if (ids.length !== rejected.length) {
        throw new Error(`${rejected.length} rejected rows written, ${ids.length} ids returned`)
      }
      rejected.forEach((waiter, i) => {
        if (!waiter.done) {
          waiter.done = true
          waiter.resolve(ids[i]!)
        }
      })
    } catch (error) {
      if (!isDataError(error)) {
        attempt.unavailable ??= new StoreUnavailable(errorMessage(error))
        for (const waiter of rejected) fail(waiter, attempt.unavailable)
      } else if (rejected.length === 1) {
        fail(rejected[0]!, new StoreRefused(errorMessage(error)))
      } else {
        const half = Math.ceil(rejected.length / 2)
        await this.writeRejected(rejected.slice(0, half), attempt)
        await this.writeRejected(rejected.slice(half), attempt)
      }
    }
  }

  /** Why no further statement of this batch may run, if one may not. */
  private stopped(attempt: Attempt): StoreUnavailable | undefined {
    if (attempt.expired) return new StoreUnavailable("the batch timed out")
    return attempt.unavailable
  }

  /**
   * Runs `statement` again when PostgreSQL aborted it as a deadlock victim or
   * for a serialization failure: its rows did nothing wrong, and the other
   * transaction has gone ahead, so the next attempt normally succeeds.
   */
  private async retryingConflicts<A>(attempt: Attempt, statement: () => Promise<A>): Promise<A> {
    for (let n = 1; ; n++) {
      try {
        return await statement()
      } catch (error) {
        if (!isConflict(error) || n >= this.conflictAttempts || attempt.expired) throw error
      }
    }
  }

  private settle(groups: Array<Group>, result: ReadonlyArray<InsertedRow>): void {
    const byKey = new Map(result.map((stored) => [stored.dedupKey, stored]))
    let inserted = 0
    for (const group of groups) {
      const stored = byKey.get(group.row.dedupKey)
      if (stored === undefined) {
        // A key the database did not return was not written: never acknowledge it.
        const missing = new StoreUnavailable("row missing from the batch result")
        for (const waiter of group.waiters) fail(waiter, missing)
        continue
      }
      if (stored.inserted) inserted++
      group.waiters.forEach((waiter, i) => {
        if (waiter.done) return
        waiter.done = true
        waiter.resolve({ id: stored.id, duplicate: !stored.inserted || i > 0 })
      })
    }
    if (inserted > 0) this.options.onCommitted?.(inserted)
  }
}

const fail = (waiter: Waiter | RejectedWaiter, error: Error): void => {
  if (waiter.done) return
  waiter.done = true
  waiter.reject(error)
}

const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)

const sqlState = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" && code.length === 5 ? code : undefined
}

/**
 * The values, not the database, are at fault: SQLSTATE class 22 (data
 * exception: a value out of range, a NUL in text, an unsupported escape in
 * jsonb) and class 54 (a program limit, such as an index entry too large).
 * Constraint violations (class 23) are not: every constraint of the inbox is
 * the receiver's own doing, and a bug there must give 503 (retried after the
 * fix), never a 400 (a conversion lost).
 */
const isDataError = (error: unknown): boolean => {
  const code = sqlState(error)
  return code !== undefined && (code.startsWith("22") || code.startsWith("54"))
}

/** Deadlock detected (40P01) or serialization failure (40001). */
const isConflict = (error: unknown): boolean => {
  const code = sqlState(error)
  return code === "40P01" || code === "40001"
}
