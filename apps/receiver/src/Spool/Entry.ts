import { crc32 } from "node:zlib"
import type { PostbackSource, RawRequest } from "../Db/schema.ts"
import type { InboxRow } from "../Ingest/InboxSql.ts"

/**
 * One postback in the spool: the inbox row as the ingest edge made it
 * (every value in its wire text: the payout a decimal string, never a
 * number), with the raw request beside it, so that a row the database
 * later refuses for its data is kept as a rejected request an operator can
 * repair, as it would have been had the database answered at once.
 */
export interface SpoolEntry {
  readonly row: InboxRow
  /** The request without its secret (as a rejected row keeps it). */
  readonly request: RawRequest
}

/**
 * The bytes of one entry: a 20-byte header, then the body (UTF-8 JSON).
 *
 * | bytes | field |
 * | --- | --- |
 * | 0-3 | magic `PBSJ` |
 * | 4 | format version, `1` |
 * | 5 | flags: bit 0 set on the last entry of one write (a group of appends) |
 * | 6-7 | zero |
 * | 8-11 | body length, u32 little-endian |
 * | 12-15 | CRC-32 (ISO-HDLC, zlib's) of the body, u32 little-endian |
 * | 16-19 | CRC-32 of bytes 0-15, u32 little-endian |
 *
 * The header has its own checksum, so a damaged length is never trusted
 * (it would make a reader skip, or stop at, the wrong place).
 */
export const HEADER_BYTES = 20
export const MAGIC: Buffer = Buffer.from("PBSJ", "latin1")
export const FORMAT_VERSION = 1
/** Flag bit: this entry ends one write (one group of appends made durable by one fsync). */
export const LAST_OF_WRITE = 1

/** Largest body an entry may have (a postback is a few kilobytes at most). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024

/** The header of a body of `bodyBytes` bytes, `flags` as given. */
export const encodeHeader = (body: Buffer, flags: number): Buffer => {
  const header = Buffer.alloc(HEADER_BYTES)
  MAGIC.copy(header, 0)
  header[4] = FORMAT_VERSION
  header[5] = flags
  header.writeUInt32LE(body.length, 8)
  header.writeUInt32LE(crc32(body), 12)
  header.writeUInt32LE(crc32(header.subarray(0, 16)), 16)
  return header
}

/** The body of an entry: its JSON text as UTF-8. `arrivedAt` (a process-local clock) is left out. */
export const encodeBody = (entry: SpoolEntry): Buffer => {
  const { arrivedAt: _arrivedAt, ...row } = entry.row
  return Buffer.from(
    JSON.stringify({
      row: { ...row, receivedAt: row.receivedAt?.toISOString() ?? null },
      request: entry.request
    }),
    "utf8"
  )
}

/** Why bytes are not an entry, and where. */
export interface Damage {
  readonly offset: number
  readonly reason: string
}

/** What {@link readEntryAt} found at one offset. */
export type ReadResult =
  | {
      readonly _tag: "Entry"
      readonly entry: SpoolEntry
      readonly bytes: number
      readonly lastOfWrite: boolean
    }
  | { readonly _tag: "Damaged"; readonly reason: string }

const SOURCES: ReadonlySet<string> = new Set(["get", "get-template", "post-json", "post-form"])

const text = (value: unknown, field: string): string => {
  if (typeof value !== "string") throw new Error(`${field} is not text`)
  return value
}
const textOrNull = (value: unknown, field: string): string | null =>
  value === null ? null : text(value, field)

/**
 * The entry a checksummed body holds. The checksum already proved the bytes
 * are the ones written; this guards against a body of another format
 * version, naming the field that does not fit.
 */
export const decodeBody = (body: Buffer): SpoolEntry => {
  const parsed = JSON.parse(body.toString("utf8")) as {
    row?: Record<string, unknown>
    request?: unknown
  }
  const row = parsed.row
  if (typeof row !== "object" || row === null) throw new Error("row is missing")
  const status = text(row.status, "row.status")
  if (status !== "pending" && status !== "held") throw new Error(`row.status is ${status}`)
  const source = text(row.source, "row.source")
  if (!SOURCES.has(source)) throw new Error(`row.source is ${source}`)
  const receivedAt = new Date(text(row.receivedAt, "row.receivedAt"))
  if (Number.isNaN(receivedAt.getTime())) throw new Error("row.receivedAt is not a time")
  if (typeof row.isLoyaltyBoost !== "boolean")
    throw new Error("row.isLoyaltyBoost is not true/false")
  if (!Number.isSafeInteger(row.deliveryCount)) throw new Error("row.deliveryCount is not a count")
  const request = parsed.request
  if (typeof request !== "object" || request === null) throw new Error("request is missing")
  return {
    row: {
      dedupKey: text(row.dedupKey, "row.dedupKey"),
      status,
      source: source as PostbackSource,
      offerId: text(row.offerId, "row.offerId"),
      advertiserName: text(row.advertiserName, "row.advertiserName"),
      payout: text(row.payout, "row.payout"),
      occurredAt: text(row.occurredAt, "row.occurredAt"),
      isLoyaltyBoost: row.isLoyaltyBoost,
      payload: text(row.payload, "row.payload"),
      userId: textOrNull(row.userId, "row.userId"),
      deliveryCount: row.deliveryCount as number,
      flags: textOrNull(row.flags, "row.flags"),
      problems: textOrNull(row.problems, "row.problems"),
      receivedAt,
      test: row.test === true
    },
    request: request as RawRequest
  }
}

