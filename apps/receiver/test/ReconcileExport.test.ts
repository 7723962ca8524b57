// Reading MomentScience's postback history export (fixtures: a BOM,
// semicolons and decimal commas, time zones shifted three ways, currency
// signs, unknown labels, a broken line), and the `receiver reconcile`
// command line as a process on PostgreSQL: its report and its exit codes
// (0 nothing to act on, 2 lost or alarming, 1 an error), and --reingest.
import { spawn } from "node:child_process"
import { createReadStream } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { Database } from "../src/Db/Database.ts"
import {
  type ExportRecord,
  parseColumnsOption,
  parseExportTime,
  parsePayout,
  readExport
} from "../src/Reconcile/ExportCsv.ts"
import { makeIsolatedPostgres, testDatabaseUrl } from "./support/databases.ts"
import { testEnv } from "./support/env.ts"
import { TEST_SECRET, TestReceiver, testReceiver } from "./support/receiver.ts"

const appDir = fileURLToPath(new URL("..", import.meta.url))
const fixture = (name: string) =>
  fileURLToPath(new URL(`./fixtures/exports/${name}`, import.meta.url))

const read = (name: string, options: Parameters<typeof readExport>[1]) =>
  Effect.promise(async () => {
    const out: Array<ExportRecord> = []
    for await (const record of readExport(createReadStream(fixture(name)), options))
      out.push(record)
    return out.sort((a, b) => a.line - b.line)
  })

const failure = (name: string, options: Parameters<typeof readExport>[1]) =>
  Effect.promise(async () => {
    try {
      for await (const _ of readExport(createReadStream(fixture(name)), options)) {
      }
      return undefined
    } catch (error) {
      return error as { field: string; message: string }
    }
  })

/** The four conversions every fixture holds, whatever its form. */
const CONVERSIONS = [
  {
    occurredAt: "2023-09-20T15:27:40.000Z",
    offerId: "1511",
    payout: "2.10",
    deliveryStatus: "success",
    responseCode: 200,
    userId: "3410444"
  },
  {
    occurredAt: "2023-09-20T15:28:05.000Z",
    offerId: "1512",
    payout: "30.00",
    deliveryStatus: "failed",
    responseCode: 503,
    userId: "3410445"
  },
  {
    occurredAt: "2023-09-20T15:29:00.000Z",
    offerId: "1511",
    payout: "2.10",
    deliveryStatus: "failed",
    responseCode: null,
    userId: "3410446"
  },
  {
    occurredAt: "2023-09-20T15:31:10.000Z",
    offerId: "1513",
    payout: "1234.50",
    deliveryStatus: "success",
    responseCode: 200,
    userId: "3410447"
  }
]

const essentials = (records: ReadonlyArray<ExportRecord>) =>
  records.flatMap((record) =>
    record._tag === "Row"
      ? [
          {
            occurredAt: record.occurredAt.toISOString(),
            offerId: record.offerId,
            payout: record.payout,
            deliveryStatus: record.deliveryStatus,
            responseCode: record.responseCode,
            userId: record.userId
          }
        ]
      : []
  )

