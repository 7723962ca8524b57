import {
  attemptOffsets,
  type DeliveryState,
  delayAfter,
  dueAttempt,
  exponential,
  fromOffsets,
  isTerminal,
  lostInTransit,
  momentScience,
  nextAttemptAt,
  Outcome,
  onOutcome,
  RetryPolicyError,
  retryPolicy,
  schedule,
  seededRandom,
  simulate,
  start,
  toleratedOutageSeconds
} from "@org/postback-retry"
import { Clock, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { assert, assertEquals, assertThrows } from "./assert.ts"

const T0 = Date.UTC(2025, 2, 1, 10, 0, 0)
const t = (seconds: number) => new Date(T0 + seconds * 1000)

Deno.test("postback-retry: MomentScience attempt offsets", () => {
  assertEquals(attemptOffsets(momentScience), [0, 60, 150, 270, 420])
  assertEquals(toleratedOutageSeconds(momentScience), 420)
  assertEquals(toleratedOutageSeconds(fromOffsets([0, 60, 90, 120, 150])), 150)
})

Deno.test("postback-retry: next attempt for a worker", () => {
  assertEquals(delayAfter(momentScience, 1), 60)
  assertEquals(delayAfter(momentScience, 5), undefined)
  assertEquals(nextAttemptAt(momentScience, 2, t(0))?.toISOString(), t(90).toISOString())
})

Deno.test("postback-retry: the state machine fails after five failures", () => {
  let state: DeliveryState = start(momentScience, t(0))
  const times: Array<number> = []
  while (!isTerminal(state)) {
    const due = dueAttempt(state)!
    times.push((due.at.getTime() - T0) / 1000)
    state = onOutcome(momentScience, state, Outcome.response(503), due.at)
  }
  assertEquals(times, [0, 60, 150, 270, 420])
  assertEquals(state._tag, "failed")
  assert(state._tag === "failed" && state.attempts === 5)
  const delivered = onOutcome(
    momentScience,
    start(momentScience, t(0)),
    Outcome.response(200),
    t(0)
  )
  assertEquals(delivered, { _tag: "delivered", attempt: 1, at: t(0) })
})

Deno.test("postback-retry: invalid policies name the option", () => {
  const error = assertThrows(() => retryPolicy({ delaysSeconds: [60, -1] }))
  assert(error instanceof RetryPolicyError)
  assertEquals(error.option, "delaysSeconds[1]")
  assertEquals(
    error.message,
    "retryPolicy: delaysSeconds[1] must be a finite number of seconds >= 0, got -1"
  )
})

Deno.test("postback-retry: seeded full jitter is reproducible", () => {
  const policy = exponential({ baseSeconds: 1, capSeconds: 30, maxAttempts: 6, jitter: "full" })
  const draws = (seed: number) => {
    const random = seededRandom(seed)
    return [1, 2, 3, 4, 5].map((n) => delayAfter(policy, n, { random }))
  }
  assertEquals(draws(3), draws(3))
})

Deno.test("postback-retry: the Schedule under the TestClock", async () => {
  const program = Effect.gen(function* () {
    const times: Array<number> = []
    const attempt = Effect.gen(function* () {
      times.push(yield* Clock.currentTimeMillis)
      return yield* Effect.fail(Outcome.response(503))
    })
    const fiber = yield* Effect.forkChild(
      Effect.retryOrElse(attempt, schedule(momentScience), (_e, state) => Effect.succeed(state))
    )
    yield* TestClock.adjust("1 hour")
    const exit = yield* Fiber.await(fiber)
    return { times, exit }
  }).pipe(Effect.provide(TestClock.layer()))
  const { times, exit } = await Effect.runPromise(program)
  assertEquals(times, [0, 60_000, 150_000, 270_000, 420_000])
  assert(Exit.isSuccess(exit))
  assertEquals(exit.value, {
    _tag: "failed",
    attempts: 5,
    lastOutcome: Outcome.response(503),
    at: new Date(420_000)
  })
})

Deno.test("postback-retry: simulate an outage and lost 200s", () => {
  const down = simulate(momentScience, {
    sends: [t(0), t(100)],
    outages: [{ from: t(0), to: t(500) }]
  })
  assertEquals(
    down.postbacks.map((p) => p.lost),
    [true, false]
  )
  const lost200 = simulate(momentScience, {
    sends: [t(0)],
    outages: [{ from: t(0), to: t(100), exchange: lostInTransit() }]
  })
  assertEquals(lost200.duplicates, 2)
  assertEquals(lost200.postbacks[0]!.deliveredAt, t(150))
})
