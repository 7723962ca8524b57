import { ERROR_CODES, RETRY_AFTER_SECONDS } from "@org/postback-handler"
import { postbackJsonSchema, WIRE_FIELDS } from "@org/postback-schema"
import { Schema, SchemaTransformation } from "effect"
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "effect/http-api"
import { PostbackFilter, PostbackFilterFields } from "./Admin/Filter.ts"
import { OPERATOR_ACTIONS, POSTBACK_STATUSES } from "./Db/schema.ts"
import * as Forward from "./Forward/Schemas.ts"
import { INGEST_PATH } from "./Ingest/Route.ts"
import * as Reconcile from "./Reconcile/Schemas.ts"

// Errors. Every error body of the receiver has one JSON shape, the one the
// ingest route answers with (`errorAnswer` of @org/postback-handler):
// `{ "error": "<code>", "message": "...", "issues": [{ "path", "message" }] }`,
// `issues` only where there are some.

/** One problem with a request: where (`limit`, `userId`) and what is wrong. */
export const Issue = Schema.Struct({
  path: Schema.String,
  message: Schema.String
}).annotate({ identifier: "Issue" })

/** 400: a path or query parameter does not decode; every problem is listed. */
export class InvalidRequest extends Schema.Error<InvalidRequest>("InvalidRequest")(
  {
    error: Schema.tag("invalid_request"),
    message: Schema.String,
    issues: Schema.Array(Issue)
  },
  { httpApiStatus: 400, description: "A path or query parameter is not valid" }
) {}

/** 401: no bearer token, or not the right one. */
export class Unauthorized extends Schema.Error<Unauthorized>("Unauthorized")(
  { error: Schema.tag("unauthorized"), message: Schema.String },
  { httpApiStatus: 401, description: "Missing or wrong bearer token" }
) {}

/** 404: no such user or postback. */
export class NotFound extends Schema.Error<NotFound>("NotFound")(
  { error: Schema.tag("not_found"), message: Schema.String },
  { httpApiStatus: 404, description: "No such user or postback" }
) {}

/** 409: replay applies to postbacks that stopped: `dead` (failed processing) or `held` (review). */
export class NotReplayable extends Schema.Error<NotReplayable>("NotReplayable")(
  { error: Schema.tag("not_replayable"), message: Schema.String },
  { httpApiStatus: 409, description: "Only dead and held postbacks can be replayed" }
) {}

/** 503: the database does not answer. */
export class Unavailable extends Schema.Error<Unavailable>("Unavailable")(
  { error: Schema.tag("unavailable"), message: Schema.String },
  { httpApiStatus: 503, description: "The database does not answer" }
) {}

/** 500: the receiver failed (the cause is logged, never sent). */
export class InternalError extends Schema.Error<InternalError>("InternalError")(
  { error: Schema.tag("internal_error"), message: Schema.String },
  { httpApiStatus: 500, description: "The receiver failed; the cause is in its log" }
) {}

/**
 * Every route's own error handling: a parameter that does not decode is a
 * 400 {@link InvalidRequest} listing every problem, and a defect (a failure
 * nobody handles, such as a database error) is a 500 {@link InternalError},
 * logged.
 */
export class ApiErrors extends HttpApiMiddleware.Service<ApiErrors>()("ApiErrors", {
  error: [InvalidRequest, InternalError]
}) {}

/** Admin routes need `Authorization: Bearer <ADMIN_TOKEN>`. */
export class AdminAuth extends HttpApiMiddleware.Service<AdminAuth>()("AdminAuth", {
  error: Unauthorized,
  security: { adminToken: HttpApiSecurity.bearer }
}) {}

/** `GET /metrics` takes `Authorization: Bearer <METRICS_TOKEN>` (or the admin token). */
export class MetricsAuth extends HttpApiMiddleware.Service<MetricsAuth>()("MetricsAuth", {
  error: Unauthorized,
  security: { metricsToken: HttpApiSecurity.bearer }
}) {}

// Health and metrics.

/** The local spool (with `SPOOL_DIR` set): what it holds, and whether postbacks go to it. */
export class SpoolHealth extends Schema.Class<SpoolHealth>("SpoolHealth")({
  /** `idle`, `spooling` (the database is away), `replaying`, or `stopped` at a damaged entry. */
  state: Schema.Literals(["idle", "spooling", "replaying", "stopped"]),
  /** Postbacks in the journal, waiting for the database. */
  entries: Schema.Number,
  bytes: Schema.Number,
  oldestAgeSeconds: Schema.Number,
  /** Why replay stopped and what to do (state `stopped`). */
  problem: Schema.NullOr(Schema.String)
}) {}

export class Health extends Schema.Class<Health>("Health")({
  status: Schema.Literal("ok"),
  /** Present only with the spool on. */
  spool: Schema.optional(SpoolHealth)
}) {}

export class Readiness extends Schema.Class<Readiness>("Readiness")({
  status: Schema.Literal("ready"),
  database: Schema.Literals(["postgres", "pglite"])
}) {}

export class MetricsGroup extends HttpApiGroup.make("metrics")
  .add(
    HttpApiEndpoint.get("metrics", "/metrics", {
      success: Schema.String.pipe(
        HttpApiSchema.asText({ contentType: "text/plain; version=0.0.4; charset=utf-8" })
      )
    })
  )
  .middleware(MetricsAuth)
  .annotate(OpenApi.Title, "Metrics")
  .annotate(
    OpenApi.Description,
    "Prometheus metrics (bearer token: METRICS_TOKEN for a scraper, or ADMIN_TOKEN)"
  ) {}

