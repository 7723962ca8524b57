import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Database } from "../src/Db/Database.ts"
import { GroupCommit, StoreRefused } from "../src/Ingest/Batcher.ts"
import type { InboxRow } from "../src/Ingest/InboxSql.ts"
import { testDatabases } from "./support/databases.ts"

const row = (key: string, overrides: Partial<InboxRow> = {}): InboxRow => ({
  dedupKey: key,
  status: "pending",
  source: "post-json",
  offerId: "1511",
  advertiserName: "MomentScience",
  payout: "2.10",
  occurredAt: "2023-09-20T15:27:40.802Z",
  isLoyaltyBoost: true,
  payload: JSON.stringify({ user_id: "3410444" }),
  userId: "3410444",
  deliveryCount: 1,
  flags: null,
  problems: null,
  ...overrides
})

for (const database of testDatabases) {
  layer(database.layer(), { timeout: 60_000, excludeTestServices: true })(
    `GroupCommit on ${database.name}`,
    (it) => {
      it.effect(
        "writes concurrent submissions in few statements and acknowledges each after commit",
        () =>
          Effect.gen(function* () {
            const { sql } = yield* Database
            let commits = 0
            const batcher = new GroupCommit(
              sql,
              { maxBatch: 100, maxWaitMs: 5, maxInFlight: 1 },
              () => {
                commits++
              }
            )
            const stored = yield* Effect.promise(() =>
              Promise.all(Array.from({ length: 250 }, (_, i) => batcher.submit(row(`a-${i}`))))
            )
            expect(new Set(stored.map((s) => s.id)).size).toBe(250)
            expect(stored.every((s) => !s.duplicate)).toBe(true)
            expect(commits).toBeLessThanOrEqual(5)
            const [count] = yield* Effect.promise(() =>
              sql.query<{ n: string }>(
                "SELECT count(*)::text AS n FROM postbacks WHERE dedup_key LIKE 'a-%'"
              )
            )
            expect(count?.n).toBe("250")
            // exact values survive the trip: numeric keeps its scale, jsonb its keys
            const [first] = yield* Effect.promise(() =>
              sql.query<{ payout: string; payload: unknown; user_id: string; occurred: string }>(
                "SELECT payout::text AS payout, payload, user_id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') AS occurred FROM postbacks WHERE dedup_key = 'a-0'"
              )
            )
            expect(first).toEqual({
              payout: "2.10",
              payload: { user_id: "3410444" },
              user_id: "3410444",
              occurred: "2023-09-20T15:27:40.802"
            })
            yield* Effect.promise(() => batcher.close())
          })
      )

      it.effect("folds duplicates inside one batch and across batches into one row", () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          const batcher = new GroupCommit(sql, { maxBatch: 50, maxWaitMs: 5, maxInFlight: 2 })
          const first = yield* Effect.promise(() =>
            Promise.all(Array.from({ length: 20 }, () => batcher.submit(row("dup-1"))))
          )
          expect(new Set(first.map((s) => s.id)).size).toBe(1)
          expect(first.filter((s) => !s.duplicate)).toHaveLength(1)
          const again = yield* Effect.promise(() => batcher.submit(row("dup-1")))
          expect(again).toEqual({ id: first[0]!.id, duplicate: true })
          const rows = yield* Effect.promise(() =>
            sql.query<{ delivery_count: number }>(
              "SELECT delivery_count FROM postbacks WHERE dedup_key = 'dup-1'"
            )
          )
          expect(rows).toEqual([{ delivery_count: 21 }])
          yield* Effect.promise(() => batcher.close())
        })
      )

      it.effect("a row the database refuses fails alone, its batch neighbours are stored", () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          const batcher = new GroupCommit(sql, { maxBatch: 50, maxWaitMs: 20, maxInFlight: 1 })
          const results = yield* Effect.promise(() =>
            Promise.allSettled([
              batcher.submit(row("ok-1")),
              batcher.submit(row("bad-1", { payload: '{"user_id": "\\u0000"}' })),
              batcher.submit(row("ok-2"))
            ])
          )
          expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"])
          expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(StoreRefused)
          const keys = yield* Effect.promise(() =>
            sql.query<{ dedup_key: string }>(
              "SELECT dedup_key FROM postbacks WHERE dedup_key IN ('ok-1', 'bad-1', 'ok-2') ORDER BY dedup_key"
            )
          )
          expect(keys.map((k) => k.dedup_key)).toEqual(["ok-1", "ok-2"])
          yield* Effect.promise(() => batcher.close())
        })
      )

      it.effect("close writes what waits and then refuses new rows", () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          const batcher = new GroupCommit(sql, {
            maxBatch: 1000,
            maxWaitMs: 10_000,
            maxInFlight: 1
          })
          const pending = batcher.submit(row("late-1"))
          yield* Effect.promise(() => batcher.close())
          const stored = yield* Effect.promise(() => pending)
          expect(stored.duplicate).toBe(false)
          const refused = yield* Effect.promise(() =>
            batcher.submit(row("late-2")).then(
              () => "stored",
              (e: Error) => e.name
            )
          )
          expect(refused).toBe("StoreUnavailable")
        })
      )
    }
  )
}
