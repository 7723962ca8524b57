import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Fiber, Random, Ref, Result } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import {
  type DeliveryState,
  dueAttempt,
  exponential,
  isSuccess,
  isTerminal,
  momentScience,
  Outcome,
  onOutcome,
  type RandomSource,
  type RetryPolicy,
  schedule,
  seededRandom,
  start
} from "../src/index.ts"
import { latencies, outcomes, policy } from "./arbitraries.ts"

const fail = Outcome.response(503)
const ok = Outcome.response(200)

/** The pure model's run from time 0: attempt times and final state. */
const model = (
  p: RetryPolicy,
  feed: ReadonlyArray<Outcome>,
  latency: ReadonlyArray<number>,
  random?: RandomSource
) => {
  let state: DeliveryState = start(p, new Date(0))
  const times: Array<number> = []
  for (let i = 0; !isTerminal(state); i++) {
    const due = dueAttempt(state)!.at.getTime()
    times.push(due)
    state = onOutcome(p, state, feed[i]!, new Date(due + latency[i]!), random ? { random } : {})
  }
  return { times, state }
}

/**
 * An attempt that takes `latency[i]` ms of clock time and ends with
 * `feed[i]`, recording when it started. `asValue` makes it succeed with
 * every outcome (for `Effect.repeat`); otherwise it fails with the
 * outcomes the policy does not count as success (for `Effect.retry`).
 */
const attempts = (
  p: RetryPolicy,
  feed: ReadonlyArray<Outcome>,
  latency: ReadonlyArray<number>,
  asValue = false
) =>
  Effect.gen(function* () {
    const times = yield* Ref.make<ReadonlyArray<number>>([])
    const attempt = Effect.gen(function* () {
      const i = (yield* Ref.get(times)).length
      yield* Ref.update(times, (ts) => [...ts, 0])
      const now = yield* Clock.currentTimeMillis
      yield* Ref.update(times, (ts) => ts.map((t, j) => (j === i ? now : t)))
      yield* Effect.sleep(Duration.millis(latency[i] ?? 0))
      const outcome = feed[i]!
      return asValue || isSuccess(p, outcome) ? outcome : yield* Effect.fail(outcome)
    })
    return { attempt, times: Ref.get(times) }
  })

/** Runs `effect` to the end under the TestClock (a day is far more than any policy here). */
const underTestClock = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    yield* TestClock.adjust(Duration.days(30))
    return yield* Fiber.await(fiber)
  })

/** A `Random` that returns `values` in turn, from the start again when they run out. */
const fixedRandom = (values: ReadonlyArray<number>): Random.Random => {
  let i = 0
  return {
    nextDoubleUnsafe: () => values[i++ % values.length]!,
    nextIntUnsafe: () => Math.floor(values[i++ % values.length]! * Number.MAX_SAFE_INTEGER)
  }
}

/** Runs `effect` with `random` as Effect's `Random` service. */
const withRandom =
  (random: Random.Random) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(effect, Random.Random, random)

/**
 * Runs one case of a property in a fresh TestClock, as `it.effect` runs a
 * whole test, so each case starts at time 0.
 */
const runCase = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(Effect.provide(effect, TestClock.layer()))

