// The raw SQL runner gives the same row shapes on PostgreSQL (postgres.js,
// whose date parsing drizzle turns off) and on PGlite: normalised once, in
// Db/Database.ts, for every SQL module.
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { Database, parseTimestamp, postgresTarget } from "../src/Db/Database.ts"
import { insertPostbacks, textArray } from "../src/Ingest/InboxSql.ts"
import { testDatabases } from "./support/databases.ts"

const SHAPES = `
SELECT '0001-01-01T00:00:00Z'::timestamptz AS year_one,
       '2023-09-20T15:27:40.802Z'::timestamptz AS instant,
       '2023-09-20T15:27:40.802'::timestamp AS local,
       '0050-06-01'::date AS day,
       9007199254740993::bigint AS big,
       3::integer AS small,
       1.50::numeric AS amount,
       '{"a":"b","n":1}'::jsonb AS doc,
       true AS flag,
       NULL::timestamptz AS missing`

const expected = {
  year_one: new Date("0001-01-01T00:00:00.000Z"),
  instant: new Date("2023-09-20T15:27:40.802Z"),
  local: new Date("2023-09-20T15:27:40.802Z"),
  day: new Date("0050-06-01T00:00:00.000Z"),
  big: "9007199254740993",
  small: 3,
  amount: "1.50",
  doc: { a: "b", n: 1 },
  flag: true,
  missing: null
}

for (const database of testDatabases) {
  layer(database.layer(), { timeout: 60_000, excludeTestServices: true })(
    `row shapes on ${database.name}`,
    (it) => {
      it.effect(
        "dates of every year as Date, int8 and numeric as exact strings, jsonb parsed, in and out of a transaction",
        () =>
          Effect.gen(function* () {
            const { sql } = yield* Database
            const [row] = yield* Effect.promise(() => sql.query(SHAPES))
            expect(row).toEqual(expected)
            const [inTransaction] = yield* Effect.promise(() =>
              sql.transaction((tx) => tx.query(SHAPES))
            )
            expect(inTransaction).toEqual(expected)
          })
      )

      it.effect(
        "a batch keeps each row's own values whether a column is null in every row, in some, or in none",
        () =>
          Effect.gen(function* () {
            const { sql } = yield* Database
            const row = (key: string, flags: string | null, userId: string | null) => ({
              dedupKey: key,
              status: "pending" as const,
              source: "post-json" as const,
              offerId: "1511",
              advertiserName: "MomentScience",
              payout: "2.10",
              occurredAt: "2023-09-20T15:27:40.802Z",
              isLoyaltyBoost: true,
              payload: "{}",
              userId,
              deliveryCount: 1,
              flags,
              problems: null
            })
            const flag = JSON.stringify([
              { code: "payload_value_normalized", path: "p", message: "m" }
            ])
            // flags: null in every row; then in some; problems: null in every row throughout.
            yield* Effect.promise(() =>
              insertPostbacks(sql, [row("mixed-a", null, null), row("mixed-b", null, null)])
            )
            yield* Effect.promise(() =>
              insertPostbacks(sql, [
                row("mixed-c", null, "u1"),
                row("mixed-d", flag, null),
                row("mixed-e", null, "u3")
              ])
            )
            const read = yield* Effect.promise(() =>
              sql.query<{
                dedup_key: string
                flags: unknown
                errors: unknown
                user_id: string | null
              }>(
                "SELECT dedup_key, flags, errors, user_id FROM postbacks WHERE dedup_key LIKE 'mixed-%' ORDER BY dedup_key"
              )
            )
            expect(read).toEqual([
              { dedup_key: "mixed-a", flags: null, errors: null, user_id: null },
              { dedup_key: "mixed-b", flags: null, errors: null, user_id: null },
              { dedup_key: "mixed-c", flags: null, errors: null, user_id: "u1" },
              { dedup_key: "mixed-d", flags: JSON.parse(flag), errors: null, user_id: null },
              { dedup_key: "mixed-e", flags: null, errors: null, user_id: "u3" }
            ])
          })
      )

      it.effect(
        "a text[] written by textArray reads back element for element (quotes, backslashes, braces, NULL)",
        () =>
          Effect.gen(function* () {
            const { sql } = yield* Database
            const roundTrip = (values: ReadonlyArray<string | null>) =>
              Effect.promise(() =>
                sql.query<{ value: string | null }>(
                  "SELECT value FROM unnest($1::text[]) WITH ORDINALITY AS a(value, n) ORDER BY a.n",
                  [textArray(values)]
                )
              )
            const awkward = [
              'say "hi"',
              "back\\slash",
              "\\",
              '"',
              "{a,b}",
              "NULL",
              null,
              "",
              " spaced ",
              "comma,here",
              "é ✓ 😀",
              "line\nbreak\ttab"
            ]
            const rows = yield* roundTrip(awkward)
            expect(rows.map((r) => r.value)).toEqual(awkward)
            expect(yield* roundTrip([])).toEqual([])
            // Any text PostgreSQL can hold (no NUL, no lone surrogate).
            const storable = fc
              .string({ unit: "grapheme", maxLength: 12 })
              .filter((t) => !t.includes("\u0000"))
            const samples = fc.sample(
              fc.array(fc.option(storable, { nil: null }), { maxLength: 8 }),
              200
            )
            for (const values of samples) {
              expect((yield* roundTrip(values)).map((r) => r.value)).toEqual(values)
            }
          })
      )
    }
  )
}

describe("parseTimestamp", () => {
  it("reads PostgreSQL's text of a time stamp in any zone, BC included", () => {
    expect(parseTimestamp("2023-09-20 17:27:40.802123+02").toISOString()).toBe(
      "2023-09-20T15:27:40.802Z"
    )
    expect(parseTimestamp("0001-01-01 00:00:00+00").toISOString()).toBe("0001-01-01T00:00:00.000Z")
    expect(parseTimestamp("1900-01-01 00:00:00+00:53:28").toISOString()).toBe(
      "1899-12-31T23:06:32.000Z"
    )
    expect(parseTimestamp("0001-12-31 00:00:00+00 BC").getUTCFullYear()).toBe(0)
    expect(parseTimestamp("9999-12-31").toISOString()).toBe("9999-12-31T00:00:00.000Z")
  })
})

describe("the start-up line naming the database", () => {
  it("gives host, port and database, never the user or the password", () => {
    expect(
      postgresTarget("postgres://app:s3cr3t-pass@db.internal:6432/receiver?sslmode=require")
    ).toBe("db.internal:6432/receiver")
    expect(postgresTarget("postgresql://db.internal/receiver")).toBe("db.internal:5432/receiver")
    expect(postgresTarget("not a url")).toBe("(DATABASE_URL)")
  })
})
