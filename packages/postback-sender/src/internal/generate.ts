import { Decimal, type Postback } from "@org/postback-schema"

const OFFERS: ReadonlyArray<readonly [string, string]> = [
  ["1511", "MomentScience"],
  ["2048", "Acme Travel"],
  ["3301", "Northwind Books"],
  ["4410", "Globex Energy"],
  ["5120", "Initech Software"]
]

/**
 * The `index`-th distinct postback of a load run: offers, payouts and users
 * vary as in real traffic (three in four are LoyaltyBoost conversions, over
 * `users` user ids); `click_id` (run id and index) and the timestamp make
 * every one distinct, also from those of earlier runs.
 */
export const loadPostbacks = (
  runId: string,
  startMs: number,
  rate: number,
  users: number
): ((index: number) => Postback) => {
  const payouts = new Map<number, Decimal>()
  return (index) => {
    const [offerId, advertiserName] = OFFERS[index % OFFERS.length]!
    // 0.50 to 30.00 USD in steps of a cent, spread by a multiplicative hash.
    const cents = 50 + ((index * 7919) % 2951)
    let payout = payouts.get(cents)
    if (payout === undefined) {
      payout = Decimal.make(BigInt(cents), 2)
      payouts.set(cents, payout)
    }
    return {
      offerId,
      advertiserName,
      payout,
      timestamp: new Date(startMs + Math.floor((index * 1000) / rate)),
      isLoyaltyBoost: index % 4 !== 3,
      payload: {
        user_id: `load-user-${(Math.imul(index, 0x9e3779b1) >>> 0) % users}`,
        click_id: `${runId}-${index}`
      }
    }
  }
}
