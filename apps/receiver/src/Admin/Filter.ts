import type { PostbackSource } from "@org/postback-handler"
import { and, eq, gte, inArray, isNotNull, isNull, lt, type SQL, sql } from "drizzle-orm"
import { DateTime, Schema } from "effect"
import { POSTBACK_STATUSES, type PostbackStatus, postbacks } from "../Db/schema.ts"

/**
 * The console's postback filter: one definition for the history list, the
 * summary, the series, the CSV export and replay-by-filter. Every field is
 * optional; absent fields do not filter. The query parameters (all text):
 *
 * - `preset`: a received range in the filter's time zone (see {@link FILTER_PRESETS})
 * - `timeZone`: an IANA time zone name for the presets and the series' buckets
 *   (default: `CONSOLE_TIME_ZONE`, itself `UTC` by default)
 * - `receivedFrom`, `receivedTo`: ISO 8601 instants with an offset or `Z`;
 *   from inclusive, to exclusive. Together with a preset, both bound the
 *   result (the ranges intersect).
 * - `occurredFrom`, `occurredTo`: the same on the conversion time
 * - `status`: a comma-separated list of postback statuses (`dead,held`)
 * - `offerId`, `userId`: exact
 * - `advertiser`: exact, case-insensitive
 * - `loyaltyBoost`: `true|false`
 * - `source`: `get|get-template|post-json|post-form`
 * - `flagged`: `true`: rows the ingest core flagged; `false`: rows without flags
 * - `test`: `true`: test postbacks only; `false`: none; absent: both
 */
export const FILTER_PRESETS = [
  "today",
  "yesterday",
  "last_7_days",
  "last_30_days",
  "this_month",
  "last_month"
] as const

/** A named received range (see {@link presetRange}). */
export type FilterPreset = (typeof FILTER_PRESETS)[number]

/** How a postback arrived: the `PostbackSource` values of `@org/postback-handler`. */
export const POSTBACK_SOURCES = [
  "get",
  "get-template",
  "post-json",
  "post-form"
] as const satisfies ReadonlyArray<PostbackSource>

// An instant: a date, a time and a zone designator (`Z` or `+02:00`), so it
// names one moment whatever the server's time zone.
const INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:\d\d)$/i

/** An ISO 8601 instant as text (`2026-03-08T05:00:00Z`, `2026-03-08T00:00:00-05:00`). */
export const Instant = Schema.String.check(
  Schema.makeFilter((text: string) =>
    INSTANT.test(text) && !Number.isNaN(Date.parse(text))
      ? true
      : 'must be an ISO 8601 instant with a zone designator, e.g. "2026-03-08T05:00:00Z"'
  )
).annotate({ description: "An ISO 8601 instant (with Z or an offset)" })

/** True when `name` is a time zone the runtime knows (IANA names, `UTC`). */
export const isTimeZone = (name: string): boolean => DateTime.zoneMakeNamed(name)._tag === "Some"

/** An IANA time zone name (`America/New_York`, `UTC`). */
export const TimeZoneName = Schema.String.check(
  Schema.makeFilter((name: string) =>
    isTimeZone(name) ? true : `is not an IANA time zone name (e.g. "Europe/Berlin", "UTC")`
  )
).annotate({ description: "An IANA time zone name" })

const STATUS_SET: ReadonlySet<string> = new Set(POSTBACK_STATUSES)

/** Comma-separated postback statuses (`dead,held`). */
export const StatusList = Schema.String.check(
  Schema.makeFilter((text: string) => {
    const unknown = text
      .split(",")
      .map((s) => s.trim())
      .filter((s) => !STATUS_SET.has(s))
    return unknown.length === 0
      ? true
      : `${unknown.map((s) => JSON.stringify(s)).join(", ")} ${unknown.length === 1 ? "is not a status" : "are not statuses"}: use a comma-separated list of ${POSTBACK_STATUSES.join(", ")}`
  })
).annotate({ description: `Comma-separated statuses (${POSTBACK_STATUSES.join(", ")})` })

