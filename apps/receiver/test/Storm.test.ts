// A duplicate storm, as MomentScience's retries and replays make one: many
// deliveries of the same postbacks at once, over two receiver processes on
// one PostgreSQL. Each delivery must get 200 (a 503 costs the sender a
// retry, and five of them a conversion), each postback one row, and each
// row the count of its deliveries.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import postgres from "postgres"
import { makeIsolatedPostgres, testDatabaseUrl } from "./support/databases.ts"
import { TEST_SECRET } from "./support/env.ts"
import { startReceiverProcess } from "./support/process.ts"

const POSTBACKS = 2_000
const MAX_DELIVERIES = 20
const CONCURRENCY = 200

/** A small seeded generator (mulberry32): the same storm on every run. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
}

describe.skipIf(testDatabaseUrl === undefined)("a duplicate storm on two receivers", () => {
  it.live(
    `${POSTBACKS} postbacks delivered 1 to ${MAX_DELIVERIES} times each, ${CONCURRENCY} at once: every delivery 200, one row per postback, every delivery counted`,
    () =>
      Effect.gen(function* () {
        const { url } = yield* makeIsolatedPostgres(testDatabaseUrl!)
        const env = { DATABASE_URL: url }
        const receivers = yield* Effect.all(
          [startReceiverProcess(env), startReceiverProcess(env)],
          {
            concurrency: "unbounded"
          }
        )
        const next = random(20_240_301)
        const counts = Array.from(
          { length: POSTBACKS },
          () => 1 + Math.floor(next() * MAX_DELIVERIES)
        )
        const bodies = counts.map((_, i) =>
          JSON.stringify({
            offer_id: "storm",
            advertiser_name: "MomentScience",
            payout: "1.25",
            timestamp: "2024-03-01T12:00:00.000Z",
            is_loyaltyboost: "1",
            payload: { user_id: `storm-${i}` }
          })
        )
        const deliveries = counts.flatMap((n, i) => Array<number>(n).fill(i))
        for (let i = deliveries.length - 1; i > 0; i--) {
          const j = Math.floor(next() * (i + 1))
          ;[deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!]
        }

        const statuses = new Map<number, number>()
        yield* Effect.promise(async () => {
          let cursor = 0
          const sender = async () => {
            while (cursor < deliveries.length) {
              const n = cursor++
              const receiver = receivers[n % 2]!
              const response = await fetch(`${receiver.baseUrl}/postbacks?secret=${TEST_SECRET}`, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: bodies[deliveries[n]!]!
              })
              await response.arrayBuffer()
              statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
            }
          }
          await Promise.all(Array.from({ length: CONCURRENCY }, sender))
        })
        expect(Object.fromEntries(statuses)).toEqual({ 200: deliveries.length })

        const rows = yield* Effect.acquireUseRelease(
          Effect.sync(() => postgres(url, { max: 1, onnotice: () => {} })),
          (sql) =>
            Effect.promise(
              () =>
                sql<Array<{ user_id: string; delivery_count: number }>>`
                SELECT user_id, delivery_count FROM postbacks WHERE offer_id = 'storm'`
            ),
          (sql) => Effect.promise(() => sql.end())
        )
        expect(rows).toHaveLength(POSTBACKS)
        const byUser = new Map(rows.map((r) => [r.user_id, r.delivery_count]))
        expect(counts.every((n, i) => byUser.get(`storm-${i}`) === n)).toBe(true)
        expect(rows.reduce((sum, r) => sum + r.delivery_count, 0)).toBe(deliveries.length)
      }).pipe(Effect.scoped),
    300_000
  )
})
