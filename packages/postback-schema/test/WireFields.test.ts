import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Decimal, isWireField, timestampText, WIRE_FIELDS, wireValue } from "../src/index.ts"

describe("WireFields", () => {
  it("lists the five top-level fields of the docs", () => {
    expect(WIRE_FIELDS).toEqual([
      "offer_id",
      "advertiser_name",
      "payout",
      "timestamp",
      "is_loyaltyboost"
    ])
  })

  it("treats anything else as payload", () => {
    expect(isWireField("payout")).toBe(true)
    expect(isWireField("user_id")).toBe(false)
  })
})

describe("wireValue", () => {
  it("prints each field in its canonical wire form", () => {
    const postback = {
      offerId: "1511",
      advertiserName: "MomentScience",
      payout: Decimal.parse("2.10"),
      timestamp: new Date("2023-09-20T17:27:40.802+02:00"),
      isLoyaltyBoost: true
    }
    expect(WIRE_FIELDS.map((field) => wireValue(postback, field))).toEqual([
      "1511",
      "MomentScience",
      "2.10",
      "2023-09-20T15:27:40.802Z",
      "1"
    ])
    expect(wireValue({ ...postback, isLoyaltyBoost: false }, "is_loyaltyboost")).toBe("0")
  })
})

describe("timestampText", () => {
  it("is Date.prototype.toISOString for every date, the invalid one included", () => {
    const outcome = (f: () => string) => {
      try {
        return f()
      } catch (error) {
        return `${(error as Error).name}`
      }
    }
    fc.assert(
      fc.property(fc.date({ noInvalidDate: false }), (date) => {
        expect(outcome(() => timestampText(date))).toBe(outcome(() => date.toISOString()))
      }),
      { numRuns: 5_000 }
    )
    for (const date of [
      new Date(Date.UTC(999, 11, 31, 23, 59, 59, 999)),
      new Date(Date.UTC(1000, 0, 1)),
      new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)),
      new Date(Date.UTC(10000, 0, 1)),
      new Date(Date.UTC(2023, 8, 20, 15, 27, 40, 2)),
      new Date(Date.UTC(2023, 8, 20, 15, 27, 40, 20)),
      new Date(-1),
      new Date(Number.NaN)
    ]) {
      expect(outcome(() => timestampText(date))).toBe(outcome(() => date.toISOString()))
    }
  })
})
