import { describe, expect, it } from "@effect/vitest"
import { isWireField, WIRE_FIELDS } from "../src/index.ts"

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