export class HealthGroup extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("healthz", "/healthz", { success: Health }),
    HttpApiEndpoint.get("readyz", "/readyz", { success: Readiness, error: Unavailable })
  )
  .annotate(OpenApi.Title, "Health")
  .annotate(OpenApi.Description, "Liveness and readiness probes") {}

// Users.

/**
 * Points as a decimal string: exact at any size (a JSON number is exact only
 * up to 2^53 - 1, and a balance may pass that), never floating point.
 */
const Points = Schema.String.check(Schema.isPattern(/^(0|-?[1-9][0-9]*)$/))
  .annotate({
    description:
      "A whole number of points as a decimal string (exact at any size); negative for a reversal, and for a balance a reversal took below zero",
    examples: ["21"]
  })
  .pipe(Schema.decodeTo(Schema.BigInt, SchemaTransformation.bigintFromString))

/** USD as the exact decimal text the sender used. */
const Usd = Schema.String.annotate({
  description: 'USD, exact decimal text as sent (e.g. "2.10")'
})

export class RewardTransaction extends Schema.Class<RewardTransaction>("RewardTransaction")({
  id: Schema.Number,
  postbackId: Schema.Number,
  offerId: Schema.NullOr(Schema.String),
  points: Points,
  payout: Usd,
  explanation: Schema.Unknown,
  createdAt: Schema.DateFromString
}) {}

export class UserLedger extends Schema.Class<UserLedger>("UserLedger")({
  userId: Schema.String,
  balance: Points,
  transactions: Schema.Array(RewardTransaction)
}) {}

/**
 * A user id as stored: text without NUL. A user id that held a NUL or bytes
 * that are not UTF-8 is stored with them percent-encoded (`a%00b`), so it is
 * asked for as `/api/users/a%2500b`.
 */
const UserId = Schema.String.check(
  Schema.makeFilter((id: string) =>
    id.includes("\u0000")
      ? 'cannot contain NUL; a user id holding bytes that are not text is stored percent-encoded ("a%00b"): ask for /api/users/a%2500b'
      : true
  )
)

/** One account in the users list. */
export class UserSummary extends Schema.Class<UserSummary>("UserSummary")({
  userId: Schema.String,
  balance: Points,
  updatedAt: Schema.DateFromString
}) {}

/** `GET /api/users`: accounts by user id, keyset pagination (`nextCursor` null on the last page). */
export class UserPage extends Schema.Class<UserPage>("UserPage")({
  items: Schema.Array(UserSummary),
  nextCursor: Schema.NullOr(Schema.String)
}) {}

/** `GET /api/users/:userId/transactions`: ledger entries newest first, keyset pagination. */
export class TransactionPage extends Schema.Class<TransactionPage>("TransactionPage")({
  items: Schema.Array(RewardTransaction),
  nextCursor: Schema.NullOr(Schema.String)
}) {}

/** An opaque keyset cursor: a `nextCursor` from the previous page. */
const Cursor = Schema.String.annotate({
  description: "The previous page's nextCursor (opaque)"
})

/** A page size: 1 to `max`. */
const PageLimit = (max: number) =>
  Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: max })).annotate({
    description: `Items per page (1 to ${max})`
  })

export class UsersGroup extends HttpApiGroup.make("users")
  .add(
    HttpApiEndpoint.get("listUsers", "/users", {
      query: {
        search: Schema.optional(
          Schema.String.annotate({
            description: "Part of the user id (case-insensitive substring)"
          })
        ),
        limit: Schema.optional(PageLimit(500)),
        cursor: Schema.optional(Cursor)
      },
      success: UserPage
    }).annotate(
      OpenApi.Description,
      "Accounts (users credited at least once) by user id, with their balances; keyset pagination"
    ),
    HttpApiEndpoint.get("listUserTransactions", "/users/:userId/transactions", {
      params: { userId: UserId },
      query: { limit: Schema.optional(PageLimit(500)), cursor: Schema.optional(Cursor) },
      success: TransactionPage
    }).annotate(
      OpenApi.Description,
      "A user's ledger entries (credits and reversals), newest first; keyset pagination"
    ),
    HttpApiEndpoint.get("getUser", "/users/:userId", {
      params: { userId: UserId },
      query: {
        limit: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })))
      },
      success: UserLedger,
      error: NotFound
    }).annotate(OpenApi.Description, "A user's points balance and latest reward transactions")
  )
  .middleware(AdminAuth)
  .prefix("/api")
  .annotate(OpenApi.Title, "Users") {}

// Postbacks.

const PostbackStatus = Schema.Literals(POSTBACK_STATUSES)

