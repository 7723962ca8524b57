import { mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Decimal } from "@org/postback-schema"
import { samplePostback, sendOnce } from "@org/postback-sender"
import { Effect, Exit, Layer } from "effect"
import { HttpServer } from "effect/http"
import { NetAddress } from "effect/net"
import { makeReceiver } from "../src/App.ts"
import { ReceiverConfig } from "../src/Config.ts"
import { Database } from "../src/Db/Database.ts"
import { launchChromium, skipBrowserTests, watchedPage } from "./support/browser.ts"
import { makeIsolatedPostgres, testDatabaseUrl } from "./support/databases.ts"
import { TEST_ADMIN_TOKEN, TEST_SECRET, testEnv } from "./support/env.ts"
import { makeProxy } from "./support/proxy.ts"
import { eventually } from "./support/receiver.ts"

const RECEIVED = new Date("2023-09-20T15:27:40.802Z")

/** One LoyaltyBoost postback of 3.00 USD for `user`; resolves with the status and body. */
const postback = (baseUrl: string, user: string, method: "POST" | "GET" = "POST") =>
  sendOnce(
    samplePostback({
      payout: Decimal.parse("3.00"),
      timestamp: RECEIVED,
      isLoyaltyBoost: true,
      payload: { user_id: user }
    }),
    { method, url: `${baseUrl}/postbacks?secret=${TEST_SECRET}` }
  ).then((result) => ({ status: result.status, body: result.body }))

interface SpoolHealth {
  readonly state: string
  readonly entries: number
  readonly bytes: number
  readonly oldestAgeSeconds: number
  readonly problem: string | null
}

const health = async (baseUrl: string): Promise<SpoolHealth> => {
  const response = await fetch(`${baseUrl}/healthz`)
  const body = (await response.json()) as { status: string; spool: SpoolHealth }
  return body.spool
}

const metric = async (baseUrl: string, name: string): Promise<number | undefined> => {
  const text = await (
    await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
  ).text()
  const line = text.split("\n").find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.split(" ")[1])
}

/** The receiver in this process, its PostgreSQL behind a proxy the test cuts, with the spool on. */
const spooledReceiver = (env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const { url } = yield* makeIsolatedPostgres(testDatabaseUrl!)
    const proxy = yield* makeProxy(new URL(url))
    const viaProxy = new URL(url)
    viaProxy.port = String(proxy.port())
    const spoolDir = mkdtempSync(join(tmpdir(), "receiver-spool-"))
    const settings = testEnv({
      DATABASE_URL: viaProxy.toString(),
      DATABASE_POOL_SIZE: "4",
      DATABASE_TIMEOUT_MS: "1000",
      SPOOL_DIR: spoolDir,
      SPOOL_PROBE_MS: "100",
      WORKER_RETRY_BASE_MS: "100",
      WORKER_RETRY_CAP_MS: "500",
      ...env
    })
    const context = yield* Layer.build(
      makeReceiver(
        Database.layerPostgres(viaProxy.toString(), { poolSize: 4, timeoutMs: 1000 })
      ).pipe(Layer.provide(ReceiverConfig.fromRecord(settings)))
    )
    const server = yield* Effect.provide(HttpServer.HttpServer, context)
    const port = NetAddress.isInetAddress(server.address) ? server.address.port : 0
    const direct = yield* Effect.acquireRelease(
      Effect.sync(() => import("postgres").then((m) => m.default(url, { max: 1 }))),
      (sql) => Effect.promise(() => sql.then((s) => s.end()))
    )
    return {
      proxy,
      spoolDir,
      baseUrl: `http://127.0.0.1:${port}`,
      query: <Row>(text: string) =>
        direct.then((sql) => sql.unsafe(text) as unknown as Promise<Array<Row>>)
    }
  })

