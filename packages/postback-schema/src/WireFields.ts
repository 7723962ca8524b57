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
