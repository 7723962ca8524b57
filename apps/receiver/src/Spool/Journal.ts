import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync
} from "node:fs"
import { type FileHandle, open, readFile, unlink } from "node:fs/promises"
import { join } from "node:path"
import {
  type DamagedRegion,
  encodeBody,
  encodeHeader,
  HEADER_BYTES,
  LAST_OF_WRITE,
  type ParsedSegment,
  parseSegment,
  type SpoolEntry
} from "./Entry.ts"

/** The spool refuses a postback: it is full (bytes or age), so the sender must retry (503). */
export class SpoolFull extends Error {
  override readonly name: string = "SpoolFull"
}

/** The journal cannot take a postback: it is closed, or its disk failed it (503). */
export class JournalUnavailable extends Error {
  override readonly name: string = "JournalUnavailable"
}

/** `spool-<sequence, 16 digits>.log`. */
const SEGMENT_NAME = /^spool-(\d{16})\.log$/

/** The file name of segment `seq`. */
export const segmentName = (seq: number): string => `spool-${String(seq).padStart(16, "0")}.log`

/** One segment file of the journal and what it holds. */
export interface Segment {
  readonly seq: number
  readonly path: string
  /** Bytes of whole entries (and damaged regions, for a segment found damaged at start). */
  bytes: number
  entries: number
  /** Wall-clock milliseconds of its oldest entry's receipt. */
  oldest: number | undefined
  /** Dedup keys of its entries. */
  readonly keys: Array<string>
  /** Damaged regions found at start (never in a segment written since). */
  readonly damaged: ReadonlyArray<DamagedRegion>
}

/** A torn last write found at start and cut away (it was never acknowledged). */
export interface TornTail {
  readonly file: string
  readonly offset: number
  readonly bytes: number
  readonly reason: string
}

export interface JournalOptions {
  /** The folder of the segment files (created if missing). */
  readonly dir: string
  /** A segment takes appends until it holds this many bytes; the next write starts a new one. */
  readonly segmentBytes: number
  /** Bytes the journal may hold; an append past it is refused ({@link SpoolFull}). */
  readonly maxBytes: number
  /** Age of the oldest entry past which appends are refused ({@link SpoolFull}), in milliseconds. */
  readonly maxAgeMs: number
  /** The wall clock, in milliseconds (the entries' receipt times are on it). */
  readonly now?: () => number
  /**
   * Called when the journal passes 80% of a bound (bytes or age), once until
   * it falls back under it.
   */
  readonly onWarning?: (message: string) => void
}

/** What the journal holds now. */
export interface JournalStats {
  readonly entries: number
  readonly bytes: number
  /** Wall-clock milliseconds of the oldest entry's receipt, if any. */
  readonly oldest: number | undefined
  readonly segments: number
}

interface Pending {
  readonly key: string
  readonly body: Buffer
  readonly receivedAt: number
  readonly done: (error: Error | undefined, duplicate: boolean) => void
}

/** The fraction of a bound past which the journal warns. */
export const WARN_RATIO = 0.8

/**
 * The spool's append-only journal: segment files of checksummed entries in
 * one folder, written by one process (the caller holds the folder's lock).
 *
 * Appends are grouped like the ingest path's commits: the appends of one
 * turn of the event loop are written with one `write` and made durable by
 * one `fdatasync` (and, when that write starts a segment, an `fsync` of the
 * folder, so the new file's name survives a crash too); each append's
 * callback runs only after that. Appends arriving while a write is in
 * flight wait for the next one, which takes all of them: groups grow with
 * the load.
 *
 * Identity: a postback whose dedup key an entry of the journal already
 * holds is not written again; its callback says `duplicate`, once the
 * entry it repeats is durable.
 */
export class Journal {
  private readonly segments: Array<Segment> = []
  private readonly keys = new Map<string, number>()
  private active: { readonly segment: Segment; readonly handle: FileHandle } | undefined
  private nextSeq: number
  private pending: Array<Pending> = []
  private pendingBytes = 0
  private scheduled = false
  private chain: Promise<void> = Promise.resolve()
  private closed = false
  private broken: Error | undefined
  private warned = false
  private readonly now: () => number

