import { expect, layer } from "@effect/vitest"
import { Decimal, type Postback } from "@org/postback-schema"
import { samplePostback, sendOnce } from "@org/postback-sender"
import { Effect } from "effect"
import { testDatabases } from "./support/databases.ts"
import { docsPostback as docsFields } from "./support/postbacks.ts"
import { eventually, TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

// The examples of MomentScience's postback documentation.
const DOCS_GET_QUERY =
  "payout=2.10&timestamp=2023-09-20T15:27:40.802Z&offer_id=1511&advertiser_name=MomentScience&is_loyaltyboost=0&user_id=3410444"

const docsPostBody = (overrides: Record<string, unknown> = {}) =>
  docsFields({ payload: { user_id: "3410444", session_id: "abc-123" }, ...overrides })

/** The docs' POST example as a decoded postback, delivered the way MomentScience does (the sender package). */
const docsPostback = (overrides: Partial<Postback> = {}) =>
  samplePostback({
    timestamp: new Date("2023-09-20T15:27:40.802Z"),
    isLoyaltyBoost: true,
    payload: { user_id: "3410444", session_id: "abc-123" },
    ...overrides
  })

const send = (url: string, postback: Postback, method: "GET" | "POST" = "POST") =>
  Effect.promise(async () => {
    const result = await sendOnce(postback, { method, url })
    return { status: result.status, body: JSON.parse(result.body) as Record<string, unknown> }
  })

/** Raw requests, for bodies no sender would produce. */
const post = (url: string, body: unknown, contentType = "application/json") =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": contentType },
      body: typeof body === "string" ? body : JSON.stringify(body)
    })
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  })

const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { headers })
    const text = await response.text()
    return {
      status: response.status,
      body: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>)
    }
  })

const userLedger = (baseUrl: string, userId: string) =>
  get(`${baseUrl}/api/users/${encodeURIComponent(userId)}`, {
    authorization: `Bearer ${TEST_ADMIN_TOKEN}`
  })

/** Waits for the background worker to settle a postback, and returns its row. */
const settled = <Row extends { status: string }>(
  sql: TestReceiver["Service"]["sql"],
  id: unknown,
  columns = "status"
) =>
  eventually(async () => {
    const [row] = await sql.query<Row>(`SELECT ${columns} FROM postbacks WHERE id = $1`, [id])
    return row !== undefined && row.status !== "pending" && row.status !== "processing"
      ? row
      : undefined
  })

const rowsOf = <Row>(
  sql: TestReceiver["Service"]["sql"],
  text: string,
  params: Array<unknown> = []
) => Effect.promise(() => sql.query<Row>(text, params))

