// Every answer within a bound, whatever the database does: when PostgreSQL
// stops answering under load, the requests beyond what may wait are refused
// at once, and every other one is answered by its batch's timeout or by the
// next one. The batch timeouts run on the Effect clock, so the test moves
// time itself (TestClock) and checks the order of events, never durations.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Result } from "effect"
import { TestClock } from "effect/testing"
import { receiverConfig } from "../src/Config.ts"
import { testDatabaseUrl } from "./support/databases.ts"
import { TEST_ADMIN_TOKEN, TEST_SECRET } from "./support/env.ts"
import { docsPostback } from "./support/postbacks.ts"
import { receiverBehindProxy } from "./support/proxy.ts"
import { eventually } from "./support/receiver.ts"

const TIMEOUT_MS = 600_000
const BATCH = 10
const IN_FLIGHT = 2
/** The default INGEST_MAX_QUEUE: one round of batches. */
const QUEUE = BATCH * IN_FLIGHT
const REQUESTS = 3 * QUEUE

const body = (user: string) => JSON.stringify(docsPostback({ payload: { user_id: user } }))

const deliver = (baseUrl: string, user: string) =>
  fetch(`${baseUrl}/postbacks?secret=${TEST_SECRET}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body(user)
  }).then(async (response) => ({
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    text: await response.text()
  }))

const queueDepth = (baseUrl: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }
    })
    const match = /^receiver_ingest_queue_depth (\d+)$/m.exec(await response.text())
    return match === null ? undefined : Number(match[1])
  })

describe.skipIf(testDatabaseUrl === undefined)("a database that hangs under load", () => {
  it.effect(
    "the requests past INGEST_MAX_QUEUE get 503 at once, every other one by the next batch timeout at the latest",
    () =>
      Effect.gen(function* () {
        const { proxy, sql, baseUrl } = yield* receiverBehindProxy({
          DATABASE_TIMEOUT_MS: String(TIMEOUT_MS),
          INGEST_BATCH_SIZE: String(BATCH),
          INGEST_MAX_INFLIGHT: String(IN_FLIGHT),
          // Batches form only when full (the clock does not move by itself):
          // the first two go to the database, the next QUEUE requests wait.
          INGEST_BATCH_WAIT_MS: "1000",
          WORKER_ENABLED: "false"
        })
        // Every pooled connection open before the freeze (a new one would
        // fail on its own connect timeout); then one full batch, stored.
        yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 4 }, () => sql.query("SELECT pg_sleep(0.1)")))
        )
        const warm = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: BATCH }, (_, i) => deliver(baseUrl, `warm-${i}`)))
        )
        expect(warm.map((a) => a.status)).toEqual(Array(BATCH).fill(200))

        proxy.freeze(true)
        const answers: Array<{ status: number; retryAfter: string | null; timeouts: number }> = []
        let timeouts = 0
        const all = Promise.all(
          Array.from({ length: REQUESTS }, (_, i) =>
            deliver(baseUrl, `hung-${i}`).then((a) => {
              answers.push({ ...a, timeouts })
            })
          )
        )
        // Past the batches in flight and the queue: refused at once, before
        // any batch timed out.
        const refusedAtOnce = REQUESTS - IN_FLIGHT * BATCH - QUEUE
        yield* eventually(async () => (answers.length >= refusedAtOnce ? true : undefined))
        expect(answers).toHaveLength(refusedAtOnce)
        expect(answers.every((a) => a.status === 503 && a.retryAfter === "60")).toBe(true)
        expect(yield* queueDepth(baseUrl)).toBe(QUEUE)

        // The first batch timeout: the batches in flight are answered 503, the
        // waiting requests go to the database in their place.
        timeouts = 1
        yield* TestClock.adjust(Duration.millis(TIMEOUT_MS))
        yield* eventually(async () =>
          answers.length >= refusedAtOnce + IN_FLIGHT * BATCH ? true : undefined
        )
        expect(answers).toHaveLength(refusedAtOnce + IN_FLIGHT * BATCH)
        expect(yield* queueDepth(baseUrl)).toBe(0)

        // The second: every request has its answer, none waited longer.
        timeouts = 2
        yield* TestClock.adjust(Duration.millis(TIMEOUT_MS))
        yield* Effect.promise(() => all)
        expect(answers).toHaveLength(REQUESTS)
        expect(answers.map((a) => a.status)).toEqual(Array(REQUESTS).fill(503))
        expect(answers.map((a) => a.timeouts)).toEqual([
          ...Array(refusedAtOnce).fill(0),
          ...Array(IN_FLIGHT * BATCH).fill(1),
          ...Array(QUEUE).fill(2)
        ])

        // The database is back (the frozen connections were cut): so is the receiver.
        yield* Effect.promise(() => proxy.stop())
        yield* Effect.promise(() => proxy.start())
        proxy.freeze(false)
        const after = yield* eventually(async () => {
          const answers = await Promise.all(
            Array.from({ length: BATCH }, (_, i) => deliver(baseUrl, `after-${i}`))
          )
          return answers.every((a) => a.status === 200) ? answers : undefined
        }, 30_000)
        expect(after).toHaveLength(BATCH)
      }).pipe(Effect.scoped),
    120_000
  )
})

describe("INGEST_MAX_QUEUE", () => {
  it.effect("defaults to one round of batches; a bad value fails the start naming it", () =>
    Effect.gen(function* () {
      const read = (values: Record<string, string>) =>
        Effect.result(receiverConfig.parse(ConfigProvider.fromEnvRecord(values)))
      const unset = yield* read({})
      expect(Result.isSuccess(unset) && unset.success.ingestMaxQueue).toBeUndefined()
      const set = yield* read({ INGEST_MAX_QUEUE: "50" })
      expect(Result.isSuccess(set) && set.success.ingestMaxQueue).toBe(50)
      for (const bad of ["0", "-1", "many"]) {
        const refused = yield* read({ INGEST_MAX_QUEUE: bad })
        expect(Result.isFailure(refused) && String(refused.failure)).toContain("INGEST_MAX_QUEUE")
      }
    })
  )
})
