import type { SqlRunner } from "../Db/Database.ts"
import type { DestinationState, OutboxStatus } from "../Db/schema.ts"
import type { DestinationInput } from "./Destinations.ts"

// A time stamp as the events carry it: ISO 8601 in UTC with milliseconds.
const iso = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

// Write the events of the postbacks $1 just settled (or reversed): one outbox row per
// destination that is not disabled (a paused one accumulates) and takes the
// event type `postback.<status>`. Runs in the worker's settlement
// transaction, so an event exists if and only if its settlement committed.
// The body is built here, once: every retry sends the same event, and a
// later change to the postback (a reversal) is an event of its own.
// `points` is the ledger change the event reports: the credit's points, or
// the reversal's (negative) for `postback.reversed`. With no destination the
// join is empty and the statement costs one index probe per batch.
const ENQUEUE = `
INSERT INTO forward_outbox (destination_id, postback_id, event_type, payload, next_attempt_at)
SELECT d.id, p.id, e.type,
  jsonb_build_object(
    'type', e.type,
    'timestamp', ${iso("now()")},
    'data', jsonb_build_object(
      'postbackId', p.id,
      'status', p.status,
      'offerId', p.offer_id,
      'advertiserName', p.advertiser_name,
      'payout', p.payout::text,
      'isLoyaltyBoost', p.is_loyalty_boost,
      'userId', p.user_id,
      'points', COALESCE(r.points::text, '0'),
      'payload', p.payload,
      'explanation', p.outcome,
      'occurredAt', ${iso("p.occurred_at")},
      'receivedAt', ${iso("p.received_at")},
      'settledAt', ${iso("p.processed_at")},
      'test', p.test
    )
  ),
  now()
FROM postbacks p
CROSS JOIN LATERAL (SELECT 'postback.' || p.status AS type) e
JOIN forward_destinations d ON d.state <> 'disabled' AND e.type = ANY(d.events)
LEFT JOIN reward_transactions r ON r.postback_id = p.id
  AND r.kind = CASE WHEN p.status = 'reversed' THEN 'reversal' ELSE 'credit' END
WHERE p.id = ANY($1::bigint[])
ORDER BY p.id, d.id`

/**
 * Writes the outbox rows of postbacks just settled or reversed, typed
 * `postback.<status>` (call inside the transaction of the change); returns
 * how many events were written.
 */
export const enqueueSettled = async (
  tx: SqlRunner,
  postbackIds: ReadonlyArray<number>
): Promise<number> => {
  if (postbackIds.length === 0) return 0
  const rows = await tx.query(`${ENQUEUE} RETURNING 1`, [postbackIds.map(String)])
  return rows.length
}

/** An event claimed for delivery, with its destination's URL and signing secrets. */
export interface ClaimedEvent {
  readonly id: number
  readonly destinationId: number
  readonly url: string
  /** The secrets to sign with: the current one, and the previous one during a rotation's overlap. */
  readonly secrets: ReadonlyArray<string>
  readonly eventType: string
  /** The JSON body, as stored. */
  readonly body: string
  /** Attempts including this one. */
  readonly attempts: number
}

// Claim for dispatcher $1, under a lease of $2, up to $3 due events of each
// active destination not in $4 (the destinations this process is still
// sending to), plus events whose lease ran out (their dispatcher died
// between sending and recording: they are sent again, at least once).
//
// Each destination is read through the partial ready index on its own
// (LATERAL ... LIMIT), so a destination with a backlog of a million events
// takes no more of a claim than one with ten, and SKIP LOCKED lets other
// dispatchers (in this process or in other replicas) take other rows
// without waiting. Paused and disabled destinations are not read at all.
const CLAIM = `
WITH expired AS (
  SELECT o.id FROM forward_outbox o
  JOIN forward_destinations d ON d.id = o.destination_id AND d.state = 'active'
  WHERE o.status = 'processing' AND o.locked_until < now()
  ORDER BY o.locked_until
  LIMIT $3
  FOR UPDATE OF o SKIP LOCKED
), ready AS (
  SELECT r.id FROM forward_destinations d
  CROSS JOIN LATERAL (
    SELECT o.id FROM forward_outbox o
    WHERE o.destination_id = d.id AND o.status = 'pending' AND o.next_attempt_at <= now()
    ORDER BY o.next_attempt_at, o.id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
  ) r
  WHERE d.state = 'active' AND NOT (d.id = ANY($4::bigint[]))
), picked AS (
  SELECT id FROM expired
  UNION
  SELECT id FROM ready
)
UPDATE forward_outbox AS o
SET status = 'processing',
    locked_by = $1,
    locked_until = now() + $2::interval,
    attempts = o.attempts + 1
FROM picked, forward_destinations d
WHERE o.id = picked.id AND d.id = o.destination_id
RETURNING o.id::text AS id, o.destination_id::text AS destination_id, d.url, d.secret,
          CASE WHEN d.previous_secret_until > now() THEN d.previous_secret END AS previous_secret,
          o.event_type, o.payload::text AS body, o.attempts`

