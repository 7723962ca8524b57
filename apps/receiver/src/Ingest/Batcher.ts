import { Context, Duration, Effect, Layer, Metric } from "effect"
import { ReceiverConfig } from "../Config.ts"
import { Database, type SqlRunner } from "../Db/Database.ts"
import { WakeSignal } from "../Worker/WakeSignal.ts"
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

/** The batch could not be written: the request must not be acknowledged. */
export class StoreUnavailable extends Error {
  override readonly name = "StoreUnavailable"
}

/** The row itself cannot be stored (the database refused its data). */
export class StoreRefused extends Error {
  override readonly name = "StoreRefused"
}

const batchRows = Metric.histogram("receiver_ingest_batch_rows", {
  description: "Postbacks written per ingest statement",
  boundaries: Metric.exponentialBoundaries({ start: 1, factor: 2, count: 10 })
})

interface Waiter {
  readonly row: InboxRow
  readonly resolve: (stored: Stored) => void
  readonly reject: (error: Error) => void
}

interface RejectedWaiter {
  readonly row: RejectedRow
  readonly done: () => void
}

export interface BatcherOptions {
  /** Flush as soon as this many postbacks wait. */
  readonly maxBatch: number
  /** Flush at the latest this long after the first postback of a batch arrived. */
  readonly maxWaitMs: number
  /** Batches written at the same time (each on its own connection). */
  readonly maxInFlight: number
}

/**
 * Group commit for the ingest path: concurrent requests are written with one
 * multi-row INSERT per tick, and each request's promise settles only after
 * its batch has COMMITTED, so a `200` is never sent for a row that is not on
 * disk. Plain promises and arrays, no fiber per request: this sits on the
 * hottest path of the service, where a per-request Effect queue and deferred
 * measurably cost throughput.
 */
export class GroupCommit {
  private queue: Array<Waiter> = []
  private rejected: Array<RejectedWaiter> = []
  private timer: ReturnType<typeof setTimeout> | undefined
  private immediate: ReturnType<typeof setImmediate> | undefined
  private inFlight = 0
  private closed = false
  private readonly idle: Array<() => void> = []

  constructor(
    private readonly sql: SqlRunner,
    private readonly options: BatcherOptions,
    private readonly onCommitted: (inserted: number) => void = () => {},
    /** Where the batch-size metric is recorded (the default metric registry if empty). */
    private readonly context: Context.Context<never> = Context.empty()
  ) {}

  /** Stores one accepted postback; resolves after commit. */
  submit(row: InboxRow): Promise<Stored> {
    return new Promise<Stored>((resolve, reject) => this.enqueue(row, resolve, reject))
  }

  /**
   * {@link submit} with callbacks instead of a promise: the HTTP edge calls
   * this once per request, and a promise per request is measurable there.
   */
  enqueue(row: InboxRow, resolve: (stored: Stored) => void, reject: (error: Error) => void): void {
    if (this.closed) {
      reject(new StoreUnavailable("the receiver is shutting down"))
      return
    }
    this.queue.push({ row, resolve, reject })
    this.schedule()
  }

