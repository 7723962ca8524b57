// The reconciliations API over HTTP, on PostgreSQL and PGlite: an export
// uploaded as the body, the stored report listed, read by category and as
// CSV, lost conversions re-ingested twice (stored once, then duplicates,
// credited once), and the errors: 400 naming the option, 401, 404.
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { testDatabases } from "./support/databases.ts"
import { eventually, TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

// biome-ignore lint/suspicious/noExplicitAny: JSON read by path in assertions
type Json = any

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }

const exportText = readFileSync(
  fileURLToPath(new URL("./fixtures/exports/display-new-york.csv", import.meta.url)),
  "utf8"
)

const call = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    const text = await response.text()
    const json = response.headers.get("content-type")?.includes("json")
    return {
      status: response.status,
      text,
      body: (json && text !== "" ? JSON.parse(text) : undefined) as Json
    }
  })

const upload = (receiver: TestReceiver["Service"], query: string, body = exportText) =>
  call(`${receiver.baseUrl}/api/reconciliations?${query}`, {
    method: "POST",
    headers: { ...admin, "content-type": "text/csv" },
    body
  })

for (const database of testDatabases) {
  layer(testReceiver(database), { timeout: 120_000, excludeTestServices: true })(
    `Reconciliations API (${database.name})`,
    (it) => {
      it.effect("upload, list, read, CSV, re-ingest twice; 400, 401, 404", () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          // MomentScience delivered the first and the last conversion.
          for (const [offer, payout, time, user] of [
            ["1511", "2.10", "2023-09-20T15:27:40.120Z", "3410444"],
            ["1513", "1234.50", "2023-09-20T15:31:10.900Z", "3410447"]
          ] as const) {
            const stored = yield* call(receiver.postbackUrl(), {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({
                offer_id: offer,
                advertiser_name: "MomentScience",
                payout,
                timestamp: time,
                is_loyaltyboost: "1",
                payload: { user_id: user }
              })
            })
            expect(stored.status).toBe(200)
          }

          const created = yield* upload(receiver, "source=history.csv&timeZone=America%2FNew_York")
          expect(created.status).toBe(201)
          const id = created.body.id as number
          expect(created.body.source).toBe("history.csv")
          expect(created.body.categories.lost).toEqual({ count: 2, payout: "32.10" })
          expect(created.body.categories.delivered.count).toBe(2)
          expect(created.body.recoverable).toBe(2)
          expect(created.body.alarming).toBe(true)

          const list = yield* call(`${receiver.baseUrl}/api/reconciliations`, { headers: admin })
          expect(list.status).toBe(200)
          expect(list.body.items.map((item: Json) => item.id)).toContain(id)

          const lost = yield* call(`${receiver.baseUrl}/api/reconciliations/${id}?category=lost`, {
            headers: admin
          })
          expect(lost.status).toBe(200)
          expect(lost.body.rows.map((row: Json) => [row.line, row.offerId, row.payout])).toEqual([
            [3, "1512", "30.00"],
            [4, "1511", "2.10"]
          ])

          const csv = yield* call(`${receiver.baseUrl}/api/reconciliations/${id}/report.csv`, {
            headers: admin
          })
          expect(csv.status).toBe(200)
          const lines = csv.text.trim().split("\r\n")
          expect(lines).toHaveLength(5)
          expect(lines.filter((line) => line.startsWith("lost,"))).toHaveLength(2)

          const reingest = () =>
            call(`${receiver.baseUrl}/api/reconciliations/${id}/reingest`, {
              method: "POST",
              headers: admin
            })
          const first = yield* reingest()
          expect(first.status).toBe(200)
          expect(first.body).toMatchObject({ sent: 2, stored: 2, duplicates: 0, failed: [] })
          expect(first.body.summary.categories.recovered.count).toBe(2)
          expect(first.body.summary.alarming).toBe(false)
          const second = yield* reingest()
          expect(second.body).toMatchObject({ sent: 2, stored: 0, duplicates: 2, failed: [] })

          // Credited once each: 30.00 x 10 and 2.10 x 10 points.
          const credits = yield* eventually(async () => {
            const rows = await receiver.sql.query<{ user_id: string; points: string; n: string }>(
              `SELECT t.user_id, sum(t.points)::text AS points, count(*)::text AS n
               FROM reward_transactions t JOIN postbacks p ON p.id = t.postback_id
               WHERE p.recovered_by = $1::bigint GROUP BY t.user_id ORDER BY t.user_id`,
              [id]
            )
            return rows.length === 2 ? rows : undefined
          })
          expect(credits).toEqual([
            { user_id: "3410445", points: "300", n: "1" },
            { user_id: "3410446", points: "21", n: "1" }
          ])

          const badColumns = yield* upload(receiver, "columns=offer_id%3DCampain")
          expect(badColumns.status).toBe(400)
          expect(badColumns.body.error).toBe("invalid_request")
          expect(badColumns.body.issues[0].path).toBe("columns")
          const badZone = yield* upload(receiver, "timeZone=Mars%2FOlympus")
          expect(badZone.status).toBe(400)
          expect(badZone.body.issues[0].path).toBe("time_zone")
          const noColumn = yield* upload(receiver, "", "Offer ID,Payout\n1511,2.10\n")
          expect(noColumn.status).toBe(400)
          expect(noColumn.body.issues[0].path).toBe("timestamp")
          // A failed upload leaves no report behind.
          const after = yield* call(`${receiver.baseUrl}/api/reconciliations`, { headers: admin })
          expect(after.body.items).toHaveLength(list.body.items.length)

          const anonymous = yield* call(`${receiver.baseUrl}/api/reconciliations`)
          expect(anonymous.status).toBe(401)
          const missing = yield* call(`${receiver.baseUrl}/api/reconciliations/999999`, {
            headers: admin
          })
          expect(missing.status).toBe(404)
          expect(missing.body.error).toBe("not_found")
        })
      )
    }
  )
}
