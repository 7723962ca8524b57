import type { PostbackFlag, PostbackSource, RawDelivery } from "@org/postback-handler"
import { sql } from "drizzle-orm"
import {
  type AnyPgColumn,
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  smallint,
  text,
  timestamp,
  unique
} from "drizzle-orm/pg-core"

/**
 * Where a postback is in its life:
 * - `pending`: stored and acknowledged, waiting for the worker
 * - `processing`: claimed under a written lease (`locked_until`) by a worker
 *   of an earlier version; the worker now claims by locking rows in the
 *   transaction that settles them, and takes such a row once its lease ran out
 * - `credited`: points written to the ledger (LoyaltyBoost with a user id)
 * - `recorded`: revenue only (not LoyaltyBoost, or the rules credit nothing)
 * - `unattributed`: LoyaltyBoost but no user id in the payload
 * - `held`: payout above the review limit; stored, not credited
 * - `rejected`: the request was not a valid postback; kept for debugging
 * - `dead`: processing failed past the retry policy; replayable
 * - `reversed`: credited, then taken back by an operator (a compensating
 *   `reversal` ledger entry; the credit itself stays in the ledger)
 * - `repaired`: a rejected request an operator corrected and re-ingested
 *   (`repaired_as_id` names the postback it became)
 */
export const POSTBACK_STATUSES = [
  "pending",
  "processing",
  "credited",
  "recorded",
  "unattributed",
  "held",
  "rejected",
  "dead",
  "reversed",
  "repaired"
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
    errors: jsonb("errors").$type<ReadonlyArray<{ path: string; message: string }>>(),
    /**
     * A test postback (sent by the console's test button through the real
     * ingest path, marked by the `x-postback-test` header together with the
     * valid secret): never credited, filtered out on request.
     */
    test: boolean("test").notNull().default(false),
    /**
     * The HTTP status answered to the latest delivery of this postback
     * (200, 400, ...), written in the same statement as the delivery log row.
     */
    lastHttpStatus: smallint("last_http_status"),
    /**
     * The first delivery of this postback, in the delivery log: when it
     * arrived (the receiver's clock) and its time to answer in milliseconds
     * (as `deliveries.answer_ms`). Kept on the row, written by the statement
     * that inserts it, so a postback delivered once (nearly all) costs no
     * delivery log row; its source is `source`, its status 200 (400 and so
     * on for a request stored as rejected: `last_http_status`). Null on rows
     * stored before the delivery log moved here: their first delivery is in
     * `deliveries`. The view `delivery_log` joins both.
     */
    firstDeliveredAt: timestamp("first_delivered_at", { withTimezone: true, mode: "date" }),
    firstAnswerMs: numeric("first_answer_ms", { precision: 12, scale: 3 }),
    // Operator actions (src/Admin/Actions.ts).
    /**
     * A `repaired` row: the postback its corrected request was re-ingested
     * as (a new row, or the stored duplicate it turned out to be).
     */
    repairedAsId: bigint("repaired_as_id", { mode: "number" }).references(
      (): AnyPgColumn => postbacks.id
    ),
    // Reconciliation (src/Reconcile/).
    /**
     * A postback re-ingested from MomentScience's history export (a
     * conversion the sender gave up on): the reconciliation that recovered it.
     */
    recoveredBy: bigint("recovered_by", { mode: "number" }).references(
      (): AnyPgColumn => reconciliations.id
    )
  },
  (table) => [
    check(
      "postbacks_status_check",
      sql.raw(`${"status"} IN (${POSTBACK_STATUSES.map((s) => `'${s}'`).join(", ")})`)
    ),
    // The worker's claim reads these two partial indexes only (the second
    // holds only rows claimed by a worker of an earlier version).
    index("postbacks_ready_idx")
      .on(table.nextAttemptAt, table.id)
      .where(sql`${table.status} = 'pending'`),
    index("postbacks_lease_idx").on(table.lockedUntil).where(sql`${table.status} = 'processing'`),
    // The inbox is append-only in arrival order: a BRIN index serves date
    // ranges for a fraction of a b-tree's cost on every insert.
    index("postbacks_received_at_idx").using("brin", table.receivedAt),
    // The console's history: newest first, keyset on (received_at, id).
    index("postbacks_history_idx").on(table.receivedAt.desc(), table.id.desc()),
    // The console's per-user filter (other filters ride on the history index:
    // every index costs the ingest statement, the hottest path). A hash
    // index: a b-tree cannot hold a value past about 2,700 bytes, and such a
    // user id must still be stored (held for a person).
    index("postbacks_user_id_idx").using("hash", table.userId)
  ]
)

