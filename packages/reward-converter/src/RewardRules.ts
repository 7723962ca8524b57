import { type Decimal, ROUNDING_MODES, type RoundingMode } from "@org/postback-schema"
import { type Cause, Data, Effect, Result, Schema, SchemaParser } from "effect"
import { checkRules } from "./internal/checks.ts"
import {
  describe,
  Instant,
  instantJson,
  NonEmptyText,
  NonEmptyTexts,
  NonNegativeDecimalText,
  Note,
  nonEmptyTextJson,
  nonEmptyTextsJson,
  nonNegativeDecimalTextJson,
  noteJson,
  oneOf,
  oneOfJson,
  PointsAmount,
  pointsAmountJson
} from "./internal/fields.ts"
import { formatRuleIssue, problem, ruleIssue, ruleIssues } from "./internal/issues.ts"
import { validatedRules } from "./internal/validated.ts"

/**
 * Which conversions earn points.
 *
 * - `loyalty-boost-only` (the default): only LoyaltyBoost conversions; any
 *   other is answered with `credited: false` and 0 points.
 * - `all`: every conversion.
 */
export type CreditPolicy = "loyalty-boost-only" | "all"

/** Every credit policy, the default first. */
export const CREDIT_POLICIES: readonly ["loyalty-boost-only", "all"] = ["loyalty-boost-only", "all"]

/**
 * A different multiplier and/or bonus for one offer (`offerId`) or for every
 * offer of one advertiser (`advertiserName`). Exactly one of the two is set.
 */
export interface RewardOverride {
  /** The offer this override applies to (`offer_id`, compared exactly). */
  readonly offerId?: string
  /** The advertiser this override applies to (`advertiser_name`, compared exactly). */
  readonly advertiserName?: string
  /** Points per USD for these conversions, replacing the base multiplier. */
  readonly multiplier?: Decimal
  /** Fixed points added per conversion, replacing the base bonus. */
  readonly bonus?: bigint
  readonly description?: string
}

/**
 * A time-boxed multiplier ("double points"): applies to conversions whose
 * time is in `[from, until)`, optionally only for some offers or advertisers.
 */
export interface Campaign {
  /** Unique among the campaigns; shown in explanations. */
  readonly name: string
  /** Factor applied on top of the (base or overridden) multiplier, e.g. `2`. */
  readonly multiplier: Decimal
  /** First instant of the campaign (inclusive). */
  readonly from: Date
  /** End of the campaign (exclusive). */
  readonly until: Date
  /** Only these offers (when set). */
  readonly offerIds?: ReadonlyArray<string>
  /** Only these advertisers (when set). */
  readonly advertiserNames?: ReadonlyArray<string>
  readonly description?: string
}

/**
 * A validated rule set: how a USD payout becomes points. Obtain one from
 * {@link parseRules} (or {@link parseRulesJson}), which checks every field
 * and refuses ambiguous combinations.
 */
export interface RewardRules {
  /** The JSON Schema a rules file may point at; ignored. */
  readonly $schema?: string
  readonly description?: string
  /** Points per USD (the currency multiplier), e.g. `10` or `12.5`. */
  readonly multiplier: Decimal
  /** How the exact points value becomes whole points; `floor` by default. */
  readonly rounding: RoundingMode
  /** Which conversions earn points; `loyalty-boost-only` by default. */
  readonly credit: CreditPolicy
  /** Fixed points added to every credited conversion. */
  readonly bonus?: bigint
  /** Fewest points a credited conversion earns. */
  readonly minPoints?: bigint
  /** Most points a credited conversion earns. */
  readonly maxPoints?: bigint
  /** Per-offer and per-advertiser overrides. */
  readonly overrides: ReadonlyArray<RewardOverride>
  /** Time-boxed campaign multipliers; never overlapping for the same conversion. */
  readonly campaigns: ReadonlyArray<Campaign>
}

/** An override as written in a rules file. */
export interface RewardOverrideInput {
  readonly offerId?: string
  readonly advertiserName?: string
  readonly multiplier?: string
  readonly bonus?: number | string
  readonly description?: string
}

/** A campaign as written in a rules file. */
export interface CampaignInput {
  readonly name: string
  readonly multiplier: string
  readonly from: string
  readonly until: string
  readonly offerIds?: ReadonlyArray<string>
  readonly advertiserNames?: ReadonlyArray<string>
  readonly description?: string
}

/**
 * A rule set as written in a rules file (JSON): decimals are strings, points
 * are JSON integers or digit strings, instants are ISO 8601 text. The smallest
 * valid one is `{ "multiplier": "10" }`.
 */
export interface RewardRulesInput {
  readonly $schema?: string
  readonly description?: string
  readonly multiplier: string
  readonly rounding?: RoundingMode
  readonly credit?: CreditPolicy
  readonly bonus?: number | string
  readonly minPoints?: number | string
  readonly maxPoints?: number | string
  readonly overrides?: ReadonlyArray<RewardOverrideInput>
  readonly campaigns?: ReadonlyArray<CampaignInput>
}

