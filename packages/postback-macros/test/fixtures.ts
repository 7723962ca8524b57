import { Decimal, type Postback } from "@org/postback-schema"
import * as fc from "fast-check"

/** The conversion of MomentScience's documentation example. */
export const docsPostback: Postback = {
  offerId: "1511",
  advertiserName: "Moment Science & Co",
  payout: Decimal.parse("2.10"),
  timestamp: new Date("2023-09-20T15:27:40.802Z"),
  isLoyaltyBoost: true,
  payload: { user_id: "3410444" }
}

export const DOCS_TEMPLATE =
  "https://api.example.com/postbacks?payout={payout}&user_id={user_id}&offer_id={offer_id}"

/** Characters that break naive URL building, drawn often. */
const SPECIALS = ["&", "=", "{", "}", "%", "+", " ", "😀", "/", "?", "#", ".", "é", "'", ";", "%25"]

/** Text with reserved characters, spaces, emoji and arbitrary printable characters. */
export const text = (options: { readonly minLength?: number } = {}): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.oneof(
      fc.constantFrom(...SPECIALS),
      fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }),
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })
    ),
    maxLength: 10,
    ...options
  })

/** A value that can stand anywhere, including alone in a path segment (`.` and `..` cannot). */
export const value = (options: { readonly minLength?: number } = {}): fc.Arbitrary<string> =>
  text(options).filter((s) => s !== "." && s !== "..")

export const PAYLOAD_KEYS: ReadonlyArray<string> = ["user_id", "session_id", "click_id", "sub1"]

export const postback: fc.Arbitrary<Postback> = fc.record({
  offerId: value({ minLength: 1 }),
  advertiserName: value(),
  payout: fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 0, max: 4 }))
    .map(([coefficient, scale]) => Decimal.make(coefficient, scale)),
  timestamp: fc.date({
    min: new Date("0000-01-01T00:00:00.000Z"),
    max: new Date("9999-12-31T23:59:59.999Z"),
    noInvalidDate: true
  }),
  isLoyaltyBoost: fc.boolean(),
  payload: fc.dictionary(fc.constantFrom(...PAYLOAD_KEYS), value())
})
