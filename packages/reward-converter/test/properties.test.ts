import { describe, expect, it } from "@effect/vitest"
import { Decimal, ROUNDING_MODES, type RoundingMode } from "@org/postback-schema"
import { Result, Schema } from "effect"
import * as fc from "fast-check"
import {
  type ConversionContext,
  ConversionExplanation,
  convert,
  convertResult,
  encodeRules,
  MAX_POINTS,
  parseRules,
  parseRulesResult,
  type RewardRules,
  RewardRulesError,
  type RewardRulesInput
} from "../src/index.ts"

const runs = { numRuns: 300 }

// Magnitudes keep payout × multiplier × campaign below MAX_POINTS (10^8 × 10^4 × 10^3),
// so that the laws are about conversions rather than about refusing absurd ones.

/** Non-negative decimals up to 10^8 USD with 0 to 6 fractional digits. */
const payout = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 8n }), fc.integer({ min: 0, max: 6 }))
  .map(([coefficient, scale]) => Decimal.make(coefficient, scale))

const decimalText = (max: bigint, maxScale: number) =>
  fc
    .tuple(fc.bigInt({ min: 0n, max }), fc.integer({ min: 0, max: maxScale }))
    .map(([coefficient, scale]) => Decimal.make(coefficient, scale).toString())

const mode = fc.constantFrom(...ROUNDING_MODES)

const AT = new Date("2024-11-30T12:00:00Z")

/** Rule sets of every shape, with a conversion context that may hit overrides and the campaign. */
const rulesAndContext: fc.Arbitrary<[RewardRulesInput, ConversionContext]> = fc
  .record(
    {
      multiplier: decimalText(10_000n, 3),
      rounding: mode,
      credit: fc.constantFrom("loyalty-boost-only" as const, "all" as const),
      bonus: fc.integer({ min: 0, max: 1000 }),
      limits: fc.tuple(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 })),
      offerMultiplier: decimalText(10_000n, 3),
      campaignMultiplier: decimalText(1000n, 2),
      offerId: fc.constantFrom("1511", "7"),
      isLoyaltyBoost: fc.boolean()
    },
    {
      requiredKeys: ["multiplier", "rounding", "offerId"]
    }
  )
  .map((r) => {
    const rules: RewardRulesInput = {
      multiplier: r.multiplier,
      rounding: r.rounding,
      ...(r.credit === undefined ? {} : { credit: r.credit }),
      ...(r.bonus === undefined ? {} : { bonus: r.bonus }),
      ...(r.limits === undefined
        ? {}
        : { minPoints: Math.min(...r.limits), maxPoints: Math.max(...r.limits) }),
      ...(r.offerMultiplier === undefined
        ? {}
        : { overrides: [{ offerId: "1511", multiplier: r.offerMultiplier }] }),
      ...(r.campaignMultiplier === undefined
        ? {}
        : {
            campaigns: [
              {
                name: "campaign",
                multiplier: r.campaignMultiplier,
                from: "2024-11-29T00:00:00Z",
                until: "2024-12-02T00:00:00Z"
              }
            ]
          })
    }
    const context: ConversionContext = {
      offerId: r.offerId,
      at: AT,
      ...(r.isLoyaltyBoost === undefined ? {} : { isLoyaltyBoost: r.isLoyaltyBoost })
    }
    return [rules, context]
  })

/** Only a multiplier and a rounding mode: the result is the rounded exact product. */
const plainRules = fc
  .tuple(decimalText(100_000n, 4), mode)
  .map(([multiplier, rounding]) => parseRules({ multiplier, rounding }))

/** payout × multiplier as an exact fraction numerator / 10^scale, computed without Decimal. */
const exactFraction = (amount: Decimal, rules: RewardRules) => ({
  numerator: amount.coefficient * rules.multiplier.coefficient,
  denominator: 10n ** BigInt(amount.scale + rules.multiplier.scale)
})

