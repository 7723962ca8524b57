import type { Decimal } from "./Decimal.ts"

/**
 * One conversion reported by MomentScience, decoded: the value every wire form
 * (POST JSON, GET query, GET macro template) turns into.
 */
export interface Postback {
  /** The offer's identifier (`offer_id`), never empty. */
  readonly offerId: string
  /** The advertiser's name (`advertiser_name`). */
  readonly advertiserName: string
  /** Revenue of the conversion in USD (`payout`), exact and non-negative. */
  readonly payout: Decimal
  /** When the conversion was recorded (`timestamp`). */
  readonly timestamp: Date
  /** Whether the offer is a LoyaltyBoost offer (`is_loyaltyboost`). */
  readonly isLoyaltyBoost: boolean
  /** Custom values passed when the offer was served (`user_id`, `session_id`, ...). */
  readonly payload: { readonly [key: string]: string }
}
