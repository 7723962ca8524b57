import { Decimal, type Postback } from "@org/postback-schema"
import { Effect, Result } from "effect"
import { ConversionError, type ConversionErrorReason } from "./ConversionError.ts"
import type {
  AppliedCampaign,
  AppliedLimit,
  AppliedValue,
  ConversionExplanation,
  CreditedExplanation
} from "./Explanation.ts"
import { type CompiledRules, compileRules } from "./internal/compile.ts"
import { describe, MAX_POINTS_BIGINT } from "./internal/fields.ts"
import type {
  Campaign,
  RewardOverride,
  RewardRules,
  RewardRulesError,
  RewardRulesInput
} from "./RewardRules.ts"

/**
 * The most points one conversion may produce: `2^53 - 1`
 * (`Number.MAX_SAFE_INTEGER`). The bound keeps every result exact as a JS
 * number and inside a PostgreSQL `bigint`; a computed value above it (before
 * `maxPoints` applies) is refused as absurd with a `PointsOutOfRange` error.
 */
export const MAX_POINTS: bigint = MAX_POINTS_BIGINT

/** What the rules need to know about a conversion besides its payout. */
export interface ConversionContext {
  /** Selects an offer override and offer-scoped campaigns. */
  readonly offerId?: string | undefined
  /** Selects an advertiser override and advertiser-scoped campaigns. */
  readonly advertiserName?: string | undefined
  /**
   * Whether the conversion is a LoyaltyBoost one. Omitted means yes: only an
   * explicit `false` is refused by the `loyalty-boost-only` credit policy.
   */
  readonly isLoyaltyBoost?: boolean | undefined
  /** When the conversion happened; required when the rules have campaigns. */
  readonly at?: Date | undefined
}

/** The points and why. `points` is `0n` when `credited` is false. */
export interface ConversionResult {
  readonly points: bigint
  readonly credited: boolean
  /** Plain JSON: `JSON.stringify(result.explanation)` is all it takes to store it. */
  readonly explanation: ConversionExplanation
}

const fail = (
  reason: ConversionErrorReason,
  field: string,
  message: string
): Result.Result<never, ConversionError> =>
  Result.fail(new ConversionError({ reason, field, message: `${field}: ${message}` }))

const readPayout = (payout: unknown): Result.Result<Decimal, ConversionError> => {
  const amount = Decimal.isDecimal(payout)
    ? payout
    : typeof payout === "string"
      ? Decimal.fromString(payout)
      : undefined
  if (amount === undefined) {
    return fail(
      "InvalidPayout",
      "payout",
      `expected a Decimal or decimal text like "2.10", got ${describe(payout)}${typeof payout === "number" ? " (numbers are refused: they are floating point)" : ""}`
    )
  }
  if (amount.isNegative()) {
    return fail(
      "NegativePayout",
      "payout",
      `must not be negative, got ${describe(amount.toString())}`
    )
  }
  return Result.succeed(amount)
}

const readContext = (
  context: ConversionContext,
  rules: RewardRules
): Result.Result<ConversionContext, ConversionError> => {
  if (typeof context !== "object" || context === null) {
    return fail("InvalidContext", "context", `expected an object, got ${describe(context)}`)
  }
  for (const field of ["offerId", "advertiserName"] as const) {
    const value: unknown = context[field]
    if (value !== undefined && typeof value !== "string") {
      return fail("InvalidContext", field, `expected a string, got ${describe(value)}`)
    }
  }
  const isLoyaltyBoost: unknown = context.isLoyaltyBoost
  if (isLoyaltyBoost !== undefined && typeof isLoyaltyBoost !== "boolean") {
    return fail(
      "InvalidContext",
      "isLoyaltyBoost",
      `expected a boolean, got ${describe(isLoyaltyBoost)}`
    )
  }
  const at: unknown = context.at
  if (at !== undefined && !(at instanceof Date && !Number.isNaN(at.getTime()))) {
    return fail("InvalidContext", "at", `expected a valid Date, got ${describe(at)}`)
  }
  if (at === undefined && rules.campaigns.length > 0) {
    return fail(
      "MissingTimestamp",
      "at",
      "the rules have campaigns, so the time of the conversion is required to choose among them"
    )
  }
  return Result.succeed(context)
}

