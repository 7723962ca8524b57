import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import postgres from "postgres"
import { Webhook } from "standardwebhooks"
import { makeIsolatedPostgres, testDatabaseUrl } from "./support/databases.ts"
import { TEST_SECRET } from "./support/env.ts"
import { startConsumer } from "./support/forwardConsumer.ts"
import { startReceiverProcess } from "./support/process.ts"

const SECRET = `whsec_${Buffer.alloc(32, 11).toString("base64")}`

const destinationsFile = (url: string) => {
  const file = join(mkdtempSync(join(tmpdir(), "forward-processes-")), "destinations.json")
  writeFileSync(file, JSON.stringify([{ url, secret: SECRET, events: ["postback.credited"] }]))
  return file
}

const send = (baseUrl: string, offer: string) =>
  Effect.promise(() =>
    fetch(`${baseUrl}/postbacks?secret=${TEST_SECRET}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        offer_id: offer,
        advertiser_name: "MomentScience",
        payout: "1.50",
        timestamp: "2023-09-20T15:27:40.802Z",
        is_loyaltyboost: "1",
        payload: { user_id: "proc-user" }
      })
    }).then((r) => r.status)
  )

// Real processes on one PostgreSQL (PGlite is one process's database).
describe.skipIf(testDatabaseUrl === undefined)("forwarding across receiver processes", () => {
  it.effect(
    "a receiver killed (SIGKILL) between sending and recording: after a restart the event is delivered again, same webhook-id",
    () =>
      Effect.gen(function* () {
        const { url } = yield* makeIsolatedPostgres(testDatabaseUrl!)
        const consumer = yield* startConsumer((_, i) => (i === 0 ? "hang" : { status: 200 }))
        const env = {
          DATABASE_URL: url,
          FORWARD_DESTINATIONS_FILE: destinationsFile(consumer.url)
        }
        const first = yield* startReceiverProcess(env)
        expect(yield* send(first.baseUrl, "kill-1")).toBe(200)
        // The event reached the consumer; the process dies before any answer is recorded.
        yield* consumer.receivedAtLeast(1)
        first.child.kill("SIGKILL")
        yield* Effect.promise(() => first.exited)
        const db = postgres(url, { max: 1, onnotice: () => {} })
        yield* Effect.addFinalizer(() => Effect.promise(() => db.end()))
        const [claimed] = yield* Effect.promise(
          () => db`SELECT status, attempts FROM forward_outbox`
        )
        expect(claimed).toEqual({ status: "processing", attempts: 1 })
        // The dead process's lease runs out (moved to the past rather than waited for).
        yield* Effect.promise(
          () => db`UPDATE forward_outbox SET locked_until = now() - interval '1 second'`
        )
        yield* startReceiverProcess(env)
        yield* consumer.receivedAtLeast(2)
        const [a, b] = consumer.received
        expect(b!.headers["webhook-id"]).toBe(a!.headers["webhook-id"])
        expect(
          new Webhook(SECRET).verify(b!.body, b!.headers as Record<string, string>)
        ).toMatchObject({ type: "postback.credited", data: { offerId: "kill-1", points: "15" } })
      }).pipe(Effect.scoped),
    300_000
  )

  it.effect(
    "two receiver processes share the outbox: every event delivered once, by one of them",
    () =>
      Effect.gen(function* () {
        const { url } = yield* makeIsolatedPostgres(testDatabaseUrl!)
        const consumer = yield* startConsumer()
        const env = {
          DATABASE_URL: url,
          FORWARD_DESTINATIONS_FILE: destinationsFile(consumer.url),
          FORWARD_BATCH_SIZE: "20"
        }
        const [one, two] = yield* Effect.all(
          [startReceiverProcess(env), startReceiverProcess(env)],
          {
            concurrency: 2
          }
        )
        const statuses = yield* Effect.forEach(
          Array.from({ length: 600 }, (_, i) => i),
          (i) => send(i % 2 === 0 ? one.baseUrl : two.baseUrl, `two-${i}`),
          { concurrency: 50 }
        )
        expect(statuses.every((s) => s === 200)).toBe(true)
        yield* consumer.receivedAtLeast(600)
        const ids = consumer.received.map((r) => String(r.headers["webhook-id"]))
        expect(new Set(ids).size).toBe(600)
        const db = postgres(url, { max: 1, onnotice: () => {} })
        yield* Effect.addFinalizer(() => Effect.promise(() => db.end()))
        // Every attempt is recorded once the answers are in; none was made twice.
        const rows = yield* Effect.promise(async () => {
          for (;;) {
            const [row] = await db`SELECT
              (SELECT count(*)::int FROM forward_outbox WHERE status = 'delivered') AS delivered,
              (SELECT count(*)::int FROM forward_attempts) AS attempts`
            if (row!.delivered === 600) return row
            await new Promise((done) => setTimeout(done, 100))
          }
        })
        expect(rows).toEqual({ delivered: 600, attempts: 600 })
        expect(consumer.received).toHaveLength(600)
      }).pipe(Effect.scoped),
    300_000
  )
})