describe("schedule(momentScience) with Effect.retry", () => {
  it.effect("retries at 0, 60, 150, 270 and 420 s, then gives up with the last failure", () =>
    Effect.gen(function* () {
      const { attempt, times } = yield* attempts(
        momentScience,
        Array(5).fill(fail),
        Array(5).fill(0)
      )
      const exit = yield* underTestClock(Effect.retry(attempt, schedule(momentScience)))
      expect(exit).toEqual(Exit.fail(fail))
      expect(yield* times).toEqual([0, 60_000, 150_000, 270_000, 420_000])
    })
  )

  it.effect("hands the final failed state to retryOrElse", () =>
    Effect.gen(function* () {
      const feed = [fail, Outcome.timeout(), fail, fail, Outcome.connectionError("ECONNRESET")]
      const { attempt } = yield* attempts(momentScience, feed, Array(5).fill(0))
      const exit = yield* underTestClock(
        Effect.retryOrElse(attempt, schedule(momentScience), (_error, state) =>
          Effect.succeed(state)
        )
      )
      expect(exit).toEqual(
        Exit.succeed({
          _tag: "failed",
          attempts: 5,
          lastOutcome: Outcome.connectionError("ECONNRESET"),
          at: new Date(420_000)
        })
      )
    })
  )

  it.effect("stops at the first 200, on attempt 3 at 150 s", () =>
    Effect.gen(function* () {
      const { attempt, times } = yield* attempts(momentScience, [fail, fail, ok], [0, 0, 0])
      const exit = yield* underTestClock(Effect.retry(attempt, schedule(momentScience)))
      expect(exit).toEqual(Exit.succeed(ok))
      expect(yield* times).toEqual([0, 60_000, 150_000])
    })
  )

  it.effect("does not wait before the first attempt, and waits the full delay after each", () =>
    Effect.gen(function* () {
      const { attempt, times } = yield* attempts(momentScience, [fail, ok], [0, 0])
      const fiber = yield* Effect.forkChild(Effect.retry(attempt, schedule(momentScience)))
      yield* TestClock.adjust(Duration.seconds(59))
      expect(yield* times).toEqual([0])
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* Fiber.join(fiber)).toEqual(ok)
      expect(yield* times).toEqual([0, 60_000])
    })
  )

  it.effect("counts delays from the failure: a 30 s timeout each time shifts every retry", () =>
    Effect.gen(function* () {
      const feed = Array(5).fill(Outcome.timeout())
      const { attempt, times } = yield* attempts(momentScience, feed, Array(5).fill(30_000))
      yield* underTestClock(Effect.retry(attempt, schedule(momentScience)))
      expect(yield* times).toEqual([0, 90_000, 210_000, 360_000, 540_000])
    })
  )

  it.effect("records Effect's TimeoutError as a timeout, other errors as connection errors", () =>
    Effect.gen(function* () {
      /** The final state of a delivery whose every attempt fails with `attempt`, and when it began. */
      const finalState = <E>(attempt: Effect.Effect<unknown, E>) =>
        Effect.gen(function* () {
          const began = yield* Clock.currentTimeMillis
          const exit = yield* underTestClock(
            Effect.retryOrElse(attempt, schedule(momentScience), (_e, state) =>
              Effect.succeed(state)
            )
          )
          return { began, exit }
        })
      const timedOut = yield* finalState(Effect.never.pipe(Effect.timeout(Duration.seconds(10))))
      expect(timedOut.exit).toEqual(
        Exit.succeed({
          _tag: "failed",
          attempts: 5,
          lastOutcome: Outcome.timeout(),
          at: new Date(timedOut.began + 420_000 + 5 * 10_000)
        })
      )
      const refused = yield* finalState(Effect.fail(new Error("connect ECONNREFUSED")))
      expect(refused.exit).toEqual(
        Exit.succeed({
          _tag: "failed",
          attempts: 5,
          lastOutcome: Outcome.connectionError("connect ECONNREFUSED"),
          at: new Date(refused.began + 420_000)
        })
      )
      const carried = yield* finalState(
        Effect.fail({ _tag: "DeliveryFailed", outcome: Outcome.response(429) })
      )
      expect(carried.exit).toEqual(
        Exit.succeed({
          _tag: "failed",
          attempts: 5,
          lastOutcome: Outcome.response(429),
          at: new Date(carried.began + 420_000)
        })
      )
    })
  )
})

describe("schedule with Effect.repeat", () => {
  it.effect("returns the final state: delivered on the fourth attempt at 270 s", () =>
    Effect.gen(function* () {
      const { attempt } = yield* attempts(momentScience, [fail, fail, fail, ok], [0, 0, 0, 0], true)
      const exit = yield* underTestClock(Effect.repeat(attempt, schedule(momentScience)))
      expect(exit).toEqual(Exit.succeed({ _tag: "delivered", attempt: 4, at: new Date(270_000) }))
    })
  )

  it.effect("a 201 is not a success for MomentScience", () =>
    Effect.gen(function* () {
      const created = Outcome.response(201)
      const { attempt } = yield* attempts(
        momentScience,
        Array(5).fill(created),
        Array(5).fill(0),
        true
      )
      const exit = yield* underTestClock(Effect.repeat(attempt, schedule(momentScience)))
      expect(exit).toEqual(
        Exit.succeed({ _tag: "failed", attempts: 5, lastOutcome: created, at: new Date(420_000) })
      )
    })
  )
})

