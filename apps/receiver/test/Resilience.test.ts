import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Decimal } from "@org/postback-schema"
import { samplePostback, sendOnce } from "@org/postback-sender"
import { Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { NetAddress } from "effect/net"
import { makeReceiver } from "../src/App.ts"
import { ReceiverConfig } from "../src/Config.ts"
import { Database } from "../src/Db/Database.ts"
import { makeIsolatedPostgres, testDatabaseUrl } from "./support/databases.ts"
import { TEST_ADMIN_TOKEN, TEST_SECRET, testEnv } from "./support/env.ts"
import { startReceiverProcess } from "./support/process.ts"
import { makeProxy, receiverBehindProxy } from "./support/proxy.ts"
import { eventually } from "./support/receiver.ts"

/** One LoyaltyBoost postback of 3.00 USD for `user`, delivered once by the sender package. */
const postback = (baseUrl: string, user: string) =>
  sendOnce(
    samplePostback({
      payout: Decimal.parse("3.00"),
      timestamp: new Date("2023-09-20T15:27:40.802Z"),
      isLoyaltyBoost: true,
      payload: { user_id: user }
    }),
    { method: "POST", url: `${baseUrl}/postbacks?secret=${TEST_SECRET}` }
  ).then((result) => result.status)

/** A user's balance: points as a decimal string (exact at any size). */
const balanceOf = async (baseUrl: string, user: string): Promise<string | undefined> => {
  const response = await fetch(`${baseUrl}/api/users/${user}`, {
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }
  })
  return response.status === 200
    ? ((await response.json()) as { balance: string }).balance
    : undefined
}

const storage = [
  {
    name: "pglite",
    env: (): Record<string, string> => ({
      RECEIVER_DATA_DIR: mkdtempSync(join(tmpdir(), "receiver-kill-"))
    })
  },
  ...(testDatabaseUrl === undefined ? [] : [{ name: "postgres", env: undefined }])
]

for (const store of storage) {
  describe(`crash between ack and processing (${store.name})`, () => {
    it.live(
      "a postback acknowledged by a process killed before processing is credited after restart",
      () =>
        Effect.gen(function* () {
          const env =
            store.env === undefined
              ? { DATABASE_URL: (yield* makeIsolatedPostgres(testDatabaseUrl!)).url }
              : store.env()
          const users = Array.from({ length: 40 }, (_, i) => `killed-${i}`)
          const first = yield* startReceiverProcess({ ...env, WORKER_ENABLED: "false" })
          const statuses = yield* Effect.promise(() =>
            Promise.all(users.map((u) => postback(first.baseUrl, u)))
          )
          expect(statuses).toEqual(users.map(() => 200))
          // what to paste into MomentScience is printed; a configured secret never is
          expect(first.output()).toContain("Postback URL for the MomentScience dashboard")
          expect(first.output()).not.toContain(TEST_SECRET)
          first.child.kill("SIGKILL")
          expect(yield* Effect.promise(() => first.exited)).toBe("SIGKILL")

          const second = yield* startReceiverProcess({ ...env, WORKER_ENABLED: "true" })
          const balances = yield* eventually(async () => {
            const all = await Promise.all(users.map((u) => balanceOf(second.baseUrl, u)))
            return all.every((b) => b !== undefined) ? all : undefined
          })
          expect(balances).toEqual(users.map(() => "30"))

          // SIGTERM: a graceful stop, exit code 0
          second.child.kill("SIGTERM")
          expect(yield* Effect.promise(() => second.exited)).toBe(0)
        }).pipe(Effect.scoped),
      300_000
    )
  })
}

describe.skipIf(testDatabaseUrl === undefined)("a database that stops answering", () => {
  it.live(
    "gets 503 within DATABASE_TIMEOUT_MS, never a request left hanging, and 200 again when it answers",
    () =>
      Effect.gen(function* () {
        const { proxy, baseUrl } = yield* receiverBehindProxy({
          DATABASE_TIMEOUT_MS: "1000",
          WORKER_ENABLED: "false"
        })
        expect(yield* Effect.promise(() => postback(baseUrl, "frozen-before"))).toBe(200)
        proxy.freeze(true)
        const started = Date.now()
        const during = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 5 }, (_, i) => postback(baseUrl, `frozen-${i}`)))
        )
        const waited = Date.now() - started
        expect(during).toEqual(Array(5).fill(503))
        // Not before the timeout; how long after it depends on the machine
        // (the bound itself is proven on the TestClock in Bounded.test.ts).
        expect(waited).toBeGreaterThanOrEqual(900)
        proxy.freeze(false)
        const after = yield* eventually(async () => {
          const status = await postback(baseUrl, "frozen-after")
          return status === 200 ? status : undefined
        })
        expect(after).toBe(200)
      }).pipe(Effect.scoped),
    300_000
  )
})

describe.skipIf(testDatabaseUrl === undefined)("database outage", () => {
  it.live(
    "answers 503, never 200, while PostgreSQL is unreachable, and recovers when it is back",
    () =>
      Effect.gen(function* () {
        const { url } = yield* makeIsolatedPostgres(testDatabaseUrl!)
        const target = new URL(url)
        const proxy = yield* makeProxy(target)
        const viaProxy = new URL(url)
        viaProxy.port = String(proxy.port())
        const context = yield* Layer.build(
          makeReceiver(Database.layerPostgres(viaProxy.toString(), { poolSize: 4 })).pipe(
            Layer.provide(
              ReceiverConfig.fromRecord(
                testEnv({
                  DATABASE_POOL_SIZE: "4",
                  WORKER_RETRY_BASE_MS: "100",
                  WORKER_RETRY_CAP_MS: "500"
                })
              )
            )
          )
        )
        const server = yield* Effect.provide(HttpServer.HttpServer, context)
        const baseUrl = `http://127.0.0.1:${NetAddress.isInetAddress(server.address) ? server.address.port : 0}`

        expect(yield* Effect.promise(() => postback(baseUrl, "outage-before"))).toBe(200)
        yield* Effect.promise(() => proxy.stop())
        const during = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 10 }, (_, i) => postback(baseUrl, `outage-during-${i}`)))
        )
        expect(during).toEqual(Array(10).fill(503))
        expect((yield* Effect.promise(() => fetch(`${baseUrl}/readyz`))).status).toBe(503)

        yield* Effect.promise(() => proxy.start())
        const after = yield* eventually(async () => {
          const status = await postback(baseUrl, "outage-after")
          return status === 200 ? status : undefined
        })
        expect(after).toBe(200)
        // the retried deliveries of the outage are accepted now, and credited
        const retried = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 10 }, (_, i) => postback(baseUrl, `outage-during-${i}`)))
        )
        expect(retried).toEqual(Array(10).fill(200))
        const balance = yield* eventually(() => balanceOf(baseUrl, "outage-during-9"))
        expect(balance).toBe("30")
      }).pipe(Effect.scoped),
    300_000
  )
})
