import { InvalidRequest } from "../Api.ts"

/**
 * Keyset pagination cursors: the key of the last item of a page, as
 * base64url text the client passes back unchanged (`cursor=`). Opaque to
 * clients; a cursor that does not decode is a 400 naming `cursor`.
 */

/** The text of `parts` joined by commas, as base64url. */
export const encodeCursor = (parts: ReadonlyArray<string | number>): string =>
  Buffer.from(parts.join(","), "utf8").toString("base64url")

/** The 400 for a cursor that is not one this API handed out. */
export const invalidCursor = (why: string): InvalidRequest =>
  new InvalidRequest({
    message: `cursor: ${why}; pass the nextCursor of the previous page unchanged`,
    issues: [{ path: "cursor", message: why }]
  })

const BASE64URL = /^[A-Za-z0-9_-]*$/

/** The cursor's text, split at the first `count - 1` commas; undefined when it is not base64url. */
export const decodeCursor = (cursor: string, count: number): ReadonlyArray<string> | undefined => {
  if (!BASE64URL.test(cursor)) return undefined
  const text = Buffer.from(cursor, "base64url").toString("utf8")
  const parts: Array<string> = []
  let rest = text
  for (let i = 1; i < count; i++) {
    const comma = rest.indexOf(",")
    if (comma === -1) return undefined
    parts.push(rest.slice(0, comma))
    rest = rest.slice(comma + 1)
  }
  parts.push(rest)
  return parts
}

// The history's key: the received time at PostgreSQL's microsecond precision
// (a JavaScript Date keeps only milliseconds: two rows in one millisecond
// would be skipped or repeated), and the id.
const RECEIVED_KEY = /^\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/

/** The history's keyset position: `received_at` (exact, as text with microseconds) and `id`. */
export interface HistoryKey {
  readonly receivedAt: string
  readonly id: number
}

/** `receivedAt,id` as a cursor. */
export const encodeHistoryCursor = (key: HistoryKey): string =>
  encodeCursor([key.receivedAt, key.id])

/** A history cursor back to its key, or the 400 naming `cursor`. */
export const decodeHistoryCursor = (cursor: string): HistoryKey | InvalidRequest => {
  const parts = decodeCursor(cursor, 2)
  if (parts === undefined || !RECEIVED_KEY.test(parts[0]!) || !/^[1-9]\d{0,17}$/.test(parts[1]!)) {
    return invalidCursor("is not a cursor of the postback history")
  }
  return { receivedAt: parts[0]!, id: Number(parts[1]) }
}

/** A numeric id as a cursor (ledger entries: newest first by id). */
export const encodeIdCursor = (id: number): string => encodeCursor([id])

/** An id cursor back to its id, or the 400 naming `cursor`. */
export const decodeIdCursor = (cursor: string): number | InvalidRequest => {
  const parts = decodeCursor(cursor, 1)
  return parts !== undefined && /^[1-9]\d{0,17}$/.test(parts[0]!)
    ? Number(parts[0])
    : invalidCursor("is not a cursor of this list")
}

/** A text key (a user id) as a cursor. */
export const encodeTextCursor = (key: string): string => encodeCursor([key])

/** A text cursor back to its key, or the 400 naming `cursor`. */
export const decodeTextCursor = (cursor: string): string | InvalidRequest => {
  const parts = decodeCursor(cursor, 1)
  return parts === undefined || parts[0] === "" || parts[0]!.includes("\u0000")
    ? invalidCursor("is not a cursor of this list")
    : parts[0]!
}