describe("Export reading", () => {
  it.effect("a BOM, semicolons, decimal commas, euro signs, Paris time and a broken line", () =>
    Effect.gen(function* () {
      const records = yield* read("dashboard-semicolons-bom.csv", {
        userIdKey: "user_id",
        timeZone: "Europe/Paris"
      })
      expect(essentials(records)).toEqual(
        // The fixture's third conversion has no response code: the same.
        CONVERSIONS
      )
      const broken = records.filter((record) => record._tag === "Unreadable")
      expect(broken).toEqual([
        { _tag: "Unreadable", line: 5, problem: "has 3 cells where the header has 7" }
      ])
      // A quoted separator stays in its cell.
      const acme = records.find((record) => record._tag === "Row" && record.offerId === "1512")
      expect(acme?._tag === "Row" && acme.advertiserName).toBe("Acme; Inc.")
    }).pipe(Effect.map(() => undefined))
  )

  it.effect(
    "ISO 8601 with offsets (one with milliseconds), dollar signs, an unknown column kept",
    () =>
      Effect.gen(function* () {
        const records = yield* read("iso-offsets-currency.csv", { userIdKey: "user_id" })
        const rows = essentials(records)
        expect(rows[0]!.occurredAt).toBe("2023-09-20T15:27:40.802Z")
        expect(rows.slice(1)).toEqual(
          CONVERSIONS.slice(1).map((c) => ({
            ...c,
            payout: c.payout === "2.10" ? "2.1" : c.payout
          }))
        )
        const first = records[0]!
        expect(first._tag === "Row" && first.extra).toEqual({ "Campaign Name": "Autumn" })
        expect(first._tag === "Row" && first.precision).toBe("millisecond")
      })
  )

  it.effect("the dashboard's display form in New York time", () =>
    Effect.gen(function* () {
      const records = yield* read("display-new-york.csv", {
        userIdKey: "user_id",
        timeZone: "America/New_York"
      })
      expect(essentials(records)).toEqual(CONVERSIONS)
      // In UTC the same file is four hours off: the zone is what makes it right.
      const utc = yield* read("display-new-york.csv", { userIdKey: "user_id" })
      expect(essentials(utc)[0]!.occurredAt).toBe("2023-09-20T11:27:40.000Z")
    })
  )

  it.effect("labels it does not know: a clear error, then --columns", () =>
    Effect.gen(function* () {
      const error = yield* failure("custom-labels.csv", { userIdKey: "user_id" })
      expect(error?.field).toBe("timestamp")
      expect(error?.message).toContain("--columns timestamp=<label>")
      expect(error?.message).toContain("When, Campaign, Brand, Revenue, Result, HTTP, Member")
      const records = yield* read("custom-labels.csv", {
        userIdKey: "user_id",
        columns: parseColumnsOption(
          "timestamp=When,offer_id=Campaign,advertiser_name=Brand,delivery_status=Result,response_code=HTTP,user_id=Member"
        )
      })
      expect(essentials(records)).toEqual(
        CONVERSIONS.slice(0, 2).map((c) => ({ ...c, payout: c.payout }))
      )
      const unknown = yield* failure("custom-labels.csv", {
        userIdKey: "user_id",
        columns: { offer_id: "Campain" }
      })
      expect(unknown?.field).toBe("columns")
      expect(unknown?.message).toContain("offer_id=Campain names no column")
      expect(() => parseColumnsOption("offerid=Campaign")).toThrow(/unknown field "offerid"/)
      const zone = yield* failure("display-new-york.csv", {
        userIdKey: "user_id",
        timeZone: "Mars/Olympus"
      })
      expect(zone?.field).toBe("time_zone")
    })
  )

  it("timestamps and payouts, one by one", () => {
    expect(parseExportTime("2023-09-20T15:27:40Z", "UTC")).toEqual({
      date: new Date("2023-09-20T15:27:40Z"),
      precision: "second"
    })
    expect(parseExportTime("9/20/2023 3:27 PM", "UTC")).toEqual({
      date: new Date("2023-09-20T15:27:00Z"),
      precision: "minute"
    })
    expect(parseExportTime("20 Sep 2023 15:27:40", "Asia/Kolkata")).toEqual({
      date: new Date("2023-09-20T09:57:40Z"),
      precision: "second"
    })
    // Winter time in Paris is UTC+1.
    expect(parseExportTime("2024-01-15 10:00:00", "Europe/Paris")).toEqual({
      date: new Date("2024-01-15T09:00:00Z"),
      precision: "second"
    })
    expect(parseExportTime("2023-02-30 10:00", "UTC")).toMatch(/not a valid date/)
    expect(parseExportTime("yesterday", "UTC")).toMatch(/not a timestamp/)
    expect(parsePayout("$1,234.50", ",")).toBe("1234.50")
    expect(parsePayout("1.234,50 €", ";")).toBe("1234.50")
    expect(parsePayout("2,10", ";")).toBe("2.10")
    expect(parsePayout("USD 0.5", ",")).toBe("0.5")
    expect(parsePayout("1,234", ",")).toBe("1234")
    expect(parsePayout("two", ",")).toEqual({ error: 'payout: "two" is not an amount' })
  })
})

/** `receiver reconcile ...` as a process; its exit code and output. */
const cli = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.promise(
    () =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          ["--conditions=@org/source", "--import", "tsx", "src/main.ts", "reconcile", ...args],
          {
            cwd: appDir,
            env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...testEnv(env) },
            stdio: ["ignore", "pipe", "pipe"]
          }
        )
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString()
        })
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString()
        })
        child.once("exit", (code) => resolve({ code, stdout, stderr }))
      })
  )

