// What the ingest edge stores and answers when a request cannot be a
// postback, or when the database refuses one: always kept, always answered
// with the row's id, never 503 for the data's fault.
import { expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { testDatabases } from "./support/databases.ts"
import { captureLogs } from "./support/logs.ts"
import { docsPostback } from "./support/postbacks.ts"
import { TEST_SECRET, TestReceiver, testReceiver } from "./support/receiver.ts"

const encoder = new TextEncoder()

interface Request {
  readonly method: "GET" | "POST" | "HEAD"
  readonly query?: string
  readonly contentType?: string
  readonly contentEncoding?: string
  readonly body?: Uint8Array
  readonly secret?: string
}

const send = (baseUrl: string, request: Request) =>
  Effect.promise(async () => {
    const headers: Record<string, string> = {}
    if (request.contentType !== undefined) headers["content-type"] = request.contentType
    if (request.contentEncoding !== undefined) headers["content-encoding"] = request.contentEncoding
    const query = request.query === undefined ? "" : `&${request.query}`
    const response = await fetch(
      `${baseUrl}/postbacks?secret=${request.secret ?? TEST_SECRET}${query}`,
      {
        method: request.method,
        headers,
        ...(request.body === undefined ? {} : { body: request.body })
      }
    )
    const text = await response.text()
    return {
      status: response.status,
      retryAfter: response.headers.get("retry-after"),
      body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>)
    }
  })

const json = (value: unknown) => encoder.encode(JSON.stringify(value))

const docsBody = (overrides: Record<string, unknown> = {}) =>
  docsPostback({ payload: { user_id: "3410444" }, ...overrides })

interface StoredRequest {
  readonly id: string
  readonly status: string
  readonly request: { readonly body: string | null; readonly bodyEncoding: string | null }
  readonly errors: ReadonlyArray<{ readonly path: string; readonly message: string }>
}

const storedRows = (sql: TestReceiver["Service"]["sql"], ids: ReadonlyArray<unknown>) =>
  Effect.promise(() =>
    sql.query<StoredRequest>(
      "SELECT id, status, request, errors FROM postbacks WHERE id = ANY($1::bigint[]) ORDER BY id",
      [ids.map(String)]
    )
  )

/** The bytes a stored raw request's body stands for. */
const bodyBytes = (request: StoredRequest["request"]): Uint8Array =>
  request.bodyEncoding === "base64"
    ? new Uint8Array(Buffer.from(request.body ?? "", "base64"))
    : encoder.encode(request.body ?? "")

