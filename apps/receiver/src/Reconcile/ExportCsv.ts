import { Decimal } from "@org/postback-schema"
import { type CsvError, parse } from "csv-parse"
import { Data } from "effect"

/**
 * Reading MomentScience's postback history export (the dashboard's "CSV
 * download": event timestamp, offer id, advertiser name, payout, delivery
 * status, the HTTP response code the receiver gave).
 *
 * The dashboard's exact column labels are not published; the labels matched
 * here are the plausible ones (`Event Timestamp`, `Offer ID`, `Advertiser
 * Name`, `Payout`, `Delivery Status`, `Response Code`), their snake_case
 * forms, and the receiver's own history export (`event_time`, `http_status`).
 * Anything else is named with `columns` (`--columns offer_id=Campaign`).
 *
 * Parsing is done by `csv-parse` (RFC 4180, streaming, quoted line breaks,
 * a UTF-8 BOM, and the line number of every record, which Effect's `Csv`
 * decoder does not give; it also fails the whole stream on one bad record,
 * where a broken line here must be reported and the rest read).
 */

/** The export's fields the reconciliation reads (`--columns` names them so). */
export const EXPORT_FIELDS = [
  "timestamp",
  "offer_id",
  "advertiser_name",
  "payout",
  "delivery_status",
  "response_code",
  "user_id",
  "is_loyaltyboost"
] as const

export type ExportField = (typeof EXPORT_FIELDS)[number]

/** How precise the export's timestamps are: a display form without seconds is `minute`. */
export type TimePrecision = "millisecond" | "second" | "minute"

/** One readable row of the export. */
export interface ExportRow {
  /** The 1-based physical line where the record starts (the header is line 1). */
  readonly line: number
  readonly occurredAt: Date
  readonly precision: TimePrecision
  readonly offerId: string
  readonly advertiserName: string | null
  /** USD as exact decimal text without a currency sign (`2.10`). */
  readonly payout: string
  readonly deliveryStatus: "success" | "failed"
  /** The HTTP status MomentScience got from the receiver (null when the export has none). */
  readonly responseCode: number | null
  readonly userId: string | null
  /** `true`/`false` when the export says so, null when it does not. */
  readonly isLoyaltyBoost: boolean | null
  /** Payload values named with `--columns payload.<key>=<label>`. */
  readonly payload: Readonly<Record<string, string>>
  /** Every column the reconciliation does not read, by its label. */
  readonly extra: Readonly<Record<string, string>>
}

/** A record that could not be read: its line and why. */
export interface UnreadableRow {
  readonly line: number
  readonly problem: string
}

export type ExportRecord =
  | ({ readonly _tag: "Row" } & ExportRow)
  | ({ readonly _tag: "Unreadable" } & UnreadableRow)

/** The export as a whole cannot be read (no header, a required column missing, a bad option). */
export class ExportError extends Data.TaggedError("ExportError")<{
  /** The option or column at fault (`columns`, `time_zone`, `payout`...). */
  readonly field: string
  readonly message: string
}> {}

/**
 * How to read an export.
 *
 * - `columns`: field → column label, for labels the matcher does not know
 *   (`{ offer_id: "Campaign" }`); `payload.<key>` takes a payload value.
 * - `timeZone`: IANA zone for timestamps written without an offset
 *   (default `UTC`).
 * - `delimiter`: `,` or `;`; by default the one the header line uses more.
 */
export interface ExportOptions {
  readonly columns?: Readonly<Record<string, string>> | undefined
  readonly timeZone?: string | undefined
  readonly delimiter?: "," | ";" | undefined
}