  private constructor(
    private readonly options: JournalOptions,
    /** The torn last write cut away at start, if there was one. */
    readonly tornTail: TornTail | undefined
  ) {
    this.now = options.now ?? Date.now
    this.nextSeq = 1
  }

  /**
   * Opens the journal in `options.dir` and reads every segment: each entry
   * is checked (both checksums). A damaged end of the last segment that no
   * completed write follows is a write torn by a crash, never acknowledged:
   * it is cut away (see {@link Journal.tornTail}). Damage anywhere else is
   * kept and reported by {@link Journal.damage}. Empty segments are removed.
   */
  static open(options: JournalOptions): Journal {
    mkdirSync(options.dir, { recursive: true })
    const names = readdirSync(options.dir)
      .map((name) => ({ name, match: SEGMENT_NAME.exec(name) }))
      .filter((f) => f.match !== null)
      .map((f) => ({ name: f.name, seq: Number(f.match![1]) }))
      .sort((a, b) => a.seq - b.seq)
    let torn: TornTail | undefined
    const found: Array<Segment> = []
    names.forEach(({ name, seq }, i) => {
      const path = join(options.dir, name)
      let data = readFileSync(path)
      let parsed = parseSegment(data)
      if (i === names.length - 1) {
        // Writes are serial and each is made durable before the next
        // starts: only the last write of the last segment can be torn, and
        // then no completed write follows its damage.
        const tear = parsed.damaged.find((d) => !d.entriesFollow)
        if (tear !== undefined) {
          torn = {
            file: path,
            offset: tear.offset,
            bytes: data.length - tear.offset,
            reason: tear.reason
          }
          const fd = openSync(path, "r+")
          try {
            ftruncateSync(fd, tear.offset)
            fdatasyncSync(fd)
          } finally {
            closeSync(fd)
          }
          data = data.subarray(0, tear.offset)
          parsed = parseSegment(data)
        }
      }
      if (parsed.entries.length === 0 && parsed.damaged.length === 0) {
        unlinkSync(path)
        return
      }
      found.push(segmentOf(seq, path, data.length, parsed))
    })
    if (torn !== undefined || found.length < names.length) syncDirSync(options.dir)
    const journal = new Journal(options, torn)
    for (const segment of found) {
      journal.segments.push(segment)
      for (const key of segment.keys) journal.keys.set(key, segment.seq)
    }
    journal.nextSeq = (names.at(-1)?.seq ?? 0) + 1
    return journal
  }

  /** Entries, bytes, the oldest entry's receipt time, segments. */
  stats(): JournalStats {
    let entries = 0
    let bytes = 0
    let oldest: number | undefined
    for (const segment of this.segments) {
      entries += segment.entries
      bytes += segment.bytes
      if (segment.oldest !== undefined && (oldest === undefined || segment.oldest < oldest))
        oldest = segment.oldest
    }
    return { entries, bytes, oldest, segments: this.segments.length }
  }

  /** Whether an entry of the journal holds `dedupKey`. */
  has(dedupKey: string): boolean {
    return this.keys.has(dedupKey)
  }

  /** Damaged regions found at start, in segment order (replay stops at the first). */
  damage(): ReadonlyArray<DamagedRegion & { readonly segment: Segment }> {
    return this.segments.flatMap((segment) => segment.damaged.map((d) => ({ ...d, segment })))
  }

  /**
   * Appends `entry`; `done` runs once it is durable (`duplicate` when an
   * entry already held its dedup key), or with the error that kept it out:
   * {@link SpoolFull} at once when the journal is at a bound,
   * {@link JournalUnavailable} when it is closed or its disk failed.
   */
  append(entry: SpoolEntry, done: (error: Error | undefined, duplicate: boolean) => void): void {
    if (this.closed) {
      done(new JournalUnavailable("the spool is closed (the receiver is shutting down)"), false)
      return
    }
    if (this.broken !== undefined) {
      done(new JournalUnavailable(`the spool's disk failed: ${this.broken.message}`), false)
      return
    }
    const full = this.full()
    if (full !== undefined) {
      done(new SpoolFull(full), false)
      return
    }
    const body = encodeBody(entry)
    const size = HEADER_BYTES + body.length
    const { bytes } = this.stats()
    if (bytes + this.pendingBytes + size > this.options.maxBytes) {
      done(
        new SpoolFull(
          `the spool is full: ${bytes + this.pendingBytes} of ${this.options.maxBytes} bytes (SPOOL_MAX_BYTES)`
        ),
        false
      )
      return
    }
    this.pending.push({
      key: entry.row.dedupKey,
      body,
      receivedAt: entry.row.receivedAt?.getTime() ?? this.now(),
      done
    })
    this.pendingBytes += size
    if (!this.scheduled) {
      this.scheduled = true
      // Once the appends of this turn of the event loop are in.
      setImmediate(() => {
        void this.serial(() => {
          this.scheduled = false
          return this.flush()
        })
      })
    }
  }

