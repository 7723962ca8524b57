// The CSV export over real HTTP, on PostgreSQL (server-side cursor) and
// PGlite (keyset pages): headers, RFC 4180 quoting read back by a CSV
// parser (Effect's Csv decoder), formula neutralisation, and a row count
// past several fetch chunks with no row repeated or lost.
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Csv } from "effect/encoding"
import { CSV_COLUMNS, EXPORT_CHUNK, neutralise } from "../src/Admin/Export.ts"
import { testDatabases } from "./support/databases.ts"
import { TEST_ADMIN_TOKEN, TestReceiver, testReceiver } from "./support/receiver.ts"

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }

const download = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url, { headers: admin })
    return { status: response.status, headers: response.headers, text: await response.text() }
  })

/** The CSV parsed back: the header row and the records as objects by column. */
const parse = (text: string) =>
  Effect.gen(function* () {
    const rows = yield* Stream.make(text).pipe(
      Stream.pipeThroughChannel(Csv.decodeString()),
      Stream.runCollect
    )
    const [header, ...records] = rows
    return {
      header,
      records: records.map((cells) =>
        Object.fromEntries(header!.map((name, i) => [name, cells[i]!]))
      ) as Array<Record<(typeof CSV_COLUMNS)[number], string>>
    }
  })

for (const database of testDatabases) {
  layer(testReceiver(database, { WORKER_ENABLED: "false" }), {
    timeout: 180_000,
    excludeTestServices: true
  })(`CSV export on ${database.name}`, (it) => {
    it.effect(
      "quoting survives a CSV parser; formulas are neutralised, negative numbers are not",
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const awkward = [
            { offer: "comma,offer", advertiser: 'Quote "Q" Inc', user: "line\nbreak" },
            { offer: '=HYPERLINK("http://x")', advertiser: "+cmd", user: "@SUM(A1)" },
            { offer: "-2+3", advertiser: "\tTabbed", user: "\rCarriage" },
            { offer: "Zoë 日本 🎉", advertiser: "Crème brûlée, Ltd.", user: "ünïcödé" }
          ]
          const ids: Array<number> = []
          for (const [i, a] of awkward.entries()) {
            const [row] = yield* Effect.promise(() =>
              receiver.sql.query<{ id: string }>(
                `INSERT INTO postbacks (dedup_key, status, source, offer_id, advertiser_name, payout, occurred_at,
                   is_loyalty_boost, user_id, received_at, delivery_count, errors, last_http_status, flags)
                 VALUES ($1, 'held', 'post-json', $2, $3, $4::numeric, '2026-05-01T12:00:00.123Z', true, $5,
                   $6::timestamptz, 2, $7::jsonb, 200, $8::jsonb) RETURNING id`,
                [
                  `csv-${i}`,
                  a.offer,
                  a.advertiser,
                  i === 2 ? "-1.00" : "2.10",
                  a.user,
                  `2033-01-01T00:00:0${i}.000Z`,
                  JSON.stringify([{ path: "payout", message: '=is above, "the"\nlimit' }]),
                  i === 0
                    ? JSON.stringify([
                        { code: "timestamp_defaulted", path: "timestamp", message: "x" },
                        { code: "macro_unreplaced", path: "payload.s", message: "y" }
                      ])
                    : null
                ]
              )
            )
            ids.push(Number(row!.id))
          }
          const response = yield* download(
            `${receiver.baseUrl}/api/postbacks/export.csv?receivedFrom=2033-01-01T00:00:00Z&receivedTo=2033-01-02T00:00:00Z`
          )
          expect(response.status).toBe(200)
          expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8")
          expect(response.headers.get("content-disposition")).toBe(
            'attachment; filename="postbacks-20330101T000000Z-20330102T000000Z.csv"'
          )
          // RFC 4180: CRLF after every record, the header first
          expect(response.text.startsWith(`${CSV_COLUMNS.join(",")}\r\n`)).toBe(true)
          expect(response.text.endsWith("\r\n")).toBe(true)
          const { header, records } = yield* parse(response.text)
          expect(header).toEqual([...CSV_COLUMNS])
          expect(records.map((r) => Number(r.id))).toEqual([...ids].reverse())
          const byId = new Map(records.map((r) => [Number(r.id), r]))
          const plain = byId.get(ids[0]!)!
          expect(plain).toMatchObject({
            offer_id: "comma,offer",
            advertiser_name: 'Quote "Q" Inc',
            user_id: "line\nbreak",
            payout: "2.10",
            event_time: "2026-05-01T12:00:00.123Z",
            received_at: "2033-01-01T00:00:00.000Z",
            delivery_status: "success",
            http_status: "200",
            status: "held",
            is_loyaltyboost: "true",
            deliveries: "2",
            points: "",
            source: "post-json",
            flags: "timestamp_defaulted;macro_unreplaced",
            // one line; a formula-looking message is neutralised
            error: 'payout: =is above, "the" limit',
            test: "false"
          })
          expect(byId.get(ids[1]!)).toMatchObject({
            offer_id: '\'=HYPERLINK("http://x")',
            advertiser_name: "'+cmd",
            user_id: "'@SUM(A1)"
          })
          expect(byId.get(ids[2]!)).toMatchObject({
            offer_id: "'-2+3",
            advertiser_name: "'\tTabbed",
            user_id: "'\rCarriage",
            // a plain negative number in a numeric column stays a number
            payout: "-1.00"
          })
          expect(byId.get(ids[3]!)).toMatchObject({
            offer_id: "Zoë 日本 🎉",
            advertiser_name: "Crème brûlée, Ltd.",
            user_id: "ünïcödé"
          })
          // the bytes are UTF-8
          expect(Buffer.from(response.text, "utf8").includes(Buffer.from("日本", "utf8"))).toBe(
            true
          )
        })
    )

    it.effect(
      `${EXPORT_CHUNK * 2 + 37} rows stream in order, none repeated or lost, filters applied`,
      () =>
        Effect.gen(function* () {
          const receiver = yield* TestReceiver
          const count = EXPORT_CHUNK * 2 + 37
          yield* Effect.promise(() =>
            receiver.sql.query(
              `INSERT INTO postbacks (dedup_key, status, source, offer_id, advertiser_name, payout, occurred_at,
                 is_loyalty_boost, user_id, received_at, last_http_status)
               SELECT 'bulk-' || g, CASE WHEN g % 10 = 0 THEN 'rejected' ELSE 'recorded' END, 'get', 'bulk', 'Bulk',
                 '1.00', '2026-01-01T00:00:00Z', false, 'u-' || g,
                 '2034-01-01T00:00:00Z'::timestamptz + (g / 3) * interval '1 second', 200
               FROM generate_series(1, $1::integer) AS g`,
              [count]
            )
          )
          const all = yield* download(`${receiver.baseUrl}/api/postbacks/export.csv?offerId=bulk`)
          expect(all.status).toBe(200)
          const parsed = yield* parse(all.text)
          expect(parsed.records).toHaveLength(count)
          const keys = parsed.records.map((r) => [r.received_at, Number(r.id)] as const)
          expect(new Set(keys.map(([, id]) => id)).size).toBe(count)
          for (let i = 1; i < keys.length; i++) {
            const [at, id] = keys[i]!
            const [prevAt, prevId] = keys[i - 1]!
            expect(at < prevAt || (at === prevAt && id < prevId)).toBe(true)
          }
          const rejected = yield* download(
            `${receiver.baseUrl}/api/postbacks/export.csv?offerId=bulk&status=rejected`
          )
          const rejectedRows = (yield* parse(rejected.text)).records
          expect(rejectedRows).toHaveLength(Math.floor(count / 10))
          expect(rejectedRows.every((r) => r.status === "rejected")).toBe(true)
          expect(rejected.headers.get("content-disposition")).toBe(
            'attachment; filename="postbacks-start-now.csv"'
          )
          // nothing matches: the header alone
          const none = yield* download(`${receiver.baseUrl}/api/postbacks/export.csv?offerId=none`)
          expect(none.text).toBe(`${CSV_COLUMNS.join(",")}\r\n`)
        })
    )
  })
}

describe("CSV cells", () => {
  it("neutralise: formula starts quoted, plain numbers in numeric columns kept", () => {
    for (const start of ["=", "+", "-", "@", "\t", "\r"]) {
      expect(neutralise("offer_id", `${start}x`)).toBe(`'${start}x`)
    }
    expect(neutralise("payout", "-1.00")).toBe("-1.00")
    expect(neutralise("points", "-21")).toBe("-21")
    // numeric column, but not a plain number: neutralised
    expect(neutralise("payout", "-1+1")).toBe("'-1+1")
    // a text column's number-looking cell is still neutralised
    expect(neutralise("offer_id", "-1.00")).toBe("'-1.00")
    expect(neutralise("offer_id", "a=b")).toBe("a=b")
  })
})