/**
 * The delivery log's repeat deliveries: one row per authenticated delivery
 * that was stored or kept (accepted, duplicate, held, rejected) except the
 * first of each postback, which is kept on the postback row
 * (`first_delivered_at`, `first_answer_ms`); the view `delivery_log` shows
 * both as one log. Written in the same statement as the postback rows (no
 * extra round trip). Unauthenticated requests are only counted in a metric;
 * a delivery answered 503 stores nothing. Rows older than
 * `DELIVERY_LOG_RETENTION_DAYS` are deleted in small batches.
 */
export const deliveries = pgTable(
  "deliveries",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    postbackId: bigint("postback_id", { mode: "number" })
      .notNull()
      .references(() => postbacks.id, { onDelete: "cascade" }),
    /** When the request arrived at the receiver (the receiver's clock). */
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }).notNull(),
    source: text("source").$type<PostbackSource>().notNull(),
    /** The HTTP status answered (200 accepted or duplicate, 400 rejected). */
    httpStatus: smallint("http_status").notNull(),
    /**
     * Milliseconds from the request's arrival until its row was written
     * (microsecond precision): the wait for the batch measured on the
     * receiver's clock plus the statement's own time measured on the
     * database's clock; the commit and the answer's write are not in it.
     */
    answerMs: numeric("answer_ms", { precision: 12, scale: 3 }).notNull()
  },
  (table) => [
    index("deliveries_postback_id_idx").on(table.postbackId, table.id),
    // Retention deletes by age: append-only, a BRIN index suffices.
    index("deliveries_received_at_idx").using("brin", table.receivedAt)
  ]
)

/**
 * What a ledger entry is: `credit` (the worker credited a postback, points
 * above zero) or `reversal` (an operator took a credit back: the credit's
 * points negated, `reverses_id` naming the credit).
 */
export const TRANSACTION_KINDS = ["credit", "reversal"] as const

export type TransactionKind = (typeof TRANSACTION_KINDS)[number]

/**
 * The points ledger, append-only: entries are never updated or deleted. At
 * most one credit and one reversal per postback, guaranteed by the unique
 * key on `(postback_id, kind)`; a user's balance is the sum of their entries.
 */
export const rewardTransactions = pgTable(
  "reward_transactions",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    postbackId: bigint("postback_id", { mode: "number" })
      .notNull()
      .references(() => postbacks.id),
    userId: text("user_id").notNull(),
    /** Positive for a credit, negative for a reversal. */
    points: bigint("points", { mode: "bigint" }).notNull(),
    payout: numeric("payout").notNull(),
    explanation: jsonb("explanation").$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    kind: text("kind").$type<TransactionKind>().notNull().default("credit"),
    /** A reversal: the credit it takes back. */
    reversesId: bigint("reverses_id", { mode: "number" }).references(
      (): AnyPgColumn => rewardTransactions.id
    )
  },
  (table) => [
    index("reward_transactions_user_id_idx").on(table.userId, table.id),
    unique("reward_transactions_postback_id_kind_key").on(table.postbackId, table.kind),
    check(
      "reward_transactions_kind_check",
      sql.raw(`${"kind"} IN (${TRANSACTION_KINDS.map((k) => `'${k}'`).join(", ")})`)
    )
  ]
)

/** Each user's balance: the sum of their reward transactions, kept in the same transaction. */
export const accounts = pgTable("accounts", {
  userId: text("user_id").primaryKey(),
  balance: bigint("balance", { mode: "bigint" }).notNull().default(sql`0`),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow()
})

// Operator actions (src/Admin/Actions.ts).

/**
 * What an operator can do to a postback from the console (see the README's
 * "Operator actions"): each one recorded in `operator_actions`.
 */
export const OPERATOR_ACTIONS = [
  "approve",
  "reject",
  "attribute",
  "replay",
  "reverse",
  "repair",
  "test_postback"
] as const

export type OperatorAction = (typeof OPERATOR_ACTIONS)[number]

/**
 * The audit trail: one row per operator action that changed something,
 * written in the same transaction as the change (so there is never a change
 * without its row, nor a row without its change). Append-only.
 */
