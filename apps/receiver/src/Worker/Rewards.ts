import { readFile } from "node:fs/promises"
import {
  convertResult,
  parseRules,
  parseRulesJsonResult,
  type RewardRules
} from "@org/reward-converter"
import { type Config, Effect, Layer, Option, Result } from "effect"
import { invalidSetting, ReceiverConfig } from "../Config.ts"
import { type Conversion, type Decision, RewardPolicy, type SettledStatus } from "./RewardPolicy.ts"

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
 * The reward policy of {@link RewardPolicy} with `@org/reward-converter` and
 * the rules of {@link loadRewardRules}.
 */
export const RewardPolicyLive: Layer.Layer<RewardPolicy, Config.ConfigError, ReceiverConfig> =
  Layer.effect(
    RewardPolicy,
    Effect.gen(function* () {
      const config = yield* ReceiverConfig
      const rules = yield* loadRewardRules
      const settled = <S extends Exclude<SettledStatus, "credited">>(
        conversion: Conversion,
        status: S,
        explanation: unknown,
        error: string | null = null
      ) => ({
        credit: undefined,
        settlement: { postbackId: conversion.postbackId, status, explanation, error }
      })
      const decide = (conversion: Conversion): Decision => {
        const payout = conversion.payout.toString()
        if (conversion.payout.isZero()) {
          return settled(conversion, "recorded", {
            credited: false,
            reason: "zero-payout",
            payout,
            points: "0",
            summary: `a payout of ${payout} USD credits nothing: recorded`
          })
        }
        const result = convertResult(conversion.payout, rules, {
          offerId: conversion.offerId,
          advertiserName: conversion.advertiserName,
          isLoyaltyBoost: conversion.isLoyaltyBoost,
          at: conversion.occurredAt
        })
        if (Result.isFailure(result)) {
          return settled(conversion, "dead", null, result.failure.message)
        }
        const { credited, points, explanation } = result.success
        if (!credited) return settled(conversion, "recorded", explanation)
        if (points === 0n) {
          return settled(conversion, "recorded", {
            credited: false,
            reason: "no-points",
            payout,
            points: "0",
            summary: `${explanation.summary}: nothing to credit, recorded`,
            conversion: explanation
          })
        }
        if (conversion.userId === null) {
          return settled(conversion, "unattributed", {
            reason: "no-user-id",
            summary: `no "${config.userIdKey}" in the payload: nobody to credit`,
            wouldHaveCredited: explanation
          })
        }
        return {
          credit: {
            postbackId: conversion.postbackId,
            userId: conversion.userId,
            points,
            payout: conversion.payout,
            explanation
          },
          settlement: {
            postbackId: conversion.postbackId,
            status: "credited",
            explanation,
            error: null
          }
        }
      }
      return RewardPolicy.of({ decide })
    })
  )
