// The delivery log (the view delivery_log): one entry per authenticated
// delivery that was stored or kept, written in the same statement as the
// inbox row; a postback's first delivery kept on its row, the repeats in
// the deliveries table. First at the group
// commit (duplicates folded inside one batch, a batch that fails), then over
// HTTP through the whole receiver (accepted, duplicate, rejected, test, 401).
import { expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ReceiverConfig } from "../src/Config.ts"
import { Database, type SqlRunner } from "../src/Db/Database.ts"
import { GroupCommit, StoreUnavailable } from "../src/Ingest/GroupCommit.ts"
import type { InboxRow } from "../src/Ingest/InboxSql.ts"
import { deleteExpiredDeliveries, RetentionLive } from "../src/Retention.ts"
import { testDatabases } from "./support/databases.ts"
import { testEnv } from "./support/env.ts"
import { docsPostback } from "./support/postbacks.ts"
import { eventually, TEST_SECRET, TestReceiver, testReceiver } from "./support/receiver.ts"

const row = (key: string, overrides: Partial<InboxRow> = {}): InboxRow => ({
  dedupKey: key,
  status: "pending",
  source: "post-json",
  offerId: "1511",
  advertiserName: "MomentScience",
  payout: "2.10",
  occurredAt: "2023-09-20T15:27:40.802Z",
  isLoyaltyBoost: true,
  payload: JSON.stringify({ user_id: "3410444" }),
  userId: "3410444",
  deliveryCount: 1,
  flags: null,
  problems: null,
  ...overrides
})

interface DeliveryRow {
  readonly postback_id: string
  readonly received_at: Date
  readonly source: string
  readonly http_status: number
  readonly answer_ms: string
}

const deliveriesOf = (sql: SqlRunner, ids: ReadonlyArray<number>) =>
  Effect.promise(() =>
    sql.query<DeliveryRow>(
      "SELECT postback_id, received_at, source, http_status, answer_ms::text AS answer_ms FROM delivery_log WHERE postback_id = ANY($1::bigint[]) ORDER BY postback_id, id NULLS FIRST",
      [ids]
    )
  )

