import { expect, layer } from "@effect/vitest"
import { Decimal } from "@org/postback-schema"
import { Effect, Layer, Logger, Metric, References } from "effect"
import { ReceiverConfig } from "../src/Config.ts"
import { Database } from "../src/Db/Database.ts"
import { prometheusText } from "../src/Metrics.ts"
import { RewardPolicy } from "../src/Worker/RewardPolicy.ts"
import { RewardPolicyLive } from "../src/Worker/Rewards.ts"
import { Worker } from "../src/Worker/Worker.ts"
import { testDatabases } from "./support/databases.ts"
import { TEST_ADMIN_TOKEN, TEST_SECRET, testEnv } from "./support/env.ts"

interface Pending {
  readonly key: string
  readonly payout: string
  readonly userId: string | null
  readonly isLoyaltyBoost?: boolean
}

/** Pending postbacks written straight into the inbox (the ingest path is tested elsewhere). */
const insertPending = (rows: ReadonlyArray<Pending>) =>
  Effect.gen(function* () {
    const { sql } = yield* Database
    for (const row of rows) {
      yield* Effect.promise(() =>
        sql.query(
          `INSERT INTO postbacks (dedup_key, status, source, offer_id, advertiser_name, payout,
             occurred_at, is_loyalty_boost, payload, user_id, next_attempt_at)
           VALUES ($1, 'pending', 'post-json', 'offer', 'MomentScience', $2::numeric,
             '2023-09-20T15:27:40.802Z', $3, $4::jsonb, $5, now())`,
          [
            row.key,
            row.payout,
            row.isLoyaltyBoost ?? true,
            JSON.stringify(row.userId === null ? {} : { user_id: row.userId }),
            row.userId
          ]
        )
      )
    }
  })

/** Log lines as data: message, level and annotations. */
const captured: Array<{
  message: string
  level: string
  annotations: Record<string, unknown>
}> = []
const capturingLogger = Logger.layer([
  Logger.make(({ message, logLevel, fiber }) => {
    captured.push({
      message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
      level: logLevel,
      annotations: { ...fiber.getRef(References.CurrentLogAnnotations) }
    })
  })
])

const processedCount = (text: string, status: string): number =>
  Number(
    new RegExp(`receiver_postbacks_processed_total\\{status="${status}"\\} (\\d+)`).exec(
      text
    )?.[1] ?? 0
  )

