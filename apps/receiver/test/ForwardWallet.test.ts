import type { AddressInfo } from "node:net"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Webhook } from "standardwebhooks"
import { type Wallet, walletServer } from "../examples/wallet-consumer.ts"
import { ReceiverConfig } from "../src/Config.ts"
import { Database } from "../src/Db/Database.ts"
import { Dispatcher } from "../src/Forward/Dispatcher.ts"
import { upsertDestination } from "../src/Forward/OutboxSql.ts"
import { GroupCommit } from "../src/Ingest/GroupCommit.ts"
import { RewardPolicyLive } from "../src/Worker/Rewards.ts"
import { Worker } from "../src/Worker/Worker.ts"
import { testDatabases } from "./support/databases.ts"
import { testEnv } from "./support/env.ts"

const SECRET = `whsec_${Buffer.alloc(32, 9).toString("base64")}`

const startWallet = Effect.acquireRelease(
  Effect.promise(async () => {
    const wallet: Wallet = { balances: new Map(), applied: new Set() }
    const server = walletServer(SECRET, wallet)
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
    const { port } = server.address() as AddressInfo
    return { server, wallet, url: `http://127.0.0.1:${port}/events` }
  }),
  ({ server }) =>
    Effect.promise(
      () =>
        new Promise<void>((done) => {
          server.closeAllConnections()
          server.close(() => done())
        })
    )
)

for (const database of testDatabases) {
  layer(
    Layer.mergeAll(Worker.layer.pipe(Layer.provide(RewardPolicyLive)), Dispatcher.layer).pipe(
      Layer.provideMerge(ReceiverConfig.fromRecord(testEnv({ FORWARD_RETRY_SCHEDULE: "0" }))),
      Layer.provideMerge(database.layer())
    ),
    { timeout: 60_000, excludeTestServices: true }
  )(`example wallet consumer on ${database.name}`, (it) => {
    it.effect(
      "verifies the signature and credits once per webhook-id, however often an event is delivered",
      () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          const { wallet, url } = yield* startWallet
          yield* Effect.promise(() =>
            upsertDestination(
              sql,
              { url, secret: SECRET, events: ["postback.credited"], paused: false },
              "api"
            )
          )
          const groupCommit = GroupCommit.make(sql, {
            maxBatch: 10,
            maxWaitMs: 1,
            maxInFlight: 1,
            maxQueue: 10
          })
          const rows = [
            ["w-1", "ana", "2.10"],
            ["w-2", "ana", "0.55"],
            ["w-3", "ben", "30.00"]
          ] as const
          yield* Effect.promise(() =>
            Promise.all(
              rows.map(([key, user, payout]) =>
                groupCommit.submit({
                  dedupKey: key,
                  status: "pending",
                  source: "post-json",
                  offerId: "1511",
                  advertiserName: "MomentScience",
                  payout,
                  occurredAt: "2026-01-01T00:00:00.000Z",
                  isLoyaltyBoost: true,
                  payload: JSON.stringify({ user_id: user }),
                  userId: user,
                  deliveryCount: 1,
                  flags: null,
                  problems: null
                })
              )
            )
          )
          yield* Effect.promise(() => groupCommit.close())
          expect(yield* (yield* Worker).drain).toBe(3)
          const dispatcher = yield* Dispatcher
          expect(yield* dispatcher.drain).toBe(3)
          const expected = new Map([
            ["ana", 26n],
            ["ben", 300n]
          ])
          expect(wallet.balances).toEqual(expected)
          // Every event delivered again (a replay, a redelivery after a crash): same ids, no credit.
          yield* Effect.promise(() =>
            sql.query(
              "UPDATE forward_outbox SET status = 'pending', next_attempt_at = now(), attempts = 0"
            )
          )
          expect(yield* dispatcher.drain).toBe(3)
          expect(wallet.balances).toEqual(expected)
          expect(wallet.applied.size).toBe(3)
          // A request signed with another secret is refused and credits nothing.
          const forged = `{"type":"postback.credited","data":{"postbackId":1,"userId":"ana","points":"1000"}}`
          const at = new Date()
          const other = new Webhook(`whsec_${Buffer.alloc(32, 3).toString("base64")}`)
          const status = yield* Effect.promise(() =>
            fetch(url, {
              method: "POST",
              headers: {
                "webhook-id": "evt_forged",
                "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
                "webhook-signature": other.sign("evt_forged", at, forged)
              },
              body: forged
            }).then((r) => r.status)
          )
          expect(status).toBe(401)
          expect(wallet.balances).toEqual(expected)
        })
    )
  })
}