/** Claims due events for `dispatcherId` (see the statement's comment). */
export const claimEvents = async (
  sql: SqlRunner,
  dispatcherId: string,
  leaseSeconds: number,
  perDestination: number,
  busyDestinations: ReadonlyArray<number>
): Promise<ReadonlyArray<ClaimedEvent>> => {
  const rows = await sql.query<{
    id: string
    destination_id: string
    url: string
    secret: string
    previous_secret: string | null
    event_type: string
    body: string
    attempts: number
  }>(CLAIM, [dispatcherId, `${leaseSeconds} seconds`, perDestination, busyDestinations.map(String)])
  return rows.map((row) => ({
    id: Number(row.id),
    destinationId: Number(row.destination_id),
    url: row.url,
    secrets: row.previous_secret === null ? [row.secret] : [row.secret, row.previous_secret],
    eventType: row.event_type,
    body: row.body,
    attempts: Number(row.attempts)
  }))
}

/** What one delivery attempt came to, and what happens to its event. */
export interface AttemptResult {
  readonly outboxId: number
  /** When the request was sent. */
  readonly at: Date
  /** The status answered, or `null` (timeout, connection error). */
  readonly httpStatus: number | null
  readonly latencyMs: number
  readonly error: string | null
  /** `delivered`, `pending` (retry after `delaySeconds`) or `dead`. */
  readonly next: Exclude<OutboxStatus, "processing">
  readonly delaySeconds: number
}

// Record one destination's attempts: each attempt row (also for an event
// whose lease was taken over meanwhile: the request was sent all the same),
// and each event's next status for the rows this dispatcher still holds.
const RECORD = `
WITH f AS (
  SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
    AS f(id, at, http_status, latency_ms, error, status, delay)
), attempts AS (
  INSERT INTO forward_attempts (outbox_id, at, http_status, latency_ms, error)
  SELECT f.id::bigint, f.at::timestamptz, f.http_status::smallint, f.latency_ms::integer, f.error FROM f
  RETURNING 1
)
UPDATE forward_outbox AS o
SET status = f.status,
    next_attempt_at = CASE WHEN f.status = 'pending' THEN now() + f.delay::interval END,
    delivered_at = CASE WHEN f.status = 'delivered' THEN now() END,
    last_error = f.error,
    locked_by = NULL,
    locked_until = NULL
FROM f
WHERE o.id = f.id::bigint AND o.status = 'processing' AND o.locked_by = $1
RETURNING o.id::text AS id, o.status`

// A destination's health after a round of attempts: a success clears the
// failure streak; a failure starts one (or continues it), and a streak
// older than $3 disables the destination. RETURNING says whether this
// statement disabled it, so that one error is logged, once.
const HEALTH = `
WITH before AS (SELECT id, state FROM forward_destinations WHERE id = $1)
UPDATE forward_destinations AS d
SET failing_since = CASE WHEN $2::boolean THEN NULL ELSE COALESCE(d.failing_since, now()) END,
    last_success_at = CASE WHEN $2::boolean THEN now() ELSE d.last_success_at END,
    state = CASE
      WHEN NOT $2::boolean AND d.state = 'active' AND d.failing_since < now() - $3::interval
      THEN 'disabled' ELSE d.state END,
    disabled_reason = CASE
      WHEN NOT $2::boolean AND d.state = 'active' AND d.failing_since < now() - $3::interval
      THEN 'failing since ' || ${iso("d.failing_since")} || ' without a success' ELSE d.disabled_reason END
FROM before
WHERE d.id = before.id
RETURNING d.state, before.state AS before, d.disabled_reason`

