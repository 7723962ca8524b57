import { describe, expect, layer } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { Webhook } from "standardwebhooks"
import { reverse } from "../src/Admin/ActionsSql.ts"
import { ReceiverConfig } from "../src/Config.ts"
import { Database } from "../src/Db/Database.ts"
import { parseDestinationsFile } from "../src/Forward/Destinations.ts"
import { Dispatcher } from "../src/Forward/Dispatcher.ts"
import {
  listDestinations,
  pruneDelivered,
  readEvent,
  replayDead,
  rotateSecret,
  setDestinationState,
  upsertDestination
} from "../src/Forward/OutboxSql.ts"
import { GroupCommit } from "../src/Ingest/GroupCommit.ts"
import type { InboxRow } from "../src/Ingest/InboxSql.ts"
import { prometheusText } from "../src/Metrics.ts"
import { RewardPolicyLive } from "../src/Worker/Rewards.ts"
import { Worker } from "../src/Worker/Worker.ts"
import { testDatabases } from "./support/databases.ts"
import { testEnv } from "./support/env.ts"
import { type Answer, type Received, startConsumer } from "./support/forwardConsumer.ts"

// Two fixed Standard Webhooks secrets (base64 of 32 bytes each).
const SECRET_A = `whsec_${Buffer.alloc(32, 1).toString("base64")}`
const SECRET_B = `whsec_${Buffer.alloc(32, 2).toString("base64")}`

let counter = 0
const row = (overrides: Partial<InboxRow> = {}): InboxRow => {
  const i = counter++
  return {
    dedupKey: `fwd-${i}-${Math.random()}`,
    status: "pending",
    source: "post-json",
    offerId: `offer-${i % 7}`,
    advertiserName: "MomentScience",
    payout: "2.10",
    occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60)).toISOString(),
    isLoyaltyBoost: true,
    payload: JSON.stringify({ user_id: `user-${i % 37}` }),
    userId: `user-${i % 37}`,
    deliveryCount: 1,
    flags: null,
    problems: null,
    ...overrides
  }
}

/** Stores `rows` through the ingest batcher and settles them with the worker. */
const settle = (rows: ReadonlyArray<InboxRow>) =>
  Effect.gen(function* () {
    const { sql } = yield* Database
    const groupCommit = GroupCommit.make(sql, {
      maxBatch: 500,
      maxWaitMs: 1,
      maxInFlight: 2,
      maxQueue: rows.length
    })
    yield* Effect.promise(() => Promise.all(rows.map((r) => groupCommit.submit(r))))
    yield* Effect.promise(() => groupCommit.close())
    const worker = yield* Worker
    return yield* worker.drain
  })

/** A destination on a fresh consumer, every other destination paused so tests stay apart. */
const destination = (
  answer?: (request: Received, index: number) => Answer,
  options: { events?: ReadonlyArray<string>; secret?: string } = {}
) =>
  Effect.gen(function* () {
    const { sql } = yield* Database
    yield* Effect.promise(() =>
      sql.query("UPDATE forward_destinations SET state = 'disabled' WHERE state <> 'disabled'")
    )
    const consumer = yield* startConsumer(answer)
    const { id } = yield* Effect.promise(() =>
      upsertDestination(
        sql,
        {
          url: consumer.url,
          secret: options.secret ?? SECRET_A,
          events: (options.events ?? [
            "postback.credited",
            "postback.recorded",
            "postback.unattributed"
          ]) as never,
          paused: false
        },
        "api"
      )
    )
    return { ...consumer, id }
  })

const outboxStatuses = (destinationId: number) =>
  Effect.gen(function* () {
    const { sql } = yield* Database
    const rows = yield* Effect.promise(() =>
      sql.query<{ status: string; n: string }>(
        "SELECT status, count(*)::text AS n FROM forward_outbox WHERE destination_id = $1 GROUP BY status",
        [String(destinationId)]
      )
    )
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]))
  })

const layers = (database: (typeof testDatabases)[number]) => {
  const config = ReceiverConfig.fromRecord(
    testEnv({
      WORKER_BATCH_SIZE: "500",
      FORWARD_BATCH_SIZE: "500",
      // Every retry due at once: the tests drive the schedule, no clock waits.
      FORWARD_RETRY_SCHEDULE: "0,0,0",
      FORWARD_TIMEOUT_MS: "5000"
    })
  )
  return Layer.mergeAll(Worker.layer.pipe(Layer.provide(RewardPolicyLive)), Dispatcher.layer).pipe(
    Layer.provideMerge(config),
    Layer.provideMerge(database.layer())
  )
}