export class StoredPostback extends Schema.Class<StoredPostback>("StoredPostback")({
  id: Schema.Number,
  status: PostbackStatus,
  source: Schema.String,
  offerId: Schema.NullOr(Schema.String),
  advertiserName: Schema.NullOr(Schema.String),
  payout: Schema.NullOr(Usd),
  occurredAt: Schema.NullOr(Schema.DateFromString),
  isLoyaltyBoost: Schema.NullOr(Schema.Boolean),
  payload: Schema.NullOr(Schema.Record(Schema.String, Schema.String)),
  userId: Schema.NullOr(Schema.String),
  receivedAt: Schema.DateFromString,
  deliveryCount: Schema.Number,
  attempts: Schema.Number,
  processedAt: Schema.NullOr(Schema.DateFromString),
  /** Why it ended so: the converter's explanation (points as decimal strings), or the reason. */
  outcome: Schema.Unknown,
  lastError: Schema.NullOr(Schema.String),
  /** What the ingest core normalised on the way in: `{ code, path, message }` items. */
  flags: Schema.NullOr(
    Schema.Array(
      Schema.Struct({ code: Schema.String, path: Schema.String, message: Schema.String })
    )
  ),
  request: Schema.Unknown,
  /** A rejected postback's problems, or why a held one waits for a person. */
  errors: Schema.Unknown
}) {}

const PostbackId = Schema.Int.check(Schema.isGreaterThan(0))

/** What the ingest core normalised on the way in (see `PostbackFlag` of `@org/postback-handler`). */
const Flag = Schema.Struct({ code: Schema.String, path: Schema.String, message: Schema.String })

/** One delivery of a postback, from the delivery log. */
export class DeliveryEntry extends Schema.Class<DeliveryEntry>("DeliveryEntry")({
  /**
   * The repeat delivery's log row; null for the postback's first delivery,
   * which is kept on the postback row itself.
   */
  id: Schema.NullOr(Schema.Number),
  /** When the request arrived (the receiver's clock). */
  receivedAt: Schema.DateFromString,
  source: Schema.String,
  /** The HTTP status answered. */
  httpStatus: Schema.Number,
  /**
   * Milliseconds from arrival until the delivery's row was written (the
   * commit and the answer's write not included; see the README).
   */
  answerMs: Schema.Number
}) {}

/** One entry of a postback's audit trail (what an operator did to it). */
export class PostbackAction extends Schema.Class<PostbackAction>("PostbackAction")({
  id: Schema.Number,
  action: Schema.String,
  operator: Schema.String,
  at: Schema.DateFromString,
  reason: Schema.NullOr(Schema.String),
  details: Schema.Unknown
}) {}

/** One ledger entry of a postback: its credit, and a reversal's negative entry. */
export class LedgerEntry extends Schema.Class<LedgerEntry>("LedgerEntry")({
  id: Schema.Number,
  postbackId: Schema.Number,
  offerId: Schema.NullOr(Schema.String),
  /** `credit` or `reversal`. */
  kind: Schema.String,
  userId: Schema.String,
  points: Points,
  payout: Usd,
  explanation: Schema.Unknown,
  createdAt: Schema.DateFromString
}) {}

/**
 * `GET /api/postbacks/:id`: the stored postback with its points (the sum of
 * its ledger entries), test mark, the latest 100 deliveries (newest first),
 * its audit trail (newest first) and its ledger entries.
 */
export class PostbackDetail extends StoredPostback.extend<PostbackDetail>("PostbackDetail")({
  points: Schema.NullOr(Points),
  test: Schema.Boolean,
  lastHttpStatus: Schema.NullOr(Schema.Number),
  deliveries: Schema.Array(DeliveryEntry),
  actions: Schema.Array(PostbackAction),
  transactions: Schema.Array(LedgerEntry)
}) {}

export class PostbacksGroup extends HttpApiGroup.make("postbacks")
  .add(
    HttpApiEndpoint.get("getPostback", "/postbacks/:id", {
      params: { id: PostbackId },
      success: PostbackDetail,
      error: NotFound
    }).annotate(
      OpenApi.Description,
      "One stored postback: its fields, status, outcome and errors, points, deliveries (the latest 100), audit trail and ledger entries"
    ),
    HttpApiEndpoint.post("replayPostback", "/postbacks/:id/replay", {
      params: { id: PostbackId },
      success: StoredPostback,
      error: [NotFound, NotReplayable]
    }).annotate(
      OpenApi.Description,
      "Send a dead postback (processing failed) or a held one (approved after review) back to the worker"
    )
  )
  .middleware(AdminAuth)
  .prefix("/api")
  .annotate(OpenApi.Title, "Postbacks") {}

// History: the console's list, summary, series and CSV export of postbacks,
// all on one filter (src/Admin/Filter.ts).

/** One row of the postback history. */
export class PostbackItem extends Schema.Class<PostbackItem>("PostbackItem")({
  id: Schema.Number,
  receivedAt: Schema.DateFromString,
  occurredAt: Schema.NullOr(Schema.DateFromString),
  offerId: Schema.NullOr(Schema.String),
  advertiserName: Schema.NullOr(Schema.String),
  payout: Schema.NullOr(Usd),
  isLoyaltyBoost: Schema.NullOr(Schema.Boolean),
  userId: Schema.NullOr(Schema.String),
  status: PostbackStatus,
  source: Schema.String,
  /** The HTTP status answered to the latest delivery. */
  lastHttpStatus: Schema.NullOr(Schema.Number),
  deliveryCount: Schema.Number,
  /** The sum of its ledger entries (null when it has none). */
  points: Schema.NullOr(Points),
  flags: Schema.Array(Flag),
  /** One line: a rejected or held row's first problem, a dead row's last error. */
  error: Schema.NullOr(Schema.String),
  test: Schema.Boolean
}) {}

