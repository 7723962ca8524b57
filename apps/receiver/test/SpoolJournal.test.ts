import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { InboxRow } from "../src/Ingest/InboxSql.ts"
import { encodeBody, encodeHeader, parseSegment, type SpoolEntry } from "../src/Spool/Entry.ts"
import {
  Journal,
  type JournalOptions,
  JournalUnavailable,
  SpoolFull,
  segmentName
} from "../src/Spool/Journal.ts"
import { inspectJournal, NothingToSkip, skipDamage } from "../src/Spool/Repair.ts"

const dirOf = () => mkdtempSync(join(tmpdir(), "spool-test-"))

const entryOf = (key: string, payout = "2.10", receivedAt = new Date()): SpoolEntry => {
  const row: InboxRow = {
    dedupKey: key,
    status: "pending",
    source: "post-json",
    offerId: "1511",
    advertiserName: "MomentScience",
    payout,
    occurredAt: "2023-09-20T15:27:40.802Z",
    isLoyaltyBoost: true,
    payload: JSON.stringify({ user_id: `user-${key}` }),
    userId: `user-${key}`,
    deliveryCount: 1,
    flags: null,
    problems: null,
    receivedAt,
    arrivedAt: 12.5,
    test: false
  }
  return {
    row,
    request: {
      method: "POST",
      path: "/postbacks",
      query: {},
      contentType: "application/json",
      body: `{"payout":"${payout}"}`,
      bodyEncoding: "utf8",
      remoteAddress: "127.0.0.1"
    }
  }
}

const options = (dir: string, more: Partial<JournalOptions> = {}): JournalOptions => ({
  dir,
  segmentBytes: 1024 * 1024,
  maxBytes: 64 * 1024 * 1024,
  maxAgeMs: 3_600_000,
  ...more
})

/** Appends every entry in one turn of the event loop; resolves with each one's outcome. */
const appendAll = (journal: Journal, entries: ReadonlyArray<SpoolEntry>) =>
  Effect.promise(() =>
    Promise.all(
      entries.map(
        (entry) =>
          new Promise<{ error: Error | undefined; duplicate: boolean }>((resolve) =>
            journal.append(entry, (error, duplicate) => resolve({ error, duplicate }))
          )
      )
    )
  )

const segmentFiles = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith(".log"))
    .sort()

/** Entries of every segment, in order, as a reader after a restart finds them. */
const keysOnDisk = (dir: string) =>
  segmentFiles(dir).flatMap((name) =>
    parseSegment(readFileSync(join(dir, name))).entries.map((e) => e.entry.row.dedupKey)
  )