  /** Keeps a rejected request for debugging; never fails (losing it only costs a debug row). */
  submitRejected(row: RejectedRow): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise<void>((done) => {
      this.rejected.push({ row, done })
      this.schedule()
    })
  }

  /** Rows waiting for a batch. */
  get waiting(): number {
    return this.queue.length + this.rejected.length
  }

  /** Refuses new rows, writes what waits, and resolves when nothing is in flight. */
  close(): Promise<void> {
    this.closed = true
    this.flushNow()
    return this.inFlight === 0 && this.waiting === 0
      ? Promise.resolve()
      : new Promise((resolve) => this.idle.push(resolve))
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
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.flushNow()
      }, this.options.maxWaitMs)
    }
  }

  private flushNow(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    // Requests arriving while every slot is busy wait for the next free slot,
    // which takes all of them at once: the batch grows with the load.
    while (this.inFlight < this.options.maxInFlight && this.waiting > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch)
      const rejected = this.rejected.splice(0, Math.max(0, this.options.maxBatch - batch.length))
      this.inFlight++
      void this.write(batch, rejected).finally(() => {
        this.inFlight--
        if (this.waiting > 0) {
          if (this.closed || this.waiting >= this.options.maxBatch) this.flushNow()
          else this.schedule()
        } else if (this.inFlight === 0) {
          for (const resolve of this.idle.splice(0)) resolve()
        }
      })
    }
  }

  private async write(batch: Array<Waiter>, rejected: Array<RejectedWaiter>): Promise<void> {
    if (rejected.length > 0) {
      await insertRejected(
        this.sql,
        rejected.map((w) => w.row)
      ).catch(() => {})
      for (const w of rejected) w.done()
    }
    if (batch.length === 0) return
    // Retries of one postback can meet in one batch: fold them into one row.
    const groups = new Map<string, Array<Waiter>>()
    for (const waiter of batch) {
      const group = groups.get(waiter.row.dedupKey)
      if (group === undefined) groups.set(waiter.row.dedupKey, [waiter])
      else group.push(waiter)
    }
    const rows = Array.from(groups.values(), (group) =>
      group.length === 1 ? group[0]!.row : { ...group[0]!.row, deliveryCount: group.length }
    )
    try {
      const result = await insertPostbacks(this.sql, rows)
      batchRows.updateUnsafe(rows.length, this.context)
      this.settle(groups, result)
      this.onCommitted(result.length)
    } catch (error) {
      if (isDataError(error) && rows.length > 1) {
        // One row the database refuses must not fail its neighbours: write
        // each group alone, so only the offending request is refused.
        await Promise.all(Array.from(groups, ([key, group]) => this.writeAlone(key, group)))
        this.onCommitted(rows.length)
      } else {
        const failure = new StoreUnavailable(errorMessage(error))
        for (const waiter of batch) waiter.reject(failure)
      }
    }
  }

  private async writeAlone(key: string, group: Array<Waiter>): Promise<void> {
    const row =
      group.length === 1 ? group[0]!.row : { ...group[0]!.row, deliveryCount: group.length }
    try {
      this.settle(new Map([[key, group]]), await insertPostbacks(this.sql, [row]))
    } catch (error) {
      const failure = isDataError(error)
        ? new StoreRefused(errorMessage(error))
        : new StoreUnavailable(errorMessage(error))
      for (const waiter of group) waiter.reject(failure)
    }
  }

  private settle(groups: Map<string, Array<Waiter>>, result: ReadonlyArray<InsertedRow>): void {
    for (const stored of result) {
      const group = groups.get(stored.dedupKey)
      if (group === undefined) continue
      groups.delete(stored.dedupKey)
      group.forEach((waiter, i) => {
        waiter.resolve({ id: stored.id, duplicate: !stored.inserted || i > 0 })
      })
    }
    // A key the database did not return was not written: never acknowledge it.
    for (const group of groups.values()) {
      for (const waiter of group)
        waiter.reject(new StoreUnavailable("row missing from the batch result"))
    }
  }
}

const errorMessage = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)

/** SQLSTATE class 22 (data exception): the values, not the database, are at fault. */
const isDataError = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" && code.startsWith("22")
}

/** The ingest batcher as a service; closing its scope writes what waits. */
export class IngestBatcher extends Context.Service<IngestBatcher, GroupCommit>()(
  "@org/receiver/IngestBatcher"
) {
  static readonly layer: Layer.Layer<IngestBatcher, never, Database | ReceiverConfig | WakeSignal> =
    Layer.effect(
      IngestBatcher,
      Effect.gen(function* () {
        const { sql } = yield* Database
        const config = yield* ReceiverConfig
        const wake = yield* WakeSignal
        const context = yield* Effect.context<never>()
        return yield* Effect.acquireRelease(
          Effect.sync(
            () =>
              new GroupCommit(
                sql,
                {
                  maxBatch: config.ingestBatchSize,
                  maxWaitMs: Duration.toMillis(config.ingestBatchWait),
                  maxInFlight: config.ingestMaxInFlight
                },
                (inserted) => {
                  if (inserted > 0) wake.signal()
                },
                context
              )
          ),
          (batcher) => Effect.promise(() => batcher.close())
        )
      })
    )
}