for (const database of testDatabases) {
  // Nine waiting requests make a batch, and only then: all nine go to the
  // database in one statement.
  layer(testReceiver(database, { INGEST_BATCH_SIZE: "9", INGEST_BATCH_WAIT_MS: "600000" }), {
    timeout: 60_000,
    excludeTestServices: true
  })(`rejected requests on ${database.name}`, (it) => {
    it.effect(
      "nine bad requests at once, one with a NUL in its body: all nine kept, each 400 with its row's id",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const nul = encoder.encode('{"offer_id":"1511","payout":"2.10\u0000"}')
          const binary = new Uint8Array([0xff, 0xfe, 0x00, 0x01, 0x7b])
          const requests: ReadonlyArray<Request> = [
            {
              method: "POST",
              contentType: "application/json",
              body: json(docsBody({ payout: "abc" }))
            },
            {
              method: "POST",
              contentType: "application/json",
              body: json(docsBody({ offer_id: undefined }))
            },
            { method: "POST", contentType: "application/json", body: encoder.encode("{nope") },
            { method: "POST", contentType: "application/json", body: nul },
            { method: "POST", contentType: "application/json", body: binary },
            { method: "GET", query: "offer_id=1511&payout=-1" },
            { method: "GET", query: "payout=2.10&user_id=u" },
            {
              method: "POST",
              contentType: "application/x-www-form-urlencoded",
              body: encoder.encode("offer_id=1511&payout=x")
            },
            {
              method: "POST",
              contentType: "application/json",
              contentEncoding: "gzip",
              body: json(docsBody())
            }
          ]
          const answers = yield* Effect.all(
            requests.map((r) => send(receiver.baseUrl, r)),
            { concurrency: "unbounded" }
          )
          expect(answers.map((a) => a.status)).toEqual(Array(9).fill(400))
          for (const answer of answers) {
            // the core's body, and the id of the row that keeps the request
            expect(Object.keys(answer.body).sort()).toEqual(["error", "id", "issues", "message"])
            expect(answer.body.error).toBe("invalid_postback")
            expect(typeof answer.body.id).toBe("number")
          }
          const ids = answers.map((a) => a.body.id as number)
          expect(new Set(ids).size).toBe(9)
          const rows = yield* storedRows(receiver.sql, ids)
          expect(rows.map((r) => Number(r.id))).toEqual([...ids].sort((a, b) => a - b))
          expect(rows.every((r) => r.status === "rejected")).toBe(true)
          const byId = new Map(rows.map((r) => [Number(r.id), r]))
          // each row is its own request, the NUL and the binary bodies byte for byte
          const nulRow = byId.get(ids[3]!)!
          expect(nulRow.request.bodyEncoding).toBe("base64")
          expect(bodyBytes(nulRow.request)).toEqual(nul)
          const binaryRow = byId.get(ids[4]!)!
          expect(binaryRow.request.bodyEncoding).toBe("base64")
          expect(bodyBytes(binaryRow.request)).toEqual(binary)
          expect(byId.get(ids[0]!)!.errors.map((e) => e.path)).toEqual(["payout"])
          expect(JSON.stringify(rows)).not.toContain(TEST_SECRET)
        })
    )
  })

  layer(testReceiver(database, { INGEST_BATCH_SIZE: "1", WORKER_ENABLED: "false" }), {
    timeout: 60_000,
    excludeTestServices: true
  })(`data the database refuses, alone in a batch, on ${database.name}`, (it) => {
    it.effect(
      "a timestamp in the year 0 (PostgreSQL has none) is held for a person with the reason, not answered 503",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const answer = yield* send(receiver.baseUrl, {
            method: "POST",
            contentType: "application/json",
            body: json(docsBody({ timestamp: "0000-01-01T00:00:00Z" }))
          })
          expect(answer.status).toBe(200)
          expect(answer.body).toMatchObject({ status: "held", duplicate: false })
          const [row] = yield* Effect.promise(() =>
            receiver.sql.query<{ status: string; errors: unknown; flags: unknown }>(
              "SELECT status, errors, flags FROM postbacks WHERE id = $1",
              [answer.body.id]
            )
          )
          expect(row?.status).toBe("held")
          expect(row?.errors).toEqual(
            expect.arrayContaining([
              {
                path: "timestamp",
                message: expect.stringContaining("must fall in the years 0001 to 9999 UTC")
              }
            ])
          )
        })
    )

    it.effect(
      "a user id longer than the ledger can index is held with the reason, not left to fail in the worker",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          // 1,000 characters (the payload's guard rails allow 1,024), 3,000
          // bytes of UTF-8 that do not compress: past PostgreSQL's index limit.
          let state = 7
          const userId = Array.from({ length: 1_000 }, () => {
            state = (state * 48_271) % 2_147_483_647
            return String.fromCharCode(0x4e00 + (state % 20_000))
          }).join("")
          const answer = yield* send(receiver.baseUrl, {
            method: "POST",
            contentType: "application/json",
            body: json(docsBody({ payload: { user_id: userId } }))
          })
          expect(answer.status).toBe(200)
          expect(answer.body).toMatchObject({ status: "held" })
          const [row] = yield* Effect.promise(() =>
            receiver.sql.query<{ status: string; errors: unknown; user_id: string }>(
              "SELECT status, errors, user_id FROM postbacks WHERE id = $1",
              [answer.body.id]
            )
          )
          expect(row?.user_id).toBe(userId)
          expect(row?.errors).toEqual([
            {
              path: "payload.user_id",
              message: expect.stringContaining("more than the 2000 the points ledger can index")
            }
          ])
          // what the ledger would have refused: PostgreSQL cannot index it
          const indexed = yield* Effect.promise(() =>
            receiver.sql.query("INSERT INTO accounts (user_id) VALUES ($1)", [userId]).then(
              () => "indexed",
              (e: { code?: string }) => e.code
            )
          )
          expect(indexed).toBe("54000")
        })
    )

    it.effect(
      "a postback the database refuses for its data is kept as a rejected row with the reason and answered 400 with its id",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          // A data exception raised by the database itself, for one offer only.
          yield* Effect.promise(async () => {
            await receiver.sql.query(`CREATE FUNCTION refuse_offer() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN
                IF NEW.offer_id = 'refused-by-db' THEN
                  RAISE EXCEPTION 'offer refused by the test trigger' USING ERRCODE = '22023';
                END IF;
                RETURN NEW;
              END $$`)
            await receiver.sql.query(
              "CREATE TRIGGER refuse_offer BEFORE INSERT ON postbacks FOR EACH ROW EXECUTE FUNCTION refuse_offer()"
            )
          })
          const refused = yield* send(receiver.baseUrl, {
            method: "POST",
            contentType: "application/json",
            body: json(docsBody({ offer_id: "refused-by-db" }))
          })
          const fine = yield* send(receiver.baseUrl, {
            method: "POST",
            contentType: "application/json",
            body: json(docsBody({ offer_id: "not-refused" }))
          })
          yield* Effect.promise(() => receiver.sql.query("DROP TRIGGER refuse_offer ON postbacks"))
          expect(fine.status).toBe(200)
          expect(refused.status).toBe(400)
          expect(refused.body).toMatchObject({
            error: "invalid_postback",
            issues: [
              { path: "", message: expect.stringContaining("offer refused by the test trigger") }
            ]
          })
          const [row] = yield* storedRows(receiver.sql, [refused.body.id])
          expect(row?.status).toBe("rejected")
          expect(row?.errors[0]?.message).toContain("the database refused the postback")
          expect(row?.request.body).toContain("refused-by-db")
        })
    )
  })
}

