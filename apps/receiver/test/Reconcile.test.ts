// Reconciliation against generated MomentScience exports, on PostgreSQL and
// PGlite, with the whole receiver running (postbacks stored through the
// real ingest route, the worker crediting): a property over random inboxes,
// random losses and random identical conversions finds exactly the lost
// rows, and re-ingesting them twice credits each once.
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { reconcile } from "../src/Reconcile/Reconcile.ts"
import { reingest } from "../src/Reconcile/Recovery.ts"
import { allReportRows, type ReportRow } from "../src/Reconcile/Report.ts"
import { testDatabases } from "./support/databases.ts"
import { eventually, TestReceiver, testReceiver } from "./support/receiver.ts"

/** What happened to one conversion, at MomentScience and here. */
type Fate =
  | "delivered" // success there, stored here
  | "lost" // failed there, absent here
  | "afterFailure" // failed there, stored here
  | "unknown" // stored here, absent from the export
  | "missing" // success there, absent here

interface Conversion {
  readonly offerId: string
  readonly payout: string
  readonly time: Date
  readonly userId: string
  readonly fate: Fate
}

const ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"] as const

/** A wall-clock time in `timeZone`, in the dashboard's display form (`Sep 20, 2023, 3:27:40 PM`). */
const displayTime = (date: Date, timeZone: string): string =>
  new Intl.DateTimeFormat("en-US", {
    timeZone,
    month: "short",
    day: "numeric",
    year: "numeric",
    hour: "numeric",
    minute: "2-digit",
    second: "2-digit",
    hour12: true
  })
    .format(date)
    .replace(/\u202F/g, " ")

const groupArbitrary = fc.record({
  offerId: fc.constantFrom("1511", "1512", "2001"),
  payout: fc.constantFrom("2.10", "0.50", "30.00"),
  second: fc.integer({ min: 0, max: 3_599 }),
  // Identical conversions: same offer, payout and second (the export's
  // precision), each its own postback (another user).
  fates: fc.array(
    fc.constantFrom<Fate>("delivered", "delivered", "lost", "afterFailure", "unknown", "missing"),
    { minLength: 1, maxLength: 3 }
  ),
  ms: fc.integer({ min: 0, max: 999 })
})

const inboxArbitrary = fc.record({
  groups: fc.array(groupArbitrary, { minLength: 1, maxLength: 12 }),
  zone: fc.constantFrom(...ZONES),
  currency: fc.boolean(),
  semicolons: fc.boolean(),
  // A clock skew between the export and the stored timestamps: nothing
  // matches exactly, everything is paired within the tolerance.
  skewMs: fc.constantFrom(0, 0, 1_500)
})

let window = 0
let users = 0

const exportCsv = (
  conversions: ReadonlyArray<Conversion>,
  zone: string,
  currency: boolean,
  semicolons: boolean,
  skewMs: number
): { text: string; lines: Map<number, Conversion> } => {
  const separator = semicolons ? ";" : ","
  const quote = (cell: string) => (cell.includes(separator) ? `"${cell}"` : cell)
  const header = [
    "Event Timestamp",
    "Offer ID",
    "Advertiser Name",
    "Payout",
    "Delivery Status",
    "Response Code",
    "User ID"
  ]
  const out = [`\uFEFF${header.join(separator)}`]
  const lines = new Map<number, Conversion>()
  for (const conversion of conversions) {
    if (conversion.fate === "unknown") continue
    const success = conversion.fate === "delivered" || conversion.fate === "missing"
    const payout = semicolons ? conversion.payout.replace(".", ",") : conversion.payout
    out.push(
      [
        displayTime(new Date(conversion.time.getTime() + skewMs), zone),
        conversion.offerId,
        "Acme, Inc.",
        currency ? `$${payout}` : payout,
        success ? "Success" : "Failed",
        success ? "200" : "503",
        conversion.userId
      ]
        .map(quote)
        .join(separator)
    )
    lines.set(out.length, conversion)
  }
  return { text: `${out.join("\r\n")}\r\n`, lines }
}

