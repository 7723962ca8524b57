import { resolve } from "node:path"
import { Context, Duration, Effect, Layer, Metric, Option } from "effect"
import { invalidSetting, ReceiverConfig } from "../Config.ts"
import { Database } from "../Db/Database.ts"
import type { RawRequest } from "../Db/schema.ts"
import { GroupCommit, type Stored, StoreRefused, StoreUnavailable } from "../Ingest/GroupCommit.ts"
import type { InboxRow } from "../Ingest/InboxSql.ts"
import type { FoundEntry, SpoolEntry } from "./Entry.ts"
import { Journal } from "./Journal.ts"
import { lockSpoolDir } from "./Lock.ts"

/** A postback made durable in the spool's journal, not yet in the database. */
export interface Spooled {
  readonly spooled: true
  /** True when the journal already held this postback (a retry while the database is away). */
  readonly duplicate: boolean
}

/**
 * What the spool is doing: `idle` (every postback goes to the database),
 * `spooling` (the database is away: postbacks go to the journal),
 * `replaying` (the database is back: the journal is being written to it),
 * `stopped` (replay stopped at a damaged entry: a person must skip it).
 */
export type SpoolState = "idle" | "spooling" | "replaying" | "stopped"

/** The spool as `/healthz` and the console show it. */
export interface SpoolStatus {
  readonly state: SpoolState
  /** Postbacks in the journal, waiting for the database. */
  readonly entries: number
  readonly bytes: number
  /** Age of the oldest one, in seconds (0 when none). */
  readonly oldestAgeSeconds: number
  /** Why replay stopped, and how to go on (state `stopped`). */
  readonly problem: string | null
}

const entriesGauge = Metric.gauge("receiver_spool_entries", {
  description: "Postbacks in the local spool's journal, waiting for the database"
})
const bytesGauge = Metric.gauge("receiver_spool_bytes", {
  description: "Bytes of the local spool's journal (SPOOL_MAX_BYTES bounds it)"
})
const oldestGauge = Metric.gauge("receiver_spool_oldest_age_seconds", {
  description:
    "Age of the oldest postback in the local spool (0 when empty; SPOOL_MAX_AGE_HOURS bounds it)"
})
const activeGauge = Metric.gauge("receiver_spool_active", {
  description: "1 while postbacks are answered from the local spool (the database is away), else 0"
})
const replayedCounter = Metric.counter("receiver_spool_replayed_total", {
  description: "Spooled postbacks written to the database by replay (its rate is the replay rate)",
  incremental: true
})

/**
 * Where accepted postbacks go: the group commit, and with `SPOOL_DIR` set,
 * a local journal when the database cannot take them.
 *
 * With the spool on, a postback the database could not commit (it failed,
 * did not commit within `DATABASE_TIMEOUT_MS`, or too many already wait)
 * is appended to the journal, and acknowledged once the journal's write is
 * durable; from then on every postback goes straight to the journal, while
 * the database is asked every `SPOOL_PROBE_MS` whether it is back. When it
 * answers, postbacks go to it again, and the journal is replayed in order
 * through the same group commit (idempotent on the dedup key), each
 * segment deleted once all its entries are committed. A postback the
 * database refuses for its data (never an outage) is not spooled: it is
 * refused as before.
 */
export class Spool extends Context.Service<
  Spool,
  {
    /**
     * Stores an accepted postback; `resolve` runs once it is committed in
     * the database ({@link Stored}) or durable in the journal
     * ({@link Spooled}). `request` is read only when it goes to the journal.
     */
    readonly enqueue: (
      row: InboxRow,
      request: () => RawRequest,
      resolve: (outcome: Stored | Spooled) => void,
      reject: (error: Error) => void
    ) => void
    /** What the spool holds and does; `undefined` when it is off (no `SPOOL_DIR`). */
    readonly status: () => SpoolStatus | undefined
  }
