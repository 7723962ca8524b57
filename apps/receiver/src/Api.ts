import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiError,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { Schema } from "effect"
import { POSTBACK_STATUSES } from "./Db/schema.ts"

/** Admin routes need `Authorization: Bearer <ADMIN_TOKEN>`. */
export class AdminAuth extends HttpApiMiddleware.Tag<AdminAuth>()("AdminAuth", {
  failure: HttpApiError.Unauthorized,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export class Health extends Schema.Class<Health>("Health")({
  status: Schema.Literal("ok")
}) {}

export class Readiness extends Schema.Class<Readiness>("Readiness")({
  status: Schema.Literal("ready"),
  database: Schema.Literal("postgres", "pglite")
}) {}

export class MetricsGroup extends HttpApiGroup.make("metrics")
  .add(
    HttpApiEndpoint.get("metrics", "/metrics").addSuccess(
      HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4; charset=utf-8" })
    )
  )
  .middleware(AdminAuth)
  .annotate(OpenApi.Title, "Metrics")
  .annotate(OpenApi.Description, "Prometheus metrics (bearer token: ADMIN_TOKEN)") {}

export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Health))
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Readiness)
      .addError(HttpApiError.ServiceUnavailable)
  )
  .annotate(OpenApi.Title, "Health")
  .annotate(OpenApi.Description, "Liveness and readiness probes") {}

/** Points as a JSON integer (exact up to 2^53 - 1 points). */
const Points = Schema.BigIntFromNumber.annotations({
  description: "a whole number of points"
})

export class RewardTransaction extends Schema.Class<RewardTransaction>("RewardTransaction")({
  id: Schema.Number,
  postbackId: Schema.Number,
  offerId: Schema.NullOr(Schema.String),
  points: Points,
  payout: Schema.String.annotations({ description: "USD, exact decimal text" }),
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
    HttpApiEndpoint.get("getUser", "/users/:userId")
      .setPath(Schema.Struct({ userId: Schema.String }))
      .setUrlParams(
        Schema.Struct({
          limit: Schema.optional(
            Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000))
          )
        })
      )
      .addSuccess(UserLedger)
      .addError(HttpApiError.NotFound)
      .annotate(OpenApi.Description, "A user's points balance and latest reward transactions")
  )
  .middleware(AdminAuth)
  .prefix("/api")
  .annotate(OpenApi.Title, "Users") {}

const PostbackStatus = Schema.Literal(...POSTBACK_STATUSES)

export class StoredPostback extends Schema.Class<StoredPostback>("StoredPostback")({
  id: Schema.Number,
  status: PostbackStatus,
  source: Schema.String,
  offerId: Schema.NullOr(Schema.String),
  advertiserName: Schema.NullOr(Schema.String),
  payout: Schema.NullOr(Schema.String),
  occurredAt: Schema.NullOr(Schema.DateFromString),
  isLoyaltyBoost: Schema.NullOr(Schema.Boolean),
  payload: Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String })),
  userId: Schema.NullOr(Schema.String),
  receivedAt: Schema.DateFromString,
  deliveryCount: Schema.Number,
  attempts: Schema.Number,
  processedAt: Schema.NullOr(Schema.DateFromString),
  outcome: Schema.Unknown,
  lastError: Schema.NullOr(Schema.String),
  request: Schema.Unknown,
  errors: Schema.Unknown
}) {}

/** Replay applies to postbacks that stopped: `dead` (failed processing) or `held` (review). */
export class NotReplayable extends Schema.TaggedError<NotReplayable>()(
  "NotReplayable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

export class PostbacksGroup extends HttpApiGroup.make("postbacks")
  .add(
    HttpApiEndpoint.get("getPostback", "/postbacks/:id")
      .setPath(Schema.Struct({ id: Schema.NumberFromString.pipe(Schema.int(), Schema.positive()) }))
      .addSuccess(StoredPostback)
      .addError(HttpApiError.NotFound)
      .annotate(OpenApi.Description, "One stored postback: its fields, status, outcome and errors")
  )
  .add(
    HttpApiEndpoint.post("replayPostback", "/postbacks/:id/replay")
      .setPath(Schema.Struct({ id: Schema.NumberFromString.pipe(Schema.int(), Schema.positive()) }))
      .addSuccess(StoredPostback)
      .addError(HttpApiError.NotFound)
      .addError(NotReplayable)
      .annotate(
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
  .annotate(OpenApi.Title, "MomentScience postback receiver") {}