  /**
   * Why an append would be refused now (the age bound, or the bytes bound
   * already reached), or `undefined`. Warns (once) past 80% of a bound.
   */
  full(): string | undefined {
    const { bytes, oldest } = this.stats()
    const age = oldest === undefined ? 0 : this.now() - oldest
    const ratio = Math.max(bytes / this.options.maxBytes, age / this.options.maxAgeMs)
    if (ratio >= WARN_RATIO && !this.warned) {
      this.warned = true
      this.options.onWarning?.(
        `the spool is at ${Math.floor(ratio * 100)}% of a bound: ${bytes} of ${this.options.maxBytes} bytes (SPOOL_MAX_BYTES), oldest postback ${Math.floor(age / 1000)} s old of ${Math.floor(this.options.maxAgeMs / 1000)} s (SPOOL_MAX_AGE_HOURS); at 100% postbacks are answered 503`
      )
    } else if (ratio < WARN_RATIO) {
      this.warned = false
    }
    if (age > this.options.maxAgeMs) {
      return `the spool is full: its oldest postback is ${Math.floor(age / 1000)} s old, more than SPOOL_MAX_AGE_HOURS allows`
    }
    if (bytes >= this.options.maxBytes) {
      return `the spool is full: ${bytes} of ${this.options.maxBytes} bytes (SPOOL_MAX_BYTES)`
    }
    return undefined
  }

  /**
   * Ends the segment being written: later appends go to a new one, and
   * every segment the journal holds now can be replayed and removed. Runs
   * after the write in flight, if any.
   */
  seal(): Promise<ReadonlyArray<Segment>> {
    return this.serial(async () => {
      await this.closeActive()
      return [...this.segments]
    })
  }

  /** Reads a segment that is no longer written (see {@link Journal.seal}). */
  async read(segment: Segment): Promise<ParsedSegment> {
    if (this.active?.segment === segment) throw new Error(`${segment.path} is still being written`)
    return parseSegment(await readFile(segment.path))
  }

  /**
   * Deletes a segment whose entries are all stored elsewhere (and fsyncs
   * the folder); its dedup keys leave the journal's identity.
   */
  remove(segment: Segment): Promise<void> {
    return this.serial(async () => {
      if (this.active?.segment === segment)
        throw new Error(`${segment.path} is still being written`)
      await unlink(segment.path)
      await syncDir(this.options.dir)
      const at = this.segments.indexOf(segment)
      if (at >= 0) this.segments.splice(at, 1)
      for (const key of segment.keys) {
        if (this.keys.get(key) === segment.seq) this.keys.delete(key)
      }
    })
  }

  /** Writes what waits, then refuses appends and closes the segment being written. */
  close(): Promise<void> {
    if (this.closed) return this.chain
    this.closed = true
    return this.serial(async () => {
      await this.flush()
      await this.closeActive()
    })
  }

  /** Runs `f` after everything queued before it (writes, seals, removals never overlap). */
  private serial<A>(f: () => Promise<A>): Promise<A> {
    const result = this.chain.then(f)
    this.chain = result.then(
      () => undefined,
      () => undefined
    )
    return result
  }

  private async closeActive(): Promise<void> {
    const active = this.active
    if (active === undefined) return
    this.active = undefined
    await active.handle.close()
  }

