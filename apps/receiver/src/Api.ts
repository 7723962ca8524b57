import { Effect, Schema, SchemaIssue, SchemaTransformation } from "effect"
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiError,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "effect/http-api"
import { POSTBACK_STATUSES } from "./Db/schema.ts"

/** Admin routes need `Authorization: Bearer <ADMIN_TOKEN>`. */
export class AdminAuth extends HttpApiMiddleware.Service<AdminAuth>()("AdminAuth", {
  error: HttpApiError.UnauthorizedNoContent,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** One problem with a request: its kind, where it is, and what is wrong. */
export const Issue = Schema.Struct({
  _tag: Schema.String,
  path: Schema.Array(Schema.Union([Schema.String, Schema.Number])),
  message: Schema.String
})

/** A request whose path or query parameters do not decode: 400, listing every problem. */
export class HttpApiDecodeError extends Schema.TaggedError<HttpApiDecodeError>()(
  "HttpApiDecodeError",
  { issues: Schema.Array(Issue), message: Schema.String },
  { httpApiStatus: 400 }
) {}

/** Answers requests that do not decode with an {@link HttpApiDecodeError}. */
export class DecodeErrors extends HttpApiMiddleware.Service<DecodeErrors>()("DecodeErrors", {
  error: HttpApiDecodeError
}) {}

export class Health extends Schema.Class<Health>("Health")({
  status: Schema.Literal("ok")
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
  .middleware(AdminAuth)
  .annotate(OpenApi.Title, "Metrics")
  .annotate(OpenApi.Description, "Prometheus metrics (bearer token: ADMIN_TOKEN)") {}

export class HealthGroup extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("healthz", "/healthz", { success: Health }),
    HttpApiEndpoint.get("readyz", "/readyz", {
      success: Readiness,
      error: HttpApiError.ServiceUnavailableNoContent
    })
  )
  .annotate(OpenApi.Title, "Health")
  .annotate(OpenApi.Description, "Liveness and readiness probes") {}

/** Points as a JSON integer (exact up to 2^53 - 1 points). */
const Points = Schema.Number.pipe(
  Schema.decodeTo(
    Schema.BigInt,
    SchemaTransformation.transformEffect({
      decode: (n, options) =>
        Number.isSafeInteger(n)
          ? Effect.succeed(BigInt(n))
          : Effect.fail(new SchemaIssue.InvalidValue({ expected: "a safe integer" }, n, options)),
      encode: (points, options) =>
        points >= BigInt(Number.MIN_SAFE_INTEGER) && points <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Effect.succeed(Number(points))
          : Effect.fail(
              new SchemaIssue.InvalidValue(
                { expected: "a bigint within the safe integer range" },
                points,
                options
              )
            )
    })
  )
).annotate({ description: "a whole number of points" })

export class RewardTransaction extends Schema.Class<RewardTransaction>("RewardTransaction")({
  id: Schema.Number,
  postbackId: Schema.Number,
  offerId: Schema.NullOr(Schema.String),
  points: Points,
  payout: Schema.String.annotate({ description: "USD, exact decimal text" }),
  explanation: Schema.Unknown,
  createdAt: Schema.DateFromString
}) {}

export class UserLedger extends Schema.Class<UserLedger>("UserLedger")({
  userId: Schema.String,
  balance: Points,
  transactions: Schema.Array(RewardTransaction)
}) {}

export class UsersGroup extends HttpApiGroup.make("users")
  .add(
    HttpApiEndpoint.get("getUser", "/users/:userId", {
      params: { userId: Schema.String },
      query: {
        limit: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })))
      },
      success: UserLedger,
      error: HttpApiError.NotFoundNoContent
    }).annotate(OpenApi.Description, "A user's points balance and latest reward transactions")
  )
  .middleware(AdminAuth)
  .prefix("/api")
  .annotate(OpenApi.Title, "Users") {}

const PostbackStatus = Schema.Literals(POSTBACK_STATUSES)

export class StoredPostback extends Schema.Class<StoredPostback>("StoredPostback")({
  id: Schema.Number,
  status: PostbackStatus,
  source: Schema.String,
  offerId: Schema.NullOr(Schema.String),
  advertiserName: Schema.NullOr(Schema.String),
  payout: Schema.NullOr(Schema.String),
  occurredAt: Schema.NullOr(Schema.DateFromString),
  isLoyaltyBoost: Schema.NullOr(Schema.Boolean),
  payload: Schema.NullOr(Schema.Record(Schema.String, Schema.String)),
  userId: Schema.NullOr(Schema.String),
  receivedAt: Schema.DateFromString,
  deliveryCount: Schema.Number,
  attempts: Schema.Number,
  processedAt: Schema.NullOr(Schema.DateFromString),
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

/** Replay applies to postbacks that stopped: `dead` (failed processing) or `held` (review). */
export class NotReplayable extends Schema.TaggedError<NotReplayable>()(
  "NotReplayable",
  { message: Schema.String },
  { httpApiStatus: 409 }
) {}

const PostbackId = Schema.Int.check(Schema.isGreaterThan(0))

export class PostbacksGroup extends HttpApiGroup.make("postbacks")
  .add(
    HttpApiEndpoint.get("getPostback", "/postbacks/:id", {
      params: { id: PostbackId },
      success: StoredPostback,
      error: HttpApiError.NotFoundNoContent
    }).annotate(OpenApi.Description, "One stored postback: its fields, status, outcome and errors"),
    HttpApiEndpoint.post("replayPostback", "/postbacks/:id/replay", {
      params: { id: PostbackId },
      success: StoredPostback,
      error: [HttpApiError.NotFoundNoContent, NotReplayable]
    }).annotate(
      OpenApi.Description,
      "Send a dead postback (processing failed) or a held one (approved after review) back to the worker"
    )
  )
  .middleware(AdminAuth)
  .prefix("/api")
  .annotate(OpenApi.Title, "Postbacks") {}

/** The receiver's typed HTTP contract, apart from the ingest routes (see Ingest/Edge.ts). */
export class ReceiverApi extends HttpApi.make("receiver")
  .add(HealthGroup)
  .add(MetricsGroup)
  .add(UsersGroup)
  .add(PostbacksGroup)
  .middleware(DecodeErrors)
  .annotate(OpenApi.Title, "MomentScience postback receiver") {}