/**
 * The filter's fields, for `query:` of an endpoint (each decodes from the
 * query string's text) or inside a JSON body (replay by filter).
 */
export const PostbackFilterFields = {
  preset: Schema.optional(Schema.Literals(FILTER_PRESETS)),
  timeZone: Schema.optional(TimeZoneName),
  receivedFrom: Schema.optional(Instant),
  receivedTo: Schema.optional(Instant),
  occurredFrom: Schema.optional(Instant),
  occurredTo: Schema.optional(Instant),
  status: Schema.optional(StatusList),
  offerId: Schema.optional(Schema.String),
  advertiser: Schema.optional(Schema.String),
  userId: Schema.optional(Schema.String),
  loyaltyBoost: Schema.optional(Schema.Boolean),
  source: Schema.optional(Schema.Literals(POSTBACK_SOURCES)),
  flagged: Schema.optional(Schema.Boolean),
  test: Schema.optional(Schema.Boolean)
}

/** The filter as one schema (see {@link PostbackFilterFields}). */
export const PostbackFilter = Schema.Struct(PostbackFilterFields).annotate({
  identifier: "PostbackFilter"
})

/** A decoded filter, as the query or body gave it. */
export type PostbackFilter = typeof PostbackFilter.Type

/** A half-open range of instants `[from, to)`; either end may be open. */
export interface InstantRange {
  readonly from: Date | undefined
  readonly to: Date | undefined
}

/** The filter with its preset and time zone worked out: what the SQL condition is built from. */
export interface ResolvedFilter {
  /** The time zone of the presets and the series' buckets (an IANA name). */
  readonly timeZone: string
  /** Received range `[from, to)`: the preset's and `receivedFrom`/`receivedTo`'s intersection. */
  readonly received: InstantRange
  /** Conversion time range `[from, to)`. */
  readonly occurred: InstantRange
  readonly statuses: ReadonlyArray<PostbackStatus> | undefined
  readonly offerId: string | undefined
  readonly advertiser: string | undefined
  readonly userId: string | undefined
  readonly loyaltyBoost: boolean | undefined
  readonly source: PostbackSource | undefined
  readonly flagged: boolean | undefined
  readonly test: boolean | undefined
}

const zonedStartOfDay = (now: Date, timeZone: string): DateTime.Zoned =>
  DateTime.startOf(DateTime.makeZonedUnsafe(now, { timeZone }), "day")

// Calendar arithmetic on the local date (never adding 24 hours): a day in a
// time zone with daylight saving time lasts 23 or 25 hours on the days the
// clocks change.
const addDays = (day: DateTime.Zoned, days: number): DateTime.Zoned =>
  DateTime.startOf(DateTime.add(day, { days }), "day")

/**
 * The received range a preset names, at `now`, in `timeZone` (an IANA
 * name), as instants `[from, to)`; every boundary is a local midnight:
 *
 * - `today`: today's midnight to tomorrow's
 * - `yesterday`: yesterday's midnight to today's
 * - `last_7_days`, `last_30_days`: the last 7 (30) days including today,
 *   from the midnight 6 (29) days before today's to tomorrow's
 * - `this_month`: the first of this month to the first of the next
 * - `last_month`: the first of the last month to the first of this one
 *
 * A day where the clocks change lasts 23 or 25 hours, as it does locally.
 */
export const presetRange = (
  preset: FilterPreset,
  now: Date,
  timeZone: string
): { readonly from: Date; readonly to: Date } => {
  const today = zonedStartOfDay(now, timeZone)
  const range = (from: DateTime.Zoned, to: DateTime.Zoned) => ({
    from: DateTime.toDateUtc(from),
    to: DateTime.toDateUtc(to)
  })
  switch (preset) {
    case "today":
      return range(today, addDays(today, 1))
    case "yesterday":
      return range(addDays(today, -1), today)
    case "last_7_days":
      return range(addDays(today, -6), addDays(today, 1))
    case "last_30_days":
      return range(addDays(today, -29), addDays(today, 1))
    case "this_month": {
      const first = DateTime.startOf(today, "month")
      return range(first, DateTime.startOf(DateTime.add(first, { months: 1 }), "month"))
    }
    case "last_month": {
      const first = DateTime.startOf(today, "month")
      return range(DateTime.startOf(DateTime.add(first, { months: -1 }), "month"), first)
    }
  }
}

