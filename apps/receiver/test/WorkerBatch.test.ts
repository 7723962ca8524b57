import { expect, it } from "@effect/vitest"
import { Clock, Effect, Layer, Queue } from "effect"
import { TestClock } from "effect/testing"
import { ReceiverConfig } from "../src/Config.ts"
import { Database } from "../src/Db/Database.ts"
import { WakeSignal } from "../src/WakeSignal.ts"
import { RewardPolicyLive } from "../src/Worker/Rewards.ts"
import { Worker, WorkerLoopLive } from "../src/Worker/Worker.ts"
import { testDatabases } from "./support/databases.ts"
import { testEnv } from "./support/env.ts"

const insertPending = (key: string) =>
  Effect.gen(function* () {
    const { sql } = yield* Database
    yield* Effect.promise(() =>
      sql.query(
        `INSERT INTO postbacks (dedup_key, status, source, offer_id, advertiser_name, payout,
           occurred_at, is_loyalty_boost, payload, user_id, next_attempt_at)
         VALUES ($1, 'pending', 'post-json', 'offer', 'MomentScience', 1.00,
           '2023-09-20T15:27:40.802Z', true, '{"user_id":"u"}', 'u', now())`,
        [key]
      )
    )
  })

const statusOf = (key: string) =>
  Effect.gen(function* () {
    const { sql } = yield* Database
    const [row] = yield* Effect.promise(() =>
      sql.query<{ status: string }>("SELECT status FROM postbacks WHERE dedup_key = $1", [key])
    )
    return row?.status
  })

it.effect(
  "after a short batch the loop lets postbacks gather until WORKER_BATCH_WAIT_MS after that batch's start",
  () =>
    Effect.gen(function* () {
      // The loop's waits for a wake-up, each with the (test) clock's time.
      const waits = yield* Queue.unbounded<number>()
      const recordingWake = Layer.effect(
        WakeSignal,
        Effect.gen(function* () {
          const inner = yield* WakeSignal
          return WakeSignal.of({
            signal: inner.signal,
            await: (timeout) =>
              Clock.currentTimeMillis.pipe(
                Effect.flatMap((now) => Queue.offer(waits, now)),
                Effect.andThen(inner.await(timeout))
              )
          })
        })
      ).pipe(Layer.provide(WakeSignal.layer))
      const config = ReceiverConfig.fromRecord(
        testEnv({ WORKER_BATCH_WAIT_MS: "60000", WORKER_POLL_MS: "3600000" })
      )
      const context = yield* Layer.build(
        WorkerLoopLive.pipe(
          Layer.provideMerge(Worker.layer.pipe(Layer.provide(RewardPolicyLive))),
          Layer.provideMerge(Layer.mergeAll(recordingWake, config, testDatabases[0]!.layer()))
        )
      )
      const wake = yield* Effect.provide(WakeSignal, context)
      // The first batch found nothing: the loop waits for postbacks.
      expect(yield* Queue.take(waits)).toBe(0)
      yield* insertPending("gathered").pipe(Effect.provide(context))
      wake.signal()
      // Woken at once, it still waits until 60 s after the empty batch began.
      yield* TestClock.adjust("59999 millis")
      expect(yield* statusOf("gathered").pipe(Effect.provide(context))).toBe("pending")
      yield* TestClock.adjust("1 millis")
      // The next batch ran at 60 s and credited it, and the loop waits again.
      expect(yield* Queue.take(waits)).toBe(60_000)
      expect(yield* statusOf("gathered").pipe(Effect.provide(context))).toBe("credited")
    }).pipe(Effect.scoped),
  60_000
)