const count = (sql: SqlRunner, table: "delivery_log" | "deliveries" | "postbacks") =>
  Effect.promise(async () => {
    const [row] = await sql.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`)
    return Number(row!.n)
  })

for (const database of testDatabases) {
  layer(database.layer(), { timeout: 60_000, excludeTestServices: true })(
    `delivery log at the group commit on ${database.name}`,
    (it) => {
      it.effect(
        "retries folded into one row inside a batch still get one delivery row each, with their own time and wait",
        () =>
          Effect.gen(function* () {
            const { sql } = yield* Database
            const groupCommit = GroupCommit.make(sql, {
              maxBatch: 50,
              maxWaitMs: 5,
              maxInFlight: 1
            })
            const arrivedAt = performance.now() - 1_500
            const received = new Date("2026-03-08T06:59:59.250Z")
            const stored = yield* Effect.promise(() =>
              Promise.all([
                groupCommit.submit(row("fold-1", { receivedAt: received, arrivedAt })),
                groupCommit.submit(row("fold-1", { source: "get" })),
                groupCommit.submit(row("fold-1", { source: "post-form" })),
                groupCommit.submit(row("fold-2"))
              ])
            )
            expect(new Set(stored.slice(0, 3).map((s) => s.id)).size).toBe(1)
            const logged = yield* deliveriesOf(sql, [stored[0]!.id])
            expect(logged.map((d) => [d.source, d.http_status]).sort()).toEqual([
              ["get", 200],
              ["post-form", 200],
              ["post-json", 200]
            ])
            const first = logged.find((d) => d.source === "post-json")!
            expect(first.received_at.toISOString()).toBe("2026-03-08T06:59:59.250Z")
            // the wait for the batch (1.5 s before the statement) is in the answer time
            expect(Number(first.answer_ms)).toBeGreaterThanOrEqual(1_500)
            expect(first.answer_ms).toMatch(/^\d+\.\d{3}$/)
            const [postback] = yield* Effect.promise(() =>
              sql.query<{ delivery_count: number; last_http_status: number; test: boolean }>(
                "SELECT delivery_count, last_http_status, test FROM postbacks WHERE id = $1",
                [stored[0]!.id]
              )
            )
            expect(postback).toEqual({ delivery_count: 3, last_http_status: 200, test: false })
            // a retry in a later batch: one more delivery row, the same postback
            const again = yield* Effect.promise(() => groupCommit.submit(row("fold-1")))
            expect(again).toEqual({ id: stored[0]!.id, duplicate: true })
            expect(yield* deliveriesOf(sql, [stored[0]!.id])).toHaveLength(4)
            expect(yield* deliveriesOf(sql, [stored[3]!.id])).toHaveLength(1)
            // the first delivery of each postback is kept on its row: only the
            // repeats (two folded in the batch, one later) are log table rows
            const tableRows = yield* Effect.promise(() =>
              sql.query<{ postback_id: string; n: string }>(
                "SELECT postback_id, count(*)::text AS n FROM deliveries WHERE postback_id = ANY($1::bigint[]) GROUP BY postback_id",
                [[stored[0]!.id, stored[3]!.id]]
              )
            )
            expect(tableRows.map((r) => [Number(r.postback_id), r.n])).toEqual([
              [stored[0]!.id, "3"]
            ])
            yield* Effect.promise(() => groupCommit.close())
          })
      )

      it.effect("a rejected row's delivery carries its own status and time", () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          const groupCommit = GroupCommit.make(sql, { maxBatch: 50, maxWaitMs: 5, maxInFlight: 1 })
          const request = {
            method: "GET",
            path: "/postbacks",
            query: { offer_id: "x" },
            contentType: null,
            body: null,
            bodyEncoding: null,
            remoteAddress: null
          }
          const ids = yield* Effect.promise(() =>
            Promise.all([
              groupCommit.submitRejected({
                source: "get",
                request,
                errors: [{ path: "payout", message: "is required" }],
                receivedAt: new Date("2026-01-01T00:00:00.000Z")
              }),
              groupCommit.submitRejected({
                source: "post-json",
                request,
                errors: [{ path: "", message: "the database refused it" }],
                httpStatus: 422,
                receivedAt: new Date("2026-01-01T00:00:01.000Z"),
                test: true
              })
            ])
          )
          const logged = yield* deliveriesOf(sql, ids)
          expect(
            logged.map((d) => [
              Number(d.postback_id),
              d.source,
              d.http_status,
              d.received_at.toISOString()
            ])
          ).toEqual([
            [ids[0], "get", 400, "2026-01-01T00:00:00.000Z"],
            [ids[1], "post-json", 422, "2026-01-01T00:00:01.000Z"]
          ])
          const rows = yield* Effect.promise(() =>
            sql.query<{ last_http_status: number; test: boolean }>(
              "SELECT last_http_status, test FROM postbacks WHERE id = ANY($1::bigint[]) ORDER BY id",
              [ids]
            )
          )
          expect(rows).toEqual([
            { last_http_status: 400, test: false },
            { last_http_status: 422, test: true }
          ])
          yield* Effect.promise(() => groupCommit.close())
        })
      )

      it.effect(
        "retention deletes deliveries older than the setting, in batches, and nothing newer",
        () =>
          Effect.gen(function* () {
            const { sql } = yield* Database
            const groupCommit = GroupCommit.make(sql, {
              maxBatch: 50,
              maxWaitMs: 1,
              maxInFlight: 1
            })
            const stored = yield* Effect.promise(() => groupCommit.submit(row("retention-1")))
            yield* Effect.promise(() => groupCommit.close())
            // what the other tests left that is already old (their fixed dates)
            yield* Effect.promise(() => deleteExpiredDeliveries(sql, 30))
            // 7 deliveries 31 days old, 3 of 29 days, beside the one just logged
            yield* Effect.promise(() =>
              sql.query(
                `INSERT INTO deliveries (postback_id, received_at, source, http_status, answer_ms)
                 SELECT $1, now() - make_interval(days => CASE WHEN g <= 7 THEN 31 ELSE 29 END), 'get', 200, 1.5
                 FROM generate_series(1, 10) AS g`,
                [stored.id]
              )
            )
            const deleted = yield* Effect.promise(() => deleteExpiredDeliveries(sql, 30, 3))
            expect(deleted).toBe(7)
            expect(yield* deliveriesOf(sql, [stored.id])).toHaveLength(4)
            expect(yield* Effect.promise(() => deleteExpiredDeliveries(sql, 30, 3))).toBe(0)
            // the job: a first run at start, with DELIVERY_LOG_RETENTION_DAYS
            yield* Effect.promise(() =>
              sql.query(
                `INSERT INTO deliveries (postback_id, received_at, source, http_status, answer_ms)
                 VALUES ($1, now() - interval '3 days', 'get', 200, 1)`,
                [stored.id]
              )
            )
            yield* Effect.scoped(
              Effect.gen(function* () {
                yield* Layer.build(
                  RetentionLive.pipe(
                    Layer.provide(
                      ReceiverConfig.fromRecord(testEnv({ DELIVERY_LOG_RETENTION_DAYS: "2" }))
                    ),
                    Layer.provide(Layer.succeed(Database, yield* Database))
                  )
                )
                yield* eventually(async () => {
                  const rows = await sql.query<{ n: string }>(
                    "SELECT count(*)::text AS n FROM delivery_log WHERE postback_id = $1",
                    [stored.id]
                  )
                  return rows[0]!.n === "1" ? true : undefined
                })
              })
            )
          })
      )

      it.effect("a batch that fails stores neither postbacks nor deliveries", () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          const before = [yield* count(sql, "postbacks"), yield* count(sql, "delivery_log")]
          // A runner whose statement fails like a lost connection (not the rows' fault).
          const failing: SqlRunner = {
            query: () =>
              Promise.reject(Object.assign(new Error("connection lost"), { code: "08006" }))
          }
          const groupCommit = GroupCommit.make(failing, {
            maxBatch: 10,
            maxWaitMs: 1,
            maxInFlight: 1
          })
          const error = yield* Effect.promise(() =>
            groupCommit.submit(row("lost-1")).then(
              () => undefined,
              (e: unknown) => e
            )
          )
          expect(error).toBeInstanceOf(StoreUnavailable)
          expect([yield* count(sql, "postbacks"), yield* count(sql, "delivery_log")]).toEqual(
            before
          )
          yield* Effect.promise(() => groupCommit.close())
        })
      )
    }
  )

  layer(testReceiver(database, { WORKER_ENABLED: "false" }), {
    timeout: 120_000,
    excludeTestServices: true
  })(`delivery log over HTTP on ${database.name}`, (it) => {
    const body = (fields: Record<string, unknown> = {}) =>
      JSON.stringify(docsPostback({ payload: { user_id: "u-1", session_id: "s-1" }, ...fields }))
    const post = (url: string, text: string, headers: Record<string, string> = {}) =>
      Effect.promise(async () => {
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: text
        })
        return { status: response.status, body: (await response.json()) as { id?: number } }
      })

    it.effect(
      "accepted, duplicate and rejected deliveries each leave a row; a 401 stores nothing",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const first = yield* post(receiver.postbackUrl(), body())
          const second = yield* post(receiver.postbackUrl(), body())
          expect([first.status, second.status]).toEqual([200, 200])
          expect(second.body.id).toBe(first.body.id)
          const rejected = yield* post(receiver.postbackUrl(), body({ payout: "-1" }))
          expect(rejected.status).toBe(400)
          const logged = yield* deliveriesOf(receiver.sql, [first.body.id!, rejected.body.id!])
          expect(logged.map((d) => [Number(d.postback_id), d.source, d.http_status])).toEqual([
            [first.body.id, "post-json", 200],
            [first.body.id, "post-json", 200],
            [rejected.body.id, "post-json", 400]
          ])
          for (const d of logged) expect(Number(d.answer_ms)).toBeGreaterThanOrEqual(0)

          const before = [
            yield* count(receiver.sql, "postbacks"),
            yield* count(receiver.sql, "delivery_log")
          ]
          const wrong = yield* post(
            `${receiver.baseUrl}/postbacks?secret=${TEST_SECRET.replace("test", "best")}`,
            body({ offer_id: "401" }),
            { "x-postback-test": "1" }
          )
          expect(wrong.status).toBe(401)
          expect([
            yield* count(receiver.sql, "postbacks"),
            yield* count(receiver.sql, "delivery_log")
          ]).toEqual(before)
        })
    )

    it.effect(
      "the test header marks a postback as a test, apart from a real one with the same fields",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const fields = body({ offer_id: "test-1" })
          const test = yield* post(receiver.postbackUrl(), fields, { "x-postback-test": "1" })
          const real = yield* post(receiver.postbackUrl(), fields)
          expect([test.status, real.status]).toEqual([200, 200])
          expect(real.body.id).not.toBe(test.body.id)
          const rows = yield* Effect.promise(() =>
            receiver.sql.query<{ id: string; test: boolean; last_http_status: number }>(
              "SELECT id, test, last_http_status FROM postbacks WHERE id = ANY($1::bigint[]) ORDER BY id",
              [[test.body.id, real.body.id]]
            )
          )
          expect(rows.map((r) => [Number(r.id), r.test, r.last_http_status])).toEqual([
            [test.body.id, true, 200],
            [real.body.id, false, 200]
          ])
        })
    )
  })
}