/**
 * Records one destination's attempts and its health in one transaction;
 * returns the events moved (to `delivered`, `pending` or `dead`) and whether
 * the destination was disabled now.
 */
export const recordAttempts = (
  sql: { transaction<A>(f: (tx: SqlRunner) => Promise<A>): Promise<A> },
  dispatcherId: string,
  destinationId: number,
  results: ReadonlyArray<AttemptResult>,
  disableAfterSeconds: number
): Promise<{
  readonly moved: ReadonlyArray<{ id: number; status: OutboxStatus }>
  readonly disabled: string | undefined
}> =>
  sql.transaction(async (tx) => {
    const moved = await tx.query<{ id: string; status: OutboxStatus }>(RECORD, [
      dispatcherId,
      results.map((r) => String(r.outboxId)),
      results.map((r) => r.at.toISOString()),
      results.map((r) => (r.httpStatus === null ? null : String(r.httpStatus))),
      results.map((r) => String(Math.round(r.latencyMs))),
      results.map((r) => r.error),
      results.map((r) => r.next),
      results.map((r) => `${r.delaySeconds} seconds`)
    ])
    const anySuccess = results.some((r) => r.next === "delivered")
    const [health] = await tx.query<{
      state: DestinationState
      before: DestinationState
      disabled_reason: string | null
    }>(HEALTH, [String(destinationId), anySuccess, `${disableAfterSeconds} seconds`])
    return {
      moved: moved.map((row) => ({ id: Number(row.id), status: row.status })),
      disabled:
        health !== undefined && health.state === "disabled" && health.before !== "disabled"
          ? (health.disabled_reason ?? "disabled")
          : undefined
    }
  })

/** How long the previous secret keeps signing after a rotation. */
export const SECRET_OVERLAP_HOURS = 24

// Insert or update a destination by URL. A changed secret starts a rotation:
// the old secret keeps signing beside the new one for the overlap ($6), as
// Standard Webhooks allows (several signatures, space-separated).
const UPSERT = `
INSERT INTO forward_destinations AS d (url, secret, events, state, origin)
VALUES ($1, $2, $3::text[], $4, $5)
ON CONFLICT (url) DO UPDATE SET
  previous_secret = CASE WHEN d.secret <> EXCLUDED.secret THEN d.secret ELSE d.previous_secret END,
  previous_secret_until = CASE WHEN d.secret <> EXCLUDED.secret THEN now() + $6::interval
                               ELSE d.previous_secret_until END,
  secret = EXCLUDED.secret,
  events = EXCLUDED.events
RETURNING d.id::text AS id, (xmax = 0) AS inserted`

/**
 * Adds a destination, or updates the one with the same URL (its events; a
 * new secret rotates with an overlap). A new destination starts `paused`
 * when asked, else `active`; an existing one keeps its state.
 */
export const upsertDestination = async (
  sql: SqlRunner,
  destination: DestinationInput,
  origin: "file" | "api",
  overlapHours: number = SECRET_OVERLAP_HOURS
): Promise<{ readonly id: number; readonly inserted: boolean }> => {
  const [row] = await sql.query<{ id: string; inserted: boolean }>(UPSERT, [
    destination.url,
    destination.secret,
    destination.events,
    destination.paused ? "paused" : "active",
    origin,
    `${overlapHours} hours`
  ])
  return { id: Number(row!.id), inserted: row!.inserted }
}

/** Pauses, resumes (a disabled one too: its failure streak forgotten) or disables a destination. */
export const setDestinationState = async (
  sql: SqlRunner,
  id: number,
  state: DestinationState,
  reason: string | null
): Promise<boolean> => {
  const rows = await sql.query(
    `UPDATE forward_destinations
     SET state = $2, disabled_reason = $3,
         failing_since = CASE WHEN $2 = 'active' THEN NULL ELSE failing_since END
     WHERE id = $1 RETURNING 1`,
    [String(id), state, state === "disabled" ? reason : null]
  )
  return rows.length > 0
}

/** Starts a rotation: `secret` signs from now on, the old one too for `overlapHours`. */
export const rotateSecret = async (
  sql: SqlRunner,
  id: number,
  secret: string,
  overlapHours: number
): Promise<boolean> => {
  const rows = await sql.query(
    `UPDATE forward_destinations
     SET previous_secret = secret, previous_secret_until = now() + $3::interval, secret = $2
     WHERE id = $1 RETURNING 1`,
    [String(id), secret, `${overlapHours} hours`]
  )
  return rows.length > 0
}

