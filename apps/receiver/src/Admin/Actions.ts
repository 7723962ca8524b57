import { Buffer } from "node:buffer"
import type { Classification } from "@org/postback-handler"
import { and, sql as drizzleSql, eq, inArray, type SQL } from "drizzle-orm"
import { Context, DateTime, Effect, Layer, Option, Redacted, Schema } from "effect"
import type { HttpServerRequest } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import {
  ActionResult,
  ActorPayload,
  BulkReplayResult,
  Conflict,
  InvalidRequest,
  NotFound,
  NotReplayable,
  OperatorActionEntry,
  OperatorActionPage,
  ReceiverApi,
  RepairResult
} from "../Api.ts"
import { ReceiverConfig } from "../Config.ts"
import { Database, type DatabaseError, useSql } from "../Db/Database.ts"
import { type OperatorAction, operatorActions, postbacks, type RawRequest } from "../Db/schema.ts"
import { inboxRowOf } from "../Ingest/Edge.ts"
import { IngestCore } from "../Ingest/Ingest.ts"
import { Secrets } from "../Secrets.ts"
import { WakeSignal } from "../WakeSignal.ts"
import {
  type ActionRow,
  type Actor,
  actionByKey,
  type Changed,
  listActions,
  type Repaired,
  repair,
  reverse,
  storedRequest,
  type Transition,
  transition,
  unchanged
} from "./ActionsSql.ts"
import { invalidRequest } from "./Errors.ts"
import { filterCondition, type PostbackFilter, resolveFilter } from "./Filter.ts"
import type { PostbackRow } from "./Repository.ts"

/** The operator an action is recorded under when the request names none. */
export const DEFAULT_OPERATOR = "admin"

/** The audit entry of the API from a stored row. */
export const actionEntry = (row: ActionRow): OperatorActionEntry => new OperatorActionEntry(row)

/** The statuses each action applies to, for the 409's message. */
const APPLIES_TO: Record<Transition | "replay" | "reverse" | "repair", string> = {
  approve: "only held postbacks can be approved",
  reject: "only held postbacks can be rejected",
  attribute: "only unattributed postbacks can be attributed",
  replay: "only dead and held postbacks can be replayed",
  reverse: "only credited postbacks can be reversed",
  repair: "only rejected postbacks can be repaired"
}

const actorOf = (
  payload: { readonly operator?: string | undefined; readonly reason?: string | undefined },
  headers: { readonly "idempotency-key"?: string | undefined }
): Actor => ({
  operator: payload.operator?.trim() || DEFAULT_OPERATOR,
  reason: payload.reason?.trim() || null,
  idempotencyKey: headers["idempotency-key"] ?? null
})

/**
 * Who acts and why, from a body that may be absent: `POST
 * /api/postbacks/:id/replay` predates the audit trail and is still called
 * without one (operator `"admin"` then); a body that is there must be
 * `{ operator?, reason? }`, or the answer is a 400 naming the field.
 */
export const actorFromOptionalBody = (
  request: HttpServerRequest.HttpServerRequest
): Effect.Effect<Actor, InvalidRequest> =>
  request.text.pipe(
    Effect.orElseSucceed(() => ""),
    Effect.flatMap((text) => {
      if (text.trim() === "") return Effect.succeed(actorOf({}, {}))
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        return Effect.fail(invalid("body", "must be JSON: { operator?, reason? }"))
      }
      return Schema.decodeUnknownEffect(ActorPayload)(json).pipe(
        Effect.mapError((error) => invalidRequest(error.issue)),
        Effect.map((payload) => actorOf(payload, {}))
      )
    })
  )

/** A database error that is the unique key of `operator_actions.idempotency_key`. */
const isIdempotencyKeyClash = (error: DatabaseError): boolean => {
  const cause = error.cause as { code?: unknown; constraint?: unknown; constraint_name?: unknown }
  const text = String(
    cause?.constraint ?? cause?.constraint_name ?? (error.cause as Error)?.message ?? ""
  )
  return cause?.code === "23505" && text.includes("idempotency_key")
}