/** `GET /api/postbacks`: newest first, keyset pagination (`nextCursor` null on the last page). */
export class PostbackPage extends Schema.Class<PostbackPage>("PostbackPage")({
  items: Schema.Array(PostbackItem),
  nextCursor: Schema.NullOr(Schema.String)
}) {}

/** Counts by postback status (statuses without rows are absent, or 0 in a series bucket). */
const ByStatus = Schema.Record(Schema.String, Schema.Number)

/** `GET /api/postbacks/summary`: figures over every postback the filter matches. */
export class PostbackSummary extends Schema.Class<PostbackSummary>("PostbackSummary")({
  total: Schema.Number,
  byStatus: ByStatus,
  /** The sum of the matched payouts, exact (USD). */
  payoutTotal: Usd,
  /** The sum of the matched postbacks' ledger entries. */
  pointsTotal: Points,
  /** Deliveries beyond the first (retries and replays by the sender). */
  duplicates: Schema.Number,
  distinctUsers: Schema.Number,
  /** The received range the filter asked for (null: open). */
  from: Schema.NullOr(Schema.DateFromString),
  to: Schema.NullOr(Schema.DateFromString),
  timeZone: Schema.String
}) {}

const SeriesBucket = Schema.Literals(["hour", "day"])

/** `GET /api/postbacks/series`: counts per hour or day, every bucket of the range. */
export class PostbackSeries extends Schema.Class<PostbackSeries>("PostbackSeries")({
  bucket: SeriesBucket,
  timeZone: Schema.String,
  buckets: Schema.Array(
    Schema.Struct({
      /** The bucket's first instant: a local midnight (day) or hour start in `timeZone`. */
      start: Schema.DateFromString,
      byStatus: ByStatus
    })
  )
}) {}

export class HistoryGroup extends HttpApiGroup.make("history")
  .add(
    HttpApiEndpoint.get("listPostbacks", "/postbacks", {
      query: {
        ...PostbackFilterFields,
        limit: Schema.optional(PageLimit(500)),
        cursor: Schema.optional(Cursor)
      },
      success: PostbackPage
    }).annotate(
      OpenApi.Description,
      "The postback history, newest first (received time, then id), filtered; keyset pagination: pass nextCursor as cursor"
    ),
    HttpApiEndpoint.get("summarizePostbacks", "/postbacks/summary", {
      query: PostbackFilterFields,
      success: PostbackSummary
    }).annotate(
      OpenApi.Description,
      "Totals over the filtered postbacks: count by status, payout (USD) and points, duplicates, distinct users"
    ),
    HttpApiEndpoint.get("postbackSeries", "/postbacks/series", {
      query: { ...PostbackFilterFields, bucket: Schema.optional(SeriesBucket) },
      success: PostbackSeries
    }).annotate(
      OpenApi.Description,
      "Postbacks per hour or day (default day) by status, in the filter's time zone, every bucket of the received range (zeros included; at most 2,000 buckets)"
    ),
    HttpApiEndpoint.get("exportPostbacks", "/postbacks/export.csv", {
      query: PostbackFilterFields,
      success: Schema.String.pipe(HttpApiSchema.asText({ contentType: "text/csv; charset=utf-8" }))
    }).annotate(
      OpenApi.Description,
      "The filtered postbacks as CSV (RFC 4180, UTF-8, CRLF), streamed; MomentScience's postback history columns first"
    )
  )
  .middleware(AdminAuth)
  .prefix("/api")
  .annotate(OpenApi.Title, "History") {}

// Actions: what an operator does to a postback from the console
// (src/Admin/Actions.ts), each recorded in the audit trail, and test
// postbacks (src/Admin/TestPostback.ts).

/** 409: the postback is not in a state the action applies to; the message names its status. */
export class Conflict extends Schema.Error<Conflict>("Conflict")(
  { error: Schema.tag("conflict"), message: Schema.String },
  {
    httpApiStatus: 409,
    description:
      "The postback's status does not allow the action (the message names the current status), or the Idempotency-Key was used for another action"
  }
) {}

/** Text an operator typed: no NUL (PostgreSQL text cannot hold one), at most `max` characters. */
const OperatorText = (max: number) =>
  Schema.String.check(
    Schema.makeFilter((text: string) =>
      text.includes("\u0000")
        ? "cannot contain NUL"
        : text.length > max
          ? `must be at most ${max} characters`
          : true
    )
  )

const Operator = OperatorText(200)
  .check(Schema.makeFilter((text: string) => text.trim() !== "" || "must not be blank"))
  .annotate({ description: 'Who acts, as the audit trail shows it (default "admin")' })

const Reason = OperatorText(2000).annotate({
  description: "Why, in the operator's words (kept in the audit trail)"
})

const RequiredReason = Reason.check(
  Schema.makeFilter((text: string) => text.trim() !== "" || "must not be blank")
)

/**
 * A user id given by an operator, checked as the ingest edge checks the
 * payload's: trimmed, not empty, at most 2,000 bytes of UTF-8 (what the
 * ledger's index can hold), no NUL.
 */
const AttributedUserId = Schema.String.check(
  Schema.makeFilter((id: string) =>
    id.trim() === ""
      ? "must not be blank"
      : id.includes("\u0000")
        ? "cannot contain NUL"
        : new TextEncoder().encode(id.trim()).length > 2000
          ? "must be at most 2000 bytes of UTF-8 (the ledger indexes user ids)"
          : true
  )
).annotate({ description: "The user to credit (the payload's user id)" })

