import { Decimal, type Postback } from "@org/postback-schema"
import { optionsRecord } from "./internal/checks.ts"

const FIELDS: ReadonlyArray<string> = [
  "offerId",
  "advertiserName",
  "payout",
  "timestamp",
  "isLoyaltyBoost",
  "payload"
]

const SAMPLE_PAYOUT: Decimal = Decimal.parse("2.10")

/**
 * A realistic postback, as the dashboard's "Test endpoint" button sends:
 * the values of MomentScience's documentation (offer `1511`, advertiser
 * `MomentScience`, payout `2.10`, payload `user_id` and `session_id`),
 * stamped now. It is not a LoyaltyBoost conversion (`is_loyaltyboost` is
 * `"0"`), so a receiver that credits points credits nobody for a test.
 * Any field can be replaced; the result is checked when it is sent.
 *
 * @example
 * import { samplePostback } from "@org/postback-sender"
 *
 * samplePostback()
 * // { offerId: "1511", advertiserName: "MomentScience", payout: Decimal(2.10),
 * //   timestamp: <now>, isLoyaltyBoost: false,
 * //   payload: { user_id: "3410444", session_id: "abc123" } }
 * samplePostback({ isLoyaltyBoost: true, payload: { user_id: "42" } })
 */
export const samplePostback = (overrides?: Partial<Postback>): Postback => {
  const o = optionsRecord(overrides, "samplePostback", FIELDS, "field") as Partial<Postback>
  return {
    offerId: "1511",
    advertiserName: "MomentScience",
    payout: SAMPLE_PAYOUT,
    timestamp: new Date(),
    isLoyaltyBoost: false,
    payload: { user_id: "3410444", session_id: "abc123" },
    ...o
  }
}
