import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Effect, Result, Schema } from "effect"
import {
  Decimal,
  encodePostbackJson,
  issuesFromSchemaIssue,
  Postback,
  parsePostbackJson
} from "../src/index.ts"

const valid: Postback = {
  offerId: "1511",
  advertiserName: "MomentScience",
  payout: Decimal.parse("2.10"),
  timestamp: new Date("2023-09-20T15:27:40.802Z"),
  isLoyaltyBoost: false,
  payload: { user_id: "3410444" }
}

const problems = (u: unknown) => {
  const result = Schema.decodeUnknownResult(Postback)(u)
  return Result.isSuccess(result)
    ? []
    : issuesFromSchemaIssue(result.failure.issue).map((issue) => `${issue.path}: ${issue.message}`)
}

describe("Postback (the decoded side)", () => {
  it("accepts a valid postback and keeps it as it is", () => {
    expect(Schema.decodeUnknownSync(Postback)(valid)).toBe(valid)
    expect(Schema.is(Postback)(valid)).toBe(true)
  })

  it("names every bad field", () => {
    expect(
      problems({
        offerId: "",
        advertiserName: 1,
        payout: Decimal.parse("-1"),
        timestamp: new Date(Number.NaN),
        isLoyaltyBoost: "0",
        payload: { user_id: 3410444 }
      })
    ).toEqual([
      "offerId: expected a non-empty string",
      "advertiserName: expected a string",
      "payout: must not be negative",
      "timestamp: expected a valid Date",
      "isLoyaltyBoost: expected a boolean",
      "payload.user_id: expected a string"
    ])
    expect(problems({ ...valid, payout: 2.1, payload: null })).toEqual([
      "payout: expected a Decimal",
      "payload: expected a record of strings"
    ])
    expect(problems(null)).toEqual([": expected a Postback object"])
  })

  it("has an arbitrary of postbacks the wire forms carry, and an equivalence", () => {
    const equivalent = Schema.toEquivalence(Postback)
    const samples = Effect.runSync(
      Arbitrary.sampleEffect(Arbitrary.schema(Postback), { count: 50 })
    )
    expect(samples).toHaveLength(50)
    for (const postback of samples) {
      expect(Schema.is(Postback)(postback)).toBe(true)
      const decoded = parsePostbackJson(encodePostbackJson(postback))
      expect(decoded.ok && equivalent(decoded.postback, postback)).toBe(true)
      expect(
        decoded.ok &&
          equivalent(decoded.postback, { ...postback, isLoyaltyBoost: !postback.isLoyaltyBoost })
      ).toBe(false)
    }
  })
})