/**
 * An optional `Idempotency-Key` header: a repeat of an action with the same
 * key answers the first outcome again instead of a 409.
 */
const IdempotencyHeaders = {
  "idempotency-key": Schema.optional(OperatorText(200))
}

/** One entry of the audit trail. */
export class OperatorActionEntry extends Schema.Class<OperatorActionEntry>("OperatorActionEntry")({
  id: Schema.Number,
  postbackId: Schema.Number,
  action: Schema.Literals(OPERATOR_ACTIONS),
  operator: Schema.String,
  at: Schema.DateFromString,
  reason: Schema.NullOr(Schema.String),
  /** What changed: `from` and `to` statuses, and what the action adds (user id, ledger entry, fields). */
  details: Schema.Unknown
}) {}

/** What an action did: the postback's status now and the audit entry recorded for it. */
export class ActionResult extends Schema.Class<ActionResult>("ActionResult")({
  postbackId: Schema.Number,
  status: Schema.Literals(POSTBACK_STATUSES),
  action: OperatorActionEntry
}) {}

/** `POST /api/postbacks/:id/repair`: the postback the corrected request became. */
export class RepairResult extends Schema.Class<RepairResult>("RepairResult")({
  /** The new postback (or the stored one it turned out to duplicate). */
  id: Schema.Number,
  duplicate: Schema.Boolean,
  /** The new postback's status (`pending`, or `held` with its reasons). */
  status: Schema.Literals(POSTBACK_STATUSES),
  /** The rejected postback, now `repaired`. */
  repairedId: Schema.Number,
  action: OperatorActionEntry
}) {}

/** `POST /api/postbacks/replay`: the dead postbacks the filter matched, and how many went back. */
export class BulkReplayResult extends Schema.Class<BulkReplayResult>("BulkReplayResult")({
  matched: Schema.Number,
  replayed: Schema.Number
}) {}

export class OperatorActionPage extends Schema.Class<OperatorActionPage>("OperatorActionPage")({
  items: Schema.Array(OperatorActionEntry),
  nextCursor: Schema.NullOr(Schema.String)
}) {}

/** `POST /api/test-postback`: the stored test postback and what the ingest route answered. */
export class TestPostbackResult extends Schema.Class<TestPostbackResult>("TestPostbackResult")({
  /** The stored postback (null when the ingest route stored nothing, as on a 503). */
  id: Schema.NullOr(Schema.Number),
  /** The stored row's status (`pending` until the worker settles it as `recorded`), or the ingest route's error code. */
  status: Schema.String,
  httpStatus: Schema.Number
}) {}

const ActionPostbackId = Schema.Int.check(Schema.isGreaterThan(0))

const actor = {
  operator: Schema.optional(Operator),
  reason: Schema.optional(Reason)
}

/** The body every action takes: who acts (`operator`, default `"admin"`) and why. */
export const ActorPayload = Schema.Struct(actor)

/** The corrected wire fields of a rejected postback (any of them). */
const RepairFields = Schema.Struct({
  offer_id: Schema.optional(Schema.String),
  advertiser_name: Schema.optional(Schema.String),
  payout: Schema.optional(Schema.String),
  timestamp: Schema.optional(Schema.String),
  is_loyaltyboost: Schema.optional(Schema.String),
  payload: Schema.optional(Schema.Record(Schema.String, Schema.String))
}).check(
  Schema.makeFilter(
    (fields: object) => Object.keys(fields).length > 0 || "must correct at least one field"
  )
)

const transition = <
  const Name extends "approvePostback" | "rejectPostback" | "reversePostback",
  const Path extends `/postbacks/:id/${string}`,
  P extends Schema.Top
>(
  name: Name,
  path: Path,
  payload: P,
  description: string
) =>
  HttpApiEndpoint.post(name, path, {
    params: { id: ActionPostbackId },
    headers: IdempotencyHeaders,
    payload,
    success: ActionResult,
    error: [NotFound, Conflict]
  }).annotate(OpenApi.Description, description)