const later = (a: Date | undefined, b: Date | undefined): Date | undefined =>
  a === undefined ? b : b === undefined ? a : a > b ? a : b
const earlier = (a: Date | undefined, b: Date | undefined): Date | undefined =>
  a === undefined ? b : b === undefined ? a : a < b ? a : b
const instant = (text: string | undefined): Date | undefined =>
  text === undefined ? undefined : new Date(text)

/**
 * Works out a decoded filter at `now`: the time zone (the filter's own, else
 * `defaultTimeZone`, i.e. `CONSOLE_TIME_ZONE`), the preset's range
 * intersected with `receivedFrom`/`receivedTo`, the status list split.
 * Total: the schema has checked every field already.
 */
export const resolveFilter = (
  filter: PostbackFilter,
  defaultTimeZone: string,
  now: Date
): ResolvedFilter => {
  const timeZone = filter.timeZone ?? defaultTimeZone
  const preset = filter.preset === undefined ? undefined : presetRange(filter.preset, now, timeZone)
  return {
    timeZone,
    received: {
      from: later(preset?.from, instant(filter.receivedFrom)),
      to: earlier(preset?.to, instant(filter.receivedTo))
    },
    occurred: { from: instant(filter.occurredFrom), to: instant(filter.occurredTo) },
    statuses:
      filter.status === undefined
        ? undefined
        : (Array.from(
            new Set(filter.status.split(",").map((s) => s.trim()))
          ) as Array<PostbackStatus>),
    offerId: filter.offerId,
    advertiser: filter.advertiser,
    userId: filter.userId,
    loyaltyBoost: filter.loyaltyBoost,
    source: filter.source,
    flagged: filter.flagged,
    test: filter.test
  }
}

/**
 * The filter as a drizzle condition on `postbacks` (`undefined`: every row).
 * Text comparisons are exact, except the advertiser's (`lower(...) =
 * lower(...)`); ranges are `>= from` and `< to`.
 */
export const filterCondition = (filter: ResolvedFilter): SQL | undefined => {
  const conditions: Array<SQL | undefined> = []
  if (filter.received.from !== undefined)
    conditions.push(gte(postbacks.receivedAt, filter.received.from))
  if (filter.received.to !== undefined)
    conditions.push(lt(postbacks.receivedAt, filter.received.to))
  if (filter.occurred.from !== undefined)
    conditions.push(gte(postbacks.occurredAt, filter.occurred.from))
  if (filter.occurred.to !== undefined)
    conditions.push(lt(postbacks.occurredAt, filter.occurred.to))
  if (filter.statuses !== undefined) conditions.push(inArray(postbacks.status, filter.statuses))
  if (filter.offerId !== undefined) conditions.push(eq(postbacks.offerId, filter.offerId))
  if (filter.advertiser !== undefined)
    conditions.push(sql`lower(${postbacks.advertiserName}) = lower(${filter.advertiser})`)
  if (filter.userId !== undefined) conditions.push(eq(postbacks.userId, filter.userId))
  if (filter.loyaltyBoost !== undefined)
    conditions.push(eq(postbacks.isLoyaltyBoost, filter.loyaltyBoost))
  if (filter.source !== undefined) conditions.push(eq(postbacks.source, filter.source))
  if (filter.flagged !== undefined)
    conditions.push(filter.flagged ? isNotNull(postbacks.flags) : isNull(postbacks.flags))
  if (filter.test !== undefined) conditions.push(eq(postbacks.test, filter.test))
  return conditions.length === 0 ? undefined : and(...conditions)
}

/** {@link resolveFilter} then {@link filterCondition}. */
export const postbackFilterCondition = (
  filter: PostbackFilter,
  defaultTimeZone: string,
  now: Date
): SQL | undefined => filterCondition(resolveFilter(filter, defaultTimeZone, now))
