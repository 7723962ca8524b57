import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync
} from "node:fs"
import { join } from "node:path"
import { parseSegment } from "./Entry.ts"
import { segmentName } from "./Journal.ts"

const SEGMENT_NAME = /^spool-(\d{16})\.log$/

/** One segment as `receiver spool inspect` shows it. */
export interface SegmentReport {
  readonly seq: number
  readonly file: string
  readonly bytes: number
  readonly entries: number
  /** ISO 8601 receipt times of its oldest and newest entries. */
  readonly oldest: string | null
  readonly newest: string | null
  /** Damaged regions: where, how long, why, and whether acknowledged entries follow. */
  readonly damaged: ReadonlyArray<{
    readonly offset: number
    readonly bytes: number
    readonly reason: string
    readonly entriesFollow: boolean
  }>
}

/** Every segment of the journal in `dir`, read without changing anything. */
export const inspectJournal = (dir: string): ReadonlyArray<SegmentReport> =>
  readdirSync(dir)
    .map((name) => SEGMENT_NAME.exec(name))
    .filter((match) => match !== null)
    .map((match) => Number(match[1]))
    .sort((a, b) => a - b)
    .map((seq) => {
      const file = join(dir, segmentName(seq))
      const data = readFileSync(file)
      const parsed = parseSegment(data)
      const times = parsed.entries
        .map((e) => e.entry.row.receivedAt?.getTime())
        .filter((t) => t !== undefined)
      return {
        seq,
        file,
        bytes: data.length,
        entries: parsed.entries.length,
        oldest: times.length === 0 ? null : new Date(Math.min(...times)).toISOString(),
        newest: times.length === 0 ? null : new Date(Math.max(...times)).toISOString(),
        damaged: parsed.damaged.map((d) => ({
          offset: d.offset,
          bytes: d.end - d.offset,
          reason: d.reason,
          entriesFollow: d.entriesFollow
        }))
      }
    })

/** `receiver spool skip` was asked for bytes that are not a damaged region. */
export class NothingToSkip extends Error {
  override readonly name: string = "NothingToSkip"
}

/**
 * Removes the damaged region that starts at `offset` of segment `seq`, by
 * hand, once a person has decided its postbacks are lost to the spool (a
 * damaged entry cannot be read back). Its bytes are kept beside the
 * journal as `spool-<seq>.log.skipped-<offset>` (outside the journal, for
 * forensics), then the segment is rewritten without them: a new file,
 * fsynced, renamed over the old one, and the folder fsynced. Returns the
 * kept file and how many bytes were removed.
 */
export const skipDamage = (
  dir: string,
  seq: number,
  offset: number
): { readonly keptAs: string; readonly bytes: number } => {
  const file = join(dir, segmentName(seq))
  if (!existsSync(file)) {
    throw new NothingToSkip(
      `${dir} has no segment ${seq} (${segmentName(seq)}); see receiver spool inspect`
    )
  }
  const data = readFileSync(file)
  const region = parseSegment(data).damaged.find((d) => d.offset === offset)
  if (region === undefined) {
    const damaged = parseSegment(data).damaged.map((d) => d.offset)
    throw new NothingToSkip(
      `${file}: no damaged region starts at offset ${offset} (${damaged.length === 0 ? "the segment has none" : `damaged regions start at ${damaged.join(", ")}`}); see receiver spool inspect`
    )
  }
  const keptAs = `${file}.skipped-${offset}`
  writeDurably(keptAs, data.subarray(region.offset, region.end))
  const temporary = `${file}.rewrite`
  writeDurably(
    temporary,
    Buffer.concat([data.subarray(0, region.offset), data.subarray(region.end)])
  )
  renameSync(temporary, file)
  const fd = openSync(dir, "r")
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  return { keptAs, bytes: region.end - region.offset }
}

const writeDurably = (path: string, data: Buffer): void => {
  writeFileSync(path, data)
  const fd = openSync(path, "r+")
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