const covers = (scope: ReadonlyArray<string> | undefined, value: string | undefined): boolean =>
  scope === undefined || (value !== undefined && scope.includes(value))

// The rules refuse campaigns that could both apply to one conversion, so the
// first match is the only one.
const activeCampaign = (
  campaigns: ReadonlyArray<Campaign>,
  context: ConversionContext
): Campaign | undefined => {
  const at = context.at
  if (at === undefined) return undefined
  const time = at.getTime()
  return campaigns.find(
    (campaign) =>
      campaign.from.getTime() <= time &&
      time < campaign.until.getTime() &&
      covers(campaign.offerIds, context.offerId) &&
      covers(campaign.advertiserNames, context.advertiserName)
  )
}

/** The most specific rule that sets `field`: offer override, then advertiser override, then base. */
const pick = <K extends "multiplier" | "bonus">(
  compiled: CompiledRules,
  context: ConversionContext,
  field: K
):
  | {
      readonly value: NonNullable<RewardOverride[K]>
      readonly applied: Omit<AppliedValue, "value">
    }
  | undefined => {
  const byOffer = context.offerId === undefined ? undefined : compiled.byOffer.get(context.offerId)
  const offerValue = byOffer?.[field]
  if (offerValue !== undefined) {
    return { value: offerValue, applied: { source: "offer", match: context.offerId! } }
  }
  const byAdvertiser =
    context.advertiserName === undefined
      ? undefined
      : compiled.byAdvertiser.get(context.advertiserName)
  const advertiserValue = byAdvertiser?.[field]
  if (advertiserValue !== undefined) {
    return {
      value: advertiserValue,
      applied: { source: "advertiser", match: context.advertiserName! }
    }
  }
  const baseValue = compiled.rules[field]
  return baseValue === undefined
    ? undefined
    : {
        value: baseValue as NonNullable<RewardOverride[K]>,
        applied: { source: "base", match: null }
      }
}

const sourceLabel = (applied: AppliedValue, base: string): string =>
  applied.source === "base" ? base : `${applied.source} ${JSON.stringify(applied.match)}`

const summarize = (e: Omit<CreditedExplanation, "summary">, total: bigint): string => {
  let text = `${e.payout} USD × ${e.multiplier.value} (${sourceLabel(e.multiplier, "multiplier")})`
  if (e.campaign !== null) {
    text += ` × ${e.campaign.multiplier} (campaign ${JSON.stringify(e.campaign.name)})`
  }
  text += ` = ${e.exact}; ${e.rounding} → ${e.rounded}`
  if (e.bonus !== null)
    text += `; + ${e.bonus.value} bonus (${sourceLabel(e.bonus, "bonus")}) = ${total}`
  if (e.limit !== null) {
    text += `; ${e.limit.rule === "minPoints" ? "raised to minPoints" : "capped at maxPoints"} → ${e.limit.value}`
  }
  return `${text} points`
}

const ONE = Decimal.fromBigInt(1n)

/**
 * {@link convert} without throwing: the result, or the reason the input or
 * the rules cannot be used.
 */