describe.skipIf(testDatabaseUrl === undefined)("the local spool (PostgreSQL)", () => {
  it.live(
    "takes postbacks while PostgreSQL is away, answers 200 once durable, and replays them once each when it is back",
    () =>
      Effect.gen(function* () {
        const { proxy, baseUrl, query, spoolDir } = yield* spooledReceiver()
        expect((yield* Effect.promise(() => postback(baseUrl, "spool-before"))).status).toBe(200)
        expect(yield* Effect.promise(() => health(baseUrl))).toMatchObject({
          state: "idle",
          entries: 0
        })

        yield* Effect.promise(() => proxy.stop())
        const users = Array.from({ length: 20 }, (_, i) => `spool-${i}`)
        const during = yield* Effect.promise(() =>
          Promise.all(users.map((u, i) => postback(baseUrl, u, i % 2 === 0 ? "POST" : "GET")))
        )
        expect(during.map((d) => d.status)).toEqual(users.map(() => 200))
        expect(during.map((d) => JSON.parse(d.body ?? "{}"))).toEqual(
          users.map(() => ({ status: "spooled", id: null, duplicate: false }))
        )
        // a retry while away: recognised in the journal, not written twice
        const retry = yield* Effect.promise(() => postback(baseUrl, "spool-3", "POST"))
        expect(JSON.parse(retry.body ?? "{}")).toEqual({
          status: "spooled",
          id: null,
          duplicate: true
        })
        const away = yield* Effect.promise(() => health(baseUrl))
        expect(away).toMatchObject({ state: "spooling", entries: 20, problem: null })
        expect(readdirSync(spoolDir).filter((n) => n.endsWith(".log"))).toHaveLength(1)
        expect(yield* Effect.promise(() => metric(baseUrl, "receiver_spool_entries"))).toBe(20)
        expect(yield* Effect.promise(() => metric(baseUrl, "receiver_spool_active"))).toBe(1)

        const restoredAt = new Date()
        yield* Effect.promise(() => proxy.start())
        yield* eventually(async () => {
          const h = await health(baseUrl)
          return h.state === "idle" && h.entries === 0 ? h : undefined
        }, 60_000)
        expect(readdirSync(spoolDir).filter((n) => n.endsWith(".log"))).toEqual([])
        expect(yield* Effect.promise(() => metric(baseUrl, "receiver_spool_replayed_total"))).toBe(
          20
        )
        // every spooled postback credited exactly once, with the time it was delivered
        const rows = yield* eventually(async () => {
          const r = await query<{ user_id: string; n: string; credits: string; early: boolean }>(
            `SELECT p.user_id, count(*)::text AS n,
               (SELECT count(*) FROM reward_transactions t WHERE t.postback_id = min(p.id))::text AS credits,
               bool_and(p.received_at < '${restoredAt.toISOString()}') AS early
             FROM postbacks p WHERE p.user_id LIKE 'spool-%' AND p.status = 'credited'
             GROUP BY p.user_id`
          )
          return r.length === 21 ? r : undefined
        }, 60_000)
        for (const row of rows) expect(row).toMatchObject({ n: "1", credits: "1", early: true })
        const [balances] = yield* Effect.promise(() =>
          query<{ total: string }>(
            "SELECT sum(balance)::text AS total FROM accounts WHERE user_id LIKE 'spool-%'"
          )
        )
        expect(balances!.total).toBe("630")
        // the sender's retry after the outage: a duplicate of the replayed row
        const after = yield* Effect.promise(() => postback(baseUrl, "spool-7", "GET"))
        expect(JSON.parse(after.body ?? "{}")).toMatchObject({
          status: "accepted",
          duplicate: true
        })
        const [log] = yield* Effect.promise(() =>
          query<{ n: string }>(
            "SELECT count(*)::text AS n FROM delivery_log d JOIN postbacks p ON p.id = d.postback_id WHERE p.user_id = 'spool-7'"
          )
        )
        expect(log!.n).toBe("2")
      }).pipe(Effect.scoped),
    180_000
  )

  it.live(
    "a database that stops answering: the first postbacks go to the spool after DATABASE_TIMEOUT_MS, the next without trying it",
    () =>
      Effect.gen(function* () {
        const { proxy, baseUrl, query } = yield* spooledReceiver({ WORKER_ENABLED: "false" })
        expect((yield* Effect.promise(() => postback(baseUrl, "frozen-before"))).status).toBe(200)
        proxy.freeze(true)
        const first = yield* Effect.promise(() =>
          Promise.all([1, 2, 3].map((i) => postback(baseUrl, `frozen-${i}`)))
        )
        expect(first.map((f) => JSON.parse(f.body ?? "{}").status)).toEqual([
          "spooled",
          "spooled",
          "spooled"
        ])
        // The receiver now knows the database is away: while it says
        // "spooling" (and the frozen database cannot answer its probe, so it
        // cannot leave that state), a postback goes to the journal without
        // trying the database (an fsync, not a timeout).
        expect((yield* Effect.promise(() => health(baseUrl))).state).toBe("spooling")
        const next = yield* Effect.promise(() => postback(baseUrl, "frozen-4"))
        expect(JSON.parse(next.body ?? "{}").status).toBe("spooled")
        expect((yield* Effect.promise(() => health(baseUrl))).state).toBe("spooling")
        proxy.freeze(false)
        yield* eventually(async () => ((await health(baseUrl)).entries === 0 ? true : undefined))
        const [count] = yield* Effect.promise(() =>
          query<{ n: string }>(
            "SELECT count(*)::text AS n FROM postbacks WHERE user_id LIKE 'frozen-%'"
          )
        )
        expect(count!.n).toBe("5")
      }).pipe(Effect.scoped),
    180_000
  )

  it.live(
    "a full spool answers 503 again, never 200 for a postback it did not keep",
    () =>
      Effect.gen(function* () {
        const { proxy, baseUrl } = yield* spooledReceiver({
          SPOOL_MAX_BYTES: "3000",
          WORKER_ENABLED: "false"
        })
        proxy.freeze(true)
        const statuses: Array<number | undefined> = []
        for (let i = 0; i < 6; i++) {
          statuses.push((yield* Effect.promise(() => postback(baseUrl, `full-${i}`))).status)
        }
        const kept = statuses.filter((s) => s === 200).length
        expect(kept).toBeGreaterThan(0)
        expect(statuses).toEqual([...Array(kept).fill(200), ...Array(6 - kept).fill(503)])
        const h = yield* Effect.promise(() => health(baseUrl))
        expect(h.entries).toBe(kept)
        expect(h.bytes).toBeLessThanOrEqual(3000)
        proxy.freeze(false)
        yield* eventually(async () => ((await health(baseUrl)).entries === 0 ? true : undefined))
      }).pipe(Effect.scoped),
    120_000
  )
})

