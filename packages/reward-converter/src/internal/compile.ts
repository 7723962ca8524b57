// A rule set prepared for converting: overrides indexed by offer and by
// advertiser, cached per rules object so that the hot path does no lookups
// beyond two Map reads.
import { Decimal } from "@org/postback-schema"
import { Result, SchemaParser } from "effect"
import {
  parseRulesResult,
  type RewardOverride,
  type RewardRules,
  RewardRulesError,
  type RewardRulesInput,
  RewardRulesSchema
} from "../RewardRules.ts"
import { ruleIssues } from "./issues.ts"
import { validatedRules } from "./validated.ts"

export interface CompiledRules {
  readonly rules: RewardRules
  readonly byOffer: ReadonlyMap<string, RewardOverride>
  readonly byAdvertiser: ReadonlyMap<string, RewardOverride>
}

const cache = new WeakMap<object, CompiledRules>()

const compile = (rules: RewardRules): CompiledRules => {
  const byOffer = new Map<string, RewardOverride>()
  const byAdvertiser = new Map<string, RewardOverride>()
  for (const override of rules.overrides) {
    if (override.offerId !== undefined) byOffer.set(override.offerId, override)
    else if (override.advertiserName !== undefined)
      byAdvertiser.set(override.advertiserName, override)
  }
  return { rules, byOffer, byAdvertiser }
}

const encode = SchemaParser.encodeUnknownResult(RewardRulesSchema, { errors: "all" })

/**
 * Validated rules ready to use. Rules from `parseRules` are used as they are;
 * a rules object built by hand is encoded and parsed, so it passes the same
 * checks; a JSON-form object is parsed.
 */
export const compileRules = (
  rules: RewardRules | RewardRulesInput
): Result.Result<CompiledRules, RewardRulesError> => {
  const cached = cache.get(rules)
  if (cached !== undefined) return Result.succeed(cached)
  let validated: Result.Result<RewardRules, RewardRulesError>
  if (validatedRules.has(rules)) {
    validated = Result.succeed(rules as RewardRules)
  } else if (typeof rules === "object" && rules !== null && Decimal.isDecimal(rules.multiplier)) {
    validated = Result.flatMap(
      Result.mapError(
        encode(rules),
        (issue) => new RewardRulesError({ issues: ruleIssues(rules, issue, RewardRulesSchema.ast) })
      ),
      parseRulesResult
    )
  } else {
    validated = parseRulesResult(rules)
  }
  return Result.map(validated, (valid) => {
    // Only the frozen result of parseRules is cached: an object the caller
    // still holds could change before the next call.
    const compiled = compile(valid)
    cache.set(valid, compiled)
    return compiled
  })
}
