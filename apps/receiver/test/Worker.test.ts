import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Random } from "effect"
import postgres from "postgres"
import { ReceiverConfig } from "../src/Config.ts"
import { Database } from "../src/Db/Database.ts"
import { GroupCommit } from "../src/Ingest/GroupCommit.ts"
import type { InboxRow } from "../src/Ingest/InboxSql.ts"
import { prometheusText } from "../src/Metrics.ts"
import { RewardPolicyLive } from "../src/Worker/Rewards.ts"
import { Worker } from "../src/Worker/Worker.ts"
import { claim } from "../src/Worker/WorkerSql.ts"
import { makeIsolatedPostgres, testDatabases, testDatabaseUrl } from "./support/databases.ts"
import { testEnv } from "./support/env.ts"

const row = (i: number, overrides: Partial<InboxRow> = {}): InboxRow => ({
  dedupKey: `w-${i}`,
  status: "pending",
  source: "post-json",
  offerId: `offer-${i % 7}`,
  advertiserName: "MomentScience",
  payout: `${i % 50}.${String(i % 100).padStart(2, "0")}`,
  occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60)).toISOString(),
  isLoyaltyBoost: true,
  payload: JSON.stringify({ user_id: `user-${i % 37}` }),
  userId: `user-${i % 37}`,
  deliveryCount: 1,
  flags: null,
  problems: null,
  ...overrides
})

/** points = floor(payout × 10), computed here from the text, independently of the converter. */
const expectedPoints = (payout: string): bigint => {
  const [whole, fraction = ""] = payout.split(".")
  return BigInt(whole!) * 10n + BigInt(`${fraction}0`.slice(0, 1))
}

const insertRows = (rows: ReadonlyArray<InboxRow>) =>
  Effect.gen(function* () {
    const { sql } = yield* Database
    const groupCommit = GroupCommit.make(sql, {
      maxBatch: 500,
      maxWaitMs: 1,
      maxInFlight: 2,
      maxQueue: rows.length
    })
    yield* Effect.promise(() => Promise.all(rows.map((r) => groupCommit.submit(r))))
    yield* Effect.promise(() => groupCommit.close())
  })

const workerLayer = (env: Record<string, string> = {}) =>
  Worker.layer.pipe(
    Layer.provide(RewardPolicyLive),
    Layer.provide(ReceiverConfig.fromRecord(testEnv({ WORKER_BATCH_SIZE: "50", ...env })))
  )

