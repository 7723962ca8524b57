import type { Decimal } from "@org/postback-schema"
import { Context } from "effect"

/** A stored postback as the reward policy sees it: the conversion, not the row. */
export interface Conversion {
  readonly postbackId: number
  /** USD, exact; never negative (the ingest core refuses a negative payout with 400). */
  readonly payout: Decimal
  readonly offerId: string
  readonly advertiserName: string
  readonly isLoyaltyBoost: boolean
  readonly occurredAt: Date
  /** The payload's user id (`USER_ID_KEY`), or `null` when it names nobody. */
  readonly userId: string | null
}

/** Points to write to the ledger for one postback: always more than zero. */
export interface Credit {
  readonly postbackId: number
  readonly userId: string
  readonly points: bigint
  readonly payout: Decimal
  /** Why this many points: stored with the reward transaction. */
  readonly explanation: unknown
}

/** The status a processed postback ends in. */
export type SettledStatus = "credited" | "recorded" | "unattributed" | "dead"

/** How a postback ends: its status, why (stored as its `outcome`), and the error of a dead one. */
export interface Settlement {
  readonly postbackId: number
  readonly status: SettledStatus
  readonly explanation: unknown
  readonly error: string | null
}

/**
 * What the worker writes for one postback: the settlement, and for a
 * `credited` one the credit (written in the same transaction).
 */
export type Decision =
  | { readonly credit: Credit; readonly settlement: Settlement & { readonly status: "credited" } }
  | {
      readonly credit: undefined
      readonly settlement: Settlement & { readonly status: Exclude<SettledStatus, "credited"> }
    }

/**
 * Decides what a postback is worth: a pure function of the conversion and
 * the rules, so it can be tested without a database. The policy:
 * - the rules do not credit it (by default: not LoyaltyBoost): `recorded`;
 * - a zero payout (`0`, `-0`, `0.00`) or a conversion worth 0 points: `recorded`,
 *   never a 0-point ledger row;
 * - no user id in the payload: `unattributed`, with what it would have credited;
 * - otherwise `credited`, with the points and the converter's explanation;
 * - the converter refuses (an absurd result): `dead`, with its message.
 *
 * There are no negative payouts here: MomentScience documents no reversals,
 * the ingest core refuses a negative payout with 400, and a reversal is an
 * operator's action.
 */
export class RewardPolicy extends Context.Service<
  RewardPolicy,
  { readonly decide: (conversion: Conversion) => Decision }
>()("@org/receiver/RewardPolicy") {}