/** A column label reduced for matching: no case, BOM, spaces, underscores, dashes, dots or brackets. */
export const normalizeLabel = (label: string): string =>
  label
    .replace(/^\uFEFF/, "")
    .toLowerCase()
    .replace(/[\s_\-.()[\]/#:]+/g, "")

const LABELS: Readonly<Record<ExportField, ReadonlyArray<string>>> = {
  timestamp: [
    "eventtimestamp",
    "timestamp",
    "eventtime",
    "eventdate",
    "conversiontime",
    "conversiontimestamp",
    "conversiondate",
    "datetime",
    "date",
    "time",
    "createdat"
  ],
  offer_id: ["offerid", "offer", "campaignid"],
  advertiser_name: ["advertisername", "advertiser"],
  payout: ["payout", "payoutusd", "payoutinusd", "amount", "revenue"],
  delivery_status: ["deliverystatus", "status", "postbackstatus", "delivery"],
  response_code: [
    "responsecode",
    "httpresponsecode",
    "httpresponse",
    "httpstatus",
    "httpstatuscode",
    "statuscode",
    "response",
    "httpcode"
  ],
  user_id: ["userid", "user", "uid"],
  is_loyaltyboost: ["isloyaltyboost", "loyaltyboost"]
}

/**
 * Parses `--columns`: `field=Label` pairs separated by commas
 * (`offer_id=Campaign,payout=Revenue (USD)`, `payload.session_id=Session`).
 * Fails naming the unknown field or the malformed pair.
 */
export const parseColumnsOption = (text: string): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const pair of text.split(",")) {
    if (pair.trim() === "") continue
    const eq = pair.indexOf("=")
    if (eq <= 0 || eq === pair.length - 1) {
      throw new ExportError({
        field: "columns",
        message: `columns: "${pair}" is not field=Label (fields: ${EXPORT_FIELDS.join(", ")}, payload.<key>)`
      })
    }
    const field = pair.slice(0, eq).trim()
    checkColumnField(field)
    out[field] = pair.slice(eq + 1).trim()
  }
  return out
}

const checkColumnField = (field: string): void => {
  if (
    !(EXPORT_FIELDS as ReadonlyArray<string>).includes(field) &&
    !/^payload\.[A-Za-z0-9_]+$/.test(field)
  ) {
    throw new ExportError({
      field: "columns",
      message: `columns: unknown field "${field}" (fields: ${EXPORT_FIELDS.join(", ")}, payload.<key>)`
    })
  }
}

/** Checks an IANA time zone up front; fails naming it. */
export const checkTimeZone = (timeZone: string): string => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone })
    return timeZone
  } catch {
    throw new ExportError({
      field: "time_zone",
      message: `time_zone: "${timeZone}" is not an IANA time zone (e.g. UTC, Europe/Paris, America/New_York)`
    })
  }
}

// Wall-clock time in a zone to UTC. The zone's offset is cached per hour:
// a million rows would otherwise cost two Intl calls each.
const zoneOffsets = new Map<string, { format: Intl.DateTimeFormat; byHour: Map<number, number> }>()

const offsetAt = (timeZone: string, utcMs: number): number => {
  let zone = zoneOffsets.get(timeZone)
  if (zone === undefined) {
    zone = {
      format: new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric"
      }),
      byHour: new Map()
    }
    zoneOffsets.set(timeZone, zone)
  }
  const hour = Math.floor(utcMs / 3_600_000)
  const cached = zone.byHour.get(hour)
  if (cached !== undefined) return cached
  const parts: Record<string, number> = {}
  for (const part of zone.format.formatToParts(new Date(hour * 3_600_000))) {
    if (part.type !== "literal") parts[part.type] = Number(part.value)
  }
  const wall = Date.UTC(
    parts.year!,
    parts.month! - 1,
    parts.day!,
    parts.hour!,
    parts.minute!,
    parts.second!
  )
  const offset = wall - hour * 3_600_000
  if (zone.byHour.size > 100_000) zone.byHour.clear()
  zone.byHour.set(hour, offset)
  return offset
}

const wallToUtc = (wallMs: number, timeZone: string): number => {
  if (timeZone === "UTC") return wallMs
  const first = wallMs - offsetAt(timeZone, wallMs)
  return wallMs - offsetAt(timeZone, first)
}

const MONTHS: Readonly<Record<string, number>> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12
}

const ISO =
  /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,9}))?)?\s*(Z|UTC|[+-]\d\d(?::?\d\d)?)?$/i