for (const database of testDatabases) {
  layer(Layer.provideMerge(workerLayer({ WORKER_LEASE_SECONDS: "1" }), database.layer()), {
    timeout: 60_000,
    excludeTestServices: true
  })(`Worker on ${database.name}`, (it) => {
    it.effect(
      "credits every LoyaltyBoost postback exactly once and balances equal the ledger",
      () =>
        Effect.gen(function* () {
          const rows = Array.from({ length: 300 }, (_, i) => row(i))
          yield* insertRows(rows)
          const worker = yield* Worker
          const processed = yield* worker.drain
          expect(processed).toBe(300)
          const { sql } = yield* Database
          const balances = yield* Effect.promise(() =>
            sql.query<{ user_id: string; balance: string }>(
              "SELECT user_id, balance::text AS balance FROM accounts ORDER BY user_id"
            )
          )
          const expected = new Map<string, bigint>()
          for (const r of rows)
            expected.set(r.userId!, (expected.get(r.userId!) ?? 0n) + expectedPoints(r.payout))
          expect(Object.fromEntries(balances.map((b) => [b.user_id, BigInt(b.balance)]))).toEqual(
            Object.fromEntries(expected)
          )
          const [ledger] = yield* Effect.promise(() =>
            sql.query<{ n: string; credited: string }>(
              "SELECT (SELECT count(*) FROM reward_transactions)::text AS n, (SELECT count(*) FROM postbacks WHERE status = 'credited')::text AS credited"
            )
          )
          // A zero payout ("0.00", every 100th row) is recorded, never a ledger row.
          const worth = String(rows.filter((r) => expectedPoints(r.payout) > 0n).length)
          expect(worth).toBe("297")
          expect(ledger).toEqual({ n: worth, credited: worth })
        })
    )

    it.effect(
      "a claim lasts as long as its transaction: rows of a batch that died are pending again, untouched, and credited once",
      () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          yield* insertRows([
            row(10_000, { dedupKey: "lease-1", userId: "lease-user", payout: "10.00" })
          ])
          // A worker claims and dies before settling: its transaction rolls back.
          const claimed: Array<string | null> = []
          const died = yield* Effect.promise(() =>
            sql
              .transaction(async (tx) => {
                claimed.push(...(await claim(tx, 60, 10)).map((c) => c.userId))
                throw new Error("worker died")
              })
              .then(
                () => "settled",
                (error: Error) => error.message
              )
          )
          expect(died).toBe("worker died")
          expect(claimed).toEqual(["lease-user"])
          const state = () =>
            Effect.promise(() =>
              sql.query<{ status: string; attempts: number; balance: string | null }>(
                "SELECT p.status, p.attempts, a.balance::text AS balance FROM postbacks p LEFT JOIN accounts a ON a.user_id = p.user_id WHERE p.dedup_key = 'lease-1'"
              )
            )
          expect(yield* state()).toEqual([{ status: "pending", attempts: 0, balance: null }])
          const worker = yield* Worker
          expect(yield* worker.drain).toBe(1)
          expect(yield* state()).toEqual([{ status: "credited", attempts: 1, balance: "100" }])
        })
    )
  })
}

describe.skipIf(testDatabaseUrl === undefined)(
  "claims held by other processes (PostgreSQL)",
  () => {
    it.effect(
      "a claim is skipped while its process holds it, and comes back when the process dies or its lease of idleness runs out",
      () =>
        Effect.gen(function* () {
          const { url } = yield* makeIsolatedPostgres(testDatabaseUrl!)
          const context = yield* Layer.build(
            Layer.provideMerge(
              workerLayer({ WORKER_LEASE_SECONDS: "1" }),
              Database.layerPostgres(url, { poolSize: 3 })
            )
          )
          const { sql } = yield* Effect.provide(Database, context)
          yield* insertRows([
            row(1, { dedupKey: "killed", userId: "killed-user", payout: "1.00" }),
            row(2, { dedupKey: "hung", userId: "hung-user", payout: "2.00" })
          ]).pipe(Effect.provide(context))
          // Two other worker processes, each with a connection of its own,
          // claim one row each and never settle: one is then killed, the other
          // hangs (its transaction left idle).
          const holders = ["killed", "hung"].map((name) => ({
            name,
            client: postgres(url, {
              max: 1,
              onnotice: () => {},
              connection: { application_name: `holder-${name}` }
            })
          }))
          yield* Effect.addFinalizer(() =>
            Effect.promise(() => Promise.all(holders.map((h) => h.client.end({ timeout: 0 }))))
          )
          const ended: Array<Promise<unknown>> = []
          for (const { client } of holders) {
            yield* Effect.promise(
              () =>
                new Promise<void>((claimed, failed) => {
                  ended.push(
                    client
                      .begin(async (tx) => {
                        const runner = {
                          query: async <Row>(text: string, params: ReadonlyArray<unknown> = []) =>
                            (await tx.unsafe(text, params as Array<never>)) as unknown as Array<Row>
                        }
                        // a lease of 1 s of idleness, as the worker's own claims have here
                        const rows = await claim(runner, 1, 1)
                        if (rows.length !== 1) failed(new Error(`claimed ${rows.length}`))
                        claimed()
                        await new Promise(() => {}) // never settles
                      })
                      .catch((error: unknown) => error)
                  )
                })
            )
          }
          const worker = yield* Effect.provide(Worker, context)
          const state = () =>
            Effect.promise(() =>
              sql.query<{ dedup_key: string; status: string; attempts: number }>(
                "SELECT dedup_key, status, attempts FROM postbacks ORDER BY dedup_key"
              )
            )
          // Both rows are held: this worker skips them without waiting.
          expect(yield* worker.drain).toBe(0)
          expect(yield* state()).toEqual([
            { dedup_key: "hung", status: "pending", attempts: 0 },
            { dedup_key: "killed", status: "pending", attempts: 0 }
          ])
          // The first holder's process dies: its connection ends, its claim with it.
          yield* Effect.promise(() =>
            sql.query(
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'holder-killed'"
            )
          )
          yield* Effect.promise(() => ended[0]!)
          expect(yield* worker.drain).toBe(1)
          // The second is idle in its transaction past its lease: the server ends its session.
          yield* Effect.promise(() => ended[1]!)
          expect(yield* worker.drain).toBe(1)
          expect(yield* state()).toEqual([
            { dedup_key: "hung", status: "credited", attempts: 1 },
            { dedup_key: "killed", status: "credited", attempts: 1 }
          ])
          const [ledger] = yield* Effect.promise(() =>
            sql.query<{ n: string; total: string }>(
              "SELECT count(*)::text AS n, (SELECT sum(balance) FROM accounts)::text AS total FROM reward_transactions"
            )
          )
          expect(ledger).toEqual({ n: "2", total: "30" })
        }).pipe(Effect.scoped),
      60_000
    )
  }
)