describe("conversion laws", () => {
  it("is monotonic in the payout", () => {
    fc.assert(
      fc.property(payout, payout, rulesAndContext, (a, b, [input, context]) => {
        const rules = parseRules(input)
        const [low, high] = a.compare(b) <= 0 ? [a, b] : [b, a]
        expect(convert(low, rules, context).points <= convert(high, rules, context).points).toBe(
          true
        )
      }),
      runs
    )
  })

  it("is never negative, and the explanation states the same points", () => {
    fc.assert(
      fc.property(payout, rulesAndContext, (amount, [input, context]) => {
        const result = convert(amount, parseRules(input), context)
        expect(result.points >= 0n).toBe(true)
        expect(result.explanation.points).toBe(result.points.toString())
        expect(result.explanation.credited).toBe(result.credited)
      }),
      runs
    )
  })

  it("stays within minPoints and maxPoints when credited", () => {
    fc.assert(
      fc.property(payout, rulesAndContext, (amount, [input, context]) => {
        const rules = parseRules(input)
        const result = convert(amount, rules, context)
        if (!result.credited) return
        if (rules.minPoints !== undefined) expect(result.points >= rules.minPoints).toBe(true)
        if (rules.maxPoints !== undefined) expect(result.points <= rules.maxPoints).toBe(true)
      }),
      runs
    )
  })

  it("floor never exceeds the exact value and misses it by less than one point", () => {
    fc.assert(
      fc.property(payout, decimalText(100_000n, 4), (amount, multiplier) => {
        const rules = parseRules({ multiplier })
        const { numerator, denominator } = exactFraction(amount, rules)
        const points = convert(amount, rules).points
        expect(points * denominator <= numerator).toBe(true)
        expect(numerator < (points + 1n) * denominator).toBe(true)
      }),
      runs
    )
  })

  it("each rounding mode lands on a neighbour of the exact value, as the mode says", () => {
    fc.assert(
      fc.property(payout, plainRules, (amount, rules) => {
        const { numerator, denominator } = exactFraction(amount, rules)
        const points = convert(amount, rules).points
        const below = numerator / denominator // floor, as both are non-negative
        const exact = numerator % denominator === 0n
        const twiceRemainder = 2n * (numerator % denominator)
        const expected: Record<RoundingMode, bigint> = {
          floor: below,
          down: below,
          ceil: exact ? below : below + 1n,
          "half-up": twiceRemainder >= denominator ? below + 1n : below,
          "half-even":
            twiceRemainder > denominator || (twiceRemainder === denominator && below % 2n === 1n)
              ? below + 1n
              : below
        }
        expect(points).toBe(expected[rules.rounding])
      }),
      runs
    )
  })

  it("scaling the payout by 10^k scales the exact value by exactly 10^k", () => {
    fc.assert(
      fc.property(
        payout,
        fc.integer({ min: 0, max: 12 }),
        rulesAndContext,
        (amount, k, [input, context]) => {
          const rules = parseRules({ ...input, credit: "all" })
          const scaled = Decimal.make(amount.coefficient * 10n ** BigInt(k), amount.scale)
          const one = convert(amount, rules, context).explanation
          if (!one.credited) throw new Error('credit: "all" credits every conversion')
          const shifted = Decimal.parse(one.exact).multiply(Decimal.make(10n ** BigInt(k)))
          const many = convertResult(scaled, rules, context)
          if (Result.isSuccess(many)) {
            expect(
              many.success.explanation.credited &&
                Decimal.parse(many.success.explanation.exact).equals(shifted)
            ).toBe(true)
          } else {
            // refused only because the scaled value is beyond the bound (bonus <= 1000)
            expect(many.failure).toMatchObject({ reason: "PointsOutOfRange" })
            expect(shifted.compare(Decimal.fromBigInt(MAX_POINTS - 1001n))).toBe(1)
          }
        }
      ),
      runs
    )
  })

  it("once 10^k clears the fraction, every rounding mode gives the exact value × 10^k", () => {
    fc.assert(
      fc.property(payout, plainRules, (amount, rules) => {
        // payout × multiplier = numerator / 10^k, so (payout × 10^k) × multiplier = numerator
        const { numerator, denominator } = exactFraction(amount, rules)
        const scaled = Decimal.make(amount.coefficient * denominator, amount.scale)
        for (const rounding of ROUNDING_MODES) {
          expect(convert(scaled, { ...encodeRules(rules), rounding }).points).toBe(numerator)
        }
      }),
      { numRuns: 100 }
    )
  })

  it("moving a power of ten from the payout to the multiplier changes nothing", () => {
    fc.assert(
      fc.property(
        payout,
        decimalText(100_000n, 4),
        fc.integer({ min: 0, max: 6 }),
        mode,
        (amount, multiplier, k, rounding) => {
          const m = Decimal.parse(multiplier)
          const bigPayout = Decimal.make(amount.coefficient * 10n ** BigInt(k), amount.scale)
          const bigMultiplier = Decimal.make(m.coefficient * 10n ** BigInt(k), m.scale)
          const outcome = (result: ReturnType<typeof convertResult>) =>
            Result.match(result, {
              onFailure: (error) => (error._tag === "ConversionError" ? error.reason : error._tag),
              onSuccess: (r) => r.points
            })
          expect(outcome(convertResult(bigPayout, { multiplier, rounding }))).toBe(
            outcome(convertResult(amount, { multiplier: bigMultiplier.toString(), rounding }))
          )
        }
      ),
      runs
    )
  })

  it("the explanation survives JSON and reads back through its schema", () => {
    fc.assert(
      fc.property(payout, rulesAndContext, (amount, [input, context]) => {
        const { explanation } = convert(amount, parseRules(input), context)
        const stored = JSON.parse(JSON.stringify(explanation))
        expect(stored).toEqual(explanation)
        expect(Schema.decodeUnknownSync(ConversionExplanation)(stored)).toEqual(explanation)
      }),
      runs
    )
  })

  it("rules survive encodeRules and parseRules", () => {
    fc.assert(
      fc.property(rulesAndContext, ([input]) => {
        const encoded = encodeRules(parseRules(input))
        expect(encodeRules(parseRules(JSON.parse(JSON.stringify(encoded))))).toEqual(encoded)
      }),
      runs
    )
  })

  it("refuses a malformed rules file with a RewardRulesError, never with a crash", () => {
    const valid = {
      multiplier: "10",
      overrides: [{ offerId: "1511", multiplier: "12.5" }],
      campaigns: [
        { name: "bf", multiplier: "2", from: "2024-11-29T00:00:00Z", until: "2024-12-02T00:00:00Z" }
      ]
    }
    const keys = [
      ...["multiplier", "rounding", "credit", "bonus", "minPoints", "maxPoints"],
      ...["overrides", "campaigns", "description", "$schema", "unknown"]
    ]
    const nearMisses = fc.constantFrom(
      ...["-1", "1e2", "1.5", "", " 1", "abc", "99999999999999999", "2024-02-30T00:00:00Z"],
      ...["2024-11-29T00:00:00", 1.5, -1, 2 ** 53, null]
    )
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), nearMisses)
    const edit = fc.record({
      target: fc.constantFrom("top", "override", "campaign"),
      key: fc.constantFrom(...keys, "offerId", "name", "from", "until", "offerIds"),
      value
    })
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        const json: Record<string, unknown> = structuredClone(valid)
        // an edit of a replaced list goes nowhere
        const [override] = json.overrides as typeof valid.overrides
        const [campaign] = json.campaigns as typeof valid.campaigns
        const targets: Record<string, Record<string, unknown>> = {
          top: json,
          override: override!,
          campaign: campaign!
        }
        for (const { target, key, value } of edits) targets[target]![key] = value
        const result = parseRulesResult(json)
        if (Result.isFailure(result)) {
          expect(result.failure).toBeInstanceOf(RewardRulesError)
          expect(result.failure.issues.length).toBeGreaterThan(0)
          for (const issue of result.failure.issues) expect(issue.message).not.toBe("")
          expect(result.failure.message).toMatch(/^Invalid reward rules/)
        }
      }),
      runs
    )
  })
})
