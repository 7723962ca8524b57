// The console's history API over real HTTP, on PostgreSQL and PGlite: every
// filter, presets in a time zone (daylight saving days included), keyset
// pagination while rows arrive, summary and series figures, one postback's
// details, and the users lists. Each test keeps to rows of its own (a
// received range or an offer id nobody else uses), as the suite shares one
// database.
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { presetRange } from "../src/Admin/Filter.ts"
import { bucketStarts } from "../src/Admin/History.ts"
import type { SqlRunner } from "../src/Db/Database.ts"
import { testDatabases } from "./support/databases.ts"
import { TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

// biome-ignore lint/suspicious/noExplicitAny: JSON read by path in assertions
type Json = any
const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }

const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url, { headers: admin })
    const text = await response.text()
    return {
      status: response.status,
      headers: response.headers,
      body: (response.headers.get("content-type") ?? "").includes("json")
        ? (JSON.parse(text) as Json)
        : text
    }
  })

/** A postback row written directly, every column the history shows under control. */
interface Fixture {
  readonly key: string
  readonly receivedAt: string
  readonly status?: string
  readonly source?: string
  readonly offerId?: string | null
  readonly advertiser?: string | null
  readonly payout?: string | null
  readonly occurredAt?: string | null
  readonly loyaltyBoost?: boolean | null
  readonly userId?: string | null
  readonly deliveryCount?: number
  readonly flags?: ReadonlyArray<{ code: string; path: string; message: string }> | null
  readonly errors?: ReadonlyArray<{ path: string; message: string }> | null
  readonly lastError?: string | null
  readonly test?: boolean
  readonly lastHttpStatus?: number | null
}

const insert = async (sql: SqlRunner, rows: ReadonlyArray<Fixture>): Promise<Array<number>> => {
  const ids: Array<number> = []
  for (const f of rows) {
    const [row] = await sql.query<{ id: string }>(
      `INSERT INTO postbacks (dedup_key, status, source, offer_id, advertiser_name, payout, occurred_at,
         is_loyalty_boost, user_id, received_at, delivery_count, flags, errors, last_error, test, last_http_status)
       VALUES ($1, $2, $3, $4, $5, $6::numeric, $7::timestamptz, $8, $9, $10::timestamptz, $11, $12::jsonb, $13::jsonb, $14, $15, $16)
       RETURNING id`,
      [
        f.key,
        f.status ?? "recorded",
        f.source ?? "post-json",
        f.offerId === undefined ? "1511" : f.offerId,
        f.advertiser === undefined ? "MomentScience" : f.advertiser,
        f.payout === undefined ? "2.10" : f.payout,
        f.occurredAt === undefined ? f.receivedAt : f.occurredAt,
        f.loyaltyBoost === undefined ? true : f.loyaltyBoost,
        f.userId === undefined ? "u-1" : f.userId,
        f.receivedAt,
        f.deliveryCount ?? 1,
        f.flags === undefined || f.flags === null ? null : JSON.stringify(f.flags),
        f.errors === undefined || f.errors === null ? null : JSON.stringify(f.errors),
        f.lastError ?? null,
        f.test ?? false,
        f.lastHttpStatus === undefined ? 200 : f.lastHttpStatus
      ]
    )
    ids.push(Number(row!.id))
  }
  return ids
}

const credit = (sql: SqlRunner, postbackId: number, userId: string, points: bigint) =>
  sql.query(
    `INSERT INTO reward_transactions (postback_id, user_id, points, payout, explanation)
     VALUES ($1, $2, $3::bigint, '2.10', '{}'::jsonb)`,
    [postbackId, userId, points.toString()]
  )

