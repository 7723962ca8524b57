import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { testDatabases } from "./support/databases.ts"
import { docsPostback } from "./support/postbacks.ts"
import { eventually, TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

const METRICS_TOKEN = "metrics-token-0123456789abcdef"

/** A JSON document read by path (answers, the OpenAPI document). */
// biome-ignore lint/suspicious/noExplicitAny: JSON read by path in assertions
type Json = any
const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }

/** One request: its status, headers and body (parsed when it is JSON). */
const request = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    const text = await response.text()
    const json = (response.headers.get("content-type") ?? "").includes("json")
    return {
      status: response.status,
      headers: response.headers,
      text,
      body: json && text !== "" ? (JSON.parse(text) as Json) : undefined
    }
  })

const postback = (receiver: TestReceiver["Service"], fields: Record<string, unknown>) =>
  request(receiver.postbackUrl(), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(docsPostback(fields))
  })

/** The error body every refusal has: exactly `error`, `message` and, when given, `issues`. */
const expectErrorBody = (
  body: Json | undefined,
  error: string,
  issuePaths?: ReadonlyArray<string>,
  /** Other keys the body may have (the ingest route's 400 gives the stored row's `id`). */
  optional: ReadonlyArray<string> = []
) => {
  expect(body).toBeDefined()
  expect(
    Object.keys(body!)
      .filter((key) => !optional.includes(key))
      .sort()
  ).toEqual(issuePaths === undefined ? ["error", "message"] : ["error", "issues", "message"])
  expect(body!.error).toBe(error)
  expect(typeof body!.message).toBe("string")
  expect(body!.message.length).toBeGreaterThan(0)
  if (issuePaths !== undefined) {
    expect(body!.issues.map((issue: { path: string }) => issue.path)).toEqual(issuePaths)
    for (const issue of body!.issues) expect(Object.keys(issue).sort()).toEqual(["message", "path"])
  }
}

