import { describe, expect, it } from "@effect/vitest"
import { Decimal, type Postback, type RoundingMode } from "@org/postback-schema"
import { Effect, Exit, Result, Schema } from "effect"
import {
  ConversionError,
  ConversionExplanation,
  type ConversionResult,
  conversionContext,
  convert,
  convertEffect,
  convertPostback,
  convertResult,
  MAX_POINTS,
  parseRules,
  RewardRulesError,
  type RewardRulesInput
} from "../src/index.ts"

const points = (
  payout: string,
  rules: RewardRulesInput,
  context?: Parameters<typeof convert>[2]
): bigint => convert(payout, parseRules(rules), context).points

const failure = (result: Result.Result<ConversionResult, unknown>): unknown =>
  Result.match(result, { onFailure: (error) => error, onSuccess: () => undefined })

describe("convert", () => {
  describe("MomentScience's example and exact arithmetic", () => {
    it("$30 with multiplier 10 is 300 points", () => {
      expect(convert("30", parseRules({ multiplier: "10" })).points).toBe(300n)
    })

    it("accepts the rules in their JSON form too", () => {
      expect(convert("30", { multiplier: "10" }).points).toBe(300n)
    })

    it("accepts a Decimal payout", () => {
      expect(convert(Decimal.parse("30"), { multiplier: "10" }).points).toBe(300n)
    })

    it.each<[string, string, bigint, string]>([
      // payout, multiplier, points, exact
      ["2.10", "10", 21n, "21"],
      ["0.29", "100", 29n, "29"], // 0.29 * 100 is 28.999999999999996 in floating point
      ["0.3", "10", 3n, "3"], // 0.1 + 0.2 style trouble never appears
      ["1.15", "100", 115n, "115"], // 1.15 * 100 is 114.99999999999999 in floating point
      ["2.10", "12.5", 26n, "26.25"],
      ["19.99", "12.5", 249n, "249.875"],
      ["0.01", "1", 0n, "0.01"],
      ["0", "10", 0n, "0"],
      ["90071992547.40991", "100000", 9007199254740991n, "9007199254740991"],
      ["1000000", "0.001", 1000n, "1000"]
    ])("%s USD x %s = %s points (exact %s)", (payout, multiplier, expected, exact) => {
      const result = convert(payout, parseRules({ multiplier }))
      expect(result.points).toBe(expected)
      expect(result.explanation.credited && result.explanation.exact).toBe(exact)
    })
  })

  describe("rounding modes", () => {
    // exact value -> expected points per mode (payout x 1)
    const table: Array<[string, Record<RoundingMode, bigint>]> = [
      ["26.25", { floor: 26n, ceil: 27n, down: 26n, "half-up": 26n, "half-even": 26n }],
      ["0.5", { floor: 0n, ceil: 1n, down: 0n, "half-up": 1n, "half-even": 0n }],
      ["1.5", { floor: 1n, ceil: 2n, down: 1n, "half-up": 2n, "half-even": 2n }],
      ["2.5", { floor: 2n, ceil: 3n, down: 2n, "half-up": 3n, "half-even": 2n }],
      ["2.51", { floor: 2n, ceil: 3n, down: 2n, "half-up": 3n, "half-even": 3n }],
      ["2.49", { floor: 2n, ceil: 3n, down: 2n, "half-up": 2n, "half-even": 2n }],
      ["7", { floor: 7n, ceil: 7n, down: 7n, "half-up": 7n, "half-even": 7n }],
      ["0.001", { floor: 0n, ceil: 1n, down: 0n, "half-up": 0n, "half-even": 0n }]
    ]
    for (const [exact, byMode] of table) {
      for (const [mode, expected] of Object.entries(byMode) as Array<[RoundingMode, bigint]>) {
        it(`${exact} with ${mode} is ${expected}`, () => {
          const result = convert(exact, parseRules({ multiplier: "1", rounding: mode }))
          expect(result.points).toBe(expected)
          expect(result.explanation.credited && result.explanation.rounding).toBe(mode)
        })
      }
    }

    it("floor is the default", () => {
      expect(points("2.10", { multiplier: "12.5" })).toBe(26n)
      expect(parseRules({ multiplier: "1" }).rounding).toBe("floor")
    })

    it("rounds the product, not the payout or the multiplier separately", () => {
      // 0.5 x 0.5 = 0.25; rounding each factor first would give 0 or 1
      expect(points("0.5", { multiplier: "0.5", rounding: "half-up" })).toBe(0n)
      expect(points("0.5", { multiplier: "3", rounding: "half-up" })).toBe(2n)
    })
  })

  describe("minimum and maximum points", () => {
    it.each([
      // payout, rules, points, limit
      ["0.01", { minPoints: 5 }, 5n, "minPoints"],
      ["0", { minPoints: "1" }, 1n, "minPoints"],
      ["1", { minPoints: 5 }, 10n, null],
      ["0.5", { minPoints: 5 }, 5n, null],
      ["1000", { maxPoints: 500 }, 500n, "maxPoints"],
      ["50", { maxPoints: 500 }, 500n, null],
      ["49.99", { maxPoints: 500 }, 499n, null],
      ["0.2", { minPoints: 5, maxPoints: 5 }, 5n, "minPoints"],
      ["100", { minPoints: 5, maxPoints: 5 }, 5n, "maxPoints"]
    ] as const)("%s USD with %j gives %s points (limit %s)", (payout, limits, expected, rule) => {
      const result = convert(payout, parseRules({ multiplier: "10", ...limits }))
      expect(result.points).toBe(expected)
      const explanation = result.explanation
      expect(explanation.credited && explanation.limit?.rule).toBe(rule ?? undefined)
    })

    it("the limit applies to the total including the bonus", () => {
      const result = convert("49", parseRules({ multiplier: "10", bonus: 20, maxPoints: 500 }))
      expect(result.points).toBe(500n)
      expect(result.explanation).toMatchObject({
        rounded: "490",
        limit: { rule: "maxPoints", value: "500", before: "510" }
      })
    })
  })

  describe("bonus", () => {
    it("adds fixed points after rounding", () => {
      expect(points("2.10", { multiplier: "12.5", bonus: 5 })).toBe(31n)
      expect(points("0", { multiplier: "12.5", bonus: "5" })).toBe(5n)
    })

    it("is not rounded with the product", () => {
      // 0.99 -> floor 0, + 1 = 1; and 0.01 -> ceil 1, + 1 = 2 (rounding 1.01 up would give 2 as well,
      // so the half-up case below tells the two orders apart: 0.6 -> 1, + 1 = 2, while 1.6 -> 2)
      expect(points("0.99", { multiplier: "1", bonus: 1 })).toBe(1n)
      expect(points("0.01", { multiplier: "1", bonus: 1, rounding: "ceil" })).toBe(2n)
      expect(points("0.4", { multiplier: "1", bonus: 1, rounding: "half-up" })).toBe(1n)
    })
  })

  describe("overrides", () => {
    const rules = parseRules({
      multiplier: "10",
      bonus: 1,
      overrides: [
        { offerId: "1511", multiplier: "20" },
        { advertiserName: "Acme", multiplier: "15", bonus: 3 },
        { offerId: "42", bonus: 0 },
        { advertiserName: "Globex", multiplier: "0" }
      ]
    })

    it.each([
      // context, points, multiplier source, bonus source
      [{}, 101n, "base", "base"],
      [{ offerId: "7" }, 101n, "base", "base"],
      [{ offerId: "1511" }, 201n, "offer", "base"],
      [{ advertiserName: "Acme" }, 153n, "advertiser", "advertiser"],
      // the offer override's multiplier wins; the bonus it does not set comes from the advertiser
      [{ offerId: "1511", advertiserName: "Acme" }, 203n, "offer", "advertiser"],
      [{ offerId: "42", advertiserName: "Acme" }, 150n, "advertiser", "offer"],
      [{ advertiserName: "acme" }, 101n, "base", "base"], // names compare exactly
      [{ advertiserName: "Globex" }, 1n, "advertiser", "base"]
    ] as const)("%j gives %s points", (context, expected, multiplierSource, bonusSource) => {
      const result = convert("10", rules, context)
      expect(result.points).toBe(expected)
      expect(result.explanation).toMatchObject({
        multiplier: { source: multiplierSource },
        bonus: { source: bonusSource }
      })
    })

    it("names the override in the explanation", () => {
      const { explanation } = convert("10", rules, { offerId: "1511", advertiserName: "Acme" })
      expect(explanation).toMatchObject({
        multiplier: { value: "20", source: "offer", match: "1511" },
        bonus: { value: "3", source: "advertiser", match: "Acme" },
        summary:
          '10 USD × 20 (offer "1511") = 200; floor → 200; + 3 bonus (advertiser "Acme") = 203 points'
      })
    })
  })

  describe("credit policy", () => {
    it("credits only LoyaltyBoost conversions by default, answering the others with 0 points and why", () => {
      const rules = parseRules({ multiplier: "10" })
      expect(rules.credit).toBe("loyalty-boost-only")
      const result = convert("30", rules, { isLoyaltyBoost: false })
      expect(result).toEqual({
        points: 0n,
        credited: false,
        explanation: {
          credited: false,
          payout: "30",
          reason: "not-loyalty-boost",
          points: "0",
          summary:
            'not credited: not a LoyaltyBoost conversion, and the rules credit LoyaltyBoost conversions only (credit: "loyalty-boost-only")'
        }
      })
      expect(convert("30", rules, { isLoyaltyBoost: true }).points).toBe(300n)
    })

    it("treats an omitted isLoyaltyBoost as a conversion to credit", () => {
      expect(convert("30", { multiplier: "10" }, {}).credited).toBe(true)
    })

    it("minPoints and bonus do not apply to a conversion that is not credited", () => {
      const rules = parseRules({ multiplier: "10", minPoints: 5, bonus: 2 })
      expect(convert("30", rules, { isLoyaltyBoost: false }).points).toBe(0n)
    })

    it('credits every conversion with credit: "all"', () => {
      const rules = parseRules({ multiplier: "10", credit: "all" })
      expect(convert("30", rules, { isLoyaltyBoost: false }).points).toBe(300n)
    })
  })

  describe("campaigns", () => {
    const rules = parseRules({
      multiplier: "10",
      overrides: [{ offerId: "1511", multiplier: "20" }],
      campaigns: [
        {
          name: "double points",
          multiplier: "2",
          from: "2024-11-29T00:00:00Z",
          until: "2024-12-02T00:00:00Z"
        },
        {
          name: "acme week",
          multiplier: "1.5",
          from: "2024-12-02T00:00:00Z",
          until: "2024-12-09T00:00:00Z",
          advertiserNames: ["Acme"]
        },
        {
          name: "offer 7 week",
          multiplier: "3",
          from: "2024-12-09T00:00:00Z",
          until: "2024-12-16T00:00:00+02:00",
          offerIds: ["7"]
        }
      ]
    })
    const at = (iso: string) => new Date(iso)

    it.each([
      // at, context, points, campaign
      ["2024-11-28T23:59:59.999Z", {}, 100n, null],
      ["2024-11-29T00:00:00.000Z", {}, 200n, "double points"], // from is inclusive
      ["2024-12-01T23:59:59.999Z", {}, 200n, "double points"],
      ["2024-12-02T00:00:00.000Z", {}, 100n, null], // until is exclusive
      ["2024-11-30T12:00:00.000Z", { offerId: "1511" }, 400n, "double points"], // stacks with the override
      ["2024-12-03T00:00:00.000Z", { advertiserName: "Acme" }, 150n, "acme week"],
      ["2024-12-03T00:00:00.000Z", { advertiserName: "Other" }, 100n, null],
      ["2024-12-03T00:00:00.000Z", { offerId: "7" }, 100n, null],
      ["2024-12-10T00:00:00.000Z", { offerId: "7" }, 300n, "offer 7 week"],
      ["2024-12-10T00:00:00.000Z", { offerId: "8" }, 100n, null],
      ["2024-12-15T21:59:59.999Z", { offerId: "7" }, 300n, "offer 7 week"], // +02:00 offset honoured
      ["2024-12-15T22:00:00.000Z", { offerId: "7" }, 100n, null]
    ] as const)("at %s with %j gives %s points (campaign %s)", (when, context, expected, name) => {
      const result = convert("10", rules, { ...context, at: at(when) })
      expect(result.points).toBe(expected)
      expect(result.explanation.credited && result.explanation.campaign?.name).toBe(
        name ?? undefined
      )
    })

    it("shows the campaign in the explanation", () => {
      const { explanation } = convert("2.10", rules, { at: at("2024-11-30T00:00:00Z") })
      expect(explanation).toMatchObject({
        campaign: {
          name: "double points",
          multiplier: "2",
          from: "2024-11-29T00:00:00.000Z",
          until: "2024-12-02T00:00:00.000Z"
        },
        exact: "42",
        summary: '2.10 USD × 10 (multiplier) × 2 (campaign "double points") = 42; floor → 42 points'
      })
    })

    it("requires the time of the conversion when the rules have campaigns", () => {
      const error = failure(convertResult("10", rules, {}))
      expect(error).toBeInstanceOf(ConversionError)
      expect(error).toMatchObject({ reason: "MissingTimestamp", field: "at" })
      expect((error as Error).message).toMatch(/^at: the rules have campaigns/)
    })
  })

  describe("the explanation", () => {
    const rules = parseRules({
      multiplier: "12.5",
      bonus: 10,
      maxPoints: 60,
      campaigns: [
        { name: "bf", multiplier: "2", from: "2024-11-29T00:00:00Z", until: "2024-12-02T00:00:00Z" }
      ]
    })

    it("records every step", () => {
      const result = convert("2.10", rules, { at: new Date("2024-11-30T00:00:00Z") })
      expect(result.explanation).toEqual({
        credited: true,
        payout: "2.10",
        multiplier: { value: "12.5", source: "base", match: null },
        campaign: {
          name: "bf",
          multiplier: "2",
          from: "2024-11-29T00:00:00.000Z",
          until: "2024-12-02T00:00:00.000Z"
        },
        exact: "52.5",
        rounding: "floor",
        rounded: "52",
        bonus: { value: "10", source: "base", match: null },
        limit: { rule: "maxPoints", value: "60", before: "62" },
        points: "60",
        summary:
          '2.10 USD × 12.5 (multiplier) × 2 (campaign "bf") = 52.5; floor → 52; + 10 bonus (bonus) = 62; capped at maxPoints → 60 points'
      })
      expect(result.points).toBe(60n)
    })

    it("is plain JSON that reads back through the ConversionExplanation schema", () => {
      const result = convert("2.10", rules, { at: new Date("2024-11-30T00:00:00Z") })
      const stored = JSON.stringify(result.explanation)
      expect(JSON.parse(stored)).toEqual(result.explanation)
      expect(Schema.decodeUnknownSync(ConversionExplanation)(JSON.parse(stored))).toEqual(
        result.explanation
      )
      const refused = convert("2.10", { multiplier: "1" }, { isLoyaltyBoost: false })
      expect(
        Schema.decodeUnknownSync(ConversionExplanation)(
          JSON.parse(JSON.stringify(refused.explanation))
        )
      ).toEqual(refused.explanation)
    })
  })

  describe("invalid input is a typed error naming the field", () => {
    const rules = parseRules({ multiplier: "10" })

    it.each([
      [
        "abc",
        "InvalidPayout",
        /^payout: expected a Decimal or decimal text like "2\.10", got "abc"$/
      ],
      ["1e3", "InvalidPayout", /got "1e3"/],
      ["", "InvalidPayout", /got ""/],
      [" 30", "InvalidPayout", /got " 30"/],
      [30, "InvalidPayout", /got 30 \(numbers are refused: they are floating point\)$/],
      [null, "InvalidPayout", /got null/],
      ["-1", "NegativePayout", /^payout: must not be negative, got "-1"$/],
      [Decimal.parse("-0.01"), "NegativePayout", /got "-0\.01"/]
    ])("payout %j", (payout, reason, message) => {
      const error = failure(convertResult(payout as string, rules))
      expect(error).toBeInstanceOf(ConversionError)
      expect(error).toMatchObject({ _tag: "ConversionError", reason, field: "payout" })
      expect((error as Error).message).toMatch(message)
      expect(() => convert(payout as string, rules)).toThrow(message)
    })

    it.each([
      [{ at: new Date(Number.NaN) }, "at", /^at: expected a valid Date, got Invalid Date$/],
      [{ at: "2024-11-29T00:00:00Z" }, "at", /expected a valid Date, got "2024/],
      [{ offerId: 1511 }, "offerId", /^offerId: expected a string, got 1511$/],
      [{ advertiserName: null }, "advertiserName", /expected a string, got null/],
      [{ isLoyaltyBoost: "1" }, "isLoyaltyBoost", /^isLoyaltyBoost: expected a boolean, got "1"$/]
    ])("context %j", (context, field, message) => {
      const error = failure(convertResult("1", rules, context as never))
      expect(error).toMatchObject({ _tag: "ConversionError", reason: "InvalidContext", field })
      expect((error as Error).message).toMatch(message)
    })

    it("refuses a result above MAX_POINTS instead of capping it", () => {
      expect(MAX_POINTS).toBe(BigInt(Number.MAX_SAFE_INTEGER))
      // 9007199254740991 points is the bound itself: allowed
      expect(convert("9007199254740.991", { multiplier: "1000" }).points).toBe(MAX_POINTS)
      const error = failure(convertResult("9007199254740.992", { multiplier: "1000" }))
      expect(error).toMatchObject({ reason: "PointsOutOfRange", field: "points" })
      expect((error as Error).message).toMatch(/more than MAX_POINTS \(9007199254740991\)/)
      // also when maxPoints would have capped it: such a payout is a bug upstream
      const capped = failure(convertResult("1".padEnd(30, "0"), { multiplier: "1", maxPoints: 10 }))
      expect(capped).toMatchObject({ reason: "PointsOutOfRange" })
      // and with the bonus pushing it over
      expect(
        failure(convertResult("9007199254740.991", { multiplier: "1000", bonus: 1 }))
      ).toMatchObject({
        reason: "PointsOutOfRange"
      })
    })

    it("invalid rules in JSON form are a RewardRulesError", () => {
      const error = failure(convertResult("1", { multiplier: "-1" }))
      expect(error).toBeInstanceOf(RewardRulesError)
      expect((error as Error).message).toBe(
        'Invalid reward rules: top level, field "multiplier": must not be negative, got "-1"'
      )
    })

    it("hand-built rules go through the same checks", () => {
      const valid = parseRules({ multiplier: "10" })
      expect(convert("3", { ...valid, multiplier: Decimal.parse("2") }).points).toBe(6n)
      const error = failure(convertResult("1", { ...valid, multiplier: Decimal.parse("-2") }))
      expect(error).toBeInstanceOf(RewardRulesError)
      expect((error as Error).message).toMatch(/field "multiplier": must not be negative/)
      const overlapping = {
        ...valid,
        campaigns: [
          { name: "a", multiplier: Decimal.parse("2"), from: new Date(0), until: new Date(10) },
          { name: "b", multiplier: Decimal.parse("2"), from: new Date(5), until: new Date(20) }
        ]
      }
      expect(
        (failure(convertResult("1", overlapping, { at: new Date(7) })) as Error).message
      ).toMatch(/campaigns\[1\] \("b"\), field "from": overlaps campaigns\[0\]/)
    })
  })

  describe("Effect and postback entry points share the implementation", () => {
    const rules = parseRules({
      multiplier: "10",
      overrides: [{ advertiserName: "Acme", multiplier: "20" }],
      campaigns: [
        { name: "bf", multiplier: "2", from: "2024-11-29T00:00:00Z", until: "2024-12-02T00:00:00Z" }
      ]
    })
    const postback: Postback = {
      offerId: "1511",
      advertiserName: "Acme",
      payout: Decimal.parse("2.10"),
      timestamp: new Date("2024-11-30T10:00:00Z"),
      isLoyaltyBoost: true,
      payload: { user_id: "3410444" }
    }

    it("convertPostback takes the context from the postback", () => {
      expect(conversionContext(postback)).toEqual({
        offerId: "1511",
        advertiserName: "Acme",
        isLoyaltyBoost: true,
        at: postback.timestamp
      })
      expect(convertPostback(postback, rules).points).toBe(84n)
      expect(convertPostback({ ...postback, isLoyaltyBoost: false }, rules).credited).toBe(false)
    })

    it.effect("convertEffect succeeds with the same result", () =>
      Effect.gen(function* () {
        const result = yield* convertEffect(postback.payout, rules, conversionContext(postback))
        expect(result).toEqual(convertPostback(postback, rules))
      })
    )

    it.effect("convertEffect fails with the typed error", () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(convertEffect("x", rules))
        expect(Exit.isFailure(exit)).toBe(true)
        const error = yield* Effect.flip(convertEffect("x", rules))
        expect(error._tag).toBe("ConversionError")
        const handled = yield* convertEffect("-5", rules).pipe(
          Effect.catchTag("ConversionError", (e) => Effect.succeed(e.reason))
        )
        expect(handled).toBe("NegativePayout")
      })
    )
  })
})