for (const database of testDatabases) {
  layer(testReceiver(database), { timeout: 120_000, excludeTestServices: true })(
    `receiver on ${database.name}`,
    (it) => {
      it.effect("the docs' POST example credits 2.10 USD x 10 = 21 points to user 3410444", () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const user = `docs-post-${database.name}`
          const response = yield* send(
            receiver.postbackUrl(),
            docsPostback({ payload: { user_id: user } })
          )
          expect(response.status).toBe(200)
          expect(response.body).toMatchObject({ status: "accepted", duplicate: false })
          const ledger = yield* eventually(async () => {
            const r = await fetch(`${receiver.baseUrl}/api/users/${user}`, {
              headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }
            })
            return r.status === 200
              ? ((await r.json()) as {
                  balance: string
                  transactions: Array<{ points: string; payout: string; offerId: string }>
                })
              : undefined
          })
          expect(ledger.balance).toBe("21")
          expect(ledger.transactions).toHaveLength(1)
          expect(ledger.transactions[0]).toMatchObject({
            points: "21",
            payout: "2.10",
            offerId: "1511"
          })
        })
      )

      it.effect(
        "the docs' GET example (is_loyaltyboost=0) is recorded, not credited; with =1 it credits",
        () =>
          Effect.gen(function* () {
            const receiver = yield* TestReceiver
            const user = `docs-get-${database.name}`
            const recorded = yield* get(
              receiver.postbackUrl(DOCS_GET_QUERY.replace("user_id=3410444", `user_id=${user}`))
            )
            expect(recorded.status).toBe(200)
            const recordedId = recorded.body!.id
            yield* eventually(async () => {
              const [row] = await receiver.sql.query<{ status: string }>(
                "SELECT status FROM postbacks WHERE id = $1",
                [recordedId]
              )
              return row?.status === "recorded" ? row : undefined
            })
            expect((yield* userLedger(receiver.baseUrl, user)).status).toBe(404)

            const credited = yield* get(
              receiver.postbackUrl(
                DOCS_GET_QUERY.replace("is_loyaltyboost=0", "is_loyaltyboost=1").replace(
                  "user_id=3410444",
                  `user_id=${user}`
                )
              )
            )
            expect(credited.status).toBe(200)
            expect(credited.body!.id).not.toBe(recordedId)
            const ledger = yield* eventually(async () => {
              const r = await fetch(`${receiver.baseUrl}/api/users/${user}`, {
                headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }
              })
              return r.status === 200 ? ((await r.json()) as { balance: string }) : undefined
            })
            expect(ledger.balance).toBe("21")
          })
      )

      it.effect("20 concurrent deliveries of one postback store one row and credit once", () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const user = `dup-${database.name}`
          const postback = docsPostback({ payout: Decimal.parse("30"), payload: { user_id: user } })
          const responses = yield* Effect.all(
            Array.from({ length: 20 }, () => send(receiver.postbackUrl(), postback)),
            { concurrency: "unbounded" }
          )
          expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200))
          expect(new Set(responses.map((r) => r.body.id)).size).toBe(1)
          expect(responses.filter((r) => r.body.duplicate === false)).toHaveLength(1)
          // a late retry, after processing, changes nothing either
          expect(yield* settled(receiver.sql, responses[0]!.body.id)).toEqual({
            status: "credited"
          })
          // the same postback as a GET is the same conversion
          expect((yield* send(receiver.postbackUrl(), postback, "GET")).body.duplicate).toBe(true)
          yield* receiver.worker.drain
          const [row] = yield* rowsOf<{ delivery_count: number; status: string }>(
            receiver.sql,
            "SELECT delivery_count, status FROM postbacks WHERE id = $1",
            [responses[0]!.body.id]
          )
          expect(row).toEqual({ delivery_count: 21, status: "credited" })
          const ledger = yield* userLedger(receiver.baseUrl, user)
          expect(ledger.body).toMatchObject({ balance: "300" })
          expect(ledger.body!.transactions).toHaveLength(1)
        })
      )

      it.effect(
        "an invalid postback gets 400 listing every problem, is kept as rejected, and credits nobody",
        () =>
          Effect.gen(function* () {
            const receiver = yield* TestReceiver
            const user = `invalid-${database.name}`
            const response = yield* post(
              receiver.postbackUrl(),
              docsPostBody({ payout: "abc", timestamp: "yesterday", payload: { user_id: user } })
            )
            expect(response.status).toBe(400)
            const text = JSON.stringify(response.body)
            expect(text).toContain("payout")
            expect(text).toContain("timestamp")
            const rejected = yield* rowsOf<{
              request: { body: string; query: Record<string, unknown> }
              errors: Array<{ path: string }>
            }>(
              receiver.sql,
              "SELECT request, errors FROM postbacks WHERE status = 'rejected' AND request->>'body' LIKE $1",
              [`%${user}%`]
            )
            expect(rejected).toHaveLength(1)
            expect(rejected[0]!.errors.map((e) => e.path).sort()).toEqual(["payout", "timestamp"])
            // the secret is never stored
            expect(JSON.stringify(rejected[0]!.request)).not.toContain("test-secret")
            yield* receiver.worker.drain
            expect((yield* userLedger(receiver.baseUrl, user)).status).toBe(404)
          })
      )

      it.effect("a request without the right secret gets 401 and stores nothing", () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const [before] = yield* rowsOf<{ n: string }>(
            receiver.sql,
            "SELECT count(*)::text AS n FROM postbacks"
          )
          const wrong = yield* post(`${receiver.baseUrl}/postbacks?secret=nope`, docsPostBody())
          const missing = yield* get(`${receiver.baseUrl}/postbacks?${DOCS_GET_QUERY}`)
          const twice = yield* get(`${receiver.postbackUrl(DOCS_GET_QUERY)}&secret=other`)
          expect([wrong.status, missing.status, twice.status]).toEqual([401, 401, 401])
          const [after] = yield* rowsOf<{ n: string }>(
            receiver.sql,
            "SELECT count(*)::text AS n FROM postbacks"
          )
          expect(after).toEqual(before)
        })
      )

      it.effect("form-encoded POST decodes like a GET query", () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const response = yield* post(
            receiver.postbackUrl(),
            DOCS_GET_QUERY.replace("user_id=3410444", "user_id=form-user"),
            "application/x-www-form-urlencoded"
          )
          expect(response.status).toBe(200)
          const [row] = yield* rowsOf<{ source: string; user_id: string; payout: string }>(
            receiver.sql,
            "SELECT source, user_id, payout::text AS payout FROM postbacks WHERE id = $1",
            [response.body.id]
          )
          expect(row).toEqual({ source: "post-form", user_id: "form-user", payout: "2.10" })
        })
      )

      it.effect("a body over the limit gets 413 and a payout over the review limit is held", () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const huge = yield* post(
            receiver.postbackUrl(),
            docsPostBody({ payload: { user_id: "x".repeat(70_000) } })
          )
          expect(huge.status).toBe(413)
          const held = yield* send(
            receiver.postbackUrl(),
            docsPostback({ payout: Decimal.parse("5000.00"), payload: { user_id: "whale" } })
          )
          expect(held.status).toBe(200)
          yield* receiver.worker.drain
          const [row] = yield* rowsOf<{ status: string }>(
            receiver.sql,
            "SELECT status FROM postbacks WHERE id = $1",
            [held.body.id]
          )
          expect(row?.status).toBe("held")
          expect((yield* userLedger(receiver.baseUrl, "whale")).status).toBe(404)

          // an operator approves it: replayed, then credited
          const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }
          const replay = (id: unknown) =>
            Effect.promise(async () => {
              const r = await fetch(`${receiver.baseUrl}/api/postbacks/${id}/replay`, {
                method: "POST",
                headers: admin
              })
              return { status: r.status, body: (await r.json()) as Record<string, unknown> }
            })
          const replayed = yield* replay(held.body.id)
          expect(replayed).toMatchObject({
            status: 200,
            body: { status: "pending", payout: "5000.00" }
          })
          expect(yield* settled(receiver.sql, held.body.id)).toEqual({ status: "credited" })
          expect((yield* userLedger(receiver.baseUrl, "whale")).body).toMatchObject({
            balance: "50000"
          })
          // a credited postback is never replayed
          const again = yield* replay(held.body.id)
          expect(again.status).toBe(409)
          expect(JSON.stringify(again.body)).toContain(
            "only dead and held postbacks can be replayed"
          )
          const shown = yield* get(`${receiver.baseUrl}/api/postbacks/${held.body.id}`, admin)
          expect(shown.body).toMatchObject({
            status: "credited",
            deliveryCount: 1,
            userId: "whale"
          })
          expect((yield* get(`${receiver.baseUrl}/api/postbacks/999999999`, admin)).status).toBe(
            404
          )
        })
      )

      it.effect("LoyaltyBoost without a user id is unattributed", () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const response = yield* send(
            receiver.postbackUrl(),
            docsPostback({ offerId: "nouser", payload: { session_id: "s" } })
          )
          expect(response.status).toBe(200)
          const row = yield* settled<{ status: string; outcome: { reason: string } }>(
            receiver.sql,
            response.body.id,
            "status, outcome"
          )
          expect(row.status).toBe("unattributed")
          expect(row.outcome.reason).toBe("no-user-id")
        })
      )

      it.effect("admin routes need the bearer token; health and readiness answer", () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          expect((yield* get(`${receiver.baseUrl}/api/users/anyone`)).status).toBe(401)
          expect(
            (yield* get(`${receiver.baseUrl}/api/users/anyone`, { authorization: "Bearer wrong" }))
              .status
          ).toBe(401)
          expect(yield* get(`${receiver.baseUrl}/healthz`)).toEqual({
            status: 200,
            body: { status: "ok" }
          })
          expect(yield* get(`${receiver.baseUrl}/readyz`)).toEqual({
            status: 200,
            body: { status: "ready", database: database.name }
          })
          expect((yield* get(`${receiver.baseUrl}/postbacks?secret=wrong`)).status).toBe(401)
          // the ingest route is /postbacks, with or without a trailing slash, and nothing else
          expect((yield* get(`${receiver.baseUrl}/postbacks/?secret=wrong`)).status).toBe(401)
          expect((yield* get(`${receiver.baseUrl}/postbacksx?secret=wrong`)).status).toBe(404)
          const metrics = yield* Effect.promise(async () => {
            const r = await fetch(`${receiver.baseUrl}/metrics`, {
              headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }
            })
            return { status: r.status, type: r.headers.get("content-type"), text: await r.text() }
          })
          expect(metrics.status).toBe(200)
          expect(metrics.type).toContain("text/plain")
          expect(metrics.text).toContain("# TYPE receiver_postbacks_received_total counter")
          expect(metrics.text).toMatch(
            /receiver_postbacks_received_total\{outcome="unauthorized"\} [1-9]/
          )
          expect(metrics.text).toContain('receiver_ingest_batch_rows_bucket{le="+Inf"}')
          expect((yield* get(`${receiver.baseUrl}/metrics`)).status).toBe(401)
          const openapi = yield* get(`${receiver.baseUrl}/api/openapi.json`)
          expect(Object.keys((openapi.body as { paths: object }).paths)).toContain(
            "/api/users/{userId}"
          )
        })
      )
    }
  )
}