/** Cursor of the audit trail: the last id of a page, opaque to clients. */
const encodeCursor = (id: number): string => Buffer.from(`a:${id}`).toString("base64url")

const decodeCursor = (cursor: string): number | undefined => {
  const text = Buffer.from(cursor, "base64url").toString("utf8")
  const match = /^a:([1-9][0-9]{0,15})$/.exec(text)
  return match === null ? undefined : Number(match[1])
}

const invalid = (path: string, message: string) =>
  new InvalidRequest({ message: `${path}: ${message}`, issues: [{ path, message }] })

/**
 * The operator's actions on postbacks, each in one transaction with its
 * audit row (see `ActionsSql.ts`). Every effect here fails only with what
 * the API answers (404, 409, 400); a database failure is a defect, answered
 * 500 by the API's error middleware and logged, as in `AdminRepository`.
 */
export class OperatorActions extends Context.Service<
  OperatorActions,
  {
    /**
     * A status change (approve, reject, attribute) with its audit
     * row; a repeat with the same idempotency key answers the first outcome.
     */
    readonly transition: (
      postbackId: number,
      action: Transition,
      actor: Actor,
      extra?: { readonly userId?: string }
    ) => Effect.Effect<ActionResult, NotFound | Conflict>
    /** Takes a credit back: see `reverse` of `ActionsSql.ts`. */
    readonly reverse: (
      postbackId: number,
      actor: Actor
    ) => Effect.Effect<ActionResult, NotFound | Conflict>
    /** Re-ingests a rejected postback's stored request with corrected fields. */
    readonly repair: (
      postbackId: number,
      fields: RepairFields,
      actor: Actor
    ) => Effect.Effect<RepairResult, NotFound | Conflict | InvalidRequest>
    /**
     * `POST /api/postbacks/:id/replay`: a `dead` or `held` postback back to
     * the worker (`pending`, attempts reset), with its audit row; the row
     * as the replay stored it.
     */
    readonly replay: (
      postbackId: number,
      actor: Actor
    ) => Effect.Effect<PostbackRow, NotFound | NotReplayable>
    /** Sends every `dead` postback the filter matches back to the worker (or counts them). */
    readonly replayMatching: (
      filter: PostbackFilter,
      dryRun: boolean,
      actor: Actor
    ) => Effect.Effect<BulkReplayResult>
  }