export class ActionsGroup extends HttpApiGroup.make("actions")
  .add(
    transition(
      "approvePostback",
      "/postbacks/:id/approve",
      Schema.Struct(actor),
      "Approve a held postback: held → pending, and the worker credits it as usual"
    ),
    transition(
      "rejectPostback",
      "/postbacks/:id/reject",
      Schema.Struct({ ...actor, reason: RequiredReason }),
      "Reject a held postback for good (reason required): held → rejected"
    ),
    HttpApiEndpoint.post("attributePostback", "/postbacks/:id/attribute", {
      params: { id: ActionPostbackId },
      headers: IdempotencyHeaders,
      payload: Schema.Struct({ ...actor, userId: AttributedUserId }),
      success: ActionResult,
      error: [NotFound, Conflict]
    }).annotate(
      OpenApi.Description,
      "Name the user of an unattributed postback: unattributed → pending with that user id, then credited by the worker"
    ),
    transition(
      "reversePostback",
      "/postbacks/:id/reverse",
      Schema.Struct({ ...actor, reason: RequiredReason }),
      "Take back a credit (reason required): credited → reversed, with a compensating negative ledger entry and the balance lowered in the same transaction; the credit stays in the ledger"
    ),
    HttpApiEndpoint.post("repairPostback", "/postbacks/:id/repair", {
      params: { id: ActionPostbackId },
      headers: IdempotencyHeaders,
      payload: Schema.Struct({ ...actor, fields: RepairFields }),
      success: RepairResult,
      error: [NotFound, Conflict]
    }).annotate(
      OpenApi.Description,
      "Correct a rejected postback: its stored request with the corrected fields goes through the ingest core again and is stored like a fresh delivery; the rejected row becomes repaired, linked to the new one. A correction that still cannot be a conversion is a 400 naming the field"
    ),
    HttpApiEndpoint.post("replayMatching", "/postbacks/replay", {
      payload: Schema.Struct({
        ...actor,
        filter: PostbackFilter,
        dryRun: Schema.Boolean
      }),
      success: BulkReplayResult
    }).annotate(
      OpenApi.Description,
      "Replay by filter: every dead postback the filter matches goes back to the worker, each with its audit row; dryRun: true counts them and changes nothing"
    ),
    HttpApiEndpoint.get("listActions", "/actions", {
      query: {
        postbackId: Schema.optional(
          Schema.FiniteFromString.check(Schema.isInt(), Schema.isGreaterThan(0))
        ),
        limit: Schema.optional(
          Schema.FiniteFromString.check(
            Schema.isInt(),
            Schema.isBetween({ minimum: 1, maximum: 500 })
          )
        ),
        cursor: Schema.optional(Schema.String)
      },
      success: OperatorActionPage
    }).annotate(
      OpenApi.Description,
      "The audit trail, newest first (keyset pagination: pass nextCursor as cursor)"
    )
  )
  .middleware(AdminAuth)
  .prefix("/api")
  .annotate(OpenApi.Title, "Actions") {}

export class TestPostbackGroup extends HttpApiGroup.make("testPostback")
  .add(
    HttpApiEndpoint.post("sendTestPostback", "/test-postback", {
      payload: Schema.Struct({
        operator: Schema.optional(Operator),
        offerId: Schema.optional(OperatorText(200)),
        payout: Schema.optional(OperatorText(64)),
        userId: Schema.optional(AttributedUserId)
      }),
      success: TestPostbackResult,
      error: InvalidRequest
    }).annotate(
      OpenApi.Description,
      "Send a test postback through the real ingest route (an HTTP request to this receiver's /postbacks with the secret and the test marker _test=1): stored with test = true, settled as recorded (reason test), never credited"
    )
  )
  .middleware(AdminAuth)
  .prefix("/api")
  .annotate(OpenApi.Title, "Test postbacks") {}

// Reconciliations: MomentScience's postback history export against the
// inbox (src/Reconcile/); the shapes are in src/Reconcile/Schemas.ts.

export class ReconciliationsGroup extends HttpApiGroup.make("reconciliations")
  .add(
    HttpApiEndpoint.post("createReconciliation", "/reconciliations", {
      query: Reconcile.UploadQuery,
      payload: Schema.String.pipe(HttpApiSchema.asText({ contentType: "text/csv" })),
      success: Reconcile.SummarySchema,
      error: InvalidRequest
    }).annotate(
      OpenApi.Description,
      "Upload MomentScience's postback history export (the CSV body, streamed) with the options as query parameters; the report is stored and its summary answered. A column or option that cannot be read is a 400 naming it; unreadable lines are rows of the report"
    ),
    HttpApiEndpoint.get("listReconciliations", "/reconciliations", {
      query: Reconcile.ListQuery,
      success: Reconcile.ReportListSchema
    }).annotate(OpenApi.Description, "Stored reconciliation reports, newest first"),
    HttpApiEndpoint.get("getReconciliation", "/reconciliations/:id", {
      params: { id: Reconcile.ReconciliationId },
      query: Reconcile.ReportQuery,
      success: Reconcile.ReportSchema,
      error: NotFound
    }).annotate(
      OpenApi.Description,
      "One report: its summary and a page of rows (keyset: pass nextAfter as after), of one category when given"
    ),
    HttpApiEndpoint.get("reconciliationCsv", "/reconciliations/:id/report.csv", {
      params: { id: Reconcile.ReconciliationId },
      query: { category: Schema.optional(Reconcile.Category) },
      success: Schema.String.pipe(HttpApiSchema.asText({ contentType: "text/csv; charset=utf-8" })),
      error: NotFound
    }).annotate(OpenApi.Description, "One report as CSV (RFC 4180, UTF-8, CRLF), streamed"),
    HttpApiEndpoint.post("reingestReconciliation", "/reconciliations/:id/reingest", {
      params: { id: Reconcile.ReconciliationId },
      success: Reconcile.ReingestSchema,
      error: NotFound
    }).annotate(
      OpenApi.Description,
      "Send the report's lost conversions that carry what a postback needs through the ingest route (marked recovered by this reconciliation); exactly once however often it is called"
    )
  )
  .middleware(AdminAuth)
  .prefix("/api")
  .annotate(OpenApi.Title, "Reconciliations") {}

// Forwarding: destinations of the transactional outbox and their events
// (src/Forward/); the shapes are in src/Forward/Schemas.ts.

