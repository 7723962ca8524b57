import { Decimal, type Postback } from "@org/postback-schema"

/** A small seeded generator (mulberry32): the same run for the same seed. Values in [0, 1). */
export const random = (seed: number): (() => number) => {
  let s = seed | 0
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** The receivers' `POINTS_PER_USD` in every suite. */
export const POINTS_PER_USD = 10n

/** One distinct postback of a run and what it must be worth. */
export interface PlannedPostback {
  /** The run-unique `click_id` in its payload: how the inbox row is found again. */
  readonly click: string
  readonly postback: Postback
  /** Points it must credit, exactly once: `payout × POINTS_PER_USD` for LoyaltyBoost, else 0. */
  readonly points: bigint
}

/**
 * `count` distinct postbacks: payouts from 0.10 to 30.00 USD in steps of
 * 0.10 (so that `payout × 10` points is a whole number and the expected
 * balance is exact whatever the rounding rule), three in four LoyaltyBoost,
 * `users` distinct `user_id`s, each with a run-unique `click_id`.
 */
export const makePlan = (
  run: string,
  count: number,
  options: { readonly seed: number; readonly users?: number; readonly offer?: string }
): Array<PlannedPostback> => {
  const next = random(options.seed)
  const users = options.users ?? 97
  const base = Date.parse("2024-03-01T12:00:00.000Z")
  return Array.from({ length: count }, (_, i) => {
    const tenths = 1 + Math.floor(next() * 300)
    const loyalty = next() < 0.75
    const click = `${run}-${i}`
    const postback: Postback = {
      offerId: options.offer ?? `offer-${i % 13}`,
      advertiserName: "MomentScience",
      payout: Decimal.parse(`${Math.floor(tenths / 10)}.${tenths % 10}0`),
      timestamp: new Date(base + i * 1_000),
      isLoyaltyBoost: loyalty,
      payload: { user_id: `user-${i % users}`, click_id: click }
    }
    return { click, postback, points: loyalty ? BigInt(tenths) * (POINTS_PER_USD / 10n) : 0n }
  })
}