>()("@org/receiver/Spool") {
  /**
   * The spool from the settings: off without `SPOOL_DIR` (postbacks go to
   * the group commit alone). `SPOOL_DIR` without `DATABASE_URL` fails the
   * start: the embedded database runs in this process and has no outage of
   * its own to outlive. Takes the folder's lock, reads the journal (a torn
   * last write is cut away and logged, damage is logged), and runs the
   * probe and replay loop until its scope closes.
   */
  static readonly layer = Layer.effect(
    Spool,
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      const groupCommit = yield* GroupCommit
      if (Option.isNone(config.spoolDir)) {
        return Spool.of({
          enqueue: (row, _request, resolve, reject) => groupCommit.enqueue(row, resolve, reject),
          status: () => undefined
        })
      }
      // SPOOL_DIR without DATABASE_URL is refused with the settings (Config.ts).
      const { sql } = yield* Database
      const dir = resolve(config.spoolDir.value)
      const context = yield* Effect.context<never>()
      const runFork = Effect.runForkWith(context)
      yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () =>
            lockSpoolDir(dir, (error) => {
              Effect.runSyncWith(context)(
                Effect.logError(
                  `Lost the lock on SPOOL_DIR ${dir} to another process (${error.message}); exiting so that only one process writes the journal`
                )
              )
              process.exit(1)
            }),
          catch: (cause) => invalidSetting("SPOOL_DIR", String((cause as Error).message ?? cause))
        }),
        (release) => Effect.promise(() => release().catch(() => {}))
      )
      const journal = yield* Effect.acquireRelease(
        Effect.try({
          try: () =>
            Journal.open({
              dir,
              segmentBytes: config.spoolSegmentBytes,
              maxBytes: config.spoolMaxBytes,
              maxAgeMs: Duration.toMillis(config.spoolMaxAge),
              onWarning: (message) => runFork(Effect.logWarning(`Spool: ${message}`))
            }),
          catch: (cause) =>
            invalidSetting(
              "SPOOL_DIR",
              `SPOOL_DIR ${dir}: the journal cannot be read: ${(cause as Error).message ?? cause}`
            )
        }),
        (journal) => Effect.promise(() => journal.close())
      )
      if (journal.tornTail !== undefined) {
        const torn = journal.tornTail
        yield* Effect.logWarning(
          `Spool: cut away a torn last write of ${torn.bytes} bytes at offset ${torn.offset} of ${torn.file} (${torn.reason}): a write the receiver was killed in, never acknowledged`
        )
      }
      const maxQueue = config.ingestMaxQueue ?? config.ingestBatchSize * config.ingestMaxInFlight
      const state = new SpoolMachine(
        journal,
        groupCommit,
        Math.max(1, Math.min(config.ingestBatchSize, Math.floor(maxQueue / 2))),
        (message) => runFork(Effect.logError(`Spool: ${message}`))
      )
      const start = journal.stats()
      if (start.entries > 0) {
        yield* Effect.logWarning(
          `Spool: ${start.entries} postbacks in ${dir} wait for the database; replaying them once it answers`
        )
      }

      const reportNow = () => {
        const { entries, bytes, oldest } = journal.stats()
        entriesGauge.updateUnsafe(entries, context)
        bytesGauge.updateUnsafe(bytes, context)
        oldestGauge.updateUnsafe(
          oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000),
          context
        )
        activeGauge.updateUnsafe(state.mode === "spooling" ? 1 : 0, context)
      }
      const report = Effect.sync(() => {
        reportNow()
        // Checks the age bound (and warns past 80%) even when nothing is appended.
        journal.full()
      })
      const ping = Effect.tryPromise(() => sql.query("SELECT 1")).pipe(
        Effect.as(true),
        Effect.orElseSucceed(() => false)
      )
      let lastStopLog = 0
      const step = Effect.gen(function* () {
        yield* report
        if (state.stopped !== undefined) {
          if (Date.now() - lastStopLog > 60_000) {
            lastStopLog = Date.now()
            yield* Effect.logError(`Spool: replay stopped: ${state.stopped}`)
          }
          return
        }
        if (journal.stats().entries === 0 && state.mode === "direct") return
        if (state.mode === "spooling") {
          if (!(yield* ping)) return
          state.mode = "direct"
          yield* Effect.logWarning(
            `Spool: the database answers again; postbacks go to it, and ${journal.stats().entries} spooled postbacks are replayed`
          )
        }
        const outcome = yield* Effect.promise(() =>
          state.replay((n) => {
            replayedCounter.updateUnsafe(n, context)
            reportNow()
          })
        )
        yield* report
        if (outcome._tag === "Done" && outcome.replayed > 0) {
          yield* Effect.logWarning(
            `Spool: replayed ${outcome.replayed} postbacks; the journal is empty`
          )
        } else if (outcome._tag === "Unavailable") {
          yield* Effect.logWarning(
            `Spool: replay paused, the database is away again (${outcome.reason}); ${journal.stats().entries} postbacks wait`
          )
        } else if (outcome._tag === "Stopped") {
          lastStopLog = Date.now()
          yield* Effect.logError(`Spool: replay stopped: ${outcome.problem}`)
        }
      })
      const interval = config.spoolProbeInterval
      yield* step.pipe(Effect.andThen(Effect.sleep(interval)), Effect.forever, Effect.forkScoped)

      const enqueue = (
        row: InboxRow,
        request: () => RawRequest,
        resolve: (outcome: Stored | Spooled) => void,
        reject: (error: Error) => void
      ): void => {
        const toJournal = () =>
          journal.append({ row, request: request() } satisfies SpoolEntry, (error, duplicate) => {
            if (error !== undefined) reject(error)
            else {
              if (!duplicate) reportNow()
              resolve({ spooled: true, duplicate })
            }
          })
        if (state.mode === "spooling") {
          toJournal()
          return
        }
        groupCommit.enqueue(row, resolve, (error) => {
          if (!(error instanceof StoreUnavailable)) {
            reject(error)
            return
          }
          if (state.mode === "direct") {
            state.mode = "spooling"
            runFork(
              Effect.logWarning(
                `Spool: the database cannot take postbacks (${error.message}); they go to the spool in ${dir} until it answers again`
              )
            )
          }
          toJournal()
        })
      }

      return Spool.of({
        enqueue,
        status: () => {
          const { entries, bytes, oldest } = journal.stats()
          return {
            state:
              state.stopped !== undefined
                ? "stopped"
                : state.mode === "spooling"
                  ? "spooling"
                  : entries > 0
                    ? "replaying"
                    : "idle",
            entries,
            bytes,
            oldestAgeSeconds:
              oldest === undefined ? 0 : Math.max(0, Math.floor((Date.now() - oldest) / 1000)),
            problem: state.stopped ?? null
          }
        }
      })
    })
  )
}

