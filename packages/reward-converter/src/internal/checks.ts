// Checks that span several fields or rules: each one refuses a rule set whose
// meaning would otherwise depend on an unwritten tie-break.
import type { Campaign, RewardOverride, RewardRules } from "../RewardRules.ts"

/** One problem, pointing at the field to fix. */
export interface CheckIssue {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

const overrideLabel = (override: RewardOverride): string =>
  override.offerId !== undefined
    ? `offer ${JSON.stringify(override.offerId)}`
    : `advertiser ${JSON.stringify(override.advertiserName)}`

const checkOverrides = (overrides: ReadonlyArray<RewardOverride>, issues: Array<CheckIssue>) => {
  const byOffer = new Map<string, number>()
  const byAdvertiser = new Map<string, number>()
  overrides.forEach((override, i) => {
    const hasOffer = override.offerId !== undefined
    const hasAdvertiser = override.advertiserName !== undefined
    if (!hasOffer && !hasAdvertiser) {
      issues.push({
        path: ["overrides", i, "offerId"],
        message: "an override needs offerId or advertiserName to say what it applies to"
      })
      return
    }
    if (hasOffer && hasAdvertiser) {
      issues.push({
        path: ["overrides", i, "advertiserName"],
        message:
          "set offerId or advertiserName, not both: an override applies to one offer or to one advertiser"
      })
      return
    }
    if (override.multiplier === undefined && override.bonus === undefined) {
      issues.push({
        path: ["overrides", i, "multiplier"],
        message: "an override must set multiplier, bonus, or both"
      })
    }
    const [seen, key, field] = hasOffer
      ? [byOffer, override.offerId!, "offerId"]
      : [byAdvertiser, override.advertiserName!, "advertiserName"]
    const first = seen.get(key)
    if (first === undefined) {
      seen.set(key, i)
    } else {
      issues.push({
        path: ["overrides", i, field],
        message: `overrides[${first}] already applies to ${overrideLabel(override)} (two overrides for the same ${hasOffer ? "offer" : "advertiser"} would be ambiguous)`
      })
    }
  })
}

const intersects = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean =>
  a.some((x) => b.includes(x))

/**
 * Whether one conversion could fall under both campaigns' scopes. Offer ids
 * and advertiser names cannot be compared with each other (the rules do not
 * know which advertiser owns which offer), so such a pair counts as shared.
 */
const scopesMayMeet = (a: Campaign, b: Campaign): boolean => {
  if (a.offerIds !== undefined && b.offerIds !== undefined)
    return intersects(a.offerIds, b.offerIds)
  if (a.advertiserNames !== undefined && b.advertiserNames !== undefined) {
    return intersects(a.advertiserNames, b.advertiserNames)
  }
  return true
}

const checkCampaigns = (campaigns: ReadonlyArray<Campaign>, issues: Array<CheckIssue>) => {
  const names = new Map<string, number>()
  campaigns.forEach((campaign, i) => {
    const first = names.get(campaign.name)
    if (first === undefined) {
      names.set(campaign.name, i)
    } else {
      issues.push({
        path: ["campaigns", i, "name"],
        message: `campaigns[${first}] already uses the name ${JSON.stringify(campaign.name)} (campaign names must be unique)`
      })
    }
    if (campaign.until.getTime() <= campaign.from.getTime()) {
      issues.push({
        path: ["campaigns", i, "until"],
        message: `must be after from (${campaign.from.toISOString()}), got ${campaign.until.toISOString()}`
      })
      return
    }
    if (campaign.offerIds !== undefined && campaign.advertiserNames !== undefined) {
      issues.push({
        path: ["campaigns", i, "advertiserNames"],
        message: "scope a campaign by offerIds or by advertiserNames, not both"
      })
      return
    }
    for (let j = 0; j < i; j++) {
      const other = campaigns[j]!
      const overlapInTime =
        campaign.from.getTime() < other.until.getTime() &&
        other.from.getTime() < campaign.until.getTime()
      if (
        overlapInTime &&
        other.until.getTime() > other.from.getTime() &&
        scopesMayMeet(campaign, other)
      ) {
        issues.push({
          path: ["campaigns", i, "from"],
          message: `overlaps campaigns[${j}] (${JSON.stringify(other.name)}, ${other.from.toISOString()} to ${other.until.toISOString()}) for the same conversions (campaigns do not stack: at most one may apply to a conversion)`
        })
      }
    }
  })
}

/** Every cross-field problem of a rule set whose fields are each valid. */
export const checkRules = (rules: RewardRules): Array<CheckIssue> => {
  const issues: Array<CheckIssue> = []
  if (
    rules.minPoints !== undefined &&
    rules.maxPoints !== undefined &&
    rules.minPoints > rules.maxPoints
  ) {
    issues.push({
      path: ["minPoints"],
      message: `must not exceed maxPoints (${rules.maxPoints}), got ${rules.minPoints}`
    })
  }
  checkOverrides(rules.overrides, issues)
  checkCampaigns(rules.campaigns, issues)
  return issues
}