describe("spool journal", () => {
  it.effect(
    "one write and one fdatasync for the appends of one turn; entries read back exactly",
    () =>
      Effect.gen(function* () {
        const dir = dirOf()
        const journal = Journal.open(options(dir))
        const entries = Array.from({ length: 50 }, (_, i) =>
          entryOf(`k${i}`, `${i}12345678901234567890.0${i % 10}`)
        )
        const outcomes = yield* appendAll(journal, entries)
        expect(outcomes.every((o) => o.error === undefined && !o.duplicate)).toBe(true)
        // a second turn: its own write
        yield* appendAll(journal, [entryOf("late")])
        const [file] = segmentFiles(dir)
        const parsed = parseSegment(readFileSync(join(dir, file!)))
        expect(parsed.damaged).toEqual([])
        // one write = one group whose last entry carries the flag
        expect(parsed.entries.map((e) => e.lastOfWrite)).toEqual([
          ...Array(49).fill(false),
          true,
          true
        ])
        expect(parsed.entries[7]!.entry.row.payout).toBe("712345678901234567890.07")
        expect(parsed.entries[7]!.entry.row.receivedAt).toEqual(entries[7]!.row.receivedAt)
        expect(parsed.entries[7]!.entry.request).toEqual(entries[7]!.request)
        expect(journal.stats()).toMatchObject({ entries: 51, segments: 1 })
        yield* Effect.promise(() => journal.close())
        const closed = yield* appendAll(journal, [entryOf("after-close")])
        expect(closed[0]!.error).toBeInstanceOf(JournalUnavailable)
      })
  )

  it.effect(
    "a postback already in the journal is a duplicate, in one turn and after a restart",
    () =>
      Effect.gen(function* () {
        const dir = dirOf()
        const journal = Journal.open(options(dir))
        const first = yield* appendAll(journal, [entryOf("a"), entryOf("a"), entryOf("b")])
        expect(first.map((o) => o.duplicate)).toEqual([false, true, false])
        const again = yield* appendAll(journal, [entryOf("b")])
        expect(again[0]).toEqual({ error: undefined, duplicate: true })
        yield* Effect.promise(() => journal.close())
        const reopened = Journal.open(options(dir))
        expect(reopened.has("a")).toBe(true)
        const third = yield* appendAll(reopened, [entryOf("a"), entryOf("c")])
        expect(third.map((o) => o.duplicate)).toEqual([true, false])
        expect(keysOnDisk(dir)).toEqual(["a", "b", "c"])
        yield* Effect.promise(() => reopened.close())
      })
  )

  it.effect("rotates by size, seals, reads and removes segment by segment", () =>
    Effect.gen(function* () {
      const dir = dirOf()
      const size = 20 + encodeBody(entryOf("k00")).length
      const journal = Journal.open(options(dir, { segmentBytes: size * 3 }))
      for (let i = 0; i < 10; i++) yield* appendAll(journal, [entryOf(`k0${i}`)])
      expect(segmentFiles(dir)).toEqual([1, 2, 3, 4].map(segmentName))
      const sealed = yield* Effect.promise(() => journal.seal())
      expect(sealed.map((s) => s.entries)).toEqual([3, 3, 3, 1])
      const read = yield* Effect.promise(() => journal.read(sealed[0]!))
      expect(read.entries.map((e) => e.entry.row.dedupKey)).toEqual(["k00", "k01", "k02"])
      // appends after the seal go to a new segment
      yield* appendAll(journal, [entryOf("new")])
      expect(segmentFiles(dir)).toHaveLength(5)
      yield* Effect.promise(() => journal.remove(sealed[0]!))
      expect(segmentFiles(dir)).toHaveLength(4)
      expect(journal.has("k00")).toBe(false)
      expect(journal.has("k03")).toBe(true)
      expect(journal.stats().entries).toBe(8)
      yield* Effect.promise(() => journal.close())
      // a restart finds the rest, in order
      expect(keysOnDisk(dir)).toEqual(["k03", "k04", "k05", "k06", "k07", "k08", "k09", "new"])
      const reopened = Journal.open(options(dir))
      expect(reopened.stats()).toMatchObject({ entries: 8, segments: 4 })
    })
  )

  it.effect("a torn last write is cut away at start; nothing before it is lost", () =>
    Effect.gen(function* () {
      const dir = dirOf()
      const journal = Journal.open(options(dir))
      yield* appendAll(journal, [entryOf("a"), entryOf("b")])
      yield* Effect.promise(() => journal.close())
      const [file] = segmentFiles(dir)
      const path = join(dir, file!)
      const whole = readFileSync(path).length
      // a crash in the middle of the next write: a header and half a body
      const body = encodeBody(entryOf("torn"))
      appendFileSync(path, Buffer.concat([encodeHeader(body, 1), body.subarray(0, 30)]))
      const reopened = Journal.open(options(dir))
      expect(reopened.tornTail).toMatchObject({ file: path, offset: whole })
      expect(reopened.tornTail?.reason).toMatch(/cut short/)
      expect(readFileSync(path).length).toBe(whole)
      expect(reopened.stats().entries).toBe(2)
      expect(reopened.has("torn")).toBe(false)
      expect(reopened.damage()).toEqual([])
      yield* appendAll(reopened, [entryOf("c")])
      yield* Effect.promise(() => reopened.close())
      expect(keysOnDisk(dir)).toEqual(["a", "b", "c"])
    })
  )

  it.effect(
    "a torn write whose first entry is garbage and whose end never landed is torn, not corrupt",
    () =>
      Effect.gen(function* () {
        const dir = dirOf()
        const journal = Journal.open(options(dir))
        yield* appendAll(journal, [entryOf("a")])
        yield* Effect.promise(() => journal.close())
        const path = join(dir, segmentFiles(dir)[0]!)
        const whole = readFileSync(path).length
        // the torn write's first sectors are zeros, its second entry landed, its last did not
        const second = encodeBody(entryOf("second"))
        appendFileSync(path, Buffer.alloc(300))
        appendFileSync(path, Buffer.concat([encodeHeader(second, 0), second]))
        const reopened = Journal.open(options(dir))
        expect(reopened.tornTail?.offset).toBe(whole)
        expect(reopened.stats().entries).toBe(1)
        expect(reopened.damage()).toEqual([])
      })
  )

  it.effect(
    "a damaged entry in the middle is kept and reported; skipped by hand, the rest reads",
    () =>
      Effect.gen(function* () {
        const dir = dirOf()
        const journal = Journal.open(options(dir))
        for (const key of ["a", "b", "c", "d"]) yield* appendAll(journal, [entryOf(key)])
        yield* Effect.promise(() => journal.close())
        const path = join(dir, segmentFiles(dir)[0]!)
        const data = readFileSync(path)
        const entries = parseSegment(data).entries
        const b = entries[1]!
        data[b.offset + 40] = data[b.offset + 40]! ^ 0xff
        writeFileSync(path, data)

        const reopened = Journal.open(options(dir))
        expect(reopened.tornTail).toBeUndefined()
        const damage = reopened.damage()
        expect(damage).toHaveLength(1)
        expect(damage[0]).toMatchObject({
          offset: b.offset,
          end: b.offset + b.bytes,
          entriesFollow: true,
          reason: "the body's checksum does not match"
        })
        expect(reopened.stats().entries).toBe(3)
        expect(readFileSync(path).length).toBe(data.length)
        expect(inspectJournal(dir)[0]!.damaged).toEqual([
          {
            offset: b.offset,
            bytes: b.bytes,
            reason: "the body's checksum does not match",
            entriesFollow: true
          }
        ])

        expect(() => skipDamage(dir, 1, b.offset + 1)).toThrow(NothingToSkip)
        const skipped = skipDamage(dir, 1, b.offset)
        expect(skipped.bytes).toBe(b.bytes)
        expect(readFileSync(skipped.keptAs)).toEqual(data.subarray(b.offset, b.offset + b.bytes))
        const repaired = Journal.open(options(dir))
        expect(repaired.damage()).toEqual([])
        expect(keysOnDisk(dir)).toEqual(["a", "c", "d"])
      })
  )

  it.effect("a damaged length in a header is caught by the header's checksum", () =>
    Effect.gen(function* () {
      const dir = dirOf()
      const journal = Journal.open(options(dir))
      for (const key of ["a", "b", "c"]) yield* appendAll(journal, [entryOf(key)])
      yield* Effect.promise(() => journal.close())
      const path = join(dir, segmentFiles(dir)[0]!)
      const data = readFileSync(path)
      // the first entry's length now points past the end of the file
      data.writeUInt32LE(10_000_000, 8)
      writeFileSync(path, data)
      const reopened = Journal.open(options(dir))
      // not mistaken for a torn tail (which would drop b and c)
      expect(reopened.tornTail).toBeUndefined()
      expect(reopened.damage()[0]).toMatchObject({
        offset: 0,
        reason: "the header's checksum does not match"
      })
      expect(reopened.stats().entries).toBe(2)
    })
  )

  it.effect("bounded by bytes and by age: refused when full, a warning at 80%", () =>
    Effect.gen(function* () {
      const dir = dirOf()
      const warnings: Array<string> = []
      const size = 20 + encodeBody(entryOf("k0")).length
      let now = Date.now()
      const journal = Journal.open(
        options(dir, {
          maxBytes: size * 5,
          maxAgeMs: 60_000,
          now: () => now,
          onWarning: (m) => warnings.push(m)
        })
      )
      const outcomes = yield* appendAll(
        journal,
        Array.from({ length: 6 }, (_, i) => entryOf(`k${i}`, "2.10", new Date(now)))
      )
      expect(outcomes.map((o) => o.error?.name)).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        "SpoolFull"
      ])
      expect(outcomes[5]!.error?.message).toMatch(/SPOOL_MAX_BYTES/)
      const full = yield* appendAll(journal, [entryOf("more", "2.10", new Date(now))])
      expect(full[0]!.error).toBeInstanceOf(SpoolFull)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatch(/at 100% of a bound/)

      const aged = dirOf()
      const young = Journal.open(
        options(aged, { maxAgeMs: 60_000, now: () => now, onWarning: (m) => warnings.push(m) })
      )
      yield* appendAll(young, [entryOf("old", "2.10", new Date(now))])
      now += 50_000
      expect(young.full()).toBeUndefined()
      expect(warnings.at(-1)).toMatch(/at 83% of a bound.*oldest postback 50 s old/)
      now += 11_000
      const late = yield* appendAll(young, [entryOf("late", "2.10", new Date(now))])
      expect(late[0]!.error).toBeInstanceOf(SpoolFull)
      expect(late[0]!.error?.message).toMatch(/SPOOL_MAX_AGE_HOURS/)
    })
  )
})
