// Test postbacks: sent through the real ingest route (over HTTP, with the
// secret), marked test, settled as recorded with the reason "test", never
// credited, and the marker worthless without the secret.
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { testDatabases } from "./support/databases.ts"
import {
  eventually,
  TEST_ADMIN_TOKEN,
  TEST_SECRET,
  TestReceiver,
  testReceiver
} from "./support/receiver.ts"

// biome-ignore lint/suspicious/noExplicitAny: JSON read by path in assertions
type Json = any

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }

const call = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    const text = await response.text()
    return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as Json) }
  })

const sendTest = (receiver: TestReceiver["Service"], body: unknown) =>
  call(`${receiver.baseUrl}/api/test-postback`, {
    method: "POST",
    headers: { ...admin, "content-type": "application/json" },
    body: JSON.stringify(body)
  })

/** Waits for the worker to settle postback `id`; its row. */
const settled = (receiver: TestReceiver["Service"], id: number) =>
  eventually(async () => {
    const [row] = await receiver.sql.query<{
      status: string
      test: boolean
      outcome: Json
      user_id: string | null
    }>("SELECT status, test, outcome, user_id FROM postbacks WHERE id = $1", [id])
    return row !== undefined && row.status !== "pending" && row.status !== "processing"
      ? row
      : undefined
  })

const ledgerRows = (receiver: TestReceiver["Service"], userId: string) =>
  Effect.promise(() =>
    receiver.sql.query<{ n: string }>(
      `SELECT ((SELECT count(*) FROM reward_transactions WHERE user_id = $1)
             + (SELECT count(*) FROM accounts WHERE user_id = $1))::text AS n`,
      [userId]
    )
  ).pipe(Effect.map((rows) => rows[0]!.n))

for (const database of testDatabases) {
  layer(testReceiver(database), { timeout: 60_000, excludeTestServices: true })(
    `test postbacks on ${database.name}`,
    (it) => {
      it.effect("POST /api/test-postback goes through /postbacks and never credits", () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const user = `test-user-${database.name}`
          const sent = yield* sendTest(receiver, {
            operator: "dana",
            offerId: "9001",
            payout: "30.00",
            userId: user
          })
          expect(sent.status).toBe(200)
          expect(sent.body).toMatchObject({ status: "pending", httpStatus: 200 })
          const id: number = sent.body.id
          const row = yield* settled(receiver, id)
          expect(row).toMatchObject({
            status: "recorded",
            test: true,
            user_id: user,
            outcome: { credited: false, reason: "test", payout: "30.00", points: "0" }
          })
          expect(yield* ledgerRows(receiver, user)).toBe("0")
          // It arrived as a delivery of the ingest route, and is in the audit trail.
          const [delivery] = yield* Effect.promise(() =>
            receiver.sql.query<{ source: string; http_status: number }>(
              "SELECT source, http_status FROM delivery_log WHERE postback_id = $1",
              [id]
            )
          )
          expect(delivery).toEqual({ source: "post-json", http_status: 200 })
          const trail = yield* call(`${receiver.baseUrl}/api/actions?postbackId=${id}`, {
            headers: admin
          })
          expect(trail.body.items).toMatchObject([
            { action: "test_postback", operator: "dana", details: { httpStatus: 200 } }
          ])
          // The history can leave tests out.
          const real = yield* Effect.promise(() =>
            receiver.sql.query<{ n: string }>(
              "SELECT count(*)::text AS n FROM postbacks WHERE id = $1 AND NOT test",
              [id]
            )
          )
          expect(real[0]!.n).toBe("0")
        })
      )

      it.effect("the sample by default; a payout the ingest core refuses is a kept 400", () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const sample = yield* sendTest(receiver, {})
          expect(sample.body).toMatchObject({ status: "pending", httpStatus: 200 })
          const row = yield* settled(receiver, sample.body.id)
          expect(row).toMatchObject({ status: "recorded", test: true, user_id: "3410444" })
          expect(yield* ledgerRows(receiver, "3410444")).toBe("0")

          const refused = yield* sendTest(receiver, { payout: "free" })
          expect(refused.body).toMatchObject({ status: "rejected", httpStatus: 400 })
          const [kept] = yield* Effect.promise(() =>
            receiver.sql.query<{ status: string; test: boolean }>(
              "SELECT status, test FROM postbacks WHERE id = $1",
              [refused.body.id]
            )
          )
          expect(kept).toEqual({ status: "rejected", test: true })

          const badUser = yield* sendTest(receiver, { userId: "" })
          expect(badUser.status).toBe(400)
          expect(badUser.body.issues.map((i: Json) => i.path)).toEqual(["userId"])
        })
      )

      it.effect(
        "the _test=1 marker (MomentScience's Test endpoint) counts only with the secret",
        () =>
          Effect.gen(function* () {
            const receiver = yield* TestReceiver
            const user = `marker-${database.name}`
            const query = `offer_id=77&payout=5.00&timestamp=2024-01-02T03:04:05Z&is_loyaltyboost=1&user_id=${user}`
            const marked = yield* call(receiver.postbackUrl(`${query}&_test=1`))
            expect(marked.status).toBe(200)
            const row = yield* settled(receiver, marked.body.id)
            expect(row).toMatchObject({ status: "recorded", test: true, user_id: user })
            const [stored] = yield* Effect.promise(() =>
              receiver.sql.query<{ payload: Json }>("SELECT payload FROM postbacks WHERE id = $1", [
                marked.body.id
              ])
            )
            // The marker is not a payload entry.
            expect(stored!.payload).toEqual({ user_id: user })

            // The same postback without the marker is a real one: its own row, credited.
            const real = yield* call(receiver.postbackUrl(query))
            expect(real.body).toMatchObject({ duplicate: false })
            expect(real.body.id).not.toBe(marked.body.id)
            expect(yield* settled(receiver, real.body.id)).toMatchObject({
              status: "credited",
              test: false
            })

            // Without the secret (or with a wrong one) the marker buys nothing: 401, nothing stored.
            for (const url of [
              `${receiver.baseUrl}/postbacks?${query}&_test=1`,
              `${receiver.baseUrl}/postbacks?secret=${TEST_SECRET}x&${query}&_test=1`
            ]) {
              const refused = yield* call(url, { headers: { "x-postback-test": "1" } })
              expect(refused.status).toBe(401)
            }
            const [count] = yield* Effect.promise(() =>
              receiver.sql.query<{ n: string }>(
                "SELECT count(*)::text AS n FROM postbacks WHERE offer_id = '77'"
              )
            )
            expect(count!.n).toBe("2")
          })
      )
    }
  )
}
