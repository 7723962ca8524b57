import { type Decimal, ROUNDING_MODES, type RoundingMode } from "@org/postback-schema"
import { type Cause, Data, Effect, Either, JSONSchema, Schema } from "effect"
import { checkRules } from "./internal/checks.ts"
import {
  describe,
  Instant,
  NonEmptyText,
  NonEmptyTexts,
  NonNegativeDecimalText,
  Note,
  oneOf,
  PointsAmount
} from "./internal/fields.ts"
import { formatRuleIssue, ruleIssue, ruleIssues } from "./internal/issues.ts"
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

const optional = <A, I>(schema: Schema.Schema<A, I>) => Schema.optionalWith(schema, { exact: true })

const RewardOverrideSchema = Schema.Struct({
  offerId: optional(NonEmptyText),
  advertiserName: optional(NonEmptyText),
  multiplier: optional(NonNegativeDecimalText),
  bonus: optional(PointsAmount),
  description: optional(Note)
}).annotations({
  description: "a different multiplier and/or bonus for one offer or one advertiser",
  message: (issue) => `expected an override object, got ${describe(issue.actual)}`
})

const CampaignSchema = Schema.Struct({
  name: NonEmptyText,
  multiplier: NonNegativeDecimalText,
  from: Instant,
  until: Instant,
  offerIds: optional(NonEmptyTexts),
  advertiserNames: optional(NonEmptyTexts),
  description: optional(Note)
}).annotations({
  description: "a multiplier applied to conversions whose time is in [from, until)",
  message: (issue) => `expected a campaign object, got ${describe(issue.actual)}`
})

const roundingModes = ROUNDING_MODES as unknown as readonly [RoundingMode, ...Array<RoundingMode>]

/**
 * The rules file as an Effect Schema: decodes the JSON form
 * ({@link RewardRulesInput}) to {@link RewardRules}, applying the defaults and
 * every check, and encodes back to JSON.
 */
export const RewardRulesSchema: Schema.Schema<RewardRules, RewardRulesInput> = Schema.Struct({
  $schema: optional(Schema.String),
  description: optional(Note),
  multiplier: NonNegativeDecimalText,
  rounding: Schema.optionalWith(oneOf(roundingModes, "how exact points become whole points"), {
    exact: true,
    default: () => "floor" as const
  }),
  credit: Schema.optionalWith(oneOf(CREDIT_POLICIES, "which conversions earn points"), {
    exact: true,
    default: () => "loyalty-boost-only" as const
  }),
  bonus: optional(PointsAmount),
  minPoints: optional(PointsAmount),
  maxPoints: optional(PointsAmount),
  overrides: Schema.optionalWith(
    Schema.Array(RewardOverrideSchema).annotations({
      message: (issue) => `expected an array of overrides, got ${describe(issue.actual)}`
    }),
    { exact: true, default: () => [] }
  ),
  campaigns: Schema.optionalWith(
    Schema.Array(CampaignSchema).annotations({
      message: (issue) => `expected an array of campaigns, got ${describe(issue.actual)}`
    }),
    { exact: true, default: () => [] }
  )
}).pipe(Schema.filter((rules) => checkRules(rules)))

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

const decode = Schema.decodeUnknownEither(RewardRulesSchema, {
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
export const parseRulesEither = (json: unknown): Either.Either<RewardRules, RewardRulesError> => {
  if (typeof json === "object" && json !== null && validatedRules.has(json)) {
    return Either.right(json as RewardRules)
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return Either.left(
      new RewardRulesError({
        issues: [
          ruleIssue(json, [], `expected an object like {"multiplier": "10"}, got ${describe(json)}`)
        ]
      })
    )
  }
  return Either.match(decode(json), {
    onLeft: (error) => Either.left(new RewardRulesError({ issues: ruleIssues(json, error) })),
    onRight: (rules) => Either.right(freeze(rules))
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
  Either.getOrThrowWith(parseRulesEither(json), (error) => error)

/** {@link parseRules} as an Effect. */
export const parseRulesEffect = (json: unknown): Effect.Effect<RewardRules, RewardRulesError> =>
  Effect.suspend(() => parseRulesEither(json))

/** Reads the text of a rules file: JSON syntax errors are a {@link RewardRulesError} too. */
export const parseRulesJsonEither = (
  text: string
): Either.Either<RewardRules, RewardRulesError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return Either.left(
      new RewardRulesError({ issues: [ruleIssue(undefined, [], `not valid JSON: ${reason}`)] })
    )
  }
  return parseRulesEither(json)
}

/**
 * Reads the text of a rules file (JSON). Throws a {@link RewardRulesError} for
 * invalid JSON or invalid rules.
 *
 * @example
 * const rules = parseRulesJson(await Deno.readTextFile("rewards.json"))
 */
export const parseRulesJson = (text: string): RewardRules =>
  Either.getOrThrowWith(parseRulesJsonEither(text), (error) => error)

/** The rules back in their JSON form, with defaults written out. */
export const encodeRules = (rules: RewardRules): RewardRulesInput =>
  Schema.encodeSync(RewardRulesSchema)(rules)

/**
 * The JSON Schema (draft-07) of a rules file, for editors and CI checks. The
 * package also ships it as `reward-rules.schema.json`. Checks that span
 * several fields (duplicates, overlaps, minPoints above maxPoints) are beyond
 * JSON Schema: {@link parseRules} is the authority.
 */
export const rewardRulesJsonSchema = (): JSONSchema.JsonSchema7Root => {
  const { $schema, ...schema } = JSONSchema.make(RewardRulesSchema)
  return {
    $schema,
    title: "Reward rules",
    description:
      'How @org/reward-converter turns a USD payout into loyalty points. The smallest valid rules: {"multiplier": "10"}.',
    ...schema
  } as JSONSchema.JsonSchema7Root
}