export const convertResult = (
  payout: Decimal | string,
  rules: RewardRules | RewardRulesInput,
  context: ConversionContext = {}
): Result.Result<ConversionResult, ConversionError | RewardRulesError> => {
  const compiled = compileRules(rules)
  if (Result.isFailure(compiled)) return Result.fail(compiled.failure)
  const { rules: valid } = compiled.success
  const amount = readPayout(payout)
  if (Result.isFailure(amount)) return Result.fail(amount.failure)
  const checked = readContext(context, valid)
  if (Result.isFailure(checked)) return Result.fail(checked.failure)
  const payoutText = amount.success.toString()

  if (valid.credit === "loyalty-boost-only" && context.isLoyaltyBoost === false) {
    return Result.succeed({
      points: 0n,
      credited: false,
      explanation: {
        credited: false,
        payout: payoutText,
        reason: "not-loyalty-boost",
        points: "0",
        summary:
          'not credited: not a LoyaltyBoost conversion, and the rules credit LoyaltyBoost conversions only (credit: "loyalty-boost-only")'
      }
    })
  }

  const rate = pick(compiled.success, context, "multiplier")!
  const campaign = activeCampaign(valid.campaigns, context)
  const exact = amount.success.multiply(rate.value).multiply(campaign?.multiplier ?? ONE)
  const rounded = exact.toBigInt(valid.rounding)
  const bonus = pick(compiled.success, context, "bonus")
  const total = rounded + (bonus?.value ?? 0n)
  if (total > MAX_POINTS) {
    return fail(
      "PointsOutOfRange",
      "points",
      `${payoutText} USD gives ${total} points, more than MAX_POINTS (${MAX_POINTS}); refusing an absurd result`
    )
  }
  let points = total
  let limit: AppliedLimit | null = null
  if (valid.minPoints !== undefined && total < valid.minPoints) {
    points = valid.minPoints
    limit = { rule: "minPoints", value: points.toString(), before: total.toString() }
  } else if (valid.maxPoints !== undefined && total > valid.maxPoints) {
    points = valid.maxPoints
    limit = { rule: "maxPoints", value: points.toString(), before: total.toString() }
  }

  const appliedCampaign: AppliedCampaign | null =
    campaign === undefined
      ? null
      : {
          name: campaign.name,
          multiplier: campaign.multiplier.toString(),
          from: campaign.from.toISOString(),
          until: campaign.until.toISOString()
        }
  const explanation: Omit<CreditedExplanation, "summary"> = {
    credited: true,
    payout: payoutText,
    multiplier: { value: rate.value.toString(), ...rate.applied },
    campaign: appliedCampaign,
    exact: exact.normalize().toString(),
    rounding: valid.rounding,
    rounded: rounded.toString(),
    bonus: bonus === undefined ? null : { value: bonus.value.toString(), ...bonus.applied },
    limit,
    points: points.toString()
  }
  return Result.succeed({
    points,
    credited: true,
    explanation: { ...explanation, summary: summarize(explanation, total) }
  })
}

/**
 * Converts a USD payout to whole points with exact decimal arithmetic.
 *
 * `rules` is a rule set from {@link parseRules}, or a rules object in its JSON
 * form (validated on every call: parse once for a hot path). Throws a
 * `ConversionError` for invalid input or a `RewardRulesError` for invalid
 * rules; a conversion the rules do not credit returns `credited: false` and
 * `0n`.
 *
 * @example
 * import { convert, parseRules } from "@org/reward-converter"
 *
 * const rules = parseRules({ multiplier: "10" })
 * convert("30", rules).points                      // 300n
 * convert("2.10", rules).explanation.summary       // "2.10 USD × 10 (multiplier) = 21; floor → 21 points"
 */
export const convert = (
  payout: Decimal | string,
  rules: RewardRules | RewardRulesInput,
  context?: ConversionContext
): ConversionResult =>
  Result.getOrThrowWith(convertResult(payout, rules, context), (error) => error)

/** {@link convert} as an Effect, failing with the same typed errors. */
export const convertEffect = (
  payout: Decimal | string,
  rules: RewardRules | RewardRulesInput,
  context?: ConversionContext
): Effect.Effect<ConversionResult, ConversionError | RewardRulesError> =>
  Effect.suspend(() => Effect.fromResult(convertResult(payout, rules, context)))

/** The conversion context of a decoded postback: its offer, advertiser, LoyaltyBoost flag and timestamp. */
export const conversionContext = (postback: Postback): ConversionContext => ({
  offerId: postback.offerId,
  advertiserName: postback.advertiserName,
  isLoyaltyBoost: postback.isLoyaltyBoost,
  at: postback.timestamp
})

/**
 * Converts a decoded postback's payout, with its offer, advertiser,
 * LoyaltyBoost flag and timestamp as the context.
 */
export const convertPostback = (
  postback: Postback,
  rules: RewardRules | RewardRulesInput
): ConversionResult => convert(postback.payout, rules, conversionContext(postback))