const logs = captureLogs()

layer(
  testReceiver(testDatabases[0]!, { WORKER_ENABLED: "false" }).pipe(Layer.provide(logs.layer)),
  {
    timeout: 60_000,
    excludeTestServices: true
  }
)("the delivery log", (it) => {
  it.effect(
    "one Info line per delivery with its id, outcome, status, source, offer, payout, user and latency; no secret, no raw body",
    () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const post = (body: Uint8Array, secret?: string) =>
          send(receiver.baseUrl, {
            method: "POST",
            contentType: "application/json",
            body,
            ...(secret === undefined ? {} : { secret })
          })
        const accepted = yield* post(json(docsBody({ payload: { user_id: "log-user" } })))
        const duplicate = yield* post(json(docsBody({ payload: { user_id: "log-user" } })))
        const held = yield* post(
          json(docsBody({ payout: "5000.00", payload: { user_id: "whale" } }))
        )
        const rejected = yield* post(json(docsBody({ payout: "abc", marker: "raw-body-marker" })))
        const unauthorized = yield* post(json(docsBody()), "wrong-secret-0123456789")
        const probe = yield* send(receiver.baseUrl, { method: "HEAD" })
        const tooLarge = yield* post(json(docsBody({ payload: { user_id: "x".repeat(70_000) } })))
        expect(
          [accepted, duplicate, held, rejected, unauthorized, probe, tooLarge].map((a) => a.status)
        ).toEqual([200, 200, 200, 400, 401, 200, 413])

        const lines = logs.entries.filter((e) => e.message === "Postback delivery")
        expect(lines.map((l) => l.level)).toEqual(Array(6).fill("Info"))
        expect(lines.map((l) => l.annotations)).toEqual([
          {
            postbackId: accepted.body.id,
            outcome: "accepted",
            status: 200,
            source: "post-json",
            offerId: "1511",
            payout: "2.10",
            userId: "log-user",
            latencyMs: expect.any(Number)
          },
          {
            postbackId: accepted.body.id,
            outcome: "duplicate",
            status: 200,
            source: "post-json",
            offerId: "1511",
            payout: "2.10",
            userId: "log-user",
            latencyMs: expect.any(Number)
          },
          {
            postbackId: held.body.id,
            outcome: "held",
            status: 200,
            source: "post-json",
            offerId: "1511",
            payout: "5000.00",
            userId: "whale",
            latencyMs: expect.any(Number)
          },
          {
            postbackId: rejected.body.id,
            outcome: "rejected",
            status: 400,
            source: "post-json",
            latencyMs: expect.any(Number)
          },
          { postbackId: null, outcome: "probe", status: 200, latencyMs: expect.any(Number) },
          { postbackId: null, outcome: "too_large", status: 413, latencyMs: expect.any(Number) }
        ])
        // the refused secret has its sampled warning instead, and no line says a secret or a body
        expect(
          logs.entries.some((e) => String(e.message).includes("without the right secret"))
        ).toBe(true)
        const everything = JSON.stringify(logs.entries)
        expect(everything).not.toContain(TEST_SECRET)
        expect(everything).not.toContain("wrong-secret-0123456789")
        expect(everything).not.toContain("raw-body-marker")
      })
  )
})