// 09/20/2023 3:27:40 PM, 9/20/2023 15:27
const US = /^(\d{1,2})\/(\d{1,2})\/(\d{4}),?\s+(\d{1,2}):(\d\d)(?::(\d\d))?\s*([AP]M)?$/i
// Sep 20, 2023, 3:27:40 PM; 20 Sep 2023 15:27:40
const NAMED_MD =
  /^([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s+(\d{4}),?\s+(?:at\s+)?(\d{1,2}):(\d\d)(?::(\d\d))?\s*([AP]M)?$/i
const NAMED_DM =
  /^(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{4}),?\s+(\d{1,2}):(\d\d)(?::(\d\d))?\s*([AP]M)?$/i
// 20.09.2023 15:27:40 (European spreadsheets)
const DOTTED = /^(\d{1,2})\.(\d{1,2})\.(\d{4}),?\s+(\d{1,2}):(\d\d)(?::(\d\d))?$/

const hour24 = (hour: number, meridiem: string | undefined): number => {
  if (meridiem === undefined) return hour
  const pm = meridiem.toUpperCase() === "PM"
  return (hour % 12) + (pm ? 12 : 0)
}

/**
 * An export timestamp as a UTC instant and its precision. Accepted: ISO 8601
 * (`2023-09-20T15:27:40.802Z`, a space for the `T`, an offset or none) and
 * the display forms `Sep 20, 2023, 3:27:40 PM`, `20 Sep 2023 15:27`,
 * `09/20/2023 15:27:40` (month first) and `20.09.2023 15:27`. A value
 * without an offset is wall-clock time in `timeZone`. Returns a message
 * when the text is none of these.
 */
export const parseExportTime = (
  text: string,
  timeZone: string
): { readonly date: Date; readonly precision: TimePrecision } | string => {
  const value = text.trim()
  let y: number, mo: number, d: number, h: number, mi: number, s: number | undefined
  let ms = 0
  let precision: TimePrecision
  let zone: string | undefined
  const iso = ISO.exec(value)
  const us = iso === null ? US.exec(value) : null
  const named = iso === null && us === null ? (NAMED_MD.exec(value) ?? NAMED_DM.exec(value)) : null
  const dotted = iso === null && us === null && named === null ? DOTTED.exec(value) : null
  if (iso !== null) {
    y = Number(iso[1])
    mo = Number(iso[2])
    d = Number(iso[3])
    h = Number(iso[4])
    mi = Number(iso[5])
    s = iso[6] === undefined ? undefined : Number(iso[6])
    if (iso[7] !== undefined) ms = Number(iso[7].slice(0, 3).padEnd(3, "0"))
    precision = iso[7] !== undefined ? "millisecond" : s !== undefined ? "second" : "minute"
    zone = iso[8]
  } else if (us !== null) {
    mo = Number(us[1])
    d = Number(us[2])
    y = Number(us[3])
    h = hour24(Number(us[4]), us[7])
    mi = Number(us[5])
    s = us[6] === undefined ? undefined : Number(us[6])
    precision = s === undefined ? "minute" : "second"
  } else if (named !== null) {
    const monthFirst = /^[A-Za-z]/.test(value)
    const month = MONTHS[(monthFirst ? named[1]! : named[2]!).toLowerCase()]
    if (month === undefined) return `"${value}" has no month name I know`
    mo = month
    d = Number(monthFirst ? named[2] : named[1])
    y = Number(named[3])
    h = hour24(Number(named[4]), named[7])
    mi = Number(named[5])
    s = named[6] === undefined ? undefined : Number(named[6])
    precision = s === undefined ? "minute" : "second"
  } else if (dotted !== null) {
    d = Number(dotted[1])
    mo = Number(dotted[2])
    y = Number(dotted[3])
    h = Number(dotted[4])
    mi = Number(dotted[5])
    s = dotted[6] === undefined ? undefined : Number(dotted[6])
    precision = s === undefined ? "minute" : "second"
  } else {
    return `"${value}" is not a timestamp (ISO 8601 such as 2023-09-20T15:27:40Z, or the dashboard's form such as Sep 20, 2023, 3:27:40 PM)`
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || (s ?? 0) > 59) {
    return `"${value}" is not a valid date and time`
  }
  const wall = Date.UTC(y, mo - 1, d, h, mi, s ?? 0, ms)
  if (new Date(wall).getUTCDate() !== d) return `"${value}" is not a valid date`
  let utc: number
  if (zone === undefined) utc = wallToUtc(wall, timeZone)
  else if (/^(Z|UTC)$/i.test(zone)) utc = wall
  else {
    const sign = zone.startsWith("-") ? -1 : 1
    const digits = zone.slice(1).replace(":", "")
    const offset = (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || "0")) * 60_000
    utc = wall - sign * offset
  }
  return { date: new Date(utc), precision }
}

/**
 * A payout cell as exact decimal text: a currency sign or code (`$`, `USD`,
 * `€`) and spaces removed; thousands separators understood (`1,234.50`,
 * `1.234,50`); a lone comma is the decimal separator in a `;`-separated
 * export (`2,10`) and when followed by one or two digits. Returns a message
 * when it is not an amount.
 */
export const parsePayout = (text: string, delimiter: "," | ";"): string | { error: string } => {
  let value = text
    .trim()
    .replace(/^(?:USD|US\$|\$|€|EUR)\s*/i, "")
    .replace(/\s*(?:USD|\$|€|EUR)$/i, "")
    .replace(/[\s\u00A0']/g, "")
  const comma = value.lastIndexOf(",")
  const dot = value.lastIndexOf(".")
  if (comma !== -1 && dot !== -1) {
    value = comma > dot ? value.replaceAll(".", "").replace(",", ".") : value.replaceAll(",", "")
  } else if (comma !== -1) {
    const decimalComma = delimiter === ";" ? value.indexOf(",") === comma : /,\d{1,2}$/.test(value)
    value = decimalComma ? value.replace(",", ".") : value.replaceAll(",", "")
  }
  const decimal = /^-?\d+(?:\.\d+)?$/.test(value) ? Decimal.fromString(value) : undefined
  if (decimal === undefined) return { error: `payout: "${text}" is not an amount` }
  return decimal.toString()
}

const SUCCESS = new Set(["success", "successful", "succeeded", "delivered", "ok", "sent", "200"])
const FAILED = new Set(["failed", "failure", "fail", "error", "undelivered", "notdelivered"])

const LOYALTY_TRUE = new Set(["1", "true", "yes", "y"])
const LOYALTY_FALSE = new Set(["0", "false", "no", "n", ""])

/** Where each field is in the header (column index), and the columns kept as `extra`. */
interface Layout {
  readonly index: Partial<Record<ExportField, number>>
  readonly payload: ReadonlyArray<readonly [key: string, index: number]>
  readonly extra: ReadonlyArray<readonly [label: string, index: number]>
  readonly width: number
}

const layoutOf = (
  header: ReadonlyArray<string>,
  columns: Readonly<Record<string, string>>,
  userIdKey: string
): Layout => {
  const labels = header.map((label) => label.replace(/^\uFEFF/, "").trim())
  const normalized = labels.map(normalizeLabel)
  const taken = new Set<number>()
  const index: Partial<Record<ExportField, number>> = {}
  const payload: Array<readonly [string, number]> = []
  const find = (label: string, field: string): number => {
    const at = normalized.indexOf(normalizeLabel(label))
    if (at === -1) {
      throw new ExportError({
        field: "columns",
        message: `columns: ${field}=${label} names no column of the export (its columns: ${labels.join(", ")})`
      })
    }
    return at
  }
  for (const [field, label] of Object.entries(columns)) {
    checkColumnField(field)
    const at = find(label, field)
    taken.add(at)
    if (field.startsWith("payload.")) payload.push([field.slice("payload.".length), at])
    else index[field as ExportField] = at
  }
  const userLabels = [...LABELS.user_id, normalizeLabel(userIdKey)]
  for (const field of EXPORT_FIELDS) {
    if (index[field] !== undefined) continue
    const names = field === "user_id" ? userLabels : LABELS[field]
    // The first known label in preference order wins (`Event Timestamp` over `Date`).
    for (const name of names) {
      const at = normalized.findIndex((label, i) => label === name && !taken.has(i))
      if (at !== -1) {
        index[field] = at
        taken.add(at)
        break
      }
    }
  }
  const required: ReadonlyArray<ExportField> = ["timestamp", "offer_id", "payout"]
  for (const field of required) {
    if (index[field] === undefined) {
      throw new ExportError({
        field,
        message: `the export has no ${field} column (its columns: ${labels.join(", ")}); name it with --columns ${field}=<label>`
      })
    }
  }
  if (index.delivery_status === undefined && index.response_code === undefined) {
    throw new ExportError({
      field: "delivery_status",
      message: `the export has neither a delivery_status nor a response_code column (its columns: ${labels.join(", ")}); name one with --columns delivery_status=<label>`
    })
  }
  const extra = labels.flatMap((label, i) => (taken.has(i) ? [] : [[label, i] as const]))
  return { index, payload, extra, width: labels.length }
}

const readRow = (
  cells: ReadonlyArray<string>,
  line: number,
  layout: Layout,
  timeZone: string,
  delimiter: "," | ";"
): ExportRecord => {
  const unreadable = (problem: string): ExportRecord => ({ _tag: "Unreadable", line, problem })
  if (cells.length !== layout.width) {
    return unreadable(`has ${cells.length} cells where the header has ${layout.width}`)
  }
  const cell = (field: ExportField): string | undefined => {
    const at = layout.index[field]
    return at === undefined ? undefined : cells[at]!.trim()
  }
  const time = parseExportTime(cell("timestamp")!, timeZone)
  if (typeof time === "string") return unreadable(`timestamp: ${time}`)
  const offerId = cell("offer_id")!
  if (offerId === "") return unreadable("offer_id: is empty")
  const payout = parsePayout(cell("payout")!, delimiter)
  if (typeof payout !== "string") return unreadable(payout.error)
  const codeText = cell("response_code")
  let responseCode: number | null = null
  if (codeText !== undefined && codeText !== "" && codeText !== "-") {
    if (!/^\d{3}$/.test(codeText))
      return unreadable(`response_code: "${codeText}" is not an HTTP status`)
    responseCode = Number(codeText)
  }
  const statusText = cell("delivery_status")
  let deliveryStatus: "success" | "failed"
  if (statusText !== undefined && statusText !== "") {
    const status = normalizeLabel(statusText)
    if (SUCCESS.has(status)) deliveryStatus = "success"
    else if (FAILED.has(status)) deliveryStatus = "failed"
    else return unreadable(`delivery_status: "${statusText}" is neither success nor failed`)
  } else if (responseCode !== null) {
    deliveryStatus = responseCode === 200 ? "success" : "failed"
  } else {
    return unreadable("delivery_status: is empty and there is no response code")
  }
  const loyaltyText = cell("is_loyaltyboost")
  let isLoyaltyBoost: boolean | null = null
  if (loyaltyText !== undefined) {
    const value = loyaltyText.toLowerCase()
    if (LOYALTY_TRUE.has(value)) isLoyaltyBoost = true
    else if (LOYALTY_FALSE.has(value)) isLoyaltyBoost = false
    else return unreadable(`is_loyaltyboost: "${loyaltyText}" is neither 1 nor 0`)
  }
  const userId = cell("user_id")
  const advertiser = cell("advertiser_name")
  const payload: Record<string, string> = {}
  for (const [key, at] of layout.payload)
    if (cells[at]!.trim() !== "") payload[key] = cells[at]!.trim()
  const extra: Record<string, string> = {}
  for (const [label, at] of layout.extra) extra[label] = cells[at]!
  return {
    _tag: "Row",
    line,
    occurredAt: time.date,
    precision: time.precision,
    offerId,
    advertiserName: advertiser === undefined || advertiser === "" ? null : advertiser,
    payout,
    deliveryStatus,
    responseCode,
    userId: userId === undefined || userId === "" ? null : userId,
    isLoyaltyBoost,
    payload,
    extra
  }
}

/** The separator the header line uses more of (`;` in European spreadsheet exports). */
const detectDelimiter = (headerLine: string): "," | ";" =>
  (headerLine.match(/;/g)?.length ?? 0) > (headerLine.match(/,/g)?.length ?? 0) ? ";" : ","

/**
 * Reads an export, streaming: every record as a readable row or as an
 * unreadable one with its line number and the reason, in file order. Fails
 * with an {@link ExportError} when the export as a whole cannot be read (no
 * header, a required column missing, a bad option). `userIdKey` (the
 * receiver's `USER_ID_KEY`) is one more label for the user id column.
 */
export async function* readExport(
  source: AsyncIterable<Uint8Array | string>,
  options: ExportOptions & { readonly userIdKey: string }
): AsyncGenerator<ExportRecord> {
  const timeZone = checkTimeZone(options.timeZone ?? "UTC")
  const columns = options.columns ?? {}
  for (const field of Object.keys(columns)) checkColumnField(field)
  const iterator = source[Symbol.asyncIterator]()
  // The first line decides the separator: buffer up to it.
  const decoder = new TextDecoder("utf-8")
  let head = ""
  let ended = false
  while (!head.includes("\n")) {
    const next = await iterator.next()
    if (next.done === true) {
      ended = true
      head += decoder.decode()
      break
    }
    head +=
      typeof next.value === "string" ? next.value : decoder.decode(next.value, { stream: true })
    if (head.length > 1_000_000) break
  }
  const delimiter = options.delimiter ?? detectDelimiter(head.split("\n", 1)[0]!)
  const parser = parse({
    bom: true,
    delimiter,
    relax_column_count: true,
    relax_quotes: false,
    skip_empty_lines: true,
    skip_records_with_error: true,
    info: true
  })
  const skipped: Array<UnreadableRow> = []
  parser.on("skip", (error: CsvError) => {
    skipped.push({
      line: (error as CsvError & { lines?: number }).lines ?? 0,
      problem: `cannot be read as CSV: ${error.message}`
    })
  })
  const feed = async () => {
    try {
      if (head !== "") parser.write(head)
      if (!ended) {
        for (;;) {
          const next = await iterator.next()
          if (next.done === true) break
          const text =
            typeof next.value === "string"
              ? next.value
              : decoder.decode(next.value, { stream: true })
          if (!parser.write(text)) await new Promise((resolve) => parser.once("drain", resolve))
        }
        const rest = decoder.decode()
        if (rest !== "") parser.write(rest)
      }
      parser.end()
    } catch (error) {
      parser.destroy(error as Error)
    }
  }
  const feeding = feed()
  let layout: Layout | undefined
  let done = false
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: Array<string>
      info: { lines: number }
    }>) {
      while (skipped.length > 0) {
        const bad = skipped.shift()!
        yield { _tag: "Unreadable", ...bad }
      }
      if (layout === undefined) {
        layout = layoutOf(record, columns, options.userIdKey)
        continue
      }
      // `info.lines` is where the record ends; a quoted line break moves its start up.
      let breaks = 0
      for (const cell of record) {
        for (let at = cell.indexOf("\n"); at !== -1; at = cell.indexOf("\n", at + 1)) breaks++
      }
      yield readRow(record, info.lines - breaks, layout, timeZone, delimiter)
    }
    await feeding
    done = true
  } finally {
    // Stopped early (a bad header, the consumer gone): release the source.
    if (!done) {
      parser.destroy()
      void iterator.return?.()
    }
  }
  for (const bad of skipped) yield { _tag: "Unreadable", ...bad }
  if (layout === undefined) {
    throw new ExportError({ field: "export", message: "the export is empty: no header line" })
  }
}
