/**
 * The field names MomentScience puts on the wire, in both the POST JSON body
 * and the GET query. Any other GET query parameter is a payload entry.
 *
 * @example
 * import { WIRE_FIELDS } from "@org/postback-schema"
 * WIRE_FIELDS.includes("payout") // true
 */
export const WIRE_FIELDS: readonly [
  "offer_id",
  "advertiser_name",
  "payout",
  "timestamp",
  "is_loyaltyboost"
] = ["offer_id", "advertiser_name", "payout", "timestamp", "is_loyaltyboost"] as const

/** One of the top-level postback fields (everything else is payload). */
export type WireField = (typeof WIRE_FIELDS)[number]

/** Whether a query parameter name is one of the top-level postback fields. */
export const isWireField = (name: string): name is WireField =>
  (WIRE_FIELDS as ReadonlyArray<string>).includes(name)

/**
 * The canonical wire text of one top-level field of a decoded postback, as
 * both wire forms carry it: `payout` as its decimal text (`"2.10"`),
 * `timestamp` as ISO 8601 in UTC with milliseconds, `is_loyaltyboost` as
 * `"1"` or `"0"`. Encoders and the macro renderer all go through here, so
 * every form prints a postback the same way.
 */
export const wireValue = (
  postback: {
    readonly offerId: string
    readonly advertiserName: string
    readonly payout: { toString(): string }
    readonly timestamp: Date
    readonly isLoyaltyBoost: boolean
  },
  field: WireField
): string => {
  switch (field) {
    case "offer_id":
      return postback.offerId
    case "advertiser_name":
      return postback.advertiserName
    case "payout":
      return postback.payout.toString()
    case "timestamp":
      return timestampText(postback.timestamp)
    case "is_loyaltyboost":
      return postback.isLoyaltyBoost ? "1" : "0"
  }
}

const twoDigits = (n: number): string => (n < 10 ? `0${n}` : `${n}`)

/**
 * A time stamp's wire text: ISO 8601 in UTC with milliseconds
 * (`2023-09-20T15:27:40.802Z`), exactly what `Date.prototype.toISOString`
 * gives, written in JavaScript for the years 0 to 9999 (about 3 times
 * faster on V8, where `toISOString` goes through the runtime) and by
 * `toISOString` for the others (`+010000-01-01T00:00:00.000Z`). Throws the
 * same `RangeError` as `toISOString` for an invalid date.
 *
 * @example
 * import { timestampText } from "@org/postback-schema"
 * timestampText(new Date(Date.UTC(2023, 8, 20, 15, 27, 40, 802))) // "2023-09-20T15:27:40.802Z"
 */
export const timestampText = (date: Date): string => {
  const year = date.getUTCFullYear()
  if (!(year >= 1000 && year <= 9999)) return date.toISOString()
  const ms = date.getUTCMilliseconds()
  return `${year}-${twoDigits(date.getUTCMonth() + 1)}-${twoDigits(date.getUTCDate())}T${twoDigits(date.getUTCHours())}:${twoDigits(date.getUTCMinutes())}:${twoDigits(date.getUTCSeconds())}.${ms < 10 ? `00${ms}` : ms < 100 ? `0${ms}` : ms}Z`
}