const OVERRIDE_DESCRIPTION = "a different multiplier and/or bonus for one offer or one advertiser"

const RewardOverrideSchema = Schema.Struct({
  offerId: Schema.optionalKey(NonEmptyText),
  advertiserName: Schema.optionalKey(NonEmptyText),
  multiplier: Schema.optionalKey(NonNegativeDecimalText),
  bonus: Schema.optionalKey(PointsAmount),
  description: Schema.optionalKey(Note)
}).annotate({
  description: OVERRIDE_DESCRIPTION,
  ...problem((actual) => `expected an override object, got ${describe(actual)}`)
})

const CAMPAIGN_DESCRIPTION = "a multiplier applied to conversions whose time is in [from, until)"

const CampaignSchema = Schema.Struct({
  name: NonEmptyText,
  multiplier: NonNegativeDecimalText,
  from: Instant,
  until: Instant,
  offerIds: Schema.optionalKey(NonEmptyTexts),
  advertiserNames: Schema.optionalKey(NonEmptyTexts),
  description: Schema.optionalKey(Note)
}).annotate({
  description: CAMPAIGN_DESCRIPTION,
  ...problem((actual) => `expected a campaign object, got ${describe(actual)}`)
})

const roundingModes = ROUNDING_MODES as unknown as readonly [RoundingMode, ...Array<RoundingMode>]

const ROUNDING_DESCRIPTION = "how exact points become whole points"
const CREDIT_DESCRIPTION = "which conversions earn points"

/**
 * The rules file as an Effect Schema: decodes the JSON form
 * ({@link RewardRulesInput}) to {@link RewardRules}, applying the defaults and
 * every check, and encodes back to JSON.
 */
export const RewardRulesSchema: Schema.Codec<RewardRules, RewardRulesInput> = Schema.Struct({
  $schema: Schema.optionalKey(
    Schema.String.annotate(problem((actual) => `expected a string, got ${describe(actual)}`))
  ),
  description: Schema.optionalKey(Note),
  multiplier: NonNegativeDecimalText,
  rounding: oneOf(roundingModes, ROUNDING_DESCRIPTION).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed<RoundingMode>("floor"))
  ),
  credit: oneOf(CREDIT_POLICIES, CREDIT_DESCRIPTION).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed<CreditPolicy>("loyalty-boost-only"))
  ),
  bonus: Schema.optionalKey(PointsAmount),
  minPoints: Schema.optionalKey(PointsAmount),
  maxPoints: Schema.optionalKey(PointsAmount),
  overrides: Schema.Array(RewardOverrideSchema)
    .annotate(problem((actual) => `expected an array of overrides, got ${describe(actual)}`))
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))),
  campaigns: Schema.Array(CampaignSchema)
    .annotate(problem((actual) => `expected an array of campaigns, got ${describe(actual)}`))
    .pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))
}).check(
  Schema.makeFilter((rules: RewardRules) =>
    checkRules(rules).map(({ path, message }) => ({ path, issue: message }))
  )
)

/**
 * The JSON Schema (draft-07) of a rules file, for editors and CI checks: the
 * document the package ships as `reward-rules.schema.json`. Checks that span
 * several fields (duplicates, overlaps, minPoints above maxPoints) are beyond
 * JSON Schema: {@link parseRules} is the authority.
 *
 * @example
 * import { rewardRulesJsonSchema } from "@org/reward-converter"
 *
 * rewardRulesJsonSchema().required // ["multiplier"]
 */
export const rewardRulesJsonSchema = (): RewardRulesJsonSchemaDocument => ({
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "Reward rules",
  description:
    'How @org/reward-converter turns a USD payout into loyalty points. The smallest valid rules: {"multiplier": "10"}.',
  type: "object",
  required: ["multiplier"],
  properties: {
    $schema: { type: "string" },
    description: noteJson,
    multiplier: nonNegativeDecimalTextJson,
    rounding: oneOfJson(ROUNDING_MODES, ROUNDING_DESCRIPTION),
    credit: oneOfJson(CREDIT_POLICIES, CREDIT_DESCRIPTION),
    bonus: pointsAmountJson,
    minPoints: pointsAmountJson,
    maxPoints: pointsAmountJson,
    overrides: {
      type: "array",
      items: {
        type: "object",
        required: [],
        properties: {
          offerId: nonEmptyTextJson,
          advertiserName: nonEmptyTextJson,
          multiplier: nonNegativeDecimalTextJson,
          bonus: pointsAmountJson,
          description: noteJson
        },
        additionalProperties: false,
        description: OVERRIDE_DESCRIPTION
      }
    },
    campaigns: {
      type: "array",
      items: {
        type: "object",
        required: ["name", "multiplier", "from", "until"],
        properties: {
          name: nonEmptyTextJson,
          multiplier: nonNegativeDecimalTextJson,
          from: instantJson,
          until: instantJson,
          offerIds: nonEmptyTextsJson,
          advertiserNames: nonEmptyTextsJson,
          description: noteJson
        },
        additionalProperties: false,
        description: CAMPAIGN_DESCRIPTION
      }
    }
  },
  additionalProperties: false
})

