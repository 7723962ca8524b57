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
      return postback.timestamp.toISOString()
    case "is_loyaltyboost":
      return postback.isLoyaltyBoost ? "1" : "0"
  }
}