/** How one replay ended. */
export type ReplayOutcome =
  | { readonly _tag: "Done"; readonly replayed: number }
  | { readonly _tag: "Unavailable"; readonly replayed: number; readonly reason: string }
  | { readonly _tag: "Stopped"; readonly replayed: number; readonly problem: string }

/**
 * The spool's state and its replay, apart from the layer so that the rules
 * read in one place: `mode` says where new postbacks go (`direct`: the
 * database, falling back to the journal; `spooling`: the journal at once).
 */
export class SpoolMachine {
  mode: "direct" | "spooling" = "direct"
  /** Why replay stopped for good (a damaged entry), if it did. */
  stopped: string | undefined
  /** Per segment, the offset replay has committed up to (a later replay starts there). */
  private readonly done = new Map<number, number>()

  constructor(
    private readonly journal: Journal,
    private readonly groupCommit: GroupCommit["Service"],
    /** Postbacks submitted at once (at most half of `INGEST_MAX_QUEUE`, so live ones fit beside them). */
    private readonly chunk: number,
    /** Told of a postback that could be stored neither as it is nor as a rejected request. */
    private readonly onUnstorable: (message: string) => void
  ) {}

  /**
   * Writes every sealed segment to the database, in order, in chunks of
   * `chunk` postbacks through the group commit (where live postbacks join
   * them in the same statements), and deletes each segment once all its
   * entries are committed. Stops when the database fails (the segment
   * stays; the entries committed so far are skipped by the next replay of
   * this process, or are duplicates of stored rows after a restart), and
   * at a damaged entry (its segment stays; see `receiver spool skip`).
   */
  async replay(onReplayed: (n: number) => void): Promise<ReplayOutcome> {
    let replayed = 0
    const segments = await this.journal.seal()
    for (const segment of segments) {
      const parsed = await this.journal.read(segment)
      const damage = parsed.damaged[0]
      const from = this.done.get(segment.seq) ?? 0
      const entries = parsed.entries.filter(
        (e) => e.offset >= from && (damage === undefined || e.offset < damage.offset)
      )
      for (let i = 0; i < entries.length; i += this.chunk) {
        const slice = entries.slice(i, i + this.chunk)
        const failure = await this.store(slice)
        if (failure !== undefined) {
          this.mode = "spooling"
          return { _tag: "Unavailable", replayed, reason: failure }
        }
        const last = slice.at(-1)!
        this.done.set(segment.seq, last.offset + last.bytes)
        replayed += slice.length
        onReplayed(slice.length)
      }
      if (damage !== undefined) {
        const at = damage.offset
        this.stopped = `${segment.path} is damaged at offset ${at} (${damage.reason}); the ${replayed} postbacks before it are stored, the damaged entry cannot be read back. Stop the receiver, look with "receiver spool inspect", and skip it with "receiver spool skip --segment ${segment.seq} --offset ${at}" (the bytes are kept beside the journal); replay goes on at the next start`
        return { _tag: "Stopped", replayed, problem: this.stopped }
      }
      await this.journal.remove(segment)
      this.done.delete(segment.seq)
    }
    return { _tag: "Done", replayed }
  }

  /**
   * Stores the entries of one chunk; the reason, when the database cannot
   * take them now. A postback the database refuses for its data is kept as
   * a rejected request with the reason (as the edge keeps one): its sender
   * was answered `200` long ago, so it must not vanish.
   */
  private async store(entries: ReadonlyArray<FoundEntry>): Promise<string | undefined> {
    const results = await Promise.allSettled(
      entries.map(({ entry }) =>
        this.groupCommit.submit({ ...entry.row, replayed: true }).catch((error: unknown) => {
          if (!(error instanceof StoreRefused)) throw error
          return this.groupCommit
            .submitRejected({
              source: entry.row.source,
              request: entry.request,
              errors: [
                {
                  path: "",
                  message: `the database refused the postback replayed from the spool: ${error.message}`
                }
              ],
              httpStatus: 200,
              receivedAt: entry.row.receivedAt,
              test: entry.row.test
            })
            .catch((again: unknown) => {
              if (!(again instanceof StoreRefused)) throw again
              this.onUnstorable(
                `a spooled postback (dedup key ${entry.row.dedupKey}, offer ${entry.row.offerId}, payout ${entry.row.payout}, received ${entry.row.receivedAt?.toISOString()}) was refused by the database for its data, and its request too: ${again.message}`
              )
              return 0
            })
        })
      )
    )
    const failed = results.find((r) => r.status === "rejected")
    if (failed === undefined) return undefined
    const reason = (failed as PromiseRejectedResult).reason
    return reason instanceof Error ? reason.message : String(reason)
  }
}