export class DestinationsGroup extends HttpApiGroup.make("destinations")
  .add(
    HttpApiEndpoint.get("listDestinations", "/destinations", {
      success: Forward.DestinationListSchema
    }).annotate(
      OpenApi.Description,
      "Every forwarding destination with its health: state, events waiting and the oldest one's age, dead events, failing since, last success (never its secret)"
    ),
    HttpApiEndpoint.post("addDestination", "/destinations", {
      payload: Forward.NewDestinationSchema,
      success: Forward.DestinationSchema,
      error: [InvalidRequest, Conflict]
    }).annotate(
      OpenApi.Description,
      "Add a destination (url, whsec_ secret, events, paused); a bad field is a 400 naming it, a URL already configured a 409"
    ),
    HttpApiEndpoint.post("pauseDestination", "/destinations/:id/pause", {
      params: { id: Forward.ForwardId },
      success: Forward.DestinationSchema,
      error: NotFound
    }).annotate(
      OpenApi.Description,
      "Pause: its events accumulate in the outbox and nothing is sent until it is resumed"
    ),
    HttpApiEndpoint.post("resumeDestination", "/destinations/:id/resume", {
      params: { id: Forward.ForwardId },
      success: Forward.DestinationSchema,
      error: NotFound
    }).annotate(
      OpenApi.Description,
      "Resume a paused or disabled destination: what accumulated is sent, its failure streak forgotten"
    ),
    HttpApiEndpoint.post("rotateDestinationSecret", "/destinations/:id/rotate", {
      params: { id: Forward.ForwardId },
      payload: Forward.RotateSchema,
      success: Forward.DestinationSchema,
      error: [NotFound, InvalidRequest]
    }).annotate(
      OpenApi.Description,
      "Rotate the signing secret: the new one signs from now on, the previous one too (a second signature) for overlapHours (default 24)"
    ),
    HttpApiEndpoint.get("listDestinationEvents", "/destinations/:id/events", {
      params: { id: Forward.ForwardId },
      query: Forward.EventListQuery,
      success: Forward.EventListSchema,
      error: NotFound
    }).annotate(
      OpenApi.Description,
      "A destination's newest events (limit, default 50), of one status when given, each with every attempt"
    ),
    HttpApiEndpoint.get("getForwardedEvent", "/forwarded-events/:id", {
      params: { id: Forward.ForwardId },
      success: Forward.EventSchema,
      error: NotFound
    }).annotate(
      OpenApi.Description,
      "One forwarded event with every attempt (time, HTTP status, latency, error)"
    ),
    HttpApiEndpoint.post("replayForwardedEvents", "/forwarded-events/replay", {
      payload: Forward.ReplaySchema,
      success: Forward.ReplayResultSchema,
      error: InvalidRequest
    }).annotate(
      OpenApi.Description,
      "Send dead events again, by id or by filter (destinationId, eventType, from, to): each back to pending, due now, with a fresh retry budget"
    )
  )
  .middleware(AdminAuth)
  .prefix("/api")
  .annotate(OpenApi.Title, "Destinations") {}

// The ingest route in the document. `/postbacks` is served by the ingest
// edge (Ingest/Edge.ts), not by HttpApi, so it is described here from the
// packages that define it: the body's JSON Schema from @org/postback-schema,
// the error codes and Retry-After from @org/postback-handler.

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })

const errorResponse = (description: string, headers?: Record<string, unknown>) => ({
  description,
  ...(headers === undefined ? {} : { headers }),
  content: { "application/json": { schema: ref("ErrorBody") } }
})

const ingestSchemas = (): Record<string, unknown> => {
  const { $schema: _, ...body } = postbackJsonSchema()
  const text = (name: string) => ({
    type: "string",
    description: String(body.properties[name]?.description ?? name)
  })
  return {
    PostbackJsonBody: {
      ...body,
      // The receiver needs only these; what else is missing takes a documented default.
      required: ["offer_id", "payout"],
      description: `${body.description}. Only offer_id and payout are required: a missing timestamp is the time of receipt, a missing is_loyaltyboost is POSTBACK_DEFAULT_LOYALTYBOOST (both flagged on the row)`
    },
    PostbackFormBody: {
      type: "object",
      description:
        "The fields as form parameters; any other parameter is a payload entry (user_id=...)",
      required: ["offer_id", "payout"],
      properties: Object.fromEntries(WIRE_FIELDS.map((name) => [name, text(name)])),
      additionalProperties: { type: "string" }
    },
    PostbackAnswer: {
      type: "object",
      required: ["status", "id", "duplicate"],
      properties: {
        status: {
          type: "string",
          enum: ["accepted", "held"],
          description: "held: stored, but a person approves it before it is credited"
        },
        id: { type: "integer", description: "the stored postback" },
        duplicate: {
          type: "boolean",
          description: "a retry or replay of a postback stored before"
        }
      }
    },
    ErrorBody: {
      type: "object",
      required: ["error", "message"],
      properties: {
        error: { type: "string", enum: Object.values(ERROR_CODES) },
        message: { type: "string" },
        id: {
          type: "integer",
          description:
            "A 400 of the ingest route: the rejected request as stored (GET /api/postbacks/{id})"
        },
        issues: {
          type: "array",
          items: {
            type: "object",
            required: ["path", "message"],
            properties: { path: { type: "string" }, message: { type: "string" } }
          }
        }
      }
    }
  }
}