/** Reads the entry that starts at `offset` of `data`, or says why there is none. */
export const readEntryAt = (data: Buffer, offset: number): ReadResult => {
  const left = data.length - offset
  if (left < HEADER_BYTES) {
    return { _tag: "Damaged", reason: `a header cut short (${left} of ${HEADER_BYTES} bytes)` }
  }
  if (data.compare(MAGIC, 0, 4, offset, offset + 4) !== 0) {
    return { _tag: "Damaged", reason: "no entry starts here (wrong magic bytes)" }
  }
  if (data.readUInt32LE(offset + 16) !== crc32(data.subarray(offset, offset + 16))) {
    return { _tag: "Damaged", reason: "the header's checksum does not match" }
  }
  if (data[offset + 4] !== FORMAT_VERSION) {
    return { _tag: "Damaged", reason: `format version ${data[offset + 4]}, not ${FORMAT_VERSION}` }
  }
  const length = data.readUInt32LE(offset + 8)
  if (length > MAX_BODY_BYTES) {
    return { _tag: "Damaged", reason: `a body of ${length} bytes, more than an entry may have` }
  }
  if (left - HEADER_BYTES < length) {
    return {
      _tag: "Damaged",
      reason: `an entry cut short (${left - HEADER_BYTES} of its ${length} body bytes)`
    }
  }
  const body = data.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length)
  if (data.readUInt32LE(offset + 12) !== crc32(body)) {
    return { _tag: "Damaged", reason: "the body's checksum does not match" }
  }
  try {
    return {
      _tag: "Entry",
      entry: decodeBody(body),
      bytes: HEADER_BYTES + length,
      lastOfWrite: (data[offset + 5]! & LAST_OF_WRITE) !== 0
    }
  } catch (error) {
    return {
      _tag: "Damaged",
      reason: `not a spool entry: ${error instanceof Error ? error.message : String(error)}`
    }
  }
}

/** One whole entry found in a segment, at its offset. */
export interface FoundEntry {
  readonly offset: number
  readonly bytes: number
  readonly entry: SpoolEntry
  readonly lastOfWrite: boolean
}

/** A damaged region of a segment: from `offset` up to `end` (the next whole entry, or the end of the file). */
export interface DamagedRegion extends Damage {
  readonly end: number
  /** A whole entry that ends a write lies after it: acknowledged postbacks follow the damage. */
  readonly entriesFollow: boolean
}

/** Everything a segment's bytes hold: its whole entries, and each damaged region between them. */
export interface ParsedSegment {
  readonly entries: ReadonlyArray<FoundEntry>
  readonly damaged: ReadonlyArray<DamagedRegion>
}

/**
 * Reads a segment from start to end. Where bytes are not an entry, the
 * next whole entry is searched from the following byte (its magic, then
 * both checksums), and reading resumes there; the bytes between are one
 * damaged region.
 */
export const parseSegment = (data: Buffer): ParsedSegment => {
  const entries: Array<FoundEntry> = []
  const damaged: Array<DamagedRegion> = []
  let offset = 0
  while (offset < data.length) {
    const read = readEntryAt(data, offset)
    if (read._tag === "Entry") {
      entries.push({
        offset,
        bytes: read.bytes,
        entry: read.entry,
        lastOfWrite: read.lastOfWrite
      })
      offset += read.bytes
      continue
    }
    const next = nextEntry(data, offset + 1)
    damaged.push({
      offset,
      end: next ?? data.length,
      reason: read.reason,
      entriesFollow: next !== undefined && endsAWriteFrom(data, next)
    })
    offset = next ?? data.length
  }
  return { entries, damaged }
}

/** The offset of the next whole entry at or after `from`. */
const nextEntry = (data: Buffer, from: number): number | undefined => {
  for (let at = data.indexOf(MAGIC, from); at !== -1; at = data.indexOf(MAGIC, at + 1)) {
    if (readEntryAt(data, at)._tag === "Entry") return at
  }
  return undefined
}

/** Whether a whole entry that ends a write is found at or after `from` (whole entries only). */
const endsAWriteFrom = (data: Buffer, from: number): boolean => {
  for (let at: number | undefined = from; at !== undefined; ) {
    const read = readEntryAt(data, at)
    if (read._tag === "Entry") {
      if (read.lastOfWrite) return true
      at += read.bytes
    } else {
      at = nextEntry(data, at + 1)
    }
  }
  return false
}
