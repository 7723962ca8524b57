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
import { POSTBACK_STATUSES } from "./Db/schema.ts"
import { INGEST_PATH } from "./Ingest/Route.ts"

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
const Points = Schema.String.check(Schema.isPattern(/^(0|[1-9][0-9]*)$/))
  .annotate({
    description: "A whole number of points as a decimal string (exact at any size)",
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

export class UsersGroup extends HttpApiGroup.make("users")
  .add(
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

export class PostbacksGroup extends HttpApiGroup.make("postbacks")
  .add(
    HttpApiEndpoint.get("getPostback", "/postbacks/:id", {
      params: { id: PostbackId },
      success: StoredPostback,
      error: NotFound
    }).annotate(OpenApi.Description, "One stored postback: its fields, status, outcome and errors"),
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
  .middleware(ApiErrors)
  .annotate(OpenApi.Title, "MomentScience postback receiver")
  .annotate(OpenApi.Transform, withIngestRoute) {}