describe.skipIf(testDatabaseUrl === undefined)("two workers on one PostgreSQL", () => {
  it.effect(
    "never claim the same postback: every row is processed once, by one of them",
    () =>
      Effect.gen(function* () {
        const { url } = yield* makeIsolatedPostgres(testDatabaseUrl!)
        // Two pools, as two receiver processes would have.
        const one = yield* Layer.build(
          Layer.provideMerge(workerLayer(), Database.layerPostgres(url, { poolSize: 3 }))
        )
        const two = yield* Layer.build(
          Layer.provideMerge(workerLayer(), Database.layerPostgres(url, { poolSize: 3 }))
        )
        const rows = Array.from({ length: 3000 }, (_, i) => row(i, { dedupKey: `pair-${i}` }))
        yield* insertRows(rows).pipe(Effect.provide(one))
        const [a, b] = yield* Effect.all(
          [
            Effect.flatMap(Worker, (w) => w.drain).pipe(Effect.provide(one)),
            Effect.flatMap(Worker, (w) => w.drain).pipe(Effect.provide(two))
          ],
          { concurrency: 2 }
        )
        expect(a + b).toBe(3000)
        expect(a).toBeGreaterThan(0)
        expect(b).toBeGreaterThan(0)
        const { sql } = yield* Effect.provide(Database, one)
        const [check] = yield* Effect.promise(() =>
          sql.query<{
            rows: string
            once: string
            transactions: string
            total: string
            expected: string
          }>(
            `SELECT count(*)::text AS rows,
                    count(*) FILTER (WHERE attempts = 1 AND status IN ('credited', 'recorded'))::text AS once,
                    (SELECT count(DISTINCT postback_id) FROM reward_transactions)::text AS transactions,
                    (SELECT sum(balance) FROM accounts)::text AS total,
                    (SELECT sum(points) FROM reward_transactions)::text AS expected
             FROM postbacks`
          )
        )
        expect(check).toMatchObject({
          rows: "3000",
          once: "3000",
          // zero payouts ("0.00", every 100th row) are recorded, never a ledger row
          transactions: String(rows.filter((r) => expectedPoints(r.payout) > 0n).length)
        })
        expect(check!.total).toBe(check!.expected)
        expect(BigInt(check!.total)).toBe(
          rows.reduce((sum, r) => sum + expectedPoints(r.payout), 0n)
        )
      }).pipe(Effect.scoped),
    120_000
  )
})