const ingestPathItem = (): Record<string, unknown> => {
  const { properties } = postbackJsonSchema()
  const secret = {
    name: "secret",
    in: "query",
    required: true,
    description:
      "The shared secret (POSTBACK_SECRET; the parameter's name is POSTBACK_SECRET_PARAM, `secret` by default)",
    schema: { type: "string", minLength: 16, pattern: "^[A-Za-z0-9._~-]+$" }
  }
  const refusals = {
    "401": errorResponse("Missing, wrong or repeated secret: nothing is stored"),
    "413": errorResponse(
      "The body is over MAX_BODY_BYTES (also once a Content-Encoding is undone)"
    ),
    "414": errorResponse("The query string is over MAX_QUERY_BYTES"),
    "415": errorResponse("multipart/form-data, or a Content-Encoding other than gzip, deflate, br"),
    "431": errorResponse("The request line and headers are over twice MAX_QUERY_BYTES"),
    "503": errorResponse(
      "Not stored (the database is unavailable, or the receiver is shutting down): retry later",
      {
        "retry-after": {
          description: `Seconds to wait before retrying (${RETRY_AFTER_SECONDS})`,
          schema: { type: "integer" }
        }
      }
    )
  }
  const stored = {
    "200": {
      description:
        "Committed to the database: accepted (the worker credits it) or held (a person approves it first)",
      content: { "application/json": { schema: ref("PostbackAnswer") } }
    },
    "400": errorResponse(
      'Cannot be a conversion (no usable offer_id or payout, a negative payout, a body that is neither JSON nor a form): `error` is "invalid_postback" and `issues` lists every problem; the raw request is kept as a rejected postback'
    )
  }
  const notAllowed = {
    tags: ["Ingest"],
    description: "Any method other than GET, HEAD and POST",
    responses: {
      "405": errorResponse("Method not allowed", {
        allow: { description: "GET, HEAD, POST", schema: { type: "string" } }
      })
    }
  }
  return {
    summary: "The postback route MomentScience calls",
    description:
      "Served by the receiver's ingest edge. 200 is answered only once the postback is committed; a retry of a stored postback is a duplicate and credits nothing new.",
    get: {
      tags: ["Ingest"],
      operationId: "ingest.getPostback",
      description:
        "A postback as query parameters (or a registered POSTBACK_TEMPLATE's own names); any parameter that is not a postback field is a payload entry",
      parameters: [
        secret,
        ...WIRE_FIELDS.map((name) => ({
          name,
          in: "query",
          required: name === "offer_id" || name === "payout",
          description: properties[name]?.description,
          schema: { type: "string" }
        })),
        {
          name: "payload",
          in: "query",
          style: "form",
          explode: true,
          description: "Every other parameter: the payload (user_id, session_id, ...)",
          schema: { type: "object", additionalProperties: { type: "string" } }
        }
      ],
      responses: { ...stored, ...refusals }
    },
    post: {
      tags: ["Ingest"],
      operationId: "ingest.postPostback",
      description:
        "A postback as a JSON body (recommended, as MomentScience sends it) or a form; gzip, deflate and br bodies are decoded",
      parameters: [secret],
      requestBody: {
        required: true,
        content: {
          "application/json": { schema: ref("PostbackJsonBody") },
          "application/x-www-form-urlencoded": { schema: ref("PostbackFormBody") }
        }
      },
      responses: { ...stored, ...refusals }
    },
    head: {
      tags: ["Ingest"],
      operationId: "ingest.probe",
      description: "A URL checker's probe: stores nothing",
      parameters: [secret],
      responses: { "200": { description: "The secret is right" }, "401": refusals["401"] }
    },
    put: { ...notAllowed, operationId: "ingest.put" },
    patch: { ...notAllowed, operationId: "ingest.patch" },
    delete: { ...notAllowed, operationId: "ingest.delete" }
  }
}

type Json = Record<string, unknown>

/** Adds the ingest route, its schemas and its tag to the generated document. */
const withIngestRoute = (spec: Json): Json => {
  const components = (spec.components ?? {}) as Json
  const generated = (components.schemas ?? {}) as Json
  const schemas = ingestSchemas()
  for (const name of Object.keys(schemas)) {
    if (name in generated) {
      throw new Error(`OpenAPI: the ingest route's schema ${name} is also a generated one`)
    }
  }
  return {
    ...spec,
    info: {
      ...(spec.info as Json),
      description:
        "The MomentScience postback receiver: the ingest route and the admin API. Points and balances are decimal strings and payouts exact decimal text: no amount passes through floating point. Every error body is { error, message, issues? }."
    },
    paths: { [INGEST_PATH]: ingestPathItem(), ...(spec.paths as Json) },
    components: { ...components, schemas: { ...schemas, ...generated } },
    tags: [
      {
        name: "Ingest",
        description: "The route MomentScience calls (authenticated by the secret in the URL)"
      },
      ...((spec.tags ?? []) as Array<unknown>)
    ]
  }
}

/** The receiver's typed HTTP contract; the ingest route is added to its document only. */
export class ReceiverApi extends HttpApi.make("receiver")
  .add(HealthGroup)
  .add(MetricsGroup)
  .add(UsersGroup)
  .add(PostbacksGroup)
  .add(HistoryGroup)
  .add(ActionsGroup)
  .add(TestPostbackGroup)
  .add(ReconciliationsGroup)
  .add(DestinationsGroup)
  .middleware(ApiErrors)
  .annotate(OpenApi.Title, "MomentScience postback receiver")
  .annotate(OpenApi.Transform, withIngestRoute) {}