const store = (receiver: TestReceiver["Service"], conversion: (typeof CONVERSIONS)[number]) =>
  Effect.promise(async () => {
    const response = await fetch(receiver.postbackUrl(), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        offer_id: conversion.offerId,
        advertiser_name: "MomentScience",
        payout: conversion.payout,
        // MomentScience's own timestamps carry milliseconds; its export does not.
        timestamp: conversion.occurredAt.replace(".000Z", ".318Z"),
        is_loyaltyboost: "1",
        payload: { user_id: conversion.userId }
      })
    })
    expect(response.status).toBe(200)
    await response.text()
  })

describe.skipIf(testDatabaseUrl === undefined)("receiver reconcile (PostgreSQL)", () => {
  it.effect(
    "exit codes: 2 while conversions are lost, 0 once re-ingested, 1 on an error",
    () =>
      Effect.gen(function* () {
        const { url } = yield* makeIsolatedPostgres(testDatabaseUrl!)
        const context = yield* Layer.build(
          testReceiver({ name: "postgres", layer: () => Database.layerPostgres(url) })
        )
        const receiver = Context.get(context, TestReceiver)
        // The two conversions MomentScience delivered are stored.
        yield* store(receiver, CONVERSIONS[0]!)
        yield* store(receiver, CONVERSIONS[3]!)
        const env = { DATABASE_URL: url, POSTBACK_SECRET: TEST_SECRET }
        const file = fixture("display-new-york.csv")

        const lost = yield* cli([file, "--time-zone", "America/New_York"], env)
        expect(lost.code).toBe(2)
        expect(lost.stderr).toContain("2 conversions lost (32.10 USD)")
        expect(lost.stdout).toMatch(/LOST \(failed at MomentScience, absent here\)\s+2\s+32\.10/)
        expect(lost.stdout).toMatch(/delivered and stored\s+2\s+1236\.60/)

        const json = yield* cli([file, "--time-zone", "America/New_York", "--format", "json"], env)
        expect(json.code).toBe(2)
        const report = JSON.parse(json.stdout) as {
          summary: { categories: Record<string, { count: number }> }
          rows: Array<{ category: string; line: number; status: string | null }>
        }
        expect(report.rows.filter((row) => row.category === "lost").map((row) => row.line)).toEqual(
          [3, 4]
        )
        expect(report.rows.filter((row) => row.category === "delivered")).toHaveLength(2)

        const recovered = yield* cli(
          [file, "--time-zone", "America/New_York", "--reingest", "--url", receiver.baseUrl],
          env
        )
        expect(recovered.stderr).not.toContain("not re-ingested")
        expect(recovered.code).toBe(0)
        expect(recovered.stdout).toMatch(/recovered \(re-ingested from the export\)\s+2\s+32\.10/)

        // Run again: nothing lost; the recovered postbacks are known as such.
        const again = yield* cli(
          [
            file,
            "--time-zone",
            "America/New_York",
            "--reingest",
            "--url",
            receiver.baseUrl,
            "--format",
            "csv"
          ],
          env
        )
        expect(again.code).toBe(0)
        expect(again.stdout.split("\r\n")[0]).toBe(
          "category,line,event_time,offer_id,advertiser_name,payout,delivery_status,response_code,user_id,postback_id,status,points,mismatch,problem"
        )
        expect(again.stdout.match(/^recovered,/gm)).toHaveLength(2)
        const stored = yield* Effect.promise(() =>
          receiver.sql.query<{ n: string }>(
            "SELECT count(*)::text AS n FROM postbacks WHERE recovered_by IS NOT NULL"
          )
        )
        expect(stored[0]!.n).toBe("2")

        const bad = yield* cli([fixture("custom-labels.csv")], env)
        expect(bad.code).toBe(1)
        expect(bad.stderr).toContain("the export has no timestamp column")
        const badZone = yield* cli([file, "--time-zone", "Mars/Olympus"], env)
        expect(badZone.code).toBe(1)
        expect(badZone.stderr).toContain("time_zone")
      }).pipe(Effect.scoped),
    240_000
  )
})