/** A destination with its health, as the admin API lists it (never its secrets). */
export interface DestinationHealth {
  readonly id: number
  readonly url: string
  readonly events: ReadonlyArray<string>
  readonly state: DestinationState
  readonly disabledReason: string | null
  readonly origin: string
  readonly createdAt: Date
  /** Whether a previous secret still signs (a rotation's overlap), and until when. */
  readonly rotatingUntil: Date | null
  readonly failingSince: Date | null
  readonly lastSuccessAt: Date | null
  /** Events waiting or being sent. */
  readonly pending: number
  /** Age in seconds of the oldest waiting event (0 when none). */
  readonly oldestPendingSeconds: number
  readonly dead: number
}

/** Every destination with its health, by id. */
export const listDestinations = async (
  sql: SqlRunner
): Promise<ReadonlyArray<DestinationHealth>> => {
  const rows = await sql.query<{
    id: string
    url: string
    events: ReadonlyArray<string>
    state: DestinationState
    disabled_reason: string | null
    origin: string
    created_at: Date
    rotating_until: Date | null
    failing_since: Date | null
    last_success_at: Date | null
    pending: string
    oldest_seconds: string | null
    dead: string
  }>(
    `SELECT d.id::text AS id, d.url, d.events, d.state, d.disabled_reason, d.origin, d.created_at,
            CASE WHEN d.previous_secret_until > now() THEN d.previous_secret_until END AS rotating_until,
            d.failing_since, d.last_success_at,
            COALESCE(s.pending, 0)::text AS pending,
            s.oldest_seconds::text AS oldest_seconds,
            COALESCE(s.dead, 0)::text AS dead
     FROM forward_destinations d
     LEFT JOIN LATERAL (
       SELECT count(*) FILTER (WHERE o.status IN ('pending', 'processing')) AS pending,
              floor(extract(epoch FROM now() - min(o.created_at)
                FILTER (WHERE o.status IN ('pending', 'processing')))) AS oldest_seconds,
              count(*) FILTER (WHERE o.status = 'dead') AS dead
       FROM forward_outbox o
       WHERE o.destination_id = d.id AND o.status IN ('pending', 'processing', 'dead')
     ) s ON true
     ORDER BY d.id`
  )
  return rows.map((row) => ({
    id: Number(row.id),
    url: row.url,
    events: row.events,
    state: row.state,
    disabledReason: row.disabled_reason,
    origin: row.origin,
    createdAt: row.created_at,
    rotatingUntil: row.rotating_until,
    failingSince: row.failing_since,
    lastSuccessAt: row.last_success_at,
    pending: Number(row.pending),
    oldestPendingSeconds: row.oldest_seconds === null ? 0 : Number(row.oldest_seconds),
    dead: Number(row.dead)
  }))
}

/** One delivery attempt as the admin API shows it. */
export interface AttemptRow {
  readonly at: Date
  readonly httpStatus: number | null
  readonly latencyMs: number
  readonly error: string | null
}

/** An event of the outbox with its attempts. */
export interface EventRow {
  readonly id: number
  readonly webhookId: string
  readonly destinationId: number
  readonly postbackId: number
  readonly eventType: string
  readonly status: OutboxStatus
  readonly createdAt: Date
  readonly attempts: number
  readonly nextAttemptAt: Date | null
  readonly deliveredAt: Date | null
  readonly lastError: string | null
  readonly history: ReadonlyArray<AttemptRow>
}

/** The `webhook-id` of an outbox row: stable across retries, so consumers deduplicate on it. */
export const webhookId = (outboxId: number): string => `evt_${outboxId}`

/** An outbox row by id with every attempt, or `undefined`. */
export const readEvent = async (sql: SqlRunner, id: number): Promise<EventRow | undefined> => {
  const [row] = await readEvents(sql, "id = $1", [String(id)])
  return row
}

/** A destination's newest events (of one status when given), each with its attempts. */
export const listEvents = (
  sql: SqlRunner,
  destinationId: number,
  status: OutboxStatus | undefined,
  limit: number
): Promise<ReadonlyArray<EventRow>> =>
  readEvents(
    sql,
    "destination_id = $1 AND ($2::text IS NULL OR status = $2::text) ORDER BY id DESC LIMIT $3",
    [String(destinationId), status ?? null, limit]
  )

