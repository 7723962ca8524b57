import { Schema } from "effect"
import { DESTINATION_STATES, OUTBOX_STATUSES } from "../Db/schema.ts"

/**
 * The HTTP shapes of the destinations API (`/api/destinations`,
 * `/api/forwarded-events`), declared beside the outbox so that the code and
 * its contract change together; `src/Api.ts` assembles them into the group.
 * Times are ISO 8601 text; secrets are never answered.
 */

/** A positive id in a path. */
export const ForwardId = Schema.Int.check(Schema.isGreaterThan(0))

/** A destination with its health (see `DestinationHealth` in OutboxSql.ts). */
export const DestinationSchema = Schema.Struct({
  id: Schema.Number,
  url: Schema.String,
  events: Schema.Array(Schema.String),
  state: Schema.Literals(DESTINATION_STATES),
  disabledReason: Schema.NullOr(Schema.String),
  origin: Schema.String,
  createdAt: Schema.String,
  /** During a secret rotation: until when the previous secret signs too. */
  rotatingUntil: Schema.NullOr(Schema.String),
  failingSince: Schema.NullOr(Schema.String),
  lastSuccessAt: Schema.NullOr(Schema.String),
  /** Events waiting or being sent. */
  pending: Schema.Number,
  /** Age in seconds of the oldest waiting event (0 when none). */
  oldestPendingSeconds: Schema.Number,
  dead: Schema.Number
}).annotate({ identifier: "ForwardDestination" })

export const DestinationListSchema = Schema.Struct({
  destinations: Schema.Array(DestinationSchema)
}).annotate({ identifier: "ForwardDestinationList" })

/** `POST /api/destinations`: checked field by field (a 400 names each bad field). */
export const NewDestinationSchema = Schema.Struct({
  url: Schema.String,
  /** `whsec_` + base64 of 24 to 64 bytes. */
  secret: Schema.String,
  events: Schema.Array(Schema.String),
  paused: Schema.optional(Schema.Boolean)
}).annotate({ identifier: "NewForwardDestination" })

/** `POST /api/destinations/:id/rotate`: the new secret, and how long the old one still signs. */
export const RotateSchema = Schema.Struct({
  secret: Schema.String,
  /** Hours (1 to 720) the previous secret keeps signing beside the new one; default 24. */
  overlapHours: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 720 })))
}).annotate({ identifier: "RotateDestinationSecret" })

/** One delivery attempt. */
export const AttemptSchema = Schema.Struct({
  at: Schema.String,
  /** The status answered, or null (timeout, connection error). */
  httpStatus: Schema.NullOr(Schema.Number),
  latencyMs: Schema.Number,
  error: Schema.NullOr(Schema.String)
}).annotate({ identifier: "ForwardAttempt" })

/** An outbox event with every attempt (see `EventRow` in OutboxSql.ts). */
export const EventSchema = Schema.Struct({
  id: Schema.Number,
  /** The `webhook-id` header: the same on every retry. */
  webhookId: Schema.String,
  destinationId: Schema.Number,
  postbackId: Schema.Number,
  eventType: Schema.String,
  status: Schema.Literals(OUTBOX_STATUSES),
  createdAt: Schema.String,
  attempts: Schema.Number,
  nextAttemptAt: Schema.NullOr(Schema.String),
  deliveredAt: Schema.NullOr(Schema.String),
  lastError: Schema.NullOr(Schema.String),
  history: Schema.Array(AttemptSchema)
}).annotate({ identifier: "ForwardEvent" })

export const EventListSchema = Schema.Struct({
  events: Schema.Array(EventSchema)
}).annotate({ identifier: "ForwardEventList" })

/** `GET /api/destinations/:id/events`: the newest events of one destination, of one status. */
export const EventListQuery = {
  status: Schema.optional(Schema.Literals(OUTBOX_STATUSES)),
  limit: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 500 })))
}

/** `POST /api/forwarded-events/replay`: dead events by id, or by filter (all given must match). */
export const ReplaySchema = Schema.Struct({
  id: Schema.optional(ForwardId),
  destinationId: Schema.optional(ForwardId),
  eventType: Schema.optional(Schema.String),
  /** ISO 8601: events written at or after. */
  from: Schema.optional(Schema.String),
  /** ISO 8601: events written before. */
  to: Schema.optional(Schema.String)
}).annotate({ identifier: "ForwardReplay" })

export const ReplayResultSchema = Schema.Struct({
  replayed: Schema.Number
}).annotate({ identifier: "ForwardReplayResult" })