>()("@org/receiver/OperatorActions") {
  static readonly layer: Layer.Layer<
    OperatorActions,
    never,
    Database | WakeSignal | ReceiverConfig | IngestCore | Secrets
  > = Layer.effect(
    OperatorActions,
    Effect.gen(function* () {
      const { sql, db } = yield* Database
      const wake = yield* WakeSignal
      const config = yield* ReceiverConfig
      const ingest = yield* IngestCore
      const secrets = yield* Secrets

      const query = <A>(operation: string, f: () => Promise<A>) =>
        useSql(operation, f).pipe(Effect.orDie)

      /** Why nothing changed, as the API answers it. */
      const refusal = (postbackId: number, rule: string) =>
        query("read postback status", () => unchanged(sql, postbackId)).pipe(
          Effect.flatMap(
            (why): Effect.Effect<never, NotFound | Conflict> =>
              why._tag === "NotFound"
                ? Effect.fail(new NotFound({ message: `no postback ${postbackId}` }))
                : Effect.fail(
                    new Conflict({
                      message: `postback ${postbackId} is ${why.status}; ${rule}`
                    })
                  )
          )
        )

      const statusOf = (postbackId: number) =>
        query("read postback status", () => unchanged(sql, postbackId)).pipe(
          Effect.map((why) => (why._tag === "WrongStatus" ? why.status : ("pending" as const)))
        )

      /**
       * The first outcome of a request repeated with the same
       * `Idempotency-Key`, or a 409 when the key was used for another action.
       */
      const previously = <A>(
        actor: Actor,
        postbackId: number,
        action: OperatorAction,
        answer: (row: ActionRow) => Effect.Effect<A>
      ): Effect.Effect<Option.Option<A>, Conflict> => {
        const key = actor.idempotencyKey
        if (key === null) return Effect.succeed(Option.none())
        return query("read action by idempotency key", () => actionByKey(sql, key)).pipe(
          Effect.flatMap((row) => {
            if (row === undefined) return Effect.succeed(Option.none<A>())
            if (row.postbackId !== postbackId || row.action !== action) {
              return Effect.fail(
                new Conflict({
                  message: `Idempotency-Key ${JSON.stringify(key)} was used for ${row.action} of postback ${row.postbackId}`
                })
              )
            }
            return Effect.map(answer(row), Option.some)
          })
        )
      }

      /**
       * Runs `perform` once per idempotency key: a repeat answers the first
       * outcome; a change that found nothing to change answers why (404 or
       * 409), unless a concurrent request with the same key made it.
       */
      const once = <A, C>(
        postbackId: number,
        action: OperatorAction,
        actor: Actor,
        rule: string,
        perform: () => Promise<C | undefined>,
        done: (changed: C) => A,
        answer: (row: ActionRow) => Effect.Effect<A>
      ): Effect.Effect<A, NotFound | Conflict> =>
        Effect.gen(function* () {
          const before = yield* previously(actor, postbackId, action, answer)
          if (Option.isSome(before)) return before.value
          const changed = yield* useSql(`${action} postback`, perform).pipe(
            Effect.catchTag(
              "DatabaseError",
              (error): Effect.Effect<undefined> =>
                isIdempotencyKeyClash(error) ? Effect.succeed(undefined) : Effect.die(error)
            )
          )
          if (changed !== undefined) {
            wake.signal()
            return done(changed)
          }
          const after = yield* previously(actor, postbackId, action, answer)
          if (Option.isSome(after)) return after.value
          return yield* refusal(postbackId, rule)
        }) as Effect.Effect<A, NotFound | Conflict>

      const resultOf = (row: ActionRow) =>
        Effect.map(
          statusOf(row.postbackId),
          (status) => new ActionResult({ postbackId: row.postbackId, status, action: row })
        )

      const changedResult = (changed: Changed) =>
        new ActionResult({
          postbackId: changed.postbackId,
          status: changed.status,
          action: actionEntry(changed.action)
        })

      const repairAnswer = (row: ActionRow) => {
        const id = Number(row.details.repairedAsId)
        return Effect.map(
          statusOf(id),
          (status) =>
            new RepairResult({
              id,
              duplicate: row.details.duplicate === true,
              status,
              repairedId: row.postbackId,
              action: actionEntry(row)
            })
        )
      }

      return OperatorActions.of({
        transition: (postbackId, action, actor, extra = {}) =>
          once(
            postbackId,
            action,
            actor,
            APPLIES_TO[action],
            () => transition(sql, postbackId, action, actor, extra),
            changedResult,
            resultOf
          ),
        reverse: (postbackId, actor) =>
          once(
            postbackId,
            "reverse",
            actor,
            APPLIES_TO.reverse,
            () => reverse(sql, postbackId, actor),
            changedResult,
            resultOf
          ),
        repair: Effect.fn("OperatorActions.repair")(function* (postbackId, fields, actor) {
          const before = yield* previously(actor, postbackId, "repair", repairAnswer)
          if (Option.isSome(before)) return before.value
          const stored = yield* query("read rejected postback", () =>
            storedRequest(sql, postbackId)
          )
          if (stored === undefined) {
            return yield* new NotFound({ message: `no postback ${postbackId}` })
          }
          if (stored.status !== "rejected") {
            return yield* new Conflict({
              message: `postback ${postbackId} is ${stored.status}; ${APPLIES_TO.repair}`
            })
          }
          if (stored.request === null) {
            return yield* new Conflict({
              message: `postback ${postbackId} has no stored request to repair (an operator rejected it after review)`
            })
          }
          const delivery = rebuildDelivery(stored.request, fields, {
            secretParam: ingest.secretParam,
            secret: Redacted.value(secrets.postbackSecret),
            template: ingest.template?.source
          })
          const classified: Classification = ingest.classify({
            ...delivery,
            receivedAt: stored.receivedAt
          })
          if (classified._tag !== "Accepted") {
            const issues =
              classified._tag === "Rejected"
                ? classified.issues.map((issue) => ({
                    path: issue.path === "" ? "fields" : `fields.${issue.path}`,
                    message: issue.message
                  }))
                : [
                    {
                      path: "fields",
                      message:
                        "message" in classified
                          ? classified.message
                          : "the corrected request is not a postback"
                    }
                  ]
            return yield* new InvalidRequest({
              message: `the corrected postback still cannot be a conversion: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
              issues
            })
          }
          const row = inboxRowOf(
            classified,
            { userIdKey: config.userIdKey, holdAbove: config.holdPayoutAbove },
            { receivedAt: stored.receivedAt, test: stored.test }
          )
          return yield* once(
            postbackId,
            "repair",
            actor,
            APPLIES_TO.repair,
            () => repair(sql, postbackId, row, actor, { ...fields }),
            (repaired: Repaired) =>
              new RepairResult({
                id: repaired.id,
                duplicate: repaired.duplicate,
                status: repaired.status,
                repairedId: postbackId,
                action: actionEntry(repaired.action)
              }),
            repairAnswer
          )
        }),
        replay: Effect.fn("OperatorActions.replay")(function* (postbackId, actor) {
          // drizzle here, so that the answer is the row exactly as this
          // transaction left it (the worker may take it the next instant).
          const row = yield* query("replay postback", () =>
            db.transaction(async (tx) => {
              const [before] = await tx
                .select({ status: postbacks.status })
                .from(postbacks)
                .where(
                  and(eq(postbacks.id, postbackId), inArray(postbacks.status, ["dead", "held"]))
                )
                .for("update")
              if (before === undefined) return undefined
              const [after] = await tx
                .update(postbacks)
                .set({
                  status: "pending",
                  attempts: 0,
                  nextAttemptAt: drizzleSql`now()`,
                  lastError: null,
                  processedAt: null
                })
                .where(eq(postbacks.id, postbackId))
                .returning()
              await tx.insert(operatorActions).values({
                postbackId,
                action: "replay",
                operator: actor.operator,
                reason: actor.reason,
                details: { from: before.status, to: "pending" }
              })
              return after
            })
          )
          if (row !== undefined) {
            wake.signal()
            return row
          }
          const why = yield* query("read postback status", () => unchanged(sql, postbackId))
          return yield* why._tag === "NotFound"
            ? new NotFound({ message: `no postback ${postbackId}` })
            : new NotReplayable({
                message: `postback ${postbackId} is ${why.status}; ${APPLIES_TO.replay}`
              })
        }),
        replayMatching: Effect.fn("OperatorActions.replayMatching")(
          function* (filter, dryRun, actor) {
            // Presets are worked out at the Effect clock's now, in the
            // filter's time zone (default CONSOLE_TIME_ZONE), as the history does.
            const now = yield* DateTime.now
            const condition: SQL = and(
              eq(postbacks.status, "dead"),
              filterCondition(
                resolveFilter(filter, config.consoleTimeZone, DateTime.toDateUtc(now))
              )
            )!
            if (dryRun) {
              const [counted] = yield* query("count dead postbacks", () =>
                db
                  .select({ n: drizzleSql<string>`count(*)::text` })
                  .from(postbacks)
                  .where(condition)
              )
              const matched = Number(counted?.n ?? 0)
              return new BulkReplayResult({ matched, replayed: 0 })
            }
            // One transaction: every matched row back to pending, each with
            // its audit row. The conditional UPDATE re-checks `dead` under
            // the row lock, so a concurrent replay of the same rows replays
            // each once.
            const replayed = yield* query("replay dead postbacks", () =>
              db.transaction(async (tx) => {
                const rows = await tx
                  .update(postbacks)
                  .set({
                    status: "pending",
                    attempts: 0,
                    nextAttemptAt: drizzleSql`now()`,
                    lastError: null,
                    processedAt: null
                  })
                  .where(condition)
                  .returning({ id: postbacks.id })
                if (rows.length > 0) {
                  await tx.insert(operatorActions).values(
                    rows.map((r) => ({
                      postbackId: r.id,
                      action: "replay" as const,
                      operator: actor.operator,
                      reason: actor.reason,
                      details: { from: "dead", to: "pending", byFilter: filter }
                    }))
                  )
                }
                return rows.length
              })
            )
            if (replayed > 0) wake.signal()
            return new BulkReplayResult({ matched: replayed, replayed })
          }
        )
      })
    })
  )
}

/** The corrected wire fields of a repair, as the API decoded them. */
export interface RepairFields {
  readonly offer_id?: string | undefined
  readonly advertiser_name?: string | undefined
  readonly payout?: string | undefined
  readonly timestamp?: string | undefined
  readonly is_loyaltyboost?: string | undefined
  readonly payload?: Readonly<Record<string, string>> | undefined
}

const WIRE = ["offer_id", "advertiser_name", "payout", "timestamp", "is_loyaltyboost"] as const

/**
 * The rejected request rebuilt with the operator's corrections, as a
 * delivery the ingest core reads like any other (the secret put back: the
 * stored request never holds it):
 *
 * - a JSON body: the fields replaced at the top level, payload entries
 *   merged into `payload`;
 * - a form body or a GET: the parameters replaced (a GET read through the
 *   registered template by the template's own names), payload entries as
 *   parameters;
 * - a body that is neither (the reason it was rejected): a JSON body of
 *   the corrections alone.
 */
export const rebuildDelivery = (
  request: RawRequest,
  fields: RepairFields,
  settings: {
    readonly secretParam: string
    readonly secret: string
    readonly template: string | undefined
  }
): { method: string; url: string; contentType: string | null; body: Uint8Array | null } => {
  const query = new URLSearchParams()
  for (const [name, value] of Object.entries(request.query)) {
    for (const v of typeof value === "string" ? [value] : value) query.append(name, v)
  }
  const bodyText =
    request.body === null
      ? null
      : request.bodyEncoding === "base64"
        ? Buffer.from(request.body, "base64").toString("utf8")
        : request.body
  const method = request.method.toUpperCase() === "GET" ? "GET" : "POST"
  let contentType = request.contentType
  let body: string | null = bodyText
  if (method === "GET") {
    const names = templateNames(settings.template)
    for (const field of WIRE) {
      const value = fields[field]
      if (value !== undefined) query.set(names.get(field) ?? field, value)
    }
    for (const [key, value] of Object.entries(fields.payload ?? {})) {
      query.set(names.get(key) ?? key, value)
    }
  } else {
    const json = parseObject(bodyText)
    const form = json === undefined ? formOf(contentType, bodyText) : undefined
    if (form !== undefined) {
      for (const field of WIRE) {
        const value = fields[field]
        if (value !== undefined) form.set(field, value)
      }
      for (const [key, value] of Object.entries(fields.payload ?? {})) form.set(key, value)
      body = form.toString()
    } else {
      const object: Record<string, unknown> = json ?? {}
      for (const field of WIRE) {
        const value = fields[field]
        if (value !== undefined) object[field] = value
      }
      if (fields.payload !== undefined) {
        const payload =
          typeof object.payload === "object" && object.payload !== null
            ? (object.payload as Record<string, unknown>)
            : {}
        object.payload = { ...payload, ...fields.payload }
      }
      body = JSON.stringify(object)
      if (json === undefined) contentType = "application/json"
    }
  }
  query.set(settings.secretParam, settings.secret)
  return {
    method,
    url: `${request.path}?${query.toString()}`,
    contentType,
    body: body === null ? null : new TextEncoder().encode(body)
  }
}

/** A JSON object body, or `undefined` when the text is not one. */
const parseObject = (text: string | null): Record<string, unknown> | undefined => {
  if (text === null) return undefined
  try {
    const value: unknown = JSON.parse(text.replace(/^\uFEFF/, ""))
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/** A form body's parameters, when the body is a form (declared, or shaped like one). */
const formOf = (contentType: string | null, text: string | null): URLSearchParams | undefined => {
  if (text === null) return undefined
  const declared = (contentType ?? "").toLowerCase().includes("application/x-www-form-urlencoded")
  return declared || /^[^={}[\]\s]+=[^\s]*$/.test(text.trim())
    ? new URLSearchParams(text)
    : undefined
}

/** The template's query names by field (`payout` → `amount` for `amount={payout}`). */
const templateNames = (template: string | undefined): ReadonlyMap<string, string> => {
  const names = new Map<string, string>()
  if (template === undefined) return names
  const question = template.indexOf("?")
  if (question === -1) return names
  for (const part of template.slice(question + 1).split("&")) {
    const [name, value] = part.split("=", 2)
    const macro = /^\{([A-Za-z0-9_]+)\}$/.exec(value ?? "")
    if (name !== undefined && macro !== null) names.set(macro[1]!, decodeURIComponent(name))
  }
  return names
}

/** The handlers of the `actions` group (with {@link OperatorActions}, provided in `Routes.ts`). */
export const ActionsLive = HttpApiBuilder.group(ReceiverApi, "actions", (handlers) =>
  Effect.gen(function* () {
    const actions = yield* OperatorActions
    const { sql } = yield* Database
    return handlers
      .handle("approvePostback", ({ params, payload, headers }) =>
        actions.transition(params.id, "approve", actorOf(payload, headers))
      )
      .handle("rejectPostback", ({ params, payload, headers }) =>
        actions.transition(params.id, "reject", actorOf(payload, headers))
      )
      .handle("attributePostback", ({ params, payload, headers }) =>
        actions.transition(params.id, "attribute", actorOf(payload, headers), {
          userId: payload.userId.trim()
        })
      )
      .handle("reversePostback", ({ params, payload, headers }) =>
        actions.reverse(params.id, actorOf(payload, headers))
      )
      .handle("repairPostback", ({ params, payload, headers }) =>
        actions.repair(params.id, payload.fields, actorOf(payload, headers))
      )
      .handle("replayMatching", ({ payload }) =>
        actions.replayMatching(payload.filter, payload.dryRun, actorOf(payload, {}))
      )
      .handle(
        "listActions",
        Effect.fn("Actions.listActions")(function* ({ query }) {
          const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
          if (query.cursor !== undefined && before === undefined) {
            return yield* invalid("cursor", "is not a cursor this API gave (pass nextCursor as is)")
          }
          const limit = query.limit ?? 50
          const rows = yield* useSql("read audit trail", () =>
            listActions(sql, { postbackId: query.postbackId, before, limit: limit + 1 })
          ).pipe(Effect.orDie)
          const page = rows.slice(0, limit)
          return new OperatorActionPage({
            items: page.map(actionEntry),
            nextCursor:
              rows.length > limit && page.length > 0
                ? encodeCursor(page[page.length - 1]!.id)
                : null
          })
        })
      )
  })
)
