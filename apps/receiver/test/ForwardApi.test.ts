import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Result } from "effect"
import { Webhook } from "standardwebhooks"
import { makeReceiver } from "../src/App.ts"
import { ReceiverConfig } from "../src/Config.ts"
import { Database } from "../src/Db/Database.ts"
import { testDatabases } from "./support/databases.ts"
import { testEnv } from "./support/env.ts"
import { startConsumer } from "./support/forwardConsumer.ts"
import { eventually, TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`
const NEXT_SECRET = `whsec_${Buffer.alloc(32, 8).toString("base64")}`

// biome-ignore lint/suspicious/noExplicitAny: JSON read by path in assertions
type Json = any
const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/json" }

const call = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { ...init, headers: { ...admin, ...init.headers } })
    const text = await response.text()
    return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as Json) }
  })

for (const database of testDatabases) {
  layer(testReceiver(database), { timeout: 120_000, excludeTestServices: true })(
    `destinations API on ${database.name}`,
    (it) => {
      it.effect(
        "add (a bad field is a 400 naming it), forward a postback signed, list with health, pause, resume, rotate, attempts, replay",
        () =>
          Effect.gen(function* () {
            const receiver = yield* TestReceiver
            const consumer = yield* startConsumer()
            const base = `${receiver.baseUrl}/api`

            const bad = yield* call(`${base}/destinations`, {
              method: "POST",
              body: JSON.stringify({ url: "mailto:x", secret: "nope", events: ["postback.paid"] })
            })
            expect(bad.status).toBe(400)
            expect(bad.body.error).toBe("invalid_request")
            expect(bad.body.issues.map((i: { path: string }) => i.path)).toEqual([
              "url",
              "secret",
              "events[0]"
            ])

            const added = yield* call(`${base}/destinations`, {
              method: "POST",
              body: JSON.stringify({
                url: consumer.url,
                secret: SECRET,
                events: ["postback.credited"]
              })
            })
            expect(added.status).toBe(200)
            expect(added.body).toMatchObject({ url: consumer.url, state: "active", pending: 0 })
            expect(JSON.stringify(added.body)).not.toContain(SECRET)
            const id = added.body.id as number
            const again = yield* call(`${base}/destinations`, {
              method: "POST",
              body: JSON.stringify({ url: consumer.url, secret: SECRET, events: ["postback.held"] })
            })
            expect(again.status).toBe(409)

            const send = (offer: string) =>
              Effect.promise(() =>
                fetch(receiver.postbackUrl(), {
                  method: "POST",
                  headers: { "content-type": "application/json" },
                  body: JSON.stringify({
                    offer_id: offer,
                    advertiser_name: "MomentScience",
                    payout: "3.30",
                    timestamp: "2023-09-20T15:27:40.802Z",
                    is_loyaltyboost: "1",
                    payload: { user_id: "wallet-user" }
                  })
                }).then((r) => r.status)
              )
            expect(yield* send("api-1")).toBe(200)
            // The worker settles it, the dispatcher loop forwards it.
            yield* consumer.receivedAtLeast(1)
            const [first] = consumer.received
            const event = new Webhook(SECRET).verify(
              first!.body,
              first!.headers as Record<string, string>
            ) as Json
            expect(event.type).toBe("postback.credited")
            expect(event.data).toMatchObject({ offerId: "api-1", points: "33", payout: "3.30" })

            const list = yield* call(`${base}/destinations`)
            expect(list.status).toBe(200)
            const listed = list.body.destinations.find((d: Json) => d.id === id)
            expect(listed).toMatchObject({ state: "active", dead: 0 })

            // Paused: the next event waits in the outbox.
            expect(
              (yield* call(`${base}/destinations/${id}/pause`, { method: "POST" })).status
            ).toBe(200)
            expect(yield* send("api-2")).toBe(200)
            const waiting = yield* eventually(async () => {
              const response = await fetch(`${base}/destinations`, { headers: admin })
              const body = (await response.json()) as Json
              const d = body.destinations.find((x: Json) => x.id === id)
              return d.pending === 1 ? d : undefined
            })
            expect(waiting.state).toBe("paused")
            expect(consumer.received).toHaveLength(1)

            // A rotation, then resume: the waiting event arrives signed with both secrets.
            const rotated = yield* call(`${base}/destinations/${id}/rotate`, {
              method: "POST",
              body: JSON.stringify({ secret: NEXT_SECRET, overlapHours: 2 })
            })
            expect(rotated.status).toBe(200)
            expect(rotated.body.rotatingUntil).not.toBeNull()
            const badRotate = yield* call(`${base}/destinations/${id}/rotate`, {
              method: "POST",
              body: JSON.stringify({ secret: "whsec_short" })
            })
            expect(badRotate.status).toBe(400)
            expect(badRotate.body.issues[0].path).toBe("secret")
            expect(
              (yield* call(`${base}/destinations/${id}/resume`, { method: "POST" })).status
            ).toBe(200)
            yield* consumer.receivedAtLeast(2)
            const second = consumer.received[1]!
            const headers = second.headers as Record<string, string>
            expect(new Webhook(NEXT_SECRET).verify(second.body, headers)).toBeTypeOf("object")
            expect(new Webhook(SECRET).verify(second.body, headers)).toBeTypeOf("object")

            // The consumer has both; the dispatcher records each attempt after the answer.
            const events = yield* eventually(async () => {
              const response = await fetch(`${base}/destinations/${id}/events?status=delivered`, {
                headers: admin
              })
              const body = (await response.json()) as Json
              return body.events.length === 2 ? { body } : undefined
            })
            const one = events.body.events[0]
            expect(one.history).toHaveLength(1)
            expect(one.history[0]).toMatchObject({ httpStatus: 200, error: null })
            const byId = yield* call(`${base}/forwarded-events/${one.id}`)
            expect(byId.body.webhookId).toBe(`evt_${one.id}`)
            expect((yield* call(`${base}/forwarded-events/999999999`)).status).toBe(404)
            expect(
              (yield* call(`${base}/destinations/999999/pause`, { method: "POST" })).status
            ).toBe(404)

            const badReplay = yield* call(`${base}/forwarded-events/replay`, {
              method: "POST",
              body: JSON.stringify({ eventType: "postback.nope" })
            })
            expect(badReplay.status).toBe(400)
            expect(badReplay.body.issues[0].path).toBe("eventType")
            const replay = yield* call(`${base}/forwarded-events/replay`, {
              method: "POST",
              body: JSON.stringify({ destinationId: id })
            })
            expect(replay.body).toEqual({ replayed: 0 })
          })
      )
    }
  )
}

const database = testDatabases[0]!

layer(Layer.empty)("FORWARD_DESTINATIONS_FILE", (it) => {
  it.effect("a bad file fails start-up naming the entry and the field; a good one is loaded", () =>
    Effect.gen(function* () {
      const folder = mkdtempSync(join(tmpdir(), "forward-file-"))
      const file = join(folder, "destinations.json")
      writeFileSync(
        file,
        JSON.stringify([
          { url: "https://wallet.example/hooks", secret: SECRET, events: ["postback.credited"] },
          { url: "https://crm.example/in", secret: SECRET, events: ["postback.paid"] }
        ])
      )
      const start = (path: string) =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          return yield* Effect.promise(() =>
            sql.query<{ url: string; state: string; origin: string }>(
              "SELECT url, state, origin FROM forward_destinations ORDER BY id"
            )
          )
        }).pipe(
          Effect.provide(
            makeReceiver(database.layer()).pipe(
              Layer.provide(ReceiverConfig.fromRecord(testEnv({ FORWARD_DESTINATIONS_FILE: path })))
            )
          ),
          Effect.result
        )
      const failed = yield* start(file)
      expect(Result.isFailure(failed)).toBe(true)
      expect(String(Result.isFailure(failed) ? failed.failure : "")).toContain(
        'entry 1 (https://crm.example/in): events[0]: "postback.paid" is not an event type'
      )
      writeFileSync(
        file,
        JSON.stringify([
          { url: "https://wallet.example/hooks", secret: SECRET, events: ["postback.credited"] },
          {
            url: "https://crm.example/in",
            secret: SECRET,
            events: ["postback.recorded"],
            paused: true
          }
        ])
      )
      const loaded = yield* start(file)
      expect(Result.isSuccess(loaded) ? loaded.success : loaded.failure).toEqual([
        { url: "https://wallet.example/hooks", state: "active", origin: "file" },
        { url: "https://crm.example/in", state: "paused", origin: "file" }
      ])
    })
  )
})
