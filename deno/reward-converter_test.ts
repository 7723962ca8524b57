import { Decimal, type Postback } from "@org/postback-schema"
import {
  ConversionError,
  convert,
  convertEffect,
  convertPostback,
  convertResult,
  MAX_POINTS,
  parseRules,
  parseRulesJson,
  RewardRulesError
} from "@org/reward-converter"
import { Effect, Result } from "effect"
import { assert, assertEquals, assertThrows } from "./assert.ts"

Deno.test("reward-converter: $30 x 10 = 300 points", () => {
  const rules = parseRules({ multiplier: "10" })
  assertEquals(convert("30", rules).points, 300n)
  assertEquals(
    convert(Decimal.parse("2.10"), rules).explanation.summary,
    "2.10 USD × 10 (multiplier) = 21; floor → 21 points"
  )
})

Deno.test("reward-converter: exact decimals and rounding modes", () => {
  assertEquals(convert("0.29", { multiplier: "100" }).points, 29n)
  assertEquals(convert("2.10", { multiplier: "12.5" }).points, 26n)
  assertEquals(convert("2.10", { multiplier: "12.5", rounding: "ceil" }).points, 27n)
  assertEquals(convert("2.5", { multiplier: "1", rounding: "half-up" }).points, 3n)
  assertEquals(convert("2.5", { multiplier: "1", rounding: "half-even" }).points, 2n)
})

Deno.test("reward-converter: a rules file with overrides, campaigns, bonus and limits", () => {
  const rules = parseRulesJson(
    JSON.stringify({
      multiplier: "10",
      bonus: 5,
      maxPoints: 1000,
      overrides: [{ offerId: "1511", multiplier: "12.5" }],
      campaigns: [
        {
          name: "black-friday",
          multiplier: "2",
          from: "2024-11-29T00:00:00Z",
          until: "2024-12-02T00:00:00Z"
        }
      ]
    })
  )
  const postback: Postback = {
    offerId: "1511",
    advertiserName: "Acme",
    payout: Decimal.parse("2.10"),
    timestamp: new Date("2024-11-30T12:00:00Z"),
    isLoyaltyBoost: true,
    payload: { user_id: "3410444" }
  }
  const result = convertPostback(postback, rules)
  // 2.10 x 12.5 x 2 = 52.5 -> floor 52, + 5 bonus
  assertEquals(result.points, 57n)
  assertEquals(JSON.parse(JSON.stringify(result.explanation)), result.explanation)
  const refused = convertPostback({ ...postback, isLoyaltyBoost: false }, rules)
  assertEquals([refused.credited, refused.points], [false, 0n])
})

Deno.test("reward-converter: errors name the rule and the field", () => {
  const error = assertThrows(() =>
    parseRules({ multiplier: "1", overrides: [{ offerId: "1511", multiplier: "-2" }] })
  )
  assert(error instanceof RewardRulesError)
  assertEquals(
    error.message,
    'Invalid reward rules: overrides[0] (offer "1511"), field "multiplier": must not be negative, got "-2"'
  )
  const bad = convertResult("abc", { multiplier: "1" })
  assert(Result.isFailure(bad) && bad.failure instanceof ConversionError)
  assertEquals(
    bad.failure.message,
    'payout: expected a Decimal or decimal text like "2.10", got "abc"'
  )
  assert(Result.isFailure(convertResult("9007199254740992", { multiplier: "1" })))
  assertEquals(convert("9007199254740991", { multiplier: "1" }).points, MAX_POINTS)
})

Deno.test("reward-converter: the Effect variant", async () => {
  const points = await Effect.runPromise(
    convertEffect("30", { multiplier: "10" }).pipe(Effect.map((result) => result.points))
  )
  assertEquals(points, 300n)
})