for (const database of testDatabases) {
  layer(
    testReceiver(database, {
      // 1 USD = 10^7 points: two payouts of 500,000,000 USD pass 2^53 - 1 points.
      POINTS_PER_USD: "10000000",
      PAYOUT_HOLD_ABOVE: "1000000000",
      METRICS_TOKEN
    }),
    { timeout: 120_000, excludeTestServices: true }
  )(`admin API on ${database.name}`, (it) => {
    it.effect("a balance above 2^53 - 1 points is exact: points are decimal strings", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const user = `whale-${database.name}`
        for (const offer of ["big-1", "big-2"]) {
          const response = yield* postback(receiver, {
            offer_id: offer,
            payout: "500000000",
            payload: { user_id: user }
          })
          expect(response.body).toMatchObject({ status: "accepted" })
        }
        const ledger = yield* eventually(async () => {
          const r = await fetch(`${receiver.baseUrl}/api/users/${user}`, { headers: admin })
          const body = r.status === 200 ? ((await r.json()) as Json) : undefined
          return body?.transactions.length === 2 ? { status: r.status, body } : undefined
        })
        // 2 × 500,000,000 USD × 10^7 = 10^16 points, past Number.MAX_SAFE_INTEGER (≈ 9.007 × 10^15)
        expect(ledger.body.balance).toBe("10000000000000000")
        expect(ledger.body.transactions.map((t: { points: unknown }) => t.points)).toEqual([
          "5000000000000000",
          "5000000000000000"
        ])
        expect(ledger.body.transactions[0].payout).toBe("500000000")
      })
    )

    it.effect(
      "a zero payout (0, -0, 0.00) is recorded, never a ledger row; a negative one is refused with 400",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const user = `zero-${database.name}`
          const ids: Array<number> = []
          for (const payout of ["0", "-0", "0.00"]) {
            const response = yield* postback(receiver, {
              offer_id: `zero-${payout}`,
              payout,
              payload: { user_id: user }
            })
            expect(response.status).toBe(200)
            ids.push(response.body!.id)
          }
          const rows = yield* eventually(async () => {
            const rows = await receiver.sql.query<{
              status: string
              payout: string
              outcome: { reason: string } | null
            }>(
              "SELECT status, payout::text AS payout, outcome FROM postbacks WHERE id = ANY($1::bigint[]) ORDER BY id",
              [ids]
            )
            return rows.every((r) => r.status !== "pending" && r.status !== "processing")
              ? rows
              : undefined
          })
          expect(rows.map((r) => [r.status, r.outcome?.reason])).toEqual([
            ["recorded", "zero-payout"],
            ["recorded", "zero-payout"],
            ["recorded", "zero-payout"]
          ])
          // -0 is stored as 0: the same conversion as 0, not a negative one
          expect(rows.map((r) => r.payout)).toEqual(["0", "0", "0.00"])
          const [ledger] = yield* Effect.promise(() =>
            receiver.sql.query<{ n: string }>(
              "SELECT count(*)::text AS n FROM reward_transactions WHERE postback_id = ANY($1::bigint[])",
              [ids]
            )
          )
          expect(ledger?.n).toBe("0")
          const account = yield* request(`${receiver.baseUrl}/api/users/${user}`, {
            headers: admin
          })
          expect(account.status).toBe(404)
          expectErrorBody(account.body, "not_found")

          const negative = yield* postback(receiver, {
            offer_id: "reversal",
            payout: "-2.10",
            payload: { user_id: user }
          })
          expect(negative.status).toBe(400)
          expectErrorBody(negative.body, "invalid_postback", ["payout"], ["id"])
          expect(negative.body!.issues[0].message).toContain("negative")
        })
    )

    it.effect("every admin error has the JSON error shape", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const base = receiver.baseUrl
        const noToken = yield* request(`${base}/api/users/anyone`)
        expect(noToken.status).toBe(401)
        expectErrorBody(noToken.body, "unauthorized")
        const wrongToken = yield* request(`${base}/api/postbacks/1`, {
          headers: { authorization: "Bearer wrong" }
        })
        expect(wrongToken.status).toBe(401)
        expectErrorBody(wrongToken.body, "unauthorized")

        const unknownUser = yield* request(`${base}/api/users/nobody-at-all`, { headers: admin })
        expect(unknownUser.status).toBe(404)
        expectErrorBody(unknownUser.body, "not_found")
        const unknownPostback = yield* request(`${base}/api/postbacks/999999999`, {
          headers: admin
        })
        expect(unknownPostback.status).toBe(404)
        expectErrorBody(unknownPostback.body, "not_found")
        const unknownReplay = yield* request(`${base}/api/postbacks/999999999/replay`, {
          method: "POST",
          headers: admin
        })
        expect(unknownReplay.status).toBe(404)
        expectErrorBody(unknownReplay.body, "not_found")

        for (const [method, path] of [
          ["GET", "/nope"],
          ["GET", "/api/nope?limit=1"],
          ["DELETE", "/api/users/anyone"]
        ] as const) {
          const noRoute = yield* request(`${base}${path}`, { method, headers: admin })
          expect(noRoute.status).toBe(404)
          expectErrorBody(noRoute.body, "not_found")
          expect(noRoute.body.message).toContain(`${method} ${path.split("?")[0]}`)
        }

        const zeroLimit = yield* request(`${base}/api/users/anyone?limit=0`, { headers: admin })
        expect(zeroLimit.status).toBe(400)
        expectErrorBody(zeroLimit.body, "invalid_request", ["limit"])
        const badId = yield* request(`${base}/api/postbacks/abc`, { headers: admin })
        expect(badId.status).toBe(400)
        expectErrorBody(badId.body, "invalid_request", ["id"])

        const stored = yield* postback(receiver, {
          offer_id: "replay-me",
          payout: "1",
          payload: { user_id: `replay-${database.name}` }
        })
        yield* eventually(async () => {
          const [row] = await receiver.sql.query<{ status: string }>(
            "SELECT status FROM postbacks WHERE id = $1",
            [stored.body!.id]
          )
          return row?.status === "credited" ? row : undefined
        })
        const credited = yield* request(`${base}/api/postbacks/${stored.body!.id}/replay`, {
          method: "POST",
          headers: admin
        })
        expect(credited.status).toBe(409)
        expectErrorBody(credited.body, "not_replayable")
      })
    )

    it.effect("GET /api/users/%00 is a 400 naming userId, not a 500", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        // A NUL cannot be in a stored user id (such bytes are kept percent-encoded).
        const nul = yield* request(`${receiver.baseUrl}/api/users/%00`, { headers: admin })
        expect(nul.status).toBe(400)
        expectErrorBody(nul.body, "invalid_request", ["userId"])
        expect(nul.body!.message).toContain("a%2500b")
        const kept = yield* request(`${receiver.baseUrl}/api/users/a%2500b`, { headers: admin })
        expect(kept.status).toBe(404)
      })
    )

    it.effect("/metrics takes METRICS_TOKEN (which opens nothing else) and the admin token", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const base = receiver.baseUrl
        const scraper = { authorization: `Bearer ${METRICS_TOKEN}` }
        const scraped = yield* request(`${base}/metrics`, { headers: scraper })
        expect(scraped.status).toBe(200)
        expect(scraped.headers.get("content-type")).toContain("text/plain")
        expect(scraped.text).toContain("# TYPE receiver_postbacks_received_total counter")
        expect((yield* request(`${base}/metrics`, { headers: admin })).status).toBe(200)
        const anonymous = yield* request(`${base}/metrics`)
        expect(anonymous.status).toBe(401)
        expectErrorBody(anonymous.body, "unauthorized")
        const wrong = yield* request(`${base}/metrics`, {
          headers: { authorization: "Bearer wrong" }
        })
        expect(wrong.status).toBe(401)
        const adminRoute = yield* request(`${base}/api/users/anyone`, { headers: scraper })
        expect(adminRoute.status).toBe(401)
        expectErrorBody(adminRoute.body, "unauthorized")
      })
    )

    it.effect("the OpenAPI document has the ingest route, exact points and the error shape", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const { body: spec } = yield* request(`${receiver.baseUrl}/api/openapi.json`)
        const resolve = (schema: Json): Json =>
          typeof schema.$ref === "string"
            ? spec!.components.schemas[schema.$ref.replace("#/components/schemas/", "")]
            : schema
        const ingest = spec!.paths["/postbacks"]
        expect(ingest).toBeDefined()
        for (const method of ["get", "post", "head"]) {
          expect(ingest[method].parameters.find((p: Json) => p.name === "secret")).toMatchObject({
            in: "query",
            required: true
          })
        }
        expect(ingest.get.parameters.map((p: Json) => p.name)).toEqual(
          expect.arrayContaining(["offer_id", "payout", "timestamp", "is_loyaltyboost"])
        )
        const bodies = ingest.post.requestBody.content
        expect(Object.keys(bodies).sort()).toEqual([
          "application/json",
          "application/x-www-form-urlencoded"
        ])
        expect(Object.keys(resolve(bodies["application/json"].schema).properties)).toEqual(
          expect.arrayContaining(["offer_id", "payout", "payload"])
        )
        for (const method of ["get", "post"]) {
          expect(Object.keys(ingest[method].responses).sort()).toEqual(
            ["200", "400", "401", "413", "414", "415", "431", "503"].sort()
          )
          const answer = resolve(ingest[method].responses["200"].content["application/json"].schema)
          expect(answer.properties.status.enum).toEqual(["accepted", "held"])
          expect(answer.properties.id.type).toBe("integer")
          expect(ingest[method].responses["503"].headers["retry-after"]).toBeDefined()
          const error = resolve(ingest[method].responses["400"].content["application/json"].schema)
          expect(error.required).toEqual(["error", "message"])
          expect(error.properties.error.enum).toContain("invalid_postback")
        }
        expect(ingest.head.responses["200"]).toBeDefined()
        expect(ingest.put.responses["405"].headers.allow).toBeDefined()

        // Admin routes: points as decimal strings, every error response in the error shape.
        const ledger = resolve(
          spec!.paths["/api/users/{userId}"].get.responses["200"].content["application/json"].schema
        )
        expect(ledger.properties.balance.type).toBe("string")
        for (const [path, item] of Object.entries<Json>(spec!.paths)) {
          if (path === "/postbacks") continue
          for (const operation of Object.values<Json>(item)) {
            for (const [status, response] of Object.entries<Json>(operation.responses)) {
              if (Number(status) < 400) continue
              const schema = resolve(response.content["application/json"].schema)
              expect(schema.required, `${path} ${status}`).toEqual(
                expect.arrayContaining(["error", "message"])
              )
            }
          }
        }
      })
    )
  })
}

layer(testReceiver(testDatabases[0]!), { timeout: 60_000, excludeTestServices: true })(
  "admin API when the database fails",
  (it) => {
    it.effect("a database error is a logged 500 in the JSON error shape, without its cause", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        yield* Effect.promise(() => receiver.sql.query("ALTER TABLE accounts RENAME TO gone"))
        const failed = yield* request(`${receiver.baseUrl}/api/users/anyone`, { headers: admin })
        yield* Effect.promise(() => receiver.sql.query("ALTER TABLE gone RENAME TO accounts"))
        expect(failed.status).toBe(500)
        expectErrorBody(failed.body, "internal_error")
        expect(failed.text).not.toContain("accounts")
        expect(
          (yield* request(`${receiver.baseUrl}/api/users/anyone`, { headers: admin })).status
        ).toBe(404)
      })
    )
  }
)