for (const database of testDatabases) {
  layer(
    Layer.provideMerge(
      Worker.layer.pipe(
        Layer.provide(RewardPolicyLive),
        Layer.provideMerge(
          ReceiverConfig.fromRecord(testEnv({ WORKER_BATCH_SIZE: "50", WORKER_MAX_ATTEMPTS: "1" }))
        )
      ),
      // A registry of its own, so that other suites' metrics do not count here.
      Layer.mergeAll(
        database.layer(),
        Layer.succeed(Metric.MetricRegistry, new Map()),
        capturingLogger
      )
    ),
    { timeout: 60_000, excludeTestServices: true }
  )(`settlement on ${database.name}`, (it) => {
    it.effect(
      "every postback that ends dead is counted and logged once, whichever way it died",
      () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          // The ledger refuses users named poison-*: a failure inside the crediting transaction.
          yield* Effect.promise(async () => {
            await sql.query(`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN IF NEW.user_id LIKE 'poison-%' THEN RAISE EXCEPTION 'ledger refuses %', NEW.user_id; END IF; RETURN NEW; END $$`)
            await sql.query(
              "CREATE TRIGGER refuse_poison BEFORE INSERT ON reward_transactions FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
            )
          })
          const before = captured.length
          yield* insertPending([
            // 10^15 USD × 10 points is past the converter's bound: dead when decided.
            ...[1, 2, 3].map((i) => ({
              key: `absurd-${i}`,
              payout: "1000000000000000",
              userId: "u"
            })),
            // Six rows the database refuses: dead once WORKER_MAX_ATTEMPTS (1) is spent.
            ...[1, 2, 3, 4, 5, 6].map((i) => ({
              key: `poison-${i}`,
              payout: "1.00",
              userId: `poison-${i}`
            })),
            { key: "fine", payout: "1.00", userId: "fine-user" }
          ])
          const worker = yield* Worker
          yield* worker.drain
          const [dead] = yield* Effect.promise(() =>
            sql.query<{ n: string }>(
              "SELECT count(*)::text AS n FROM postbacks WHERE status = 'dead'"
            )
          )
          expect(dead?.n).toBe("9")
          const text = prometheusText(yield* Metric.snapshot)
          expect(processedCount(text, "dead")).toBe(9)
          expect(processedCount(text, "credited")).toBe(1)
          const settled = captured
            .slice(before)
            .filter((line) => line.message === "Postback settled")
          expect(settled).toHaveLength(10)
          expect(settled.filter((line) => line.annotations.status === "dead")).toHaveLength(9)
          expect(
            settled.filter((l) => l.annotations.status === "dead").map((l) => l.annotations.error)
          ).toEqual(expect.arrayContaining([expect.stringContaining("ledger refuses poison-1")]))
          expect(
            settled.filter((l) => l.annotations.status === "dead").map((l) => l.annotations.error)
          ).toEqual(expect.arrayContaining([expect.stringContaining("MAX_POINTS")]))
        })
    )

    it.effect(
      "one Info line per settled postback: id, status, points and user id, never a secret",
      () =>
        Effect.gen(function* () {
          const { sql } = yield* Database
          const before = captured.length
          yield* insertPending([
            { key: "log-credited", payout: "2.10", userId: "log-user" },
            { key: "log-recorded", payout: "2.10", userId: "log-user", isLoyaltyBoost: false },
            { key: "log-zero", payout: "0", userId: "log-user" },
            { key: "log-unattributed", payout: "2.10", userId: null }
          ])
          const worker = yield* Worker
          yield* worker.drain
          const ids = yield* Effect.promise(() =>
            sql.query<{ id: string; dedup_key: string }>(
              "SELECT id::text AS id, dedup_key FROM postbacks WHERE dedup_key LIKE 'log-%'"
            )
          )
          const idOf = new Map(ids.map((r) => [r.dedup_key, Number(r.id)]))
          const lines = captured.slice(before)
          const settled = lines.filter((line) => line.message === "Postback settled")
          expect(settled.every((line) => line.level === "Info")).toBe(true)
          expect(
            settled
              .map(({ annotations: a }) => [a.postbackId, a.status, a.points, a.userId])
              .sort((a, b) => Number(a[0]) - Number(b[0]))
          ).toEqual(
            [
              [idOf.get("log-credited"), "credited", "21", "log-user"],
              [idOf.get("log-recorded"), "recorded", "0", "log-user"],
              [idOf.get("log-zero"), "recorded", "0", "log-user"],
              [idOf.get("log-unattributed"), "unattributed", "0", null]
            ].sort((a, b) => Number(a[0]) - Number(b[0]))
          )
          const everything = JSON.stringify(lines)
          expect(everything).not.toContain(TEST_SECRET)
          expect(everything).not.toContain(TEST_ADMIN_TOKEN)
        })
    )
  })
}

layer(RewardPolicyLive.pipe(Layer.provide(ReceiverConfig.fromRecord(testEnv()))), {
  excludeTestServices: true
})("reward policy", (it) => {
  const conversion = (payout: string, userId: string | null = "u", isLoyaltyBoost = true) => ({
    postbackId: 1,
    payout: Decimal.parse(payout),
    offerId: "1511",
    advertiserName: "MomentScience",
    isLoyaltyBoost,
    occurredAt: new Date("2023-09-20T15:27:40.802Z"),
    userId
  })

  it.effect("decides the credit and the settlement from the conversion", () =>
    Effect.gen(function* () {
      const policy = yield* RewardPolicy
      const credited = policy.decide(conversion("2.10"))
      expect(credited.credit).toMatchObject({ postbackId: 1, userId: "u", points: 21n })
      expect(credited.settlement).toMatchObject({ status: "credited", error: null })
      // zero, however it is written, and a conversion worth 0 points: recorded, no credit
      for (const payout of ["0", "-0", "0.00"]) {
        const zero = policy.decide(conversion(payout))
        expect(zero.credit).toBeUndefined()
        expect(zero.settlement).toMatchObject({
          status: "recorded",
          explanation: { reason: "zero-payout", points: "0" }
        })
      }
      const cent = policy.decide(conversion("0.01"))
      expect(cent.credit).toBeUndefined()
      expect(cent.settlement).toMatchObject({
        status: "recorded",
        explanation: { reason: "no-points", points: "0" }
      })
      expect(policy.decide(conversion("2.10", null)).settlement).toMatchObject({
        status: "unattributed",
        explanation: { reason: "no-user-id" }
      })
      expect(policy.decide(conversion("2.10", "u", false)).settlement.status).toBe("recorded")
      const absurd = policy.decide(conversion("1000000000000000"))
      expect(absurd.credit).toBeUndefined()
      expect(absurd.settlement.status).toBe("dead")
      expect(absurd.settlement.error).toContain("MAX_POINTS")
    })
  )
})