async function* chunks(text: string): AsyncGenerator<Uint8Array> {
  const bytes = new TextEncoder().encode(text)
  // Odd chunk sizes: a record, a BOM or a UTF-8 character split between chunks.
  for (let i = 0; i < bytes.length; i += 97) yield bytes.subarray(i, i + 97)
}

const store = async (receiver: TestReceiver["Service"], conversion: Conversion) => {
  const response = await fetch(receiver.postbackUrl(), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      offer_id: conversion.offerId,
      advertiser_name: "Acme, Inc.",
      payout: conversion.payout,
      timestamp: conversion.time.toISOString(),
      is_loyaltyboost: "1",
      payload: { user_id: conversion.userId }
    })
  })
  expect(response.status).toBe(200)
  await response.text()
}

const creditsOf = async (receiver: TestReceiver["Service"], userIds: ReadonlyArray<string>) => {
  const rows = await receiver.sql.query<{ user_id: string; credits: string; points: string }>(
    `SELECT user_id, count(*)::text AS credits, sum(points)::text AS points FROM reward_transactions
     WHERE user_id = ANY($1::text[]) AND kind = 'credit' GROUP BY user_id`,
    [userIds]
  )
  return new Map(rows.map((row) => [row.user_id, row]))
}

for (const database of testDatabases) {
  layer(testReceiver(database), { timeout: 600_000, excludeTestServices: true })(
    `Reconciliation (${database.name})`,
    (it) => {
      it.effect(
        "payout and response-code mismatches are flagged, an unreadable line reported",
        () =>
          Effect.gen(function* () {
            const receiver = yield* TestReceiver
            const base = Date.UTC(2023, 0, 1) + window++ * 7_200_000
            const at = (second: number) => new Date(base + second * 1000 + 250)
            const stored: ReadonlyArray<Conversion> = [
              { offerId: "1511", payout: "2.10", time: at(10), userId: "m1", fate: "delivered" },
              { offerId: "1512", payout: "5.00", time: at(20), userId: "m2", fate: "delivered" }
            ]
            yield* Effect.promise(() => Promise.all(stored.map((c) => store(receiver, c))))
            const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, "Z")
            const text = [
              "Event Timestamp,Offer ID,Payout,Delivery Status,Response Code,User ID",
              // The receiver answered 200; the export says 204.
              `${iso(at(10))},1511,2.10,Success,204,m1`,
              // Same offer, user and second: another payout.
              `${iso(at(20))},1512,5.50,Success,200,m2`,
              `${iso(at(30))},1513,not-a-number,Failed,503,m3`
            ].join("\n")
            const summary = yield* Effect.promise(() =>
              reconcile(receiver.sql, chunks(text), {
                source: "mismatch.csv",
                userIdKey: "user_id"
              })
            )
            expect(summary.categories.delivered.count).toBe(1)
            expect(summary.responseCodeMismatches).toBe(1)
            expect(summary.categories.payout_mismatch).toEqual({ count: 1, payout: "5.50" })
            expect(summary.categories.unreadable.count).toBe(1)
            expect(summary.alarming).toBe(true)
            const rows = yield* Effect.promise(async () => {
              const all: Array<ReportRow> = []
              for await (const page of allReportRows(receiver.sql, summary.id)) all.push(...page)
              return all
            })
            const byLine = new Map(rows.map((row) => [row.line, row]))
            expect(byLine.get(2)).toMatchObject({
              category: "delivered",
              mismatch: "response_code"
            })
            expect(byLine.get(3)).toMatchObject({ category: "payout_mismatch", payout: "5.50" })
            expect(byLine.get(3)?.postbackId).not.toBeNull()
            expect(byLine.get(4)).toMatchObject({
              category: "unreadable",
              problem: 'payout: "not-a-number" is not an amount'
            })
          })
      )

      it.effect(
        "finds exactly the lost rows of random exports; re-ingesting twice credits each once",
        () =>
          Effect.gen(function* () {
            const receiver = yield* TestReceiver
            yield* Effect.promise(() =>
              fc.assert(
                fc.asyncProperty(
                  inboxArbitrary,
                  async ({ groups, zone, currency, semicolons, skewMs }) => {
                    // Each run its own two hours, far from the others'.
                    const base = Date.UTC(2024, 0, 1) + window++ * 7_200_000
                    const conversions: Array<Conversion> = groups.flatMap((group) =>
                      group.fates.map((fate) => ({
                        offerId: group.offerId,
                        payout: group.payout,
                        time: new Date(base + group.second * 1000 + group.ms),
                        userId: `u${users++}`,
                        fate
                      }))
                    )
                    for (const conversion of conversions) {
                      if (["delivered", "afterFailure", "unknown"].includes(conversion.fate)) {
                        await store(receiver, conversion)
                      }
                    }
                    const { text, lines } = exportCsv(
                      conversions,
                      zone,
                      currency,
                      semicolons,
                      skewMs
                    )
                    const summary = await reconcile(receiver.sql, chunks(text), {
                      source: "property.csv",
                      timeZone: zone,
                      userIdKey: "user_id",
                      ...(skewMs === 0 ? {} : { toleranceMs: 3_000 }),
                      from: new Date(base),
                      // (Past the hour by the skew; the next run starts an hour later.)
                      to: new Date(base + 3_605_000)
                    })
                    const count = (fate: Fate) => conversions.filter((c) => c.fate === fate).length
                    expect(summary.categories.unreadable.count).toBe(0)
                    expect(summary.categories.lost.count).toBe(count("lost"))
                    expect(summary.categories.missing.count).toBe(count("missing"))
                    expect(summary.categories.unknown.count).toBe(count("unknown"))
                    expect(summary.categories.delivered.count).toBe(count("delivered"))
                    expect(summary.categories.stored_after_failure.count).toBe(
                      count("afterFailure")
                    )
                    expect(summary.alarming).toBe(count("lost") + count("missing") > 0)

                    // The lost rows: identical conversions may swap lines, so
                    // compared by what identifies a conversion in the export.
                    const key = (c: {
                      offerId: string | null
                      payout: string | null
                      time: number
                    }) => `${c.offerId}|${Number(c.payout)}|${Math.floor(c.time / 1000)}`
                    const lost: Array<string> = []
                    for await (const page of allReportRows(receiver.sql, summary.id, "lost")) {
                      for (const row of page) {
                        expect(lines.has(row.line!)).toBe(true)
                        lost.push(
                          key({
                            offerId: row.offerId,
                            payout: row.payout,
                            time: Date.parse(row.occurredAt!)
                          })
                        )
                      }
                    }
                    const expected = conversions
                      .filter((c) => c.fate === "lost")
                      .map((c) => key({ ...c, time: c.time.getTime() + skewMs }))
                    expect(lost.sort()).toEqual(expected.sort())

                    // Re-ingest twice: the second run's deliveries are duplicates.
                    const target = { url: receiver.postbackUrl(), userIdKey: "user_id" }
                    const first = await reingest(receiver.sql, summary.id, target)
                    expect(first.failed).toEqual([])
                    expect(first.stored).toBe(count("lost"))
                    const second = await reingest(receiver.sql, summary.id, target)
                    expect(second.stored).toBe(0)
                    expect(second.duplicates).toBe(count("lost"))
                    expect(second.summary?.categories.lost.count).toBe(0)
                    expect(second.summary?.categories.recovered.count).toBe(count("lost"))
                  }
                ),
                { numRuns: 12 }
              )
            )
            // Every recovered conversion credited once (the worker settles
            // them in its own time), with its points: payout x 10.
            const recovered = yield* Effect.promise(() =>
              receiver.sql.query<{ user_id: string; payout: string }>(
                `SELECT user_id, payout::text AS payout FROM postbacks WHERE recovered_by IS NOT NULL`
              )
            )
            expect(recovered.length).toBeGreaterThan(0)
            const credits = yield* eventually(async () => {
              const found = await creditsOf(
                receiver,
                recovered.map((row) => row.user_id)
              )
              return found.size === recovered.length ? found : undefined
            })
            for (const row of recovered) {
              const credit = credits.get(row.user_id)!
              expect(credit.credits).toBe("1")
              expect(BigInt(credit.points)).toBe(BigInt(row.payout.replace(".", "")) / 10n)
            }
          })
      )
    }
  )
}
