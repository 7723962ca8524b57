import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { Conflict, InvalidRequest, NotFound, ReceiverApi } from "../Api.ts"
import { Database, useSql } from "../Db/Database.ts"
import { checkDestination, EVENT_TYPES, secretProblem } from "./Destinations.ts"
import {
  type DestinationHealth,
  type EventRow,
  listDestinations,
  listEvents,
  readEvent,
  replayDead,
  rotateSecret,
  SECRET_OVERLAP_HOURS,
  setDestinationState,
  upsertDestination
} from "./OutboxSql.ts"

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString())

const destinationJson = (d: DestinationHealth) => ({
  ...d,
  events: [...d.events],
  createdAt: d.createdAt.toISOString(),
  rotatingUntil: iso(d.rotatingUntil),
  failingSince: iso(d.failingSince),
  lastSuccessAt: iso(d.lastSuccessAt)
})

const eventJson = (e: EventRow) => ({
  ...e,
  createdAt: e.createdAt.toISOString(),
  nextAttemptAt: iso(e.nextAttemptAt),
  deliveredAt: iso(e.deliveredAt),
  history: e.history.map((h) => ({ ...h, at: h.at.toISOString() }))
})

const invalid = (issues: ReadonlyArray<{ path: string; message: string }>) =>
  new InvalidRequest({
    message: issues.map((i) => `${i.path}: ${i.message}`).join("; "),
    issues: [...issues]
  })

const notFound = (id: number) => new NotFound({ message: `no destination ${id}` })

/** An ISO 8601 time of a replay filter, or a 400 naming the field. */
const dateField = (name: string, value: string | undefined) => {
  if (value === undefined) return Effect.succeed(undefined)
  const date = new Date(value)
  return Number.isNaN(date.getTime())
    ? Effect.fail(
        invalid([{ path: name, message: `${JSON.stringify(value)} is not an ISO 8601 time` }])
      )
    : Effect.succeed(date)
}

/**
 * The destinations API (`/api/destinations`, `/api/forwarded-events`, admin
 * token): list with health, add, pause, resume, rotate a secret, a
 * destination's events and one event's attempts, replay dead events.
 */
export const DestinationsLive = HttpApiBuilder.group(ReceiverApi, "destinations", (handlers) =>
  Effect.gen(function* () {
    const { sql } = yield* Database
    const readDestination = (id: number) =>
      useSql("read destinations", () => listDestinations(sql)).pipe(
        Effect.orDie,
        Effect.flatMap((all) => {
          const found = all.find((d) => d.id === id)
          return found === undefined
            ? Effect.fail(notFound(id))
            : Effect.succeed(destinationJson(found))
        })
      )
    const setState = (id: number, state: "active" | "paused") =>
      useSql("change a destination", () => setDestinationState(sql, id, state, null)).pipe(
        Effect.orDie,
        Effect.flatMap((found) => (found ? readDestination(id) : Effect.fail(notFound(id))))
      )
    return handlers
      .handle("listDestinations", () =>
        useSql("read destinations", () => listDestinations(sql)).pipe(
          Effect.orDie,
          Effect.map((all) => ({ destinations: all.map(destinationJson) }))
        )
      )
      .handle(
        "addDestination",
        Effect.fn("Destinations.add")(function* ({ payload }) {
          const checked = checkDestination(payload)
          if ("issues" in checked) return yield* Effect.fail(invalid(checked.issues))
          const existing = yield* useSql("read destinations", () => listDestinations(sql)).pipe(
            Effect.orDie
          )
          if (existing.some((d) => d.url === checked.destination.url)) {
            return yield* Effect.fail(
              new Conflict({ message: `url: ${checked.destination.url} is already a destination` })
            )
          }
          const { id } = yield* useSql("add a destination", () =>
            upsertDestination(sql, checked.destination, "api")
          ).pipe(Effect.orDie)
          return yield* readDestination(id).pipe(Effect.orDie)
        })
      )
      .handle("pauseDestination", ({ params }) => setState(params.id, "paused"))
      .handle("resumeDestination", ({ params }) => setState(params.id, "active"))
      .handle(
        "rotateDestinationSecret",
        Effect.fn("Destinations.rotate")(function* ({ params, payload }) {
          const problem = secretProblem(payload.secret)
          if (problem !== undefined) {
            return yield* Effect.fail(invalid([{ path: "secret", message: problem }]))
          }
          const found = yield* useSql("rotate a secret", () =>
            rotateSecret(
              sql,
              params.id,
              payload.secret,
              payload.overlapHours ?? SECRET_OVERLAP_HOURS
            )
          ).pipe(Effect.orDie)
          if (!found) return yield* Effect.fail(notFound(params.id))
          return yield* readDestination(params.id)
        })
      )
      .handle(
        "listDestinationEvents",
        Effect.fn("Destinations.events")(function* ({ params, query }) {
          yield* readDestination(params.id)
          const events = yield* useSql("read forwarded events", () =>
            listEvents(sql, params.id, query.status, query.limit ?? 50)
          ).pipe(Effect.orDie)
          return { events: events.map(eventJson) }
        })
      )
      .handle(
        "getForwardedEvent",
        Effect.fn("Destinations.event")(function* ({ params }) {
          const event = yield* useSql("read a forwarded event", () =>
            readEvent(sql, params.id)
          ).pipe(Effect.orDie)
          if (event === undefined) {
            return yield* Effect.fail(new NotFound({ message: `no forwarded event ${params.id}` }))
          }
          return eventJson(event)
        })
      )
      .handle(
        "replayForwardedEvents",
        Effect.fn("Destinations.replay")(function* ({ payload }) {
          if (
            payload.eventType !== undefined &&
            !(EVENT_TYPES as ReadonlyArray<string>).includes(payload.eventType)
          ) {
            return yield* Effect.fail(
              invalid([
                {
                  path: "eventType",
                  message: `${JSON.stringify(payload.eventType)} is not an event type (${EVENT_TYPES.join(", ")})`
                }
              ])
            )
          }
          const from = yield* dateField("from", payload.from)
          const to = yield* dateField("to", payload.to)
          const replayed = yield* useSql("replay forwarded events", () =>
            replayDead(sql, {
              ...(payload.id === undefined ? {} : { id: payload.id }),
              ...(payload.destinationId === undefined
                ? {}
                : { destinationId: payload.destinationId }),
              ...(payload.eventType === undefined ? {} : { eventType: payload.eventType }),
              ...(from === undefined ? {} : { from }),
              ...(to === undefined ? {} : { to })
            })
          ).pipe(Effect.orDie)
          return { replayed }
        })
      )
  })
)