/** Every page of a list, following `nextCursor`. */
const allPages = (url: string) =>
  Effect.gen(function* () {
    const items: Array<Json> = []
    let cursor: string | null = null
    for (let n = 0; n < 100; n++) {
      const page: { status: number; body: Json } = yield* get(
        cursor === null ? url : `${url}&cursor=${encodeURIComponent(cursor)}`
      )
      expect(page.status, `${url}: ${JSON.stringify(page.body)}`).toBe(200)
      items.push(...page.body.items)
      cursor = page.body.nextCursor
      if (cursor === null) return items
    }
    throw new Error("more than 100 pages")
  })

describe("presets and buckets in a time zone", () => {
  it("a preset's days are local days: 23 hours on the spring-forward day, 25 on the fall-back day", () => {
    const newYork = "America/New_York"
    const spring = presetRange("today", new Date("2026-03-08T15:00:00Z"), newYork)
    expect([spring.from.toISOString(), spring.to.toISOString()]).toEqual([
      "2026-03-08T05:00:00.000Z",
      "2026-03-09T04:00:00.000Z"
    ])
    const fall = presetRange("today", new Date("2026-11-01T15:00:00Z"), newYork)
    expect(fall.to.getTime() - fall.from.getTime()).toBe(25 * 3_600_000)
    // a quarter past midnight local time is still "today" there, "yesterday" in UTC terms
    const early = presetRange("yesterday", new Date("2026-03-10T04:15:00Z"), newYork)
    expect([early.from.toISOString(), early.to.toISOString()]).toEqual([
      "2026-03-09T04:00:00.000Z",
      "2026-03-10T04:00:00.000Z"
    ])
    const week = presetRange("last_7_days", new Date("2026-03-10T15:00:00Z"), newYork)
    expect([week.from.toISOString(), week.to.toISOString()]).toEqual([
      "2026-03-04T05:00:00.000Z",
      "2026-03-11T04:00:00.000Z"
    ])
    const lastMonth = presetRange("last_month", new Date("2026-03-01T04:59:00Z"), newYork)
    expect([lastMonth.from.toISOString(), lastMonth.to.toISOString()]).toEqual([
      "2026-01-01T05:00:00.000Z",
      "2026-02-01T05:00:00.000Z"
    ])
    const thisMonth = presetRange("this_month", new Date("2026-03-31T12:00:00Z"), "UTC")
    expect([thisMonth.from.toISOString(), thisMonth.to.toISOString()]).toEqual([
      "2026-03-01T00:00:00.000Z",
      "2026-04-01T00:00:00.000Z"
    ])
    const last30 = presetRange("last_30_days", new Date("2026-03-31T12:00:00Z"), "Asia/Kolkata")
    expect([last30.from.toISOString(), last30.to.toISOString()]).toEqual([
      "2026-03-01T18:30:00.000Z",
      "2026-03-31T18:30:00.000Z"
    ])
  })

  it("hour buckets count elapsed hours; day buckets are local midnights", () => {
    const hours = bucketStarts(
      "hour",
      new Date("2026-11-01T04:00:00Z"),
      new Date("2026-11-01T08:00:00Z"),
      "America/New_York"
    )!
    // 00:00 EDT, 01:00 EDT, 01:00 EST, 02:00 EST, then the end
    expect(hours.map((d) => d.toISOString())).toEqual([
      "2026-11-01T04:00:00.000Z",
      "2026-11-01T05:00:00.000Z",
      "2026-11-01T06:00:00.000Z",
      "2026-11-01T07:00:00.000Z",
      "2026-11-01T08:00:00.000Z"
    ])
    const days = bucketStarts(
      "day",
      new Date("2026-03-07T12:00:00Z"),
      new Date("2026-03-09T12:00:00Z"),
      "America/New_York"
    )!
    expect(days.map((d) => d.toISOString())).toEqual([
      "2026-03-07T05:00:00.000Z",
      "2026-03-08T05:00:00.000Z",
      "2026-03-09T04:00:00.000Z",
      "2026-03-10T04:00:00.000Z"
    ])
    expect(
      bucketStarts(
        "hour",
        new Date("2026-01-01T00:00:00Z"),
        new Date("2027-01-01T00:00:00Z"),
        "UTC"
      )
    ).toBeUndefined()
  })
})