export const operatorActions = pgTable(
  "operator_actions",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    postbackId: bigint("postback_id", { mode: "number" })
      .notNull()
      .references(() => postbacks.id),
    action: text("action").$type<OperatorAction>().notNull(),
    /** Who did it, as the console says (`"admin"` by default). */
    operator: text("operator").notNull(),
    at: timestamp("at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    reason: text("reason"),
    /** What changed: the status before and after, the user id given, the fields corrected... */
    details: jsonb("details").$type<Record<string, unknown>>().notNull(),
    /** The request's `Idempotency-Key`, when given: a repeat answers the first outcome. */
    idempotencyKey: text("idempotency_key").unique()
  },
  (table) => [
    index("operator_actions_postback_id_idx").on(table.postbackId, table.id),
    check(
      "operator_actions_action_check",
      sql.raw(`${"action"} IN (${OPERATOR_ACTIONS.map((a) => `'${a}'`).join(", ")})`)
    )
  ]
)

// Reconciliation against MomentScience's postback history export (src/Reconcile/).

/**
 * What a row of a reconciliation report is (see the README's "Reconciliation"):
 * - `delivered`: success at MomentScience, stored here (the normal case)
 * - `lost`: failed at MomentScience, absent here
 * - `stored_after_failure`: failed at MomentScience, yet stored here (a
 *   time-out or an error answered after the commit)
 * - `recovered`: lost, then re-ingested from the export
 * - `missing`: success at MomentScience, absent here (must never happen)
 * - `unknown`: stored here, absent from the export within its range
 *   (forged or test traffic)
 * - `payout_mismatch`: same offer and time, another payout
 * - `unreadable`: a line of the export that could not be read
 */
export const RECONCILIATION_CATEGORIES = [
  "delivered",
  "lost",
  "stored_after_failure",
  "recovered",
  "missing",
  "unknown",
  "payout_mismatch",
  "unreadable"
] as const

export type ReconciliationCategory = (typeof RECONCILIATION_CATEGORIES)[number]

/** One reconciliation: the export's name, the range compared, the options, the summary. */
export const reconciliations = pgTable("reconciliations", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  /** The export's file name as given (or `upload`). */
  source: text("source").notNull(),
  /** The conversion-time range compared, `[range_from, range_to)`. */
  rangeFrom: timestamp("range_from", { withTimezone: true, mode: "date" }),
  rangeTo: timestamp("range_to", { withTimezone: true, mode: "date" }),
  /** The options it ran with (tolerance, time zone, columns...). */
  options: jsonb("options").$type<Record<string, unknown>>().notNull(),
  /** Counts and payout sums per category (decimal strings), once matched. */
  summary: jsonb("summary").$type<Record<string, unknown>>()
})

/**
 * The report's rows: each export line (with what it matched) and each
 * stored postback the export does not know. Written once by the matching,
 * then only `recovered` by a re-ingest.
 */
export const reconciliationRows = pgTable(
  "reconciliation_rows",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    reconciliationId: bigint("reconciliation_id", { mode: "number" })
      .notNull()
      .references(() => reconciliations.id, { onDelete: "cascade" }),
    /** Null until matched; then one of `RECONCILIATION_CATEGORIES`. */
    category: text("category").$type<ReconciliationCategory>(),
    /** The export line (null for a stored postback the export does not know). */
    line: integer("line"),
    occurredAt: timestamp("occurred_at", { withTimezone: true, mode: "date" }),
    offerId: text("offer_id"),
    advertiserName: text("advertiser_name"),
    payout: numeric("payout"),
    /** `success` or `failed`, as the export says. */
    deliveryStatus: text("delivery_status"),
    responseCode: smallint("response_code"),
    userId: text("user_id"),
    isLoyaltyBoost: boolean("is_loyalty_boost"),
    payload: jsonb("payload").$type<Record<string, string>>(),
    /** The export's columns the reconciliation does not read, by label. */
    extra: jsonb("extra").$type<Record<string, string>>(),
    /** The stored postback it matched (or was recovered as). */
    postbackId: bigint("postback_id", { mode: "number" }).references(() => postbacks.id),
    /** `response_code` when the export's code differs from the one stored here. */
    mismatch: text("mismatch"),
    /** An unreadable line: why; a lost row that cannot be recovered: what is missing. */
    problem: text("problem")
  },
  (table) => [
    index("reconciliation_rows_report_idx").on(table.reconciliationId, table.category, table.id),
    index("reconciliation_rows_postback_idx").on(table.reconciliationId, table.postbackId)
  ]
)

// Forwarding: the transactional outbox (src/Forward/).

