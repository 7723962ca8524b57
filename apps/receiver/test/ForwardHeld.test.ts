// `postback.held`: a postback held at ingest writes its events in the ingest
// statement itself, for the rows it inserted only (a duplicate delivery
// writes none), on PostgreSQL and PGlite; approving it then settles and
// forwards it like any postback.
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Webhook } from "standardwebhooks"
import { upsertDestination } from "../src/Forward/OutboxSql.ts"
import { testDatabases } from "./support/databases.ts"
import { startConsumer } from "./support/forwardConsumer.ts"
import { docsPostback } from "./support/postbacks.ts"
import { eventually, TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

// biome-ignore lint/suspicious/noExplicitAny: JSON read by path in assertions
type Json = any

const SECRET = `whsec_${Buffer.alloc(32, 3).toString("base64")}`

const call = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    const text = await response.text()
    return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as Json) }
  })

const ingest = (receiver: TestReceiver["Service"], fields: Record<string, unknown>) =>
  call(receiver.postbackUrl(), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(docsPostback(fields))
  })

for (const database of testDatabases) {
  layer(testReceiver(database, { PAYOUT_HOLD_ABOVE: "100" }), {
    timeout: 120_000,
    excludeTestServices: true
  })(`postback.held on ${database.name}`, (it) => {
    it.effect("one signed event per held postback, none for a duplicate or a pending one", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const consumer = yield* startConsumer()
        yield* Effect.promise(() =>
          upsertDestination(
            receiver.sql,
            {
              url: consumer.url,
              secret: SECRET,
              events: ["postback.held", "postback.credited"],
              paused: false
            },
            "api"
          )
        )
        const user = `held-${database.name}`
        const fields = { payout: "1200.50", payload: { user_id: user, click: `held-${user}` } }
        const first = yield* ingest(receiver, fields)
        expect(first.status).toBe(200)
        expect(first.body.status).toBe("held")
        const id = Number(first.body.id)
        // The same postback again: a duplicate, no second event.
        const again = yield* ingest(receiver, fields)
        expect(again.status).toBe(200)
        expect(Number(again.body.id)).toBe(id)
        // A pending postback writes no held event (it is settled by the worker).
        const pending = yield* ingest(receiver, {
          payout: "3.00",
          payload: { user_id: user, click: `pending-${user}` }
        })
        expect(pending.body.status).not.toBe("held")
        const pendingId = Number(pending.body.id)

        const held = yield* Effect.promise(() =>
          receiver.sql.query<{ postback_id: string; event_type: string }>(
            "SELECT postback_id::text AS postback_id, event_type FROM forward_outbox WHERE event_type = 'postback.held'"
          )
        )
        expect(held).toEqual([{ postback_id: String(id), event_type: "postback.held" }])

        yield* consumer.receivedAtLeast(1)
        const event = consumer.received.find((r) => JSON.parse(r.body).type === "postback.held")!
        expect(() =>
          new Webhook(SECRET).verify(event.body, event.headers as Record<string, string>)
        ).not.toThrow()
        const body = JSON.parse(event.body)
        expect(body).toMatchObject({
          type: "postback.held",
          data: {
            postbackId: id,
            status: "held",
            offerId: "1511",
            advertiserName: "MomentScience",
            payout: "1200.50",
            isLoyaltyBoost: true,
            userId: user,
            points: "0",
            explanation: null,
            occurredAt: "2023-09-20T15:27:40.802Z",
            settledAt: null,
            test: false
          }
        })
        expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        expect(body.data.receivedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        expect(body.data.payload.user_id).toBe(user)

        // Approved: settled and forwarded as today (`postback.credited`).
        const approved = yield* call(`${receiver.baseUrl}/api/postbacks/${id}/approve`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
            "content-type": "application/json"
          },
          body: "{}"
        })
        expect(approved.status).toBe(200)
        yield* eventually(async () => {
          const types = consumer.received
            .map((r) => JSON.parse(r.body))
            .filter((b) => b.data.postbackId === id)
            .map((b) => b.type)
          return types.includes("postback.credited") ? types : undefined
        })
        const forHeld = consumer.received
          .map((r) => JSON.parse(r.body))
          .filter((b) => b.data.postbackId === id)
        expect(forHeld.map((b) => b.type).sort()).toEqual(["postback.credited", "postback.held"])
        const credited = forHeld.find((b) => b.type === "postback.credited")
        expect(credited.data).toMatchObject({ status: "credited", payout: "1200.50" })
        // Only ever one held event; the pending postback never had one.
        const heldEvents = yield* Effect.promise(() =>
          receiver.sql.query<{ postback_id: string }>(
            "SELECT postback_id::text AS postback_id FROM forward_outbox WHERE event_type = 'postback.held'"
          )
        )
        expect(heldEvents).toEqual([{ postback_id: String(id) }])
        expect(heldEvents.some((e) => e.postback_id === String(pendingId))).toBe(false)
      })
    )
  })
}