describe("jitter in the Schedule", () => {
  const jittered = exponential({ baseSeconds: 10, capSeconds: 60, maxAttempts: 5, jitter: "full" })

  it.effect("draws from Effect's Random service by default", () =>
    Effect.gen(function* () {
      const { attempt, times } = yield* attempts(jittered, Array(5).fill(fail), Array(5).fill(0))
      yield* underTestClock(
        Effect.retry(attempt, schedule(jittered)).pipe(withRandom(fixedRandom([0.5, 0.25, 1, 0])))
      )
      // nominal delays 10, 20, 40, 60 s scaled by 0.5, 0.25, 1, 0
      expect(yield* times).toEqual([0, 5_000, 10_000, 50_000, 50_000])
    })
  )

  it.effect("draws exactly as often as the pure model, so a shared Random stays in step", () =>
    Effect.gen(function* () {
      // Two deliveries in a row share one fixed Random. With Effect.repeat the
      // Schedule also sees the successful outcome; the first delivery must
      // draw once (after its failure), not again on its success, so the
      // second starts from the second value.
      const run = (feed: ReadonlyArray<Outcome>) =>
        Effect.gen(function* () {
          const { attempt, times } = yield* attempts(jittered, feed, Array(5).fill(0), true)
          const start = yield* Clock.currentTimeMillis
          yield* Effect.repeat(attempt, schedule(jittered))
          return (yield* times).map((t) => t - start)
        })
      const both = Effect.gen(function* () {
        const first = yield* run([fail, ok])
        const second = yield* run([fail, fail, ok])
        return [first, second]
      }).pipe(withRandom(fixedRandom([0.5, 0.1, 0.2, 0.3])))
      const exit = yield* underTestClock(both)
      expect(exit).toEqual(
        Exit.succeed([
          [0, 5_000],
          [0, 1_000, 5_000]
        ])
      )
    })
  )

  it.effect("uses the random option when given", () =>
    Effect.gen(function* () {
      const { attempt, times } = yield* attempts(jittered, Array(5).fill(fail), Array(5).fill(0))
      yield* underTestClock(Effect.retry(attempt, schedule(jittered, { random: () => 0.1 })))
      expect(yield* times).toEqual([0, 1_000, 3_000, 7_000, 13_000])
    })
  )

  it("refuses a random option that is not a function", () => {
    expect(() => schedule(jittered, { random: 0.5 as unknown as RandomSource })).toThrow(
      "schedule: options.random must be a function returning numbers from 0 to 1, got 0.5"
    )
  })
})

describe("the Schedule and the pure model agree", () => {
  // Each run drives the TestClock through up to eight sleeps; 60 runs keep this file around two seconds.
  const settings = { numRuns: 60 }

  it("Effect.retry: same attempt times, same result, for arbitrary outcomes and latencies", async () => {
    await fc.assert(
      fc.asyncProperty(policy(), outcomes, latencies, fc.integer(), (p, feed, latency, seed) =>
        runCase(
          Effect.gen(function* () {
            const expected = model(p, feed, latency, seededRandom(seed))
            const { attempt, times } = yield* attempts(p, feed, latency)
            const exit = yield* underTestClock(
              Effect.retryOrElse(
                Effect.map(attempt, (outcome) => Result.succeed(outcome)),
                schedule(p, { random: seededRandom(seed) }),
                (_e, state) => Effect.succeed(Result.fail(state))
              )
            )
            expect(yield* times).toEqual(expected.times)
            const result = Exit.isSuccess(exit) ? exit.value : undefined
            if (expected.state._tag === "delivered") {
              expect(result).toEqual(Result.succeed(feed[expected.state.attempt - 1]))
            } else {
              expect(result).toEqual(Result.fail(expected.state))
            }
          })
        )
      ),
      settings
    )
  })

  it("Effect.repeat: the same final state, drawing jitter from Effect's Random", async () => {
    await fc.assert(
      fc.asyncProperty(
        policy(),
        outcomes,
        latencies,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 8, maxLength: 8 }),
        (p, feed, latency, draws) =>
          runCase(
            Effect.gen(function* () {
              let i = 0
              const expected = model(p, feed, latency, () => draws[i++]!)
              const { attempt, times } = yield* attempts(p, feed, latency, true)
              const exit = yield* underTestClock(
                Effect.repeat(attempt, schedule(p)).pipe(withRandom(fixedRandom(draws)))
              )
              expect(yield* times).toEqual(expected.times)
              expect(exit).toEqual(Exit.succeed(expected.state))
            })
          )
      ),
      settings
    )
  })
})