/**
 * What a destination does with new events:
 * - `active`: events are written to its outbox and delivered;
 * - `paused`: events are written and wait (an operator paused it; resume drains them);
 * - `disabled`: it failed without a success for longer than
 *   `FORWARD_DISABLE_AFTER_HOURS` (or an operator disabled it): no new
 *   events, nothing delivered, until an operator resumes it.
 */
export const DESTINATION_STATES = ["active", "paused", "disabled"] as const

export type DestinationState = (typeof DESTINATION_STATES)[number]

/**
 * Where settled postbacks are forwarded: a publisher's own endpoint, signed
 * per Standard Webhooks with `secret` (`whsec_` + base64). During a secret
 * rotation `previous_secret` signs too until `previous_secret_until`.
 */
export const forwardDestinations = pgTable(
  "forward_destinations",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    url: text("url").notNull().unique(),
    secret: text("secret").notNull(),
    previousSecret: text("previous_secret"),
    previousSecretUntil: timestamp("previous_secret_until", { withTimezone: true, mode: "date" }),
    /** The event types it receives (`postback.credited`, ...). */
    events: text("events").array().notNull(),
    state: text("state").$type<DestinationState>().notNull().default("active"),
    /** Why it is disabled (set with `state = 'disabled'`). */
    disabledReason: text("disabled_reason"),
    /** `file` (FORWARD_DESTINATIONS_FILE) or `api` (the admin API). */
    origin: text("origin").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /** The first failed attempt since the last success (null while healthy). */
    failingSince: timestamp("failing_since", { withTimezone: true, mode: "date" }),
    lastSuccessAt: timestamp("last_success_at", { withTimezone: true, mode: "date" })
  },
  () => [
    check(
      "forward_destinations_state_check",
      sql.raw(`${"state"} IN (${DESTINATION_STATES.map((s) => `'${s}'`).join(", ")})`)
    )
  ]
)

/** Where an outbox row is: waiting, claimed by a dispatcher, delivered, or given up on. */
export const OUTBOX_STATUSES = ["pending", "processing", "delivered", "dead"] as const

export type OutboxStatus = (typeof OUTBOX_STATUSES)[number]

/**
 * The outbox: one event per destination, written in the transaction that
 * settled its postback (so an event exists if and only if the settlement
 * committed), claimed by dispatchers like the inbox is by workers. Its id is
 * the event's `webhook-id` (`evt_<id>`), the same on every retry.
 */
export const forwardOutbox = pgTable(
  "forward_outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    destinationId: bigint("destination_id", { mode: "number" })
      .notNull()
      .references(() => forwardDestinations.id, { onDelete: "cascade" }),
    postbackId: bigint("postback_id", { mode: "number" })
      .notNull()
      .references(() => postbacks.id),
    eventType: text("event_type").notNull(),
    /** The JSON body sent, built when the event was written (`{type, timestamp, data}`). */
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    status: text("status").$type<OutboxStatus>().notNull().default("pending"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }),
    lockedBy: text("locked_by"),
    lockedUntil: timestamp("locked_until", { withTimezone: true, mode: "date" }),
    deliveredAt: timestamp("delivered_at", { withTimezone: true, mode: "date" }),
    lastError: text("last_error")
  },
  (table) => [
    check(
      "forward_outbox_status_check",
      sql.raw(`${"status"} IN (${OUTBOX_STATUSES.map((s) => `'${s}'`).join(", ")})`)
    ),
    // The dispatcher's claim reads these two partial indexes only.
    index("forward_outbox_ready_idx")
      .on(table.destinationId, table.nextAttemptAt, table.id)
      .where(sql`${table.status} = 'pending'`),
    index("forward_outbox_lease_idx")
      .on(table.lockedUntil)
      .where(sql`${table.status} = 'processing'`),
    index("forward_outbox_postback_id_idx").on(table.postbackId)
  ]
)

/** Every delivery attempt of an outbox row: when, the HTTP status or the error, how long. */
export const forwardAttempts = pgTable(
  "forward_attempts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    outboxId: bigint("outbox_id", { mode: "number" })
      .notNull()
      .references(() => forwardOutbox.id, { onDelete: "cascade" }),
    at: timestamp("at", { withTimezone: true, mode: "date" }).notNull(),
    /** The status answered, or null (timeout, connection error). */
    httpStatus: smallint("http_status"),
    /** Milliseconds from sending to the answer (or the failure). */
    latencyMs: integer("latency_ms").notNull(),
    error: text("error")
  },
  (table) => [index("forward_attempts_outbox_id_idx").on(table.outboxId, table.id)]
)
