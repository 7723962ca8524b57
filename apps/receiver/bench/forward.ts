// Forwarding, in one run on one fresh PostgreSQL database, in this process:
//   1. forwarding off (no destination): the ingest batcher's rate (the
//      statement the HTTP edge runs, without HTTP) and the worker's
//      crediting rate, for N postbacks;
//   2. forwarding on (one destination, the dispatcher delivering at the same
//      time to a local node:http consumer answering 200): the same two rates
//      for N more postbacks, then the time until every event is delivered;
//   3. the destination paused: the same two rates for N more postbacks (the
//      outbox rows written in the settlement, nothing sent: the insert's cost
//      apart from the dispatcher's CPU);
//   4. the dispatcher alone: those N events drained to the consumer (events
//      per second, signing and recording included).
//
//   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test pnpm --filter @org/receiver exec tsx --conditions=@org/source bench/forward.ts
//   (BENCH_POSTBACKS=20000 for another N)
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Fiber, Layer, Logger } from "effect"
import postgres from "postgres"
import { ReceiverConfig } from "../src/Config.ts"
import { Database } from "../src/Db/Database.ts"
import { Dispatcher } from "../src/Forward/Dispatcher.ts"
import { upsertDestination } from "../src/Forward/OutboxSql.ts"
import { GroupCommit } from "../src/Ingest/GroupCommit.ts"
import type { InboxRow } from "../src/Ingest/InboxSql.ts"
import { RewardPolicyLive } from "../src/Worker/Rewards.ts"
import { Worker } from "../src/Worker/Worker.ts"

const baseUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.BENCH_POSTBACKS ?? 10_000)
const SECRET = `whsec_${Buffer.alloc(32, 5).toString("base64")}`

const row = (key: string, i: number): InboxRow => ({
  dedupKey: key,
  status: "pending",
  source: "post-json",
  offerId: `offer-${i % 50}`,
  advertiserName: "MomentScience",
  payout: `${1 + (i % 40)}.${String(i % 100).padStart(2, "0")}`,
  occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60)).toISOString(),
  isLoyaltyBoost: true,
  payload: JSON.stringify({ user_id: `user-${i % 1000}` }),
  userId: `user-${i % 1000}`,
  deliveryCount: 1,
  flags: null,
  problems: null
})

const rate = (count: number, ms: number) => Math.round((count / ms) * 1000)

const program = Effect.gen(function* () {
  const { sql } = yield* Database
  const worker = yield* Worker
  const dispatcher = yield* Dispatcher

  let received = 0
  const consumer = createServer((req, res) => {
    req.resume()
    req.on("end", () => {
      received++
      res.writeHead(200).end()
    })
  })
  yield* Effect.promise(() => new Promise<void>((done) => consumer.listen(0, "127.0.0.1", done)))
  const url = `http://127.0.0.1:${(consumer.address() as AddressInfo).port}/events`

  /** Ingests `count` postbacks through the batcher (500 concurrent submitters) and credits them. */
  const phase = (label: string) =>
    Effect.promise(async () => {
      const groupCommit = GroupCommit.make(sql, {
        maxBatch: 500,
        maxWaitMs: 0,
        maxInFlight: 2,
        maxQueue: N
      })
      const t0 = performance.now()
      await Promise.all(
        Array.from({ length: N }, (_, i) => groupCommit.submit(row(`${label}-${i}`, i)))
      )
      const ingestMs = performance.now() - t0
      await groupCommit.close()
      return ingestMs
    }).pipe(
      Effect.flatMap((ingestMs) =>
        Effect.gen(function* () {
          const t1 = performance.now()
          const credited = yield* worker.drain
          const creditMs = performance.now() - t1
          return { ingestMs, credited, creditMs }
        })
      )
    )

  const off = yield* phase("off")

  yield* Effect.promise(() =>
    upsertDestination(
      sql,
      { url, secret: SECRET, events: ["postback.credited"], paused: false },
      "api"
    )
  )
  const tOn = performance.now()
  // The dispatcher delivers while the next postbacks are ingested and credited.
  const delivering = yield* Effect.forkChild(
    Effect.gen(function* () {
      while (received < N) yield* dispatcher.drain
    })
  )
  const on = yield* phase("on")
  yield* Fiber.join(delivering)
  const deliveredMs = performance.now() - tOn

  // The dispatcher alone: N events settled with no dispatcher running, then drained.
  yield* Effect.promise(() =>
    sql.query("UPDATE forward_destinations SET state = 'paused'").then(() => undefined)
  )
  const paused = yield* phase("alone")
  yield* Effect.promise(() =>
    sql.query("UPDATE forward_destinations SET state = 'active'").then(() => undefined)
  )
  const before = received
  const t2 = performance.now()
  const delivered = yield* dispatcher.drain
  const aloneMs = performance.now() - t2
  consumer.closeAllConnections()
  consumer.close()

  const lines = [
    `postbacks per phase: ${N}; PostgreSQL ${baseUrl.replace(/\/\/[^@]*@/, "//")}`,
    `forwarding off: ingest ${rate(N, off.ingestMs)}/s, crediting ${rate(off.credited, off.creditMs)}/s`,
    `forwarding on:  ingest ${rate(N, on.ingestMs)}/s, crediting ${rate(on.credited, on.creditMs)}/s, all ${N} events delivered ${Math.round(deliveredMs)} ms after the phase began`,
    `forwarding on, destination paused (the outbox written, nothing sent): ingest ${rate(N, paused.ingestMs)}/s, crediting ${rate(paused.credited, paused.creditMs)}/s`,
    `dispatcher alone: ${delivered} events delivered in ${Math.round(aloneMs)} ms: ${rate(delivered, aloneMs)} events/s (consumer received ${received - before})`
  ]
  for (const line of lines) console.log(line)
})

const main = async () => {
  const name = `receiver_bench_${randomUUID().replaceAll("-", "").slice(0, 12)}`
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  const url = new URL(baseUrl)
  url.pathname = `/${name}`
  try {
    await Effect.runPromise(
      program.pipe(
        Effect.provide(
          Layer.mergeAll(Worker.layer.pipe(Layer.provide(RewardPolicyLive)), Dispatcher.layer).pipe(
            Layer.provideMerge(
              ReceiverConfig.fromRecord({
                WORKER_BATCH_SIZE: "500",
                FORWARD_BATCH_SIZE: "500",
                RECEIVER_DATA_DIR: "/tmp"
              })
            ),
            Layer.provideMerge(Database.layerPostgres(url.toString(), { poolSize: 10 }))
          )
        ),
        Effect.provide(Logger.layer([]))
      )
    )
  } finally {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
}

await main()
