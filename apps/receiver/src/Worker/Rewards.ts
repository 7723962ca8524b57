import { readFile } from "node:fs/promises"
import { delayAfter, exponential } from "@org/postback-retry"
import {
  convertEither,
  parseRules,
  parseRulesJsonEither,
  type RewardRules
} from "@org/reward-converter"
import { ConfigError, Duration, Effect, Either, Layer, Option } from "effect"
import { ReceiverConfig } from "../Config.ts"
import { RewardPolicy } from "./RewardPolicy.ts"

/** The reward rules: `REWARD_RULES_FILE` when set, otherwise `{ multiplier: POINTS_PER_USD }`. */
export const loadRewardRules: Effect.Effect<RewardRules, ConfigError.ConfigError, ReceiverConfig> =
  Effect.gen(function* () {
    const config = yield* ReceiverConfig
    if (Option.isNone(config.rewardRulesFile)) {
      return parseRules({ multiplier: config.pointsPerUsd.toString() })
    }
    const file = config.rewardRulesFile.value
    const text = yield* Effect.tryPromise({
      try: () => readFile(file, "utf8"),
      catch: (error) =>
        ConfigError.InvalidData(
          ["REWARD_RULES_FILE"],
          `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`
        )
    })
    return yield* Either.mapLeft(parseRulesJsonEither(text), (error) =>
      ConfigError.InvalidData(["REWARD_RULES_FILE"], `${file}: ${error.message}`)
    )
  })

/**
 * Crediting with `@org/reward-converter`, retries with `@org/postback-retry`:
 * - the rules do not credit the conversion (by default: not LoyaltyBoost): `recorded`
 * - credited, but no user id in the payload: `unattributed`
 * - credited: the points and the converter's explanation
 * - the converter refuses the input (e.g. an absurd result): `dead`, with its message
 */
export const RewardPolicyLive: Layer.Layer<RewardPolicy, ConfigError.ConfigError, ReceiverConfig> =
  Layer.effect(
    RewardPolicy,
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      const rules = yield* loadRewardRules
      const retry = exponential({
        baseSeconds: Duration.toSeconds(config.workerRetryBase),
        factor: 2,
        capSeconds: Duration.toSeconds(config.workerRetryCap),
        maxAttempts: config.workerMaxAttempts,
        jitter: "full"
      })
      return {
        decide: (row) => {
          const result = convertEither(row.payout, rules, {
            offerId: row.offerId,
            advertiserName: row.advertiserName,
            isLoyaltyBoost: row.isLoyaltyBoost,
            at: row.occurredAt
          })
          if (Either.isLeft(result)) return { status: "dead", error: result.left.message }
          const { credited, points, explanation } = result.right
          if (!credited) return { status: "recorded", outcome: explanation }
          if (row.userId === null) {
            return {
              status: "unattributed",
              outcome: {
                reason: "no-user-id",
                summary: `no "${config.userIdKey}" in the payload: nobody to credit`,
                wouldHaveCredited: explanation
              }
            }
          }
          return { status: "credited", userId: row.userId, points, explanation }
        },
        retryDelay: (attempts) => delayAfter(retry, attempts)
      }
    })
  )