describe("destinations file", () => {
  layer(Layer.empty)("checks", (it) => {
    it.effect("names the entry (index and URL) and the field of every problem", () =>
      Effect.sync(() => {
        const parsed = parseDestinationsFile(
          JSON.stringify([
            {
              url: "https://wallet.example/hooks",
              secret: SECRET_A,
              events: ["postback.credited"]
            },
            { url: "https://crm.example/in", secret: "sekrit", events: ["postback.paid"] },
            { url: "ftp://x.example", secret: SECRET_B, events: [] },
            { url: "https://wallet.example/hooks", secret: SECRET_B, events: ["postback.held"] }
          ])
        )
        expect("problems" in parsed && parsed.problems).toEqual([
          'entry 1 (https://crm.example/in): secret: must be "whsec_" followed by base64 (generate one with `openssl rand -base64 32`)',
          'entry 1 (https://crm.example/in): events[0]: "postback.paid" is not an event type (postback.credited, postback.recorded, postback.unattributed, postback.held, postback.reversed)',
          "entry 2 (ftp://x.example): url: must be http: or https:, got ftp:",
          "entry 2 (ftp://x.example): events: must be a non-empty array of event types (postback.credited, postback.recorded, postback.unattributed, postback.held, postback.reversed)",
          "entry 3 (https://wallet.example/hooks): url: the same URL as entry 0"
        ])
        expect(parseDestinationsFile("{}")).toEqual({
          problems: ['must hold a JSON array of { "url", "secret", "events" }']
        })
        const ok = parseDestinationsFile(
          JSON.stringify([
            { url: "https://wallet.example/hooks", secret: SECRET_A, events: ["postback.credited"] }
          ])
        )
        expect(ok).toEqual({
          destinations: [
            {
              url: "https://wallet.example/hooks",
              secret: SECRET_A,
              events: ["postback.credited"],
              paused: false
            }
          ]
        })
      })
    )
  })
})