for (const database of testDatabases) {
  layer(testReceiver(database, { WORKER_ENABLED: "false" }), {
    timeout: 120_000,
    excludeTestServices: true
  })(`history API on ${database.name}`, (it) => {
    it.effect("every filter selects exactly the rows it names", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const t = (minute: number) => `2030-01-01T00:${String(minute).padStart(2, "0")}:00.000Z`
        const rows: ReadonlyArray<Fixture> = [
          { key: "f-0", receivedAt: t(0), status: "credited", offerId: "o-1", userId: "alice" },
          {
            key: "f-1",
            receivedAt: t(1),
            status: "held",
            advertiser: "ACME Corp",
            errors: [{ path: "payout", message: "is above PAYOUT_HOLD_ABOVE" }]
          },
          {
            key: "f-2",
            receivedAt: t(2),
            status: "rejected",
            offerId: null,
            advertiser: null,
            payout: null,
            occurredAt: null,
            loyaltyBoost: null,
            userId: null,
            source: "get",
            lastHttpStatus: 400,
            errors: [{ path: "payout", message: "is required" }]
          },
          { key: "f-3", receivedAt: t(3), status: "dead", lastError: "boom\nsecond line" },
          {
            key: "f-4",
            receivedAt: t(4),
            status: "pending",
            source: "get-template",
            loyaltyBoost: false,
            flags: [{ code: "timestamp_defaulted", path: "timestamp", message: "missing" }]
          },
          {
            key: "f-5",
            receivedAt: t(5),
            status: "recorded",
            source: "post-form",
            test: true,
            occurredAt: "2029-12-31T23:00:00.000Z"
          },
          {
            key: "f-6",
            receivedAt: t(6),
            status: "unattributed",
            advertiser: "acme corp",
            userId: null
          },
          { key: "f-7", receivedAt: t(7), status: "credited", offerId: "o-1", userId: "bob" }
        ]
        const ids = yield* Effect.promise(() => insert(receiver.sql, rows))
        const idOf = (key: string) => ids[rows.findIndex((r) => r.key === key)]!
        const window = `receivedFrom=${t(0)}&receivedTo=${t(8)}`
        const listed = (query: string) =>
          Effect.map(allPages(`${receiver.baseUrl}/api/postbacks?${window}&${query}`), (items) =>
            items.map((item: Json) => item.id)
          )
        const expectKeys = (keys: ReadonlyArray<string>) => keys.map(idOf)

        // newest first
        expect(yield* listed("limit=3")).toEqual(
          expectKeys(["f-7", "f-6", "f-5", "f-4", "f-3", "f-2", "f-1", "f-0"])
        )
        const narrower = yield* allPages(
          `${receiver.baseUrl}/api/postbacks?receivedFrom=${t(2)}&receivedTo=${t(4)}`
        )
        expect(narrower.map((item: Json) => item.id)).toEqual(expectKeys(["f-3", "f-2"]))
        // a preset and a range together: their intersection (here, nothing: 2030 is not today)
        expect(yield* listed("preset=today")).toEqual([])
        expect(yield* listed("status=held,dead")).toEqual(expectKeys(["f-3", "f-1"]))
        expect(yield* listed("offerId=o-1")).toEqual(expectKeys(["f-7", "f-0"]))
        expect(yield* listed("advertiser=AcMe%20cOrP")).toEqual(expectKeys(["f-6", "f-1"]))
        expect(yield* listed("userId=bob")).toEqual(expectKeys(["f-7"]))
        expect(yield* listed("loyaltyBoost=false")).toEqual(expectKeys(["f-4"]))
        expect(yield* listed("source=get")).toEqual(expectKeys(["f-2"]))
        expect(yield* listed("source=post-form")).toEqual(expectKeys(["f-5"]))
        expect(yield* listed("flagged=true")).toEqual(expectKeys(["f-4"]))
        expect((yield* listed("flagged=false")).length).toBe(7)
        expect(yield* listed("test=true")).toEqual(expectKeys(["f-5"]))
        expect((yield* listed("test=false")).length).toBe(7)
        expect(
          yield* listed("occurredFrom=2029-12-31T22:00:00Z&occurredTo=2030-01-01T00:00:00Z")
        ).toEqual(expectKeys(["f-5"]))
        // filters combine
        expect(yield* listed("status=credited&userId=alice&offerId=o-1")).toEqual(
          expectKeys(["f-0"])
        )

        const page = yield* get(`${receiver.baseUrl}/api/postbacks?${window}&limit=500`)
        const byId = new Map<number, Json>(page.body.items.map((item: Json) => [item.id, item]))
        expect(byId.get(idOf("f-3")).error).toBe("boom second line")
        expect(byId.get(idOf("f-1")).error).toBe("payout: is above PAYOUT_HOLD_ABOVE")
        expect(byId.get(idOf("f-2"))).toMatchObject({
          status: "rejected",
          offerId: null,
          payout: null,
          lastHttpStatus: 400,
          error: "payout: is required",
          flags: [],
          points: null,
          test: false
        })
        expect(byId.get(idOf("f-4")).flags).toEqual([
          { code: "timestamp_defaulted", path: "timestamp", message: "missing" }
        ])
        expect(byId.get(idOf("f-5")).test).toBe(true)
        expect(Object.keys(byId.get(idOf("f-0"))).sort()).toEqual(
          [
            "id",
            "receivedAt",
            "occurredAt",
            "offerId",
            "advertiserName",
            "payout",
            "isLoyaltyBoost",
            "userId",
            "status",
            "source",
            "lastHttpStatus",
            "deliveryCount",
            "points",
            "flags",
            "error",
            "test"
          ].sort()
        )
      })
    )

    it.effect("a filter value that is not valid is a 400 naming the field", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        for (const [query, field] of [
          ["status=held,bogus", "status"],
          ["timeZone=Mars/Olympus_Mons", "timeZone"],
          ["receivedFrom=yesterday", "receivedFrom"],
          ["occurredTo=2026-01-01", "occurredTo"],
          ["preset=fortnight", "preset"],
          ["source=carrier-pigeon", "source"],
          ["loyaltyBoost=maybe", "loyaltyBoost"],
          ["limit=0", "limit"],
          ["cursor=not-a-cursor!", "cursor"],
          ["cursor=Zm9v", "cursor"]
        ] as const) {
          const response = yield* get(`${receiver.baseUrl}/api/postbacks?${query}`)
          expect(response.status, query).toBe(400)
          expect(response.body.error).toBe("invalid_request")
          expect(response.body.issues.map((i: Json) => i.path)).toContain(field)
        }
        const series = yield* get(
          `${receiver.baseUrl}/api/postbacks/series?bucket=hour&receivedFrom=2020-01-01T00:00:00Z&receivedTo=2026-01-01T00:00:00Z`
        )
        expect(series.status).toBe(400)
        expect(series.body.issues.map((i: Json) => i.path)).toEqual(["bucket"])
      })
    )

    it.effect("a preset is the local day of the time zone asked for", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const now = Date.now()
        const ids = yield* Effect.promise(() =>
          insert(receiver.sql, [
            { key: "p-now", receivedAt: new Date(now).toISOString(), offerId: "preset-test" },
            {
              key: "p-old",
              receivedAt: new Date(now - 3 * 86_400_000).toISOString(),
              offerId: "preset-test"
            }
          ])
        )
        for (const zone of ["America/New_York", "Asia/Tokyo", "UTC"]) {
          const today = yield* get(
            `${receiver.baseUrl}/api/postbacks?offerId=preset-test&preset=today&timeZone=${zone}`
          )
          expect(today.body.items.map((i: Json) => i.id)).toEqual([ids[0]])
          const week = yield* get(
            `${receiver.baseUrl}/api/postbacks?offerId=preset-test&preset=last_7_days&timeZone=${zone}`
          )
          expect(week.body.items.map((i: Json) => i.id)).toEqual([ids[0], ids[1]])
          const summary = yield* get(
            `${receiver.baseUrl}/api/postbacks/summary?offerId=preset-test&preset=today&timeZone=${zone}`
          )
          const range = presetRange("today", new Date(), zone)
          expect(summary.body).toMatchObject({
            total: 1,
            timeZone: zone,
            from: range.from.toISOString(),
            to: range.to.toISOString()
          })
        }
      })
    )

    it.effect(
      "keyset pages while rows arrive: no row that existed at the start repeats or is skipped",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          // 60 rows, in groups of 3 with the same received time (the id breaks the tie)
          const fixtures: Array<Fixture> = Array.from({ length: 60 }, (_, i) => ({
            key: `page-${i}`,
            receivedAt: new Date(Date.UTC(2031, 0, 1, 0, 0, Math.floor(i / 3))).toISOString(),
            advertiser: "PagingCo"
          }))
          const existing = yield* Effect.promise(() => insert(receiver.sql, fixtures))
          // Rows keep arriving while the pages are read: new ones (now), and
          // late ones whose received time falls among the existing rows.
          let n = 0
          const arrivals = yield* Effect.forkChild(
            Effect.forever(
              Effect.promise(() =>
                insert(receiver.sql, [
                  {
                    key: `arrival-${n++}`,
                    receivedAt: new Date().toISOString(),
                    advertiser: "PagingCo"
                  },
                  {
                    key: `late-${n}`,
                    receivedAt: new Date(Date.UTC(2031, 0, 1, 0, 0, 10, 500)).toISOString(),
                    advertiser: "PagingCo"
                  }
                ])
              )
            )
          )
          const seen: Array<number> = []
          let cursor: string | null = null
          for (let pages = 0; pages < 1000; pages++) {
            const page: { body: Json } = yield* get(
              `${receiver.baseUrl}/api/postbacks?advertiser=PagingCo&limit=7${cursor === null ? "" : `&cursor=${cursor}`}`
            )
            seen.push(...page.body.items.map((i: Json) => i.id))
            cursor = page.body.nextCursor
            if (cursor === null) break
          }
          yield* Fiber.interrupt(arrivals)
          expect(n).toBeGreaterThan(0)
          expect(new Set(seen).size).toBe(seen.length)
          const seenSet = new Set(seen)
          expect(existing.filter((id) => !seenSet.has(id))).toEqual([])
          // the existing rows came newest first, ties by id descending
          const order = seen.filter((id) => existing.includes(id))
          const expected = fixtures
            .map((f, i) => ({ at: f.receivedAt, id: existing[i]! }))
            .sort((a, b) => (a.at === b.at ? b.id - a.id : a.at < b.at ? 1 : -1))
            .map((r) => r.id)
          expect(order).toEqual(expected)
        })
    )

    it.effect("summary and series: exact sums, every bucket, zeros included", () =>
      Effect.gen(function* () {
        const receiver = yield* TestReceiver
        const ids = yield* Effect.promise(() =>
          insert(receiver.sql, [
            // Mar 8 01:30 EST (the spring-forward day in New York)
            {
              key: "s-0",
              receivedAt: "2026-03-08T06:30:00Z",
              offerId: "series",
              status: "credited",
              payout: "1000000000000.01",
              userId: "s-alice",
              deliveryCount: 3
            },
            // Mar 8 23:30 EDT
            {
              key: "s-1",
              receivedAt: "2026-03-09T03:30:00Z",
              offerId: "series",
              status: "credited",
              payout: "0.35",
              userId: "s-bob"
            },
            // Mar 9 00:30 EDT
            {
              key: "s-2",
              receivedAt: "2026-03-09T04:30:00Z",
              offerId: "series",
              status: "rejected",
              payout: null,
              userId: null,
              deliveryCount: 2
            },
            {
              key: "s-3",
              receivedAt: "2026-03-09T05:00:00Z",
              offerId: "series",
              status: "held",
              payout: "2.10",
              userId: "s-alice"
            }
          ])
        )
        yield* Effect.promise(async () => {
          await credit(receiver.sql, ids[0]!, "s-alice", BigInt("10000000000000100"))
          await credit(receiver.sql, ids[1]!, "s-bob", BigInt(3))
        })
        const range = "receivedFrom=2026-03-07T05:00:00Z&receivedTo=2026-03-10T04:00:00Z"
        const summary = yield* get(
          `${receiver.baseUrl}/api/postbacks/summary?offerId=series&${range}&timeZone=America/New_York`
        )
        expect(summary.status).toBe(200)
        expect(summary.body).toEqual({
          total: 4,
          byStatus: { credited: 2, rejected: 1, held: 1 },
          payoutTotal: "1000000000002.46",
          pointsTotal: "10000000000000103",
          duplicates: 3,
          distinctUsers: 2,
          from: "2026-03-07T05:00:00.000Z",
          to: "2026-03-10T04:00:00.000Z",
          timeZone: "America/New_York"
        })
        const days = yield* get(
          `${receiver.baseUrl}/api/postbacks/series?offerId=series&${range}&timeZone=America/New_York&bucket=day`
        )
        expect(days.status).toBe(200)
        expect(days.body.bucket).toBe("day")
        expect(
          days.body.buckets.map((b: Json) => [
            b.start,
            b.byStatus.credited,
            b.byStatus.rejected,
            b.byStatus.held,
            b.byStatus.dead
          ])
        ).toEqual([
          ["2026-03-07T05:00:00.000Z", 0, 0, 0, 0],
          ["2026-03-08T05:00:00.000Z", 2, 0, 0, 0],
          ["2026-03-09T04:00:00.000Z", 0, 1, 1, 0]
        ])
        const hours = yield* get(
          `${receiver.baseUrl}/api/postbacks/series?offerId=series&receivedFrom=2026-03-09T03:00:00Z&receivedTo=2026-03-09T06:00:00Z&timeZone=America/New_York&bucket=hour`
        )
        expect(
          hours.body.buckets.map((b: Json) => [
            b.start,
            Object.values(b.byStatus).reduce((a: number, c) => a + (c as number), 0)
          ])
        ).toEqual([
          ["2026-03-09T03:00:00.000Z", 1],
          ["2026-03-09T04:00:00.000Z", 1],
          ["2026-03-09T05:00:00.000Z", 1]
        ])
        // an empty selection: zero figures, exact zero sums
        const none = yield* get(
          `${receiver.baseUrl}/api/postbacks/summary?offerId=no-such-offer&${range}`
        )
        expect(none.body).toMatchObject({
          total: 0,
          byStatus: {},
          payoutTotal: "0",
          pointsTotal: "0",
          duplicates: 0,
          distinctUsers: 0
        })
      })
    )

    it.effect(
      "one postback: its deliveries from the log, points from the ledger, test mark and audit trail",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const send = () =>
            Effect.promise(async () => {
              const response = await fetch(receiver.postbackUrl(), {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({
                  offer_id: "detail",
                  payout: "2.10",
                  timestamp: "2026-02-01T00:00:00.000Z",
                  is_loyaltyboost: "1",
                  payload: { user_id: "d-user" }
                })
              })
              return (await response.json()) as { id: number }
            })
          const first = yield* send()
          yield* send()
          yield* Effect.promise(() => credit(receiver.sql, first.id, "d-user", BigInt(21)))
          const detail = yield* get(`${receiver.baseUrl}/api/postbacks/${first.id}`)
          expect(detail.status).toBe(200)
          expect(detail.body).toMatchObject({
            id: first.id,
            offerId: "detail",
            deliveryCount: 2,
            points: "21",
            test: false,
            lastHttpStatus: 200,
            actions: []
          })
          expect(detail.body.deliveries).toHaveLength(2)
          // newest first: the retry's log row, then the first delivery, kept on the postback row
          expect(detail.body.deliveries[0].id).toEqual(expect.any(Number))
          expect(detail.body.deliveries[1].id).toBeNull()
          expect(Date.parse(detail.body.deliveries[0].receivedAt)).toBeGreaterThanOrEqual(
            Date.parse(detail.body.deliveries[1].receivedAt)
          )
          for (const d of detail.body.deliveries) {
            expect(d).toMatchObject({ source: "post-json", httpStatus: 200 })
            expect(typeof d.answerMs).toBe("number")
            expect(d.receivedAt).toMatch(/Z$/)
          }
          expect(detail.body.transactions).toEqual([
            expect.objectContaining({
              kind: "credit",
              userId: "d-user",
              points: "21",
              payout: "2.10"
            })
          ])
          const missing = yield* get(`${receiver.baseUrl}/api/postbacks/999999999`)
          expect(missing.status).toBe(404)
        })
    )

    it.effect(
      "users: searched by part of the id, keyset pages; a user's transactions page by id",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const users = ["zq-Anna", "zq-bert", "zq-Carla", "zq-dora", "other-zq-ed"]
          const postbackIds = yield* Effect.promise(() =>
            insert(
              receiver.sql,
              users.map((userId, i) => ({
                key: `user-${i}`,
                receivedAt: "2032-01-01T00:00:00Z",
                userId,
                status: "credited"
              }))
            )
          )
          yield* Effect.promise(async () => {
            for (const [i, userId] of users.entries()) {
              await receiver.sql.query(
                "INSERT INTO accounts (user_id, balance) VALUES ($1, $2::bigint)",
                [userId, String(10 * (i + 1))]
              )
              await credit(receiver.sql, postbackIds[i]!, userId, BigInt(10 * (i + 1)))
            }
          })
          const found = yield* allPages(`${receiver.baseUrl}/api/users?search=ZQ-&limit=2`)
          expect(found.map((u: Json) => u.userId).sort()).toEqual([...users].sort())
          expect(new Set(found.map((u: Json) => u.userId)).size).toBe(users.length)
          const anna = found.find((u: Json) => u.userId === "zq-Anna")
          expect(anna.balance).toBe("10")
          expect(anna.updatedAt).toMatch(/Z$/)
          const some = yield* get(`${receiver.baseUrl}/api/users?search=DOR`)
          expect(some.body.items.map((u: Json) => u.userId)).toEqual(["zq-dora"])

          // one user with several ledger entries, paged newest first
          const more = yield* Effect.promise(() =>
            insert(
              receiver.sql,
              [0, 1, 2, 3].map((i) => ({
                key: `tx-${i}`,
                receivedAt: "2032-01-02T00:00:00Z",
                userId: "zq-multi",
                status: "credited"
              }))
            )
          )
          yield* Effect.promise(async () => {
            for (const id of more) await credit(receiver.sql, id, "zq-multi", BigInt(5))
          })
          const transactions = yield* allPages(
            `${receiver.baseUrl}/api/users/zq-multi/transactions?limit=3`
          )
          expect(transactions.map((t: Json) => t.postbackId)).toEqual([...more].reverse())
          expect(transactions.every((t: Json) => t.points === "5")).toBe(true)
          const bad = yield* get(`${receiver.baseUrl}/api/users/zq-multi/transactions?cursor=abc`)
          expect(bad.status).toBe(400)
          expect(bad.body.issues.map((i: Json) => i.path)).toEqual(["cursor"])
        })
    )
  })
}