/**
 * The JSON Schema document (draft-07) of a rules file; the properties are the
 * fields of {@link RewardRulesInput}. Other members are plain JSON Schema
 * keywords.
 */
export interface RewardRulesJsonSchemaDocument {
  readonly $schema: string
  readonly title: string
  readonly description: string
  readonly type: "object"
  readonly required: ReadonlyArray<string>
  readonly properties: { readonly [field: string]: { readonly [keyword: string]: unknown } }
  readonly additionalProperties: boolean
}

/** One problem in a rules file: which rule, which field, what is wrong. */
export interface RuleIssue {
  /** `top level`, `overrides[1] (offer "1511")`, `campaigns[0] ("black-friday")`. */
  readonly rule: string
  /** The field within the rule (`multiplier`, `offerIds[2]`), or `""` for the rule as a whole. */
  readonly field: string
  /** The path into the JSON document. */
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

const RewardRulesErrorBase: new (args: {
  readonly issues: ReadonlyArray<RuleIssue>
}) => Cause.YieldableError & {
  readonly _tag: "RewardRulesError"
  readonly issues: ReadonlyArray<RuleIssue>
} = Data.TaggedError("RewardRulesError")

/**
 * A rules file that cannot be used. The message lists every issue, each
 * naming the rule and the field.
 */
export class RewardRulesError extends RewardRulesErrorBase {
  override get message(): string {
    const lines = this.issues.map(formatRuleIssue)
    return lines.length === 1
      ? `Invalid reward rules: ${lines[0]}`
      : `Invalid reward rules (${lines.length} problems):\n- ${lines.join("\n- ")}`
  }
}

const decode = SchemaParser.decodeUnknownResult(RewardRulesSchema, {
  errors: "all",
  onExcessProperty: "error"
})

const freeze = (rules: RewardRules): RewardRules => {
  for (const override of rules.overrides) Object.freeze(override)
  for (const campaign of rules.campaigns) Object.freeze(campaign)
  Object.freeze(rules.overrides)
  Object.freeze(rules.campaigns)
  validatedRules.add(rules)
  return Object.freeze(rules)
}

/**
 * Validates a rules value (e.g. `JSON.parse` of a rules file) without
 * throwing.
 */
export const parseRulesResult = (json: unknown): Result.Result<RewardRules, RewardRulesError> => {
  if (typeof json === "object" && json !== null && validatedRules.has(json)) {
    return Result.succeed(json as RewardRules)
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return Result.fail(
      new RewardRulesError({
        issues: [
          ruleIssue(json, [], `expected an object like {"multiplier": "10"}, got ${describe(json)}`)
        ]
      })
    )
  }
  return Result.match(decode(json), {
    onFailure: (issue) =>
      Result.fail(new RewardRulesError({ issues: ruleIssues(json, issue, RewardRulesSchema.ast) })),
    onSuccess: (rules) => Result.succeed(freeze(rules))
  })
}

/**
 * Validates a rules value (e.g. `JSON.parse` of a rules file). Throws a
 * {@link RewardRulesError} whose message names each bad rule and field.
 *
 * @example
 * import { convert, parseRules } from "@org/reward-converter"
 *
 * const rules = parseRules({ multiplier: "10" })
 * convert("30", rules).points // 300n
 */
export const parseRules = (json: unknown): RewardRules =>
  Result.getOrThrowWith(parseRulesResult(json), (error) => error)

/** {@link parseRules} as an Effect. */
export const parseRulesEffect = (json: unknown): Effect.Effect<RewardRules, RewardRulesError> =>
  Effect.suspend(() => Effect.fromResult(parseRulesResult(json)))

/** Reads the text of a rules file: JSON syntax errors are a {@link RewardRulesError} too. */
export const parseRulesJsonResult = (
  text: string
): Result.Result<RewardRules, RewardRulesError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return Result.fail(
      new RewardRulesError({ issues: [ruleIssue(undefined, [], `not valid JSON: ${reason}`)] })
    )
  }
  return parseRulesResult(json)
}

/**
 * Reads the text of a rules file (JSON). Throws a {@link RewardRulesError} for
 * invalid JSON or invalid rules.
 *
 * @example
 * const rules = parseRulesJson(await Deno.readTextFile("rewards.json"))
 */
export const parseRulesJson = (text: string): RewardRules =>
  Result.getOrThrowWith(parseRulesJsonResult(text), (error) => error)

/** The rules back in their JSON form, with defaults written out. */
export const encodeRules = (rules: RewardRules): RewardRulesInput =>
  Schema.encodeSync(RewardRulesSchema)(rules)