// Full jitter draws the retry delay from [0, cap): a fixed draw near the top
// makes it an hour, so no drain can see the row due again until the test
// moves its due time (no sleeping, whatever the machine's speed).
const nearTheCap: Random.Random = {
  nextIntUnsafe: () => 0,
  nextDoubleUnsafe: () => 0.99
}

layer(
  Layer.provideMerge(
    workerLayer({
      WORKER_MAX_ATTEMPTS: "2",
      WORKER_RETRY_BASE_MS: "3600000",
      WORKER_RETRY_CAP_MS: "3600000"
    }).pipe(Layer.provide(Layer.succeed(Random.Random, nearTheCap))),
    testDatabases[0]!.layer()
  ),
  { timeout: 60_000, excludeTestServices: true }
)("Worker failures", (it) => {
  it.effect(
    "a row that keeps failing is retried with backoff, then dead with its error, without holding back its batch",
    () =>
      Effect.gen(function* () {
        const { sql } = yield* Database
        // The ledger refuses one user: a failure inside the crediting transaction.
        yield* Effect.promise(async () => {
          await sql.query(`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.user_id = 'poison' THEN RAISE EXCEPTION 'ledger refuses %', NEW.user_id; END IF; RETURN NEW; END $$`)
          await sql.query(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON reward_transactions FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
          )
        })
        yield* insertRows([
          row(1, { dedupKey: "f-1", userId: "good-1", payout: "1.00" }),
          row(2, { dedupKey: "f-2", userId: "poison", payout: "1.00" }),
          row(3, { dedupKey: "f-3", userId: "good-2", payout: "1.00" })
        ])
        const worker = yield* Worker
        yield* worker.drain
        const state = () =>
          Effect.promise(() =>
            sql.query<{
              dedup_key: string
              status: string
              attempts: number
              last_error: string | null
            }>(
              "SELECT dedup_key, status, attempts, last_error FROM postbacks WHERE dedup_key LIKE 'f-%' ORDER BY dedup_key"
            )
          )
        const first = yield* state()
        expect(first.map((r) => r.status)).toEqual(["credited", "pending", "credited"])
        expect(first[1]).toMatchObject({ attempts: 1 })
        expect(first[1]!.last_error).toContain("ledger refuses poison")
        const [due] = yield* Effect.promise(() =>
          sql.query<{ minutes: number }>(
            "SELECT round(extract(epoch FROM next_attempt_at - now()) / 60)::int AS minutes FROM postbacks WHERE dedup_key = 'f-2'"
          )
        )
        expect(due?.minutes).toBe(59)
        // An hour later: due again.
        yield* Effect.promise(() =>
          sql.query("UPDATE postbacks SET next_attempt_at = now() WHERE dedup_key = 'f-2'")
        )
        yield* worker.drain
        const second = yield* state()
        expect(second[1]).toMatchObject({ status: "dead", attempts: 2 })
        const failures = /receiver_processing_failures_total (\d+)/.exec(prometheusText())
        expect(Number(failures?.[1])).toBeGreaterThanOrEqual(2)
        expect(second[1]!.last_error).toContain("ledger refuses poison")
        // fixed and replayed: credited once
        yield* Effect.promise(() => sql.query("DROP TRIGGER refuse_poison ON reward_transactions"))
        yield* Effect.promise(() =>
          sql.query(
            "UPDATE postbacks SET status = 'pending', attempts = 0, next_attempt_at = now() WHERE dedup_key = 'f-2'"
          )
        )
        yield* worker.drain
        const third = yield* state()
        expect(third.map((r) => r.status)).toEqual(["credited", "credited", "credited"])
        const [ledger] = yield* Effect.promise(() =>
          sql.query<{ n: string }>(
            "SELECT count(*)::text AS n FROM reward_transactions WHERE user_id IN ('good-1', 'good-2', 'poison')"
          )
        )
        expect(ledger?.n).toBe("3")
      })
  )
})
