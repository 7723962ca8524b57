import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Database } from "../src/Db/Database.ts"
import { GroupCommit, StoreRefused, StoreUnavailable } from "../src/Ingest/GroupCommit.ts"
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
            const groupCommit = GroupCommit.make(sql, {
              maxBatch: 100,
              maxWaitMs: 5,
              maxInFlight: 1,
              maxQueue: 250,
              onCommitted: () => {
                commits++
              }
            })
            const stored = yield* Effect.promise(() =>
              Promise.all(Array.from({ length: 250 }, (_, i) => groupCommit.submit(row(`a-${i}`))))
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
            yield* Effect.promise(() => groupCommit.close())
          })
      )

      it.effect("folds duplicates inside one batch and across batches into one row", () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          const groupCommit = GroupCommit.make(sql, { maxBatch: 50, maxWaitMs: 5, maxInFlight: 2 })
          const first = yield* Effect.promise(() =>
            Promise.all(Array.from({ length: 20 }, () => groupCommit.submit(row("dup-1"))))
          )
          expect(new Set(first.map((s) => s.id)).size).toBe(1)
          expect(first.filter((s) => !s.duplicate)).toHaveLength(1)
          const again = yield* Effect.promise(() => groupCommit.submit(row("dup-1")))
          expect(again).toEqual({ id: first[0]!.id, duplicate: true })
          const rows = yield* Effect.promise(() =>
            sql.query<{ delivery_count: number }>(
              "SELECT delivery_count FROM postbacks WHERE dedup_key = 'dup-1'"
            )
          )
          expect(rows).toEqual([{ delivery_count: 21 }])
          yield* Effect.promise(() => groupCommit.close())
        })
      )

      it.effect("a row the database refuses fails alone, its batch neighbours are stored", () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          const groupCommit = GroupCommit.make(sql, { maxBatch: 50, maxWaitMs: 20, maxInFlight: 1 })
          const results = yield* Effect.promise(() =>
            Promise.allSettled([
              groupCommit.submit(row("ok-1")),
              groupCommit.submit(row("bad-1", { payload: '{"user_id": "\\u0000"}' })),
              groupCommit.submit(row("ok-2"))
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
          yield* Effect.promise(() => groupCommit.close())
        })
      )

      it.effect(
        "a row the database refuses is refused for its data also when it is alone in its batch",
        () =>
          Effect.gen(function* () {
            const { sql } = yield* Database
            // PostgreSQL has no year 0: a data error, whatever the batch size.
            const groupCommit = GroupCommit.make(sql, { maxBatch: 1, maxWaitMs: 0, maxInFlight: 1 })
            const alone = yield* Effect.promise(() =>
              groupCommit.submit(row("year-0", { occurredAt: "0000-01-01T00:00:00.000Z" })).then(
                () => "stored",
                (e: Error) => e
              )
            )
            expect(alone).toBeInstanceOf(StoreRefused)
            expect(String(alone)).toContain("date/time field value out of range")
            yield* Effect.promise(() => groupCommit.close())
          })
      )

      it.effect(
        "rejected requests get their ids; one the database refuses fails alone and the others are kept",
        () =>
          Effect.gen(function* () {
            const { sql } = yield* Database
            const groupCommit = GroupCommit.make(sql, {
              maxBatch: 50,
              maxWaitMs: 20,
              maxInFlight: 1
            })
            const rejected = (n: number, contentType = "application/json") => ({
              source: "post-json" as const,
              request: {
                method: "POST",
                path: "/postbacks",
                query: {},
                contentType,
                body: `{"n":${n}}`,
                bodyEncoding: "utf8" as const,
                remoteAddress: null
              },
              // a NUL in a message is written as the text of its escape: kept
              errors: [{ path: `field-${n}`, message: "is wrong \u0000 here" }]
            })
            const results = yield* Effect.promise(() =>
              Promise.allSettled(
                Array.from({ length: 9 }, (_, n) =>
                  // jsonb cannot hold a NUL, and nothing makes this request's
                  // content type storable (Node's parser would never let a
                  // NUL into a header): the database refuses request 4.
                  groupCommit.submitRejected(n === 4 ? rejected(n, "text/\u0000") : rejected(n))
                )
              )
            )
            expect(results.map((r) => r.status)).toEqual([
              ...Array(4).fill("fulfilled"),
              "rejected",
              ...Array(4).fill("fulfilled")
            ])
            expect((results[4] as PromiseRejectedResult).reason).toBeInstanceOf(StoreRefused)
            const ids = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []))
            const stored = yield* Effect.promise(() =>
              sql.query<{ id: string; body: string; message: string }>(
                "SELECT id, request->>'body' AS body, errors->0->>'message' AS message FROM postbacks WHERE id = ANY($1::bigint[]) ORDER BY id",
                [ids.map(String)]
              )
            )
            // each id is its own request's row
            expect(stored.map((r) => [Number(r.id), r.body, r.message])).toEqual(
              [0, 1, 2, 3, 5, 6, 7, 8].map((n, i) => [
                ids[i],
                `{"n":${n}}`,
                "is wrong \\u0000 here"
              ])
            )
            yield* Effect.promise(() => groupCommit.close())
          })
      )

      it.effect(
        "a statement aborted as a deadlock victim (40P01) or for a serialization failure (40001) is run again before answering",
        () =>
          Effect.gen(function* () {
            const { sql } = yield* Database
            // The database aborts the first two attempts the way it aborts a
            // deadlock victim; a sequence counts them across the rollbacks.
            yield* Effect.promise(async () => {
              await sql.query("CREATE SEQUENCE conflict_attempts")
              await sql.query(`CREATE FUNCTION conflict_twice() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE n bigint := nextval('conflict_attempts');
                BEGIN
                  IF NEW.dedup_key = 'conflict-twice' AND n = 1 THEN
                    RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01';
                  ELSIF NEW.dedup_key = 'conflict-twice' AND n = 2 THEN
                    RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001';
                  ELSIF NEW.dedup_key = 'conflict-always' THEN
                    RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01';
                  END IF;
                  RETURN NEW;
                END $$`)
              await sql.query(
                "CREATE TRIGGER conflict_twice BEFORE INSERT ON postbacks FOR EACH ROW EXECUTE FUNCTION conflict_twice()"
              )
            })
            const groupCommit = GroupCommit.make(sql, { maxBatch: 1, maxWaitMs: 0, maxInFlight: 1 })
            const twice = yield* Effect.promise(() => groupCommit.submit(row("conflict-twice")))
            expect(twice.duplicate).toBe(false)
            // a conflict that does not go away: 503 after a bounded number of attempts
            const always = yield* Effect.promise(() =>
              groupCommit.submit(row("conflict-always")).then(
                () => "stored",
                (e: Error) => e
              )
            )
            expect(always).toBeInstanceOf(StoreUnavailable)
            const [attempts] = yield* Effect.promise(() =>
              sql.query<{ n: string }>("SELECT last_value AS n FROM conflict_attempts")
            )
            expect(attempts?.n).toBe("8")
            yield* Effect.promise(async () => {
              await sql.query("DROP TRIGGER conflict_twice ON postbacks")
              await sql.query("DROP FUNCTION conflict_twice()")
            })
            yield* Effect.promise(() => groupCommit.close())
          })
      )

      it.effect("past maxQueue waiting rows, a new row is refused at once", () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          const groupCommit = GroupCommit.make(sql, {
            maxBatch: 1000,
            maxWaitMs: 10_000,
            maxInFlight: 1,
            maxQueue: 3
          })
          const waiting = [1, 2, 3].map((n) => groupCommit.submit(row(`queued-${n}`)))
          const refused = yield* Effect.promise(() =>
            groupCommit.submit(row("queued-4")).then(
              () => "stored",
              (e: Error) => e
            )
          )
          expect(refused).toBeInstanceOf(StoreUnavailable)
          expect((refused as Error).name).toBe("QueueFull")
          expect(String(refused)).toContain("INGEST_MAX_QUEUE")
          expect(groupCommit.waiting()).toBe(3)
          yield* Effect.promise(() => groupCommit.close())
          expect(
            (yield* Effect.promise(() => Promise.all(waiting))).map((s) => s.duplicate)
          ).toEqual([false, false, false])
        })
      )

      it.effect("close writes what waits and then refuses new rows", () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          const groupCommit = GroupCommit.make(sql, {
            maxBatch: 1000,
            maxWaitMs: 10_000,
            maxInFlight: 1
          })
          const pending = groupCommit.submit(row("late-1"))
          yield* Effect.promise(() => groupCommit.close())
          const stored = yield* Effect.promise(() => pending)
          expect(stored.duplicate).toBe(false)
          const refused = yield* Effect.promise(() =>
            groupCommit.submit(row("late-2")).then(
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
