import type { PostbackFlag, PostbackSource, RawDelivery } from "@org/postback-handler"
import { sql } from "drizzle-orm"
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  text,
  timestamp
} from "drizzle-orm/pg-core"

/**
 * Where a postback is in its life:
 * - `pending`: stored and acknowledged, waiting for the worker
 * - `processing`: claimed by a worker under a lease (`locked_until`)
 * - `credited`: points written to the ledger (LoyaltyBoost with a user id)
 * - `recorded`: revenue only (not LoyaltyBoost, or the rules credit nothing)
 * - `unattributed`: LoyaltyBoost but no user id in the payload
 * - `held`: payout above the review limit; stored, not credited
 * - `rejected`: the request was not a valid postback; kept for debugging
 * - `dead`: processing failed past the retry policy; replayable
 */
export const POSTBACK_STATUSES = [
  "pending",
  "processing",
  "credited",
  "recorded",
  "unattributed",
  "held",
  "rejected",
  "dead"
] as const

export type PostbackStatus = (typeof POSTBACK_STATUSES)[number]

/** How the postback arrived (see `PostbackSource` of `@org/postback-handler`). */
export type { PostbackSource }

/**
 * The raw request kept for a rejected postback: the ingest core's
 * `RawDelivery` (the secret removed from query and body; a body that is not
 * text as base64) and the caller's address.
 */
export interface RawRequest extends RawDelivery {
  readonly remoteAddress: string | null
}

/** The inbox: every accepted (and every rejected) postback, one row each. */
export const postbacks = pgTable(
  "postbacks",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    /**
     * Identity of the conversion (a SHA-256, base64url); retries of the same
     * postback share it. Null for rejected rows. Binary collation: it is
     * compared, never sorted for people.
     */
    dedupKey: text("dedup_key").unique(),
    status: text("status").$type<PostbackStatus>().notNull(),
    source: text("source").$type<PostbackSource>().notNull(),
    offerId: text("offer_id"),
    advertiserName: text("advertiser_name"),
    /** Exact decimal in USD; `numeric` keeps the scale the sender used (`2.10`). */
    payout: numeric("payout"),
    occurredAt: timestamp("occurred_at", { withTimezone: true, mode: "date" }),
    isLoyaltyBoost: boolean("is_loyalty_boost"),
    payload: jsonb("payload").$type<Record<string, string>>(),
    userId: text("user_id"),
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" })
      .notNull()
      .defaultNow(),
    lastReceivedAt: timestamp("last_received_at", { withTimezone: true, mode: "date" })
      .notNull()
      .defaultNow(),
    /** How many times the sender delivered this postback (retries and replays included). */
    deliveryCount: integer("delivery_count").notNull().default(1),
    /** Processing attempts so far (a claim counts as one). */
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }),
    lockedBy: text("locked_by"),
    lockedUntil: timestamp("locked_until", { withTimezone: true, mode: "date" }),
    processedAt: timestamp("processed_at", { withTimezone: true, mode: "date" }),
    /** Why the postback ended as it did (reward explanation, reason for recorded/unattributed/held). */
    outcome: jsonb("outcome").$type<Record<string, unknown>>(),
    lastError: text("last_error"),
    /** What the ingest core normalised on the way in (a defaulted timestamp, an unreplaced macro, ...). */
    flags: jsonb("flags").$type<ReadonlyArray<PostbackFlag>>(),
    /** Rejected rows: the request as received. */
    request: jsonb("request").$type<RawRequest>(),
    /** Rejected rows: every problem found; held rows: why a person must look. */
    errors: jsonb("errors").$type<ReadonlyArray<{ path: string; message: string }>>()
  },
  (table) => [
    check(
      "postbacks_status_check",
      sql.raw(`${"status"} IN (${POSTBACK_STATUSES.map((s) => `'${s}'`).join(", ")})`)
    ),
    // The worker's claim reads these two partial indexes only.
    index("postbacks_ready_idx")
      .on(table.nextAttemptAt, table.id)
      .where(sql`${table.status} = 'pending'`),
    index("postbacks_lease_idx").on(table.lockedUntil).where(sql`${table.status} = 'processing'`),
    // The inbox is append-only in arrival order: a BRIN index serves date
    // ranges for a fraction of a b-tree's cost on every insert.
    index("postbacks_received_at_idx").using("brin", table.receivedAt)
  ]
)

/** The points ledger: one row per credited postback, guaranteed by the unique key. */
export const rewardTransactions = pgTable(
  "reward_transactions",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    postbackId: bigint("postback_id", { mode: "number" })
      .notNull()
      .unique()
      .references(() => postbacks.id),
    userId: text("user_id").notNull(),
    points: bigint("points", { mode: "bigint" }).notNull(),
    payout: numeric("payout").notNull(),
    explanation: jsonb("explanation").$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow()
  },
  (table) => [index("reward_transactions_user_id_idx").on(table.userId, table.id)]
)

/** Each user's balance: the sum of their reward transactions, kept in the same transaction. */
export const accounts = pgTable("accounts", {
  userId: text("user_id").primaryKey(),
  balance: bigint("balance", { mode: "bigint" }).notNull().default(sql`0`),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow()
})
