import { Context } from "effect"
import type { ClaimedRow } from "./WorkerSql.ts"

/** What the worker does with one postback. */
export type Decision =
  | {
      readonly status: "credited"
      readonly userId: string
      readonly points: bigint
      /** Why this many points: stored with the reward transaction. */
      readonly explanation: unknown
    }
  | { readonly status: "recorded" | "unattributed"; readonly outcome: unknown }
  | { readonly status: "dead"; readonly error: string }

/** Decides each postback's fate and how transient failures are retried. */
export class RewardPolicy extends Context.Service<
  RewardPolicy,
  {
    readonly decide: (row: ClaimedRow) => Decision
    /** Seconds before retrying after `attempts` failed attempts, or `undefined` to give up. */
    readonly retryDelay: (attempts: number) => number | undefined
  }
>()("@org/receiver/RewardPolicy") {}
