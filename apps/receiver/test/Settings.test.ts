import { spawn } from "node:child_process"
import { mkdtempSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it, layer } from "@effect/vitest"
import { samplePostback, sendOnce } from "@org/postback-sender"
import { Effect, Layer, Redacted, Result } from "effect"
import postgres from "postgres"
import { ReceiverConfig } from "../src/Config.ts"
import { IngestCore } from "../src/Ingest/Ingest.ts"
import { Secrets } from "../src/Secrets.ts"
import { makeIsolatedPostgres, testDatabases, testDatabaseUrl } from "./support/databases.ts"
import { TEST_ADMIN_TOKEN } from "./support/env.ts"
import { eventually, TestReceiver, testReceiver } from "./support/receiver.ts"

const TEMPLATE =
  "https://receiver.example.com/postbacks?amount={payout}&uid={user_id}&oid={offer_id}&ts={timestamp}&adv={advertiser_name}&lb={is_loyaltyboost}"

const configError = (values: Record<string, string>) =>
  Effect.gen(function* () {
    const result = yield* Effect.result(
      Effect.gen(function* () {
        yield* ReceiverConfig
        yield* IngestCore
      }).pipe(
        Effect.provide(
          IngestCore.layer.pipe(
            Layer.provideMerge(Secrets.layer),
            Layer.provideMerge(
              ReceiverConfig.fromRecord({
                RECEIVER_DATA_DIR: mkdtempSync(join(tmpdir(), "receiver-settings-")),
                ...values
              })
            )
          )
        )
      )
    )
    return Result.isFailure(result) ? String(result.failure) : "no error"
  })

describe("settings", () => {
  it.effect("a bad value fails start-up with a message naming the variable", () =>
    Effect.gen(function* () {
      expect(yield* configError({ PORT: "eighty" })).toContain("PORT")
      expect(yield* configError({ POINTS_PER_USD: "1e3" })).toMatch(/POINTS_PER_USD.*"1e3"/)
      expect(yield* configError({ POSTBACK_SECRET: "short" })).toContain(
        "POSTBACK_SECRET must be at least 16 characters"
      )
      for (const name of ["POSTBACK_SECRET", "ADMIN_TOKEN"]) {
        for (const value of [
          "Pub+Secret/2024==abc",
          "has a space in it 123",
          "per%cent-0123456789"
        ]) {
          expect(yield* configError({ [name]: value })).toContain(
            `${name} may hold only A-Z a-z 0-9 - . _ ~`
          )
        }
      }
      expect(yield* configError({ USER_ID_KEY: "user id" })).toContain("USER_ID_KEY")
      expect(yield* configError({ WORKER_BATCH_SIZE: "0" })).toContain("WORKER_BATCH_SIZE")
      expect(yield* configError({ POSTBACK_TEMPLATE: "https://x.example/pb?a={payout" })).toContain(
        "POSTBACK_TEMPLATE"
      )
      expect(
        yield* configError({ POSTBACK_TEMPLATE: "https://x.example/elsewhere?a={payout}" })
      ).toMatch(/POSTBACK_TEMPLATE.*path must be \/postbacks/)
      expect(yield* configError({})).toBe("no error")
    })
  )

  it.effect(
    "without POSTBACK_SECRET and ADMIN_TOKEN, strong ones are generated once and kept",
    () =>
      Effect.gen(function* () {
        const dataDir = mkdtempSync(join(tmpdir(), "receiver-secrets-"))
        const read = Effect.provide(
          Secrets,
          Secrets.layer.pipe(
            Layer.provide(ReceiverConfig.fromRecord({ RECEIVER_DATA_DIR: dataDir }))
          )
        )
        const first = yield* read
        const second = yield* read
        expect(first.generated).toEqual({ postbackSecret: true, adminToken: true })
        expect(second.generated).toEqual({ postbackSecret: false, adminToken: false })
        expect(Redacted.value(second.postbackSecret)).toBe(Redacted.value(first.postbackSecret))
        expect(Redacted.value(first.postbackSecret)).toMatch(/^[A-Za-z0-9_-]{43}$/)
        expect(Redacted.value(first.adminToken)).not.toBe(Redacted.value(first.postbackSecret))
        expect(statSync(first.file).mode & 0o777).toBe(0o600)
        // a configured value wins over the kept one
        const configured = yield* Effect.provide(
          Secrets,
          Secrets.layer.pipe(
            Layer.provide(
              ReceiverConfig.fromRecord({
                RECEIVER_DATA_DIR: dataDir,
                POSTBACK_SECRET: "configured-secret-1234"
              })
            )
          )
        )
        expect(Redacted.value(configured.postbackSecret)).toBe("configured-secret-1234")
      })
  )
})