  /** Writes the appends that wait, as one write and one fdatasync. */
  private async flush(): Promise<void> {
    const group = this.pending
    this.pending = []
    this.pendingBytes = 0
    if (group.length === 0) return
    const writes: Array<Pending> = []
    const duplicates: Array<Pending> = []
    const inGroup = new Set<string>()
    for (const item of group) {
      if (this.keys.has(item.key) || inGroup.has(item.key)) duplicates.push(item)
      else {
        inGroup.add(item.key)
        writes.push(item)
      }
    }
    if (writes.length === 0) {
      for (const item of duplicates) item.done(undefined, true)
      return
    }
    if (this.broken !== undefined) {
      const error = new JournalUnavailable(`the spool's disk failed: ${this.broken.message}`)
      for (const item of group) item.done(error, false)
      return
    }
    const parts: Array<Buffer> = []
    writes.forEach((item, i) => {
      parts.push(encodeHeader(item.body, i === writes.length - 1 ? LAST_OF_WRITE : 0), item.body)
    })
    const data = Buffer.concat(parts)
    let written: { readonly segment: Segment; readonly handle: FileHandle } | undefined
    let before = 0
    try {
      written = await this.segmentFor(data.length)
      before = written.segment.bytes
      for (let at = 0; at < data.length; ) {
        const { bytesWritten } = await written.handle.write(data, at, data.length - at)
        at += bytesWritten
      }
      await written.handle.datasync()
    } catch (error) {
      const cause = error instanceof Error ? error : new Error(String(error))
      await this.undo(written, before, cause)
      const failure = new JournalUnavailable(`the spool could not write: ${cause.message}`)
      for (const item of group) item.done(failure, false)
      return
    }
    const { segment } = written
    segment.bytes += data.length
    segment.entries += writes.length
    for (const item of writes) {
      this.keys.set(item.key, segment.seq)
      segment.keys.push(item.key)
      if (segment.oldest === undefined || item.receivedAt < segment.oldest)
        segment.oldest = item.receivedAt
    }
    for (const item of writes) item.done(undefined, false)
    for (const item of duplicates) item.done(undefined, true)
  }

  /**
   * A failed write may have left part of its bytes: they are cut away, so
   * that the next write follows whole entries. When even that fails, the
   * disk cannot be trusted and the journal refuses every append from now on.
   */
  private async undo(
    written: { readonly segment: Segment; readonly handle: FileHandle } | undefined,
    before: number,
    cause: Error
  ): Promise<void> {
    if (written === undefined) return
    try {
      await written.handle.truncate(before)
      await written.handle.datasync()
    } catch {
      this.broken = cause
    }
  }

  /** The segment the next `bytes` go to: the one being written, or a new one past `segmentBytes`. */
  private async segmentFor(
    bytes: number
  ): Promise<{ readonly segment: Segment; readonly handle: FileHandle }> {
    const active = this.active
    if (
      active !== undefined &&
      (active.segment.bytes === 0 || active.segment.bytes + bytes <= this.options.segmentBytes)
    ) {
      return active
    }
    await this.closeActive()
    const seq = this.nextSeq++
    const path = join(this.options.dir, segmentName(seq))
    const handle = await open(path, "wx")
    try {
      // The new file's name must survive a crash as its entries do.
      await syncDir(this.options.dir)
    } catch (error) {
      await handle.close()
      await unlink(path).catch(() => {})
      throw error
    }
    const segment: Segment = {
      seq,
      path,
      bytes: 0,
      entries: 0,
      oldest: undefined,
      keys: [],
      damaged: []
    }
    this.segments.push(segment)
    this.active = { segment, handle }
    return this.active
  }
}

const segmentOf = (seq: number, path: string, bytes: number, parsed: ParsedSegment): Segment => {
  let oldest: number | undefined
  for (const { entry } of parsed.entries) {
    const at = entry.row.receivedAt?.getTime()
    if (at !== undefined && (oldest === undefined || at < oldest)) oldest = at
  }
  return {
    seq,
    path,
    bytes,
    entries: parsed.entries.length,
    oldest,
    keys: parsed.entries.map((e) => e.entry.row.dedupKey),
    damaged: parsed.damaged
  }
}

/** `fsync` of a folder: the names created or removed in it survive a crash. */
const syncDir = async (dir: string): Promise<void> => {
  const handle = await open(dir, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

const syncDirSync = (dir: string): void => {
  const fd = openSync(dir, "r")
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
