import { readFile } from "node:fs/promises"
import { delayAfter, exponential } from "@org/postback-retry"
import {
  convertResult,
  parseRules,
  parseRulesJsonResult,
  type RewardRules
} from "@org/reward-converter"
import { type Config, Duration, Effect, Layer, Option, Random, Result } from "effect"
import { invalidSetting, ReceiverConfig } from "../Config.ts"
import { RewardPolicy } from "./RewardPolicy.ts"

/** The reward rules: `REWARD_RULES_FILE` when set, otherwise `{ multiplier: POINTS_PER_USD }`. */
export const loadRewardRules: Effect.Effect<RewardRules, Config.ConfigError, ReceiverConfig> =
  Effect.gen(function* () {
    const config = yield* ReceiverConfig
    if (Option.isNone(config.rewardRulesFile)) {
      return parseRules({ multiplier: config.pointsPerUsd.toString() })
    }
    const file = config.rewardRulesFile.value
    const text = yield* Effect.tryPromise({
      try: () => readFile(file, "utf8"),
      catch: (error) =>
        invalidSetting(
          "REWARD_RULES_FILE",
          `REWARD_RULES_FILE: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`
        )
    })
    return yield* Effect.fromResult(parseRulesJsonResult(text)).pipe(
      Effect.mapError((error) =>
        invalidSetting("REWARD_RULES_FILE", `REWARD_RULES_FILE: ${file}: ${error.message}`)
      )
    )
  })

/**
 * Crediting with `@org/reward-converter`, retries with `@org/postback-retry`:
 * - the rules do not credit the conversion (by default: not LoyaltyBoost): `recorded`
 * - credited, but no user id in the payload: `unattributed`
 * - credited: the points and the converter's explanation
 * - the converter refuses the input (e.g. an absurd result): `dead`, with its message
 */
export const RewardPolicyLive: Layer.Layer<RewardPolicy, Config.ConfigError, ReceiverConfig> =
  Layer.effect(
    RewardPolicy,
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      const rules = yield* loadRewardRules
      // The jitter draws from Effect's Random, so a test can fix it.
      const random = yield* Random.Random
      const retry = exponential({
        baseSeconds: Duration.toSeconds(config.workerRetryBase),
        factor: 2,
        capSeconds: Duration.toSeconds(config.workerRetryCap),
        maxAttempts: config.workerMaxAttempts,
        jitter: "full"
      })
      return RewardPolicy.of({
        decide: (row) => {
          const result = convertResult(row.payout, rules, {
            offerId: row.offerId,
            advertiserName: row.advertiserName,
            isLoyaltyBoost: row.isLoyaltyBoost,
            at: row.occurredAt
          })
          if (Result.isFailure(result)) return { status: "dead", error: result.failure.message }
          const { credited, points, explanation } = result.success
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
        retryDelay: (attempts) =>
          delayAfter(retry, attempts, { random: () => random.nextDoubleUnsafe() })
      })
    })
  )