const readEvents = async (
  sql: SqlRunner,
  where: string,
  params: ReadonlyArray<unknown>
): Promise<Array<EventRow>> => {
  const rows = await sql.query<{
    id: string
    destination_id: string
    postback_id: string
    event_type: string
    status: OutboxStatus
    created_at: Date
    attempts: number
    next_attempt_at: Date | null
    delivered_at: Date | null
    last_error: string | null
  }>(
    `SELECT id::text AS id, destination_id::text AS destination_id, postback_id::text AS postback_id,
            event_type, status, created_at, attempts, next_attempt_at, delivered_at, last_error
     FROM forward_outbox WHERE ${where}`,
    params
  )
  if (rows.length === 0) return []
  const attempts = await sql.query<{
    outbox_id: string
    at: Date
    http_status: number | null
    latency_ms: number
    error: string | null
  }>(
    `SELECT outbox_id::text AS outbox_id, at, http_status, latency_ms, error
     FROM forward_attempts WHERE outbox_id = ANY($1::bigint[]) ORDER BY id`,
    [rows.map((row) => row.id)]
  )
  const byEvent = new Map<string, Array<(typeof attempts)[number]>>()
  for (const attempt of attempts) {
    const list = byEvent.get(attempt.outbox_id) ?? []
    list.push(attempt)
    byEvent.set(attempt.outbox_id, list)
  }
  return rows.map((row) => ({
    id: Number(row.id),
    webhookId: webhookId(Number(row.id)),
    destinationId: Number(row.destination_id),
    postbackId: Number(row.postback_id),
    eventType: row.event_type,
    status: row.status,
    createdAt: row.created_at,
    attempts: Number(row.attempts),
    nextAttemptAt: row.next_attempt_at,
    deliveredAt: row.delivered_at,
    lastError: row.last_error,
    history: (byEvent.get(row.id) ?? []).map((h) => ({
      at: h.at,
      httpStatus: h.http_status,
      latencyMs: Number(h.latency_ms),
      error: h.error
    }))
  }))
}

/** Which dead events a replay takes: one by id, or every one matching the filter. */
export interface ReplayFilter {
  readonly id?: number
  readonly destinationId?: number
  readonly eventType?: string
  /** Events written at or after this time. */
  readonly from?: Date
  /** Events written before this time. */
  readonly to?: Date
}

/**
 * Sends dead events again: back to `pending`, due now, with a fresh retry
 * budget (the attempts so far stay in the attempt log). Returns how many.
 */
export const replayDead = async (sql: SqlRunner, filter: ReplayFilter): Promise<number> => {
  const rows = await sql.query(
    `UPDATE forward_outbox
     SET status = 'pending', next_attempt_at = now(), attempts = 0, last_error = NULL
     WHERE status = 'dead'
       AND ($1::bigint IS NULL OR id = $1::bigint)
       AND ($2::bigint IS NULL OR destination_id = $2::bigint)
       AND ($3::text IS NULL OR event_type = $3::text)
       AND ($4::timestamptz IS NULL OR created_at >= $4::timestamptz)
       AND ($5::timestamptz IS NULL OR created_at < $5::timestamptz)
     RETURNING 1`,
    [
      filter.id === undefined ? null : String(filter.id),
      filter.destinationId === undefined ? null : String(filter.destinationId),
      filter.eventType ?? null,
      filter.from?.toISOString() ?? null,
      filter.to?.toISOString() ?? null
    ]
  )
  return rows.length
}

// Delete up to 1,000 delivered events older than $1 (their attempts go with
// them, ON DELETE CASCADE). Small batches keep each statement short beside
// the claims; pending and dead events are never deleted.
const PRUNE_DELIVERED = `
DELETE FROM forward_outbox
WHERE id IN (
  SELECT id FROM forward_outbox
  WHERE status = 'delivered' AND delivered_at < now() - $1::interval
  LIMIT 1000
)
RETURNING 1`

/** Deletes delivered events older than `days`, 1,000 at a time; returns how many. */
export const pruneDelivered = async (sql: SqlRunner, days: number): Promise<number> => {
  let total = 0
  for (;;) {
    const rows = await sql.query(PRUNE_DELIVERED, [`${days} days`])
    total += rows.length
    if (rows.length < 1000) return total
  }
}
