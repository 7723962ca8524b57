import { ROUNDING_MODES, type RoundingMode } from "@org/postback-schema"
import { Schema } from "effect"

/** Where a multiplier or bonus came from: the base rules, an offer override or an advertiser override. */
export type RuleSource = "base" | "offer" | "advertiser"

/** A value taken from the rules, and which rule gave it. */
export interface AppliedValue {
  /** Decimal text (multiplier) or whole points (bonus). */
  readonly value: string
  readonly source: RuleSource
  /** The offer id or advertiser name of the override, `null` for `base`. */
  readonly match: string | null
}

/** The campaign that applied. */
export interface AppliedCampaign {
  readonly name: string
  readonly multiplier: string
  /** ISO 8601. */
  readonly from: string
  /** ISO 8601. */
  readonly until: string
}

/** A minimum or maximum that changed the result. */
export interface AppliedLimit {
  readonly rule: "minPoints" | "maxPoints"
  /** The points the limit set. */
  readonly value: string
  /** The points before the limit. */
  readonly before: string
}

/**
 * Why a credited conversion earned what it earned. Every number is a string
 * (exact decimals, whole points), so the whole value is plain JSON.
 */
export interface CreditedExplanation {
  readonly credited: true
  /** The payout in USD. */
  readonly payout: string
  /** Points per USD, and the rule it came from. */
  readonly multiplier: AppliedValue
  /** The campaign whose multiplier applied, if any. */
  readonly campaign: AppliedCampaign | null
  /** payout × multiplier × campaign multiplier, exactly (trailing zeros removed). */
  readonly exact: string
  /** The rounding mode that made whole points of `exact`. */
  readonly rounding: RoundingMode
  /** `exact` rounded to whole points. */
  readonly rounded: string
  /** The fixed bonus added after rounding, if a rule set one. */
  readonly bonus: AppliedValue | null
  /** The minimum or maximum that changed the result, if any. */
  readonly limit: AppliedLimit | null
  /** The points credited. */
  readonly points: string
  /** One line for people: `30 USD × 10 (multiplier) = 300; floor → 300 points`. */
  readonly summary: string
}

/** A conversion the rules do not credit (not an error: 0 points, and why). */
export interface NotCreditedExplanation {
  readonly credited: false
  readonly payout: string
  /** Machine-readable reason. */
  readonly reason: "not-loyalty-boost"
  readonly points: "0"
  readonly summary: string
}

/** What {@link convert} did, as plain JSON: store it next to the reward transaction. */
export type ConversionExplanation = CreditedExplanation | NotCreditedExplanation

const AppliedValueSchema = Schema.Struct({
  value: Schema.String,
  source: Schema.Literals(["base", "offer", "advertiser"]),
  match: Schema.NullOr(Schema.String)
})

/**
 * The explanation as an Effect Schema, to read a stored explanation back
 * (`Schema.decodeUnknownSync(ConversionExplanation)(JSON.parse(text))`).
 */
export const ConversionExplanation: Schema.Codec<ConversionExplanation> = Schema.Union([
  Schema.Struct({
    credited: Schema.Literal(true),
    payout: Schema.String,
    multiplier: AppliedValueSchema,
    campaign: Schema.NullOr(
      Schema.Struct({
        name: Schema.String,
        multiplier: Schema.String,
        from: Schema.String,
        until: Schema.String
      })
    ),
    exact: Schema.String,
    rounding: Schema.Literals(
      ROUNDING_MODES as unknown as readonly [RoundingMode, ...Array<RoundingMode>]
    ),
    rounded: Schema.String,
    bonus: Schema.NullOr(AppliedValueSchema),
    limit: Schema.NullOr(
      Schema.Struct({
        rule: Schema.Literals(["minPoints", "maxPoints"]),
        value: Schema.String,
        before: Schema.String
      })
    ),
    points: Schema.String,
    summary: Schema.String
  }),
  Schema.Struct({
    credited: Schema.Literal(false),
    payout: Schema.String,
    reason: Schema.Literal("not-loyalty-boost"),
    points: Schema.Literal("0"),
    summary: Schema.String
  })
]).annotate({ identifier: "ConversionExplanation" })