const database = testDatabases[0]!
layer(testReceiver(database, { POSTBACK_TEMPLATE: TEMPLATE }), {
  timeout: 60_000,
  excludeTestServices: true
})("GET with a registered macro template", (it) => {
  it.effect("maps the template's parameter names back to fields and credits", () =>
    Effect.gen(function* () {
      const receiver = yield* TestReceiver
      const query =
        "oid=1511&uid=template-user&amount=2.10&ts=2023-09-20T15%3A27%3A40.802Z&adv=Moment%20Science%20%26%20Co&lb=1"
      const response = yield* Effect.promise(() => fetch(receiver.postbackUrl(query)))
      expect(response.status).toBe(200)
      const ledger = yield* eventually(async () => {
        const r = await fetch(`${receiver.baseUrl}/api/users/template-user`, {
          headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }
        })
        return r.status === 200 ? ((await r.json()) as { balance: string }) : undefined
      })
      expect(ledger.balance).toBe("21")
      const [row] = yield* Effect.promise(() =>
        receiver.sql.query<{ source: string; advertiser_name: string }>(
          "SELECT source, advertiser_name FROM postbacks WHERE user_id = 'template-user'"
        )
      )
      expect(row).toEqual({ source: "get-template", advertiser_name: "Moment Science & Co" })
    })
  )

  it.effect("a URL that does not fit the template gets 400 naming the parameter", () =>
    Effect.gen(function* () {
      const receiver = yield* TestReceiver
      const response = yield* Effect.promise(() =>
        fetch(receiver.postbackUrl("oid=1511&uid=u&ts=2023-09-20T15%3A27%3A40.802Z&adv=M&lb=1"))
      )
      expect(response.status).toBe(400)
      expect(JSON.stringify(yield* Effect.promise(() => response.json()))).toContain("amount")
    })
  )

  it.effect("a value that cannot be stored as text (NUL) is held with its bytes, not refused", () =>
    Effect.gen(function* () {
      const receiver = yield* TestReceiver
      const response = yield* Effect.promise(() =>
        fetch(
          receiver.postbackUrl(
            "oid=1511&uid=a%00b&amount=1&ts=2023-09-20T15%3A27%3A40.802Z&adv=M&lb=1"
          )
        )
      )
      expect(response.status).toBe(200)
      const body = (yield* Effect.promise(() => response.json())) as { id: number; status: string }
      expect(body.status).toBe("held")
      const [row] = yield* Effect.promise(() =>
        receiver.sql.query<{ status: string; user_id: string; errors: unknown; flags: unknown }>(
          "SELECT status, user_id, errors, flags FROM postbacks WHERE id = $1",
          [body.id]
        )
      )
      expect(row).toMatchObject({ status: "held", user_id: "a%00b" })
      expect(JSON.stringify(row?.errors)).toContain("payload.user_id")
      expect(JSON.stringify(row?.flags)).toContain("unstorable_text")
    })
  )
})

describe.skipIf(testDatabaseUrl === undefined)("receiver migrate", () => {
  it.live(
    "applies the migrations to an empty database and exits 0",
    () =>
      Effect.gen(function* () {
        const { url } = yield* makeIsolatedPostgres(testDatabaseUrl!)
        const code = yield* Effect.promise(
          () =>
            new Promise<number | null>((resolve) => {
              const child = spawn(
                process.execPath,
                ["--conditions=@org/source", "--import", "tsx", "src/main.ts", "migrate"],
                {
                  cwd: fileURLToPath(new URL("..", import.meta.url)),
                  env: { PATH: process.env.PATH ?? "", DATABASE_URL: url },
                  stdio: "ignore"
                }
              )
              child.once("exit", resolve)
            })
        )
        expect(code).toBe(0)
        const sql = postgres(url, { max: 1, onnotice: () => {} })
        const tables = yield* Effect.promise(() =>
          sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`.then(
            (rows) => rows.map((r) => r.tablename)
          )
        )
        yield* Effect.promise(() => sql.end())
        expect(tables).toEqual(
          expect.arrayContaining(["accounts", "deliveries", "postbacks", "reward_transactions"])
        )
      }).pipe(Effect.scoped),
    60_000
  )
})

layer(testReceiver(testDatabases[0]!, { POSTBACK_DEDUP_KEY: "click_id" }), {
  timeout: 60_000,
  excludeTestServices: true
})("POSTBACK_DEDUP_KEY", (it) => {
  it.effect("the payload key, not the whole postback, identifies a conversion", () =>
    Effect.gen(function* () {
      const receiver = yield* TestReceiver
      const deliver = (payload: Record<string, string>) =>
        Effect.promise(async () => {
          const result = await sendOnce(
            samplePostback({ isLoyaltyBoost: true, payload: { user_id: "clicker", ...payload } }),
            { method: "POST", url: receiver.postbackUrl() }
          )
          return JSON.parse(result.body) as { id: number; duplicate: boolean }
        })
      const first = yield* deliver({ click_id: "c-1", session_id: "a" })
      // same click, other details (a later timestamp, another session): the same conversion
      const again = yield* deliver({ click_id: "c-1", session_id: "b" })
      const other = yield* deliver({ click_id: "c-2", session_id: "a" })
      expect(first.duplicate).toBe(false)
      expect(again).toMatchObject({ id: first.id, duplicate: true })
      expect(other.duplicate).toBe(false)
      expect(other.id).not.toBe(first.id)
    })
  )
})