for (const database of testDatabases) {
  layer(layers(database), { timeout: 120_000, excludeTestServices: true })(
    `Forwarding on ${database.name}`,
    (it) => {
      it.effect(
        "each settled postback is one signed event per matching destination; the signature verifies with standardwebhooks",
        () =>
          Effect.gen(function* () {
            const consumer = yield* destination()
            const creditsOnly = yield* destination(undefined, { events: ["postback.credited"] })
            // Both destinations active again.
            const { sql } = yield* Database
            yield* Effect.promise(() =>
              setDestinationState(sql, consumer.id, "active", null).then(() => undefined)
            )
            yield* settle([
              row({ payout: "30.00", userId: "alice", payload: '{"user_id":"alice"}' }),
              row({ isLoyaltyBoost: false, payout: "1.25" })
            ])
            const dispatcher = yield* Dispatcher
            expect(yield* dispatcher.drain).toBe(3)
            expect(consumer.received).toHaveLength(2)
            expect(creditsOnly.received).toHaveLength(1)
            const webhook = new Webhook(SECRET_A)
            const events = consumer.received.map(
              (r) => webhook.verify(r.body, r.headers as Record<string, string>) as never
            ) as Array<{ type: string; data: Record<string, unknown> }>
            const credited = events.find((e) => e.type === "postback.credited")!
            expect(credited.data).toMatchObject({
              status: "credited",
              userId: "alice",
              payout: "30.00",
              points: "300",
              isLoyaltyBoost: true,
              payload: { user_id: "alice" }
            })
            expect(credited.data.explanation).toBeTypeOf("object")
            expect(credited.data.receivedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
            expect(events.find((e) => e.type === "postback.recorded")!.data).toMatchObject({
              status: "recorded",
              payout: "1.25",
              points: "0"
            })
            // A tampered body does not verify.
            const first = consumer.received[0]!
            expect(() =>
              webhook.verify(
                first.body.replace("MomentScience", "Someone"),
                first.headers as Record<string, string>
              )
            ).toThrow()
            expect(yield* outboxStatuses(consumer.id)).toEqual({ delivered: 2 })
          })
      )

      it.effect("an operator's reversal writes a postback.reversed event in its transaction", () =>
        Effect.gen(function* () {
          const consumer = yield* destination(undefined, {
            events: ["postback.credited", "postback.reversed"]
          })
          yield* settle([
            row({ payout: "4.00", userId: "rev-user", payload: '{"user_id":"rev-user"}' })
          ])
          const dispatcher = yield* Dispatcher
          expect(yield* dispatcher.drain).toBe(1)
          const credited = JSON.parse(consumer.received[0]!.body) as {
            data: { postbackId: number }
          }
          const { sql } = yield* Database
          const changed = yield* Effect.promise(() =>
            reverse(sql, credited.data.postbackId, {
              operator: "admin",
              reason: "chargeback",
              idempotencyKey: null
            })
          )
          expect(changed?.status).toBe("reversed")
          expect(yield* dispatcher.drain).toBe(1)
          const reversed = new Webhook(SECRET_A).verify(
            consumer.received[1]!.body,
            consumer.received[1]!.headers as Record<string, string>
          ) as { type: string; data: Record<string, unknown> }
          expect(reversed.type).toBe("postback.reversed")
          expect(reversed.data).toMatchObject({
            postbackId: credited.data.postbackId,
            status: "reversed",
            points: "-40",
            userId: "rev-user"
          })
        })
      )

      it.effect("a consumer answering 500 then 200 gets the event twice with one webhook-id", () =>
        Effect.gen(function* () {
          const consumer = yield* destination((_, i) => ({ status: i === 0 ? 500 : 200 }))
          yield* settle([row()])
          const dispatcher = yield* Dispatcher
          expect(yield* dispatcher.runOnce).toEqual({ claimed: 1, delivered: 0, failed: 1 })
          expect(yield* outboxStatuses(consumer.id)).toEqual({ pending: 1 })
          expect(yield* dispatcher.runOnce).toEqual({ claimed: 1, delivered: 1, failed: 0 })
          expect(consumer.received).toHaveLength(2)
          const [a, b] = consumer.received
          expect(a!.headers["webhook-id"]).toBe(b!.headers["webhook-id"])
          expect(a!.body).toBe(b!.body)
          const { sql } = yield* Database
          const id = Number(String(a!.headers["webhook-id"]).slice("evt_".length))
          const event = yield* Effect.promise(() => readEvent(sql, id))
          expect(event?.status).toBe("delivered")
          expect(event?.history.map((h) => [h.httpStatus, h.error])).toEqual([
            [500, "HTTP 500"],
            [200, null]
          ])
        })
      )

      it.effect("retries end in dead; the stop header ends them at once; replay sends again", () =>
        Effect.gen(function* () {
          let mode: "fail" | "stop" | "ok" = "fail"
          const consumer = yield* destination(() =>
            mode === "ok"
              ? { status: 200 }
              : mode === "stop"
                ? { status: 410, headers: { "x-webhook-stop": "true" } }
                : { status: 503 }
          )
          yield* settle([row()])
          const dispatcher = yield* Dispatcher
          // FORWARD_RETRY_SCHEDULE "0,0,0": four attempts, then dead.
          for (let i = 0; i < 4; i++) yield* dispatcher.runOnce
          expect(yield* outboxStatuses(consumer.id)).toEqual({ dead: 1 })
          expect((yield* dispatcher.runOnce).claimed).toBe(0)
          expect(consumer.received).toHaveLength(4)
          const { sql } = yield* Database
          mode = "stop"
          expect(yield* Effect.promise(() => replayDead(sql, { destinationId: consumer.id }))).toBe(
            1
          )
          yield* dispatcher.runOnce
          expect(yield* outboxStatuses(consumer.id)).toEqual({ dead: 1 })
          expect(consumer.received).toHaveLength(5)
          mode = "ok"
          const id = Number(String(consumer.received[0]!.headers["webhook-id"]).slice(4))
          expect(yield* Effect.promise(() => replayDead(sql, { id }))).toBe(1)
          yield* dispatcher.runOnce
          expect(yield* outboxStatuses(consumer.id)).toEqual({ delivered: 1 })
          const event = yield* Effect.promise(() => readEvent(sql, id))
          expect(event?.history).toHaveLength(6)
          expect(event?.history[4]?.error).toContain("retries stopped by the consumer")
        })
      )

      it.effect("a paused destination accumulates and drains on resume; others go on", () =>
        Effect.gen(function* () {
          const paused = yield* destination()
          const other = yield* destination()
          const { sql } = yield* Database
          yield* Effect.promise(() => setDestinationState(sql, paused.id, "paused", null))
          yield* settle(Array.from({ length: 20 }, () => row()))
          const dispatcher = yield* Dispatcher
          expect(yield* dispatcher.drain).toBe(20)
          expect(other.received).toHaveLength(20)
          expect(paused.received).toHaveLength(0)
          expect(yield* outboxStatuses(paused.id)).toEqual({ pending: 20 })
          const health = (yield* Effect.promise(() => listDestinations(sql))).find(
            (d) => d.id === paused.id
          )
          expect(health).toMatchObject({ state: "paused", pending: 20, dead: 0 })
          yield* Effect.promise(() => setDestinationState(sql, paused.id, "active", null))
          expect(yield* dispatcher.drain).toBe(20)
          expect(paused.received).toHaveLength(20)
          expect(new Set(paused.received.map((r) => r.headers["webhook-id"])).size).toBe(20)
        })
      )

      it.effect(
        "a dispatcher killed between sending and recording: the event is sent again, same webhook-id",
        () =>
          Effect.gen(function* () {
            const consumer = yield* destination((_, i) => (i === 0 ? "hang" : { status: 200 }))
            yield* settle([row()])
            const dispatcher = yield* Dispatcher
            const fiber = yield* Effect.forkChild(dispatcher.runOnce)
            // The request has reached the consumer; the dispatcher dies before any answer.
            yield* consumer.receivedAtLeast(1)
            yield* Fiber.interrupt(fiber)
            expect(yield* outboxStatuses(consumer.id)).toEqual({ processing: 1 })
            const { sql } = yield* Database
            // Nothing else claims it while the lease holds...
            expect((yield* dispatcher.runOnce).claimed).toBe(0)
            // ...and once the lease has run out (moved to the past here), it does.
            yield* Effect.promise(() =>
              sql.query(
                "UPDATE forward_outbox SET locked_until = now() - interval '1 second' WHERE destination_id = $1",
                [String(consumer.id)]
              )
            )
            const restarted = yield* Dispatcher.make
            expect(yield* restarted.runOnce).toEqual({ claimed: 1, delivered: 1, failed: 0 })
            expect(consumer.received).toHaveLength(2)
            expect(consumer.received[1]!.headers["webhook-id"]).toBe(
              consumer.received[0]!.headers["webhook-id"]
            )
            expect(yield* outboxStatuses(consumer.id)).toEqual({ delivered: 1 })
          })
      )

      it.effect("two dispatchers never deliver one event concurrently", () =>
        Effect.gen(function* () {
          const consumer = yield* destination()
          yield* settle(Array.from({ length: 400 }, () => row()))
          const one = yield* Dispatcher.make
          const two = yield* Dispatcher.make
          const [a, b] = yield* Effect.all([one.drain, two.drain], { concurrency: 2 })
          expect(a + b).toBe(400)
          const ids = consumer.received.map((r) => String(r.headers["webhook-id"]))
          expect(ids).toHaveLength(400)
          expect(new Set(ids).size).toBe(400)
        })
      )

      it.effect("a secret rotation signs with both secrets during the overlap", () =>
        Effect.gen(function* () {
          const consumer = yield* destination()
          const { sql } = yield* Database
          yield* Effect.promise(() => rotateSecret(sql, consumer.id, SECRET_B, 24))
          yield* settle([row()])
          const dispatcher = yield* Dispatcher
          expect(yield* dispatcher.drain).toBe(1)
          const [received] = consumer.received
          const headers = received!.headers as Record<string, string>
          expect(headers["webhook-signature"]!.split(" ")).toHaveLength(2)
          expect(new Webhook(SECRET_B).verify(received!.body, headers)).toBeTypeOf("object")
          expect(new Webhook(SECRET_A).verify(received!.body, headers)).toBeTypeOf("object")
          // Once the overlap is over, the old secret no longer verifies.
          yield* Effect.promise(() =>
            sql.query(
              "UPDATE forward_destinations SET previous_secret_until = now() - interval '1 second' WHERE id = $1",
              [String(consumer.id)]
            )
          )
          yield* settle([row()])
          expect(yield* dispatcher.drain).toBe(1)
          const later = consumer.received[1]!
          expect(() =>
            new Webhook(SECRET_A).verify(later.body, later.headers as Record<string, string>)
          ).toThrow()
        })
      )

      it.effect("a destination failing past FORWARD_DISABLE_AFTER_HOURS is disabled", () =>
        Effect.gen(function* () {
          const consumer = yield* destination(() => ({ status: 500 }))
          const { sql } = yield* Database
          yield* settle([row()])
          const dispatcher = yield* Dispatcher
          yield* dispatcher.runOnce
          let [state] = yield* Effect.promise(() =>
            sql.query<{ state: string; failing: boolean }>(
              "SELECT state, failing_since IS NOT NULL AS failing FROM forward_destinations WHERE id = $1",
              [String(consumer.id)]
            )
          )
          expect(state).toEqual({ state: "active", failing: true })
          // Failing for 121 hours (the default window is 120).
          yield* Effect.promise(() =>
            sql.query(
              "UPDATE forward_destinations SET failing_since = now() - interval '121 hours' WHERE id = $1",
              [String(consumer.id)]
            )
          )
          yield* dispatcher.runOnce
          ;[state] = yield* Effect.promise(() =>
            sql.query<{ state: string; failing: boolean }>(
              "SELECT state, failing_since IS NOT NULL AS failing FROM forward_destinations WHERE id = $1",
              [String(consumer.id)]
            )
          )
          expect(state).toEqual({ state: "disabled", failing: true })
          // The alert's gauge counts it (every other destination of these tests is disabled too).
          yield* dispatcher.updateGauges
          const disabledCount = yield* Effect.promise(async () =>
            Number(
              (
                await sql.query<{ n: string }>(
                  "SELECT count(*)::text AS n FROM forward_destinations WHERE state = 'disabled'"
                )
              )[0]!.n
            )
          )
          expect(prometheusText()).toContain(
            `receiver_forward_destinations{state="disabled"} ${disabledCount}`
          )
          expect(prometheusText()).toMatch(/receiver_forward_destinations\{state="active"\} \d+/)
          // Disabled: nothing more is claimed for it, and new settlements write no events for it.
          expect((yield* dispatcher.runOnce).claimed).toBe(0)
          yield* settle([row()])
          expect(yield* outboxStatuses(consumer.id)).toEqual({ pending: 1 })
        })
      )

      it.effect(
        "retention deletes delivered events past the window with their attempts, nothing else",
        () =>
          Effect.gen(function* () {
            const consumer = yield* destination((_, i) => ({ status: i < 2 ? 200 : 500 }))
            yield* settle([row(), row(), row()])
            const dispatcher = yield* Dispatcher
            yield* dispatcher.runOnce
            expect(yield* outboxStatuses(consumer.id)).toEqual({ delivered: 2, pending: 1 })
            const { sql } = yield* Database
            const ids = (yield* Effect.promise(() =>
              sql.query<{ id: string }>(
                "SELECT id::text AS id FROM forward_outbox WHERE destination_id = $1 AND status = 'delivered' ORDER BY id",
                [String(consumer.id)]
              )
            )).map((r) => r.id)
            // One delivered event is 31 days old, the other new.
            yield* Effect.promise(() =>
              sql.query(
                "UPDATE forward_outbox SET delivered_at = now() - interval '31 days' WHERE id = $1",
                [ids[0]]
              )
            )
            expect(yield* Effect.promise(() => pruneDelivered(sql, 30))).toBe(1)
            expect(yield* outboxStatuses(consumer.id)).toEqual({ delivered: 1, pending: 1 })
            const [attempts] = yield* Effect.promise(() =>
              sql.query<{ n: string }>(
                "SELECT count(*)::text AS n FROM forward_attempts WHERE outbox_id = $1",
                [ids[0]]
              )
            )
            expect(attempts).toEqual({ n: "0" })
          })
      )

      it.effect("10,000 settlements all reach a consumer, none missing, none twice", () =>
        Effect.gen(function* () {
          const consumer = yield* destination()
          const rows = Array.from({ length: 10_000 }, () => row())
          expect(yield* settle(rows)).toBe(10_000)
          const dispatcher = yield* Dispatcher
          expect(yield* dispatcher.drain).toBe(10_000)
          const postbackIds = consumer.received.map(
            (r) => (JSON.parse(r.body) as { data: { postbackId: number } }).data.postbackId
          )
          expect(new Set(postbackIds).size).toBe(10_000)
          expect(new Set(consumer.received.map((r) => r.headers["webhook-id"])).size).toBe(10_000)
          const { sql } = yield* Database
          const [missing] = yield* Effect.promise(() =>
            sql.query<{ n: string }>(
              `SELECT count(*)::text AS n FROM postbacks p
               WHERE p.status IN ('credited', 'recorded', 'unattributed')
                 AND NOT EXISTS (SELECT 1 FROM forward_outbox o WHERE o.postback_id = p.id AND o.destination_id = $1)
                 AND p.id >= (SELECT min(postback_id) FROM forward_outbox WHERE destination_id = $1)`,
              [String(consumer.id)]
            )
          )
          expect(missing).toEqual({ n: "0" })
        })
      )
    }
  )
}
