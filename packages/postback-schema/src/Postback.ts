import { Schema } from "effect"
import { Decimal } from "./Decimal.ts"

/** A {@link Decimal} value, as an Effect Schema (the decoded side of payout codecs). */
export const DecimalFromSelf: Schema.declare<Decimal> = Schema.declare(Decimal.isDecimal, {
  identifier: "Decimal",
  description: "an exact decimal number",
  pretty: () => (decimal) => `Decimal(${decimal.toString()})`,
  arbitrary: () => (fc) =>
    fc
      .tuple(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 0, max: 4 }))
      .map(([coefficient, scale]) => Decimal.make(coefficient, scale)),
  equivalence: () => (a, b) => a.equals(b)
})

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

/** The decoded {@link Postback} as a schema of its own (no wire encoding). */
export const Postback: Schema.Schema<Postback> = Schema.Struct({
  offerId: Schema.NonEmptyString,
  advertiserName: Schema.String,
  payout: DecimalFromSelf.pipe(
    Schema.filter((payout) => !payout.isNegative() || "payout must not be negative")
  ),
  timestamp: Schema.ValidDateFromSelf,
  isLoyaltyBoost: Schema.Boolean,
  payload: Schema.Record({ key: Schema.String, value: Schema.String })
})
