import * as fc from "fast-check"
import { Decimal, isWireField, type Postback } from "../src/index.ts"

/** Payouts within the default bounds: up to 12 integer and 8 fraction digits. */
export const payoutArb: fc.Arbitrary<Decimal> = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 12n - 1n }), fc.integer({ min: 0, max: 8 }))
  .chain(([integer, scale]) =>
    fc
      .bigInt({ min: 0n, max: 10n ** BigInt(scale) - 1n })
      .map((fraction) => Decimal.make(integer * 10n ** BigInt(scale) + fraction, scale))
  )

/** Any millisecond of the years 0001 to 9999 UTC. */
export const timestampArb: fc.Arbitrary<Date> = fc.date({
  min: new Date("0001-01-01T00:00:00.000Z"),
  max: new Date("9999-12-31T23:59:59.999Z"),
  noInvalidDate: true
})

/** Payload keys the default key pattern accepts and a GET query can carry. */
export const payloadKeyArb: fc.Arbitrary<string> = fc
  .stringMatching(/^[A-Za-z0-9_.-]{1,24}$/)
  .filter((key) => !isWireField(key))

/** Any text (every code point, no lone surrogates), as a sender may put in a value. */
export const textArb = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: "binary", maxLength })

export const postbackArb: fc.Arbitrary<Postback> = fc.record({
  offerId: textArb(20).filter((s) => s.length > 0),
  advertiserName: textArb(30),
  payout: payoutArb,
  timestamp: timestampArb,
  isLoyaltyBoost: fc.boolean(),
  payload: fc.dictionary(payloadKeyArb, textArb(40), { maxKeys: 10 })
})

/** The example postback of MomentScience's documentation. */
export const docsPostback = {
  offer_id: "1511",
  advertiser_name: "MomentScience",
  payout: "2.10",
  timestamp: "2023-09-20T15:27:40.802Z",
  is_loyaltyboost: "0",
  payload: { user_id: "3410444", session_id: "abc123" }
} as const

/** The example GET URL of MomentScience's documentation. */
export const docsGetUrl =
  "https://publisher.example/postbacks?payout=2.10&timestamp=2023-09-20T15:27:40.802Z&offer_id=1511&advertiser_name=MomentScience&is_loyaltyboost=0&user_id=3410444"