describe.skipIf(testDatabaseUrl === undefined || skipBrowserTests)(
  "the console while the receiver runs on its spool (Chromium)",
  () => {
    it.live(
      "a banner says how many postbacks wait for the database, and goes once they are replayed",
      () =>
        Effect.gen(function* () {
          const { proxy, baseUrl } = yield* spooledReceiver({ WORKER_ENABLED: "false" })
          const browser = yield* launchChromium
          const context = yield* Effect.acquireRelease(
            Effect.promise(() => browser.newContext({ viewport: { width: 390, height: 844 } })),
            (context) => Effect.promise(() => context.close())
          )
          const { page, watch } = yield* Effect.promise(() => watchedPage(context))
          page.setDefaultTimeout(20_000)
          const banner = page.getByRole("status").filter({ hasText: "local spool" })
          yield* Effect.promise(async () => {
            await page.goto(baseUrl)
            await page.getByLabel("Admin token").fill(TEST_ADMIN_TOKEN)
            await page.getByRole("button", { name: "Sign in" }).click()
            await page.getByRole("button", { name: "Postbacks" }).waitFor()
          })
          expect(yield* Effect.promise(() => banner.count())).toBe(0)

          yield* Effect.promise(() => proxy.stop())
          for (const user of ["page-1", "page-2", "page-3"]) {
            expect((yield* Effect.promise(() => postback(baseUrl, user))).status).toBe(200)
          }
          yield* Effect.promise(() => page.reload())
          const text = yield* Effect.promise(async () => {
            await banner.waitFor()
            return banner.textContent()
          })
          expect(text).toContain("Running on the local spool: 3 postbacks waiting for the database")
          // nothing overflows a phone's width
          const overflow = yield* Effect.promise(() =>
            page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
          )
          expect(overflow).toBe(false)

          yield* Effect.promise(() => proxy.start())
          yield* eventually(async () =>
            (await health(baseUrl)).state === "idle" ? true : undefined
          )
          yield* Effect.promise(async () => {
            await page.reload()
            await page.getByRole("button", { name: "Postbacks" }).waitFor()
            await banner.waitFor({ state: "detached" })
          })
          expect(watch.cspViolations).toEqual([])
          expect(watch.pageErrors).toEqual([])
          expect(watch.dialogs).toEqual([])
        }).pipe(Effect.scoped),
      180_000
    )
  }
)

describe("the spool's settings", () => {
  it.effect("SPOOL_DIR with the embedded database fails the start naming SPOOL_DIR", () =>
    Effect.gen(function* () {
      const exit = yield* Layer.build(
        makeReceiver(Database.layerPglite()).pipe(
          Layer.provide(
            ReceiverConfig.fromRecord(
              testEnv({ SPOOL_DIR: mkdtempSync(join(tmpdir(), "receiver-spool-")) })
            )
          )
        )
      ).pipe(Effect.scoped, Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toMatch(/SPOOL_DIR needs DATABASE_URL/)
    })
  )
})
