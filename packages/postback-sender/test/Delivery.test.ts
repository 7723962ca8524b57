import { describe, expect, it } from "@effect/vitest"
import { fixed, momentScience } from "@org/postback-retry"
import { Decimal, type Postback } from "@org/postback-schema"
import { Clock, Duration, Effect, Fiber, Queue } from "effect"
import { TestClock } from "effect/testing"
import {
  type AttemptReport,
  type DeliveryReport,
  deliver,
  deliverEffect,
  type Endpoint
} from "../src/index.ts"
import { eventually, type Reply, startServer, testServer } from "./support/server.ts"

const postback: Postback = {
  offerId: "1511",
  advertiserName: "MomentScience",
  payout: Decimal.parse("2.10"),
  timestamp: new Date("2023-09-20T15:27:40.802Z"),
  isLoyaltyBoost: true,
  payload: { user_id: "3410444" }
}

/** Answers from a list, by request index; the last one repeats. */
const replies =
  (...list: Array<Reply>) =>
  (_: unknown, index: number): Reply =>
    list[Math.min(index, list.length - 1)]!

/**
 * Starts a delivery under the TestClock and returns it with a queue of its
 * attempts. Each attempt is reported before the delivery sleeps, so after
 * taking one the test may move the clock to the next attempt.
 */
const startDelivery = (endpoint: Endpoint, options: { timeoutMs?: number } = {}) =>
  Effect.gen(function* () {
    const attempts = yield* Queue.unbounded<AttemptReport>()
    const fiber = yield* Effect.forkChild(
      deliverEffect(postback, endpoint, {
        ...options,
        onAttempt: (attempt) => Queue.offerUnsafe(attempts, attempt)
      })
    )
    return { attempts, fiber }
  })

/** Seconds from the start of the test clock to each attempt. */
const offsets = (report: DeliveryReport, t0: number) =>
  report.attempts.map((a) => (a.at.getTime() - t0) / 1000)

/** Gives real time (not the test clock) a moment, for I/O that should not happen. */
const realPause = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))

describe("deliverEffect under the TestClock", () => {
  it.effect("5 attempts, 60, 90, 120 and 150 s after each failure, then failed", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => ({ status: 503, body: "busy" }))
      const t0 = yield* Clock.currentTimeMillis
      const { attempts, fiber } = yield* startDelivery({
        method: "POST",
        url: `${server.origin}/postbacks`
      })

      const first = yield* Queue.take(attempts)
      expect(first).toMatchObject({ attempt: 1, status: 503, body: "busy", success: false })
      expect(first.nextAttemptAt?.getTime()).toBe(t0 + 60_000)
      // Not a millisecond early.
      yield* TestClock.adjust("59999 millis")
      yield* realPause(30)
      expect(server.received).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      yield* Queue.take(attempts)
      for (const gap of [90, 120, 150]) {
        yield* TestClock.adjust(Duration.seconds(gap))
        yield* Queue.take(attempts)
      }
      const report = yield* Fiber.join(fiber)

      expect(offsets(report, t0)).toEqual([0, 60, 150, 270, 420])
      expect(report.delivered).toBe(false)
      expect(report.state).toEqual({
        _tag: "failed",
        attempts: 5,
        lastOutcome: { _tag: "response", status: 503 },
        at: new Date(t0 + 420_000)
      })
      expect(report.attempts.map((a) => a.nextAttemptAt?.getTime())).toEqual([
        t0 + 60_000,
        t0 + 150_000,
        t0 + 270_000,
        t0 + 420_000,
        undefined
      ])
      // Retries re-send the same postback, byte for byte.
      expect(server.received).toHaveLength(5)
      expect(new Set(server.received.map((r) => r.body)).size).toBe(1)
      // Failed for good: no sixth attempt, however long one waits.
      yield* TestClock.adjust("1 hour")
      yield* realPause(30)
      expect(server.received).toHaveLength(5)
    })
  )

  it.effect("stops at the first 200", () =>
    Effect.gen(function* () {
      const server = yield* testServer(
        replies({ status: 503 }, { status: 500 }, { status: 200, body: "OK" })
      )
      const t0 = yield* Clock.currentTimeMillis
      const { attempts, fiber } = yield* startDelivery({
        method: "GET",
        url: `${server.origin}/postbacks`
      })
      yield* Queue.take(attempts)
      yield* TestClock.adjust("60 seconds")
      yield* Queue.take(attempts)
      yield* TestClock.adjust("90 seconds")
      const third = yield* Queue.take(attempts)
      expect(third).toMatchObject({ attempt: 3, status: 200, success: true })
      expect(third.nextAttemptAt).toBeUndefined()
      const report = yield* Fiber.join(fiber)
      expect(offsets(report, t0)).toEqual([0, 60, 150])
      expect(report.attempts.map((a) => a.status)).toEqual([503, 500, 200])
      expect(report.state).toEqual({ _tag: "delivered", attempt: 3, at: new Date(t0 + 150_000) })
      expect(report.delivered).toBe(true)
      yield* TestClock.adjust("1 hour")
      yield* realPause(30)
      expect(server.received).toHaveLength(3)
    })
  )

  it.effect("only 200 is a success: 201, 204 and redirects are failures", () =>
    Effect.gen(function* () {
      const server = yield* testServer(
        replies({ status: 201 }, { status: 204 }, { status: 302 }, { status: 200 })
      )
      const { attempts, fiber } = yield* startDelivery({
        method: "POST",
        url: `${server.origin}/postbacks`
      })
      for (const gap of [60, 90, 120]) {
        yield* Queue.take(attempts)
        yield* TestClock.adjust(Duration.seconds(gap))
      }
      const report = yield* Fiber.join(fiber)
      expect(report.attempts.map((a) => [a.status, a.success])).toEqual([
        [201, false],
        [204, false],
        [302, false],
        [200, true]
      ])
      expect(report.delivered).toBe(true)
    })
  )

  it.effect("a timeout is a failed attempt; the next waits from when it was observed", () =>
    Effect.gen(function* () {
      const server = yield* testServer(() => "hang")
      const t0 = yield* Clock.currentTimeMillis
      const { attempts, fiber } = yield* startDelivery(
        { method: "POST", url: `${server.origin}/postbacks` },
        { timeoutMs: 10_000 }
      )
      for (const [i, gap] of [60, 90, 120, 150, 0].entries()) {
        // The request really went out before the time limit passes.
        yield* Effect.promise(() => eventually(() => server.received.length === i + 1))
        yield* TestClock.adjust("10 seconds")
        const attempt = yield* Queue.take(attempts)
        expect(attempt).toMatchObject({
          attempt: i + 1,
          outcome: { _tag: "timeout" },
          error: "timeout after 10000 ms",
          latencyMs: 10_000,
          success: false
        })
        expect(attempt.status).toBeUndefined()
        if (gap > 0) yield* TestClock.adjust(Duration.seconds(gap))
      }
      const report = yield* Fiber.join(fiber)
      expect(offsets(report, t0)).toEqual([0, 70, 170, 300, 460])
      expect(report.state).toEqual({
        _tag: "failed",
        attempts: 5,
        lastOutcome: { _tag: "timeout" },
        at: new Date(t0 + 470_000)
      })
    })
  )

  it.effect("latency and the time limit are measured on the Effect clock", () =>
    Effect.gen(function* () {
      // The server answers after 50 ms of real time; under the TestClock no
      // time passes meanwhile, so the attempt is within any limit.
      const server = yield* testServer(() => ({ status: 200, delayMs: 50 }))
      const { fiber } = yield* startDelivery(
        { method: "POST", url: `${server.origin}/postbacks` },
        { timeoutMs: 1 }
      )
      const report = yield* Fiber.join(fiber)
      expect(report.delivered).toBe(true)
      expect(report.attempts[0]!.latencyMs).toBe(0)
    })
  )

  it.effect("a refused connection is a failed attempt with its cause", () =>
    Effect.gen(function* () {
      const closed = yield* Effect.promise(() => startServer())
      yield* Effect.promise(() => closed.close())
      const { attempts, fiber } = yield* startDelivery({
        method: "POST",
        url: `${closed.origin}/postbacks`
      })
      const first = yield* Queue.take(attempts)
      expect(first.outcome._tag).toBe("connectionError")
      expect(first.error).toMatch(/^connection error \(.+\)$/)
      yield* Fiber.interrupt(fiber)
    })
  )
})

describe("deliver (Promise API)", () => {
  it("follows a scaled policy in real time", async () => {
    const server = await startServer(replies({ status: 503 }, { status: 503 }, { status: 200 }))
    try {
      const report = await deliver(
        postback,
        { method: "POST", url: `${server.origin}/pb` },
        { timeScale: 0.001 }
      )
      expect(report.delivered).toBe(true)
      expect(report.attempts.map((a) => a.status)).toEqual([503, 503, 200])
      // At least the scaled delays (60 and 90 ms) after each observed failure.
      const [a, b, c] = report.attempts
      expect(b!.at.getTime() - a!.at.getTime()).toBeGreaterThanOrEqual(60)
      expect(c!.at.getTime() - b!.at.getTime()).toBeGreaterThanOrEqual(90)
      expect(server.received).toHaveLength(3)
    } finally {
      await server.close()
    }
  })

  it("takes any policy; a real timeout fails the attempt", async () => {
    const server = await startServer(replies("hang", { status: 200 }))
    try {
      const report = await deliver(
        postback,
        { method: "POST", url: `${server.origin}/pb` },
        { policy: fixed({ delaySeconds: 0.01, maxAttempts: 3 }), timeoutMs: 50 }
      )
      expect(report.attempts.map((a) => a.status ?? a.error)).toEqual(["timeout after 50 ms", 200])
      expect(report.attempts[0]!.latencyMs).toBeGreaterThanOrEqual(45)
    } finally {
      await server.close()
    }
  })

  it("an abort signal stops the delivery between attempts", async () => {
    const server = await startServer(() => ({ status: 503 }))
    try {
      const controller = new AbortController()
      const delivery = deliver(
        postback,
        { method: "POST", url: `${server.origin}/pb` },
        {
          policy: momentScience,
          signal: controller.signal,
          onAttempt: () => controller.abort(new Error("stop"))
        }
      )
      await expect(delivery).rejects.toThrow("stop")
      expect(server.received).toHaveLength(1)
    } finally {
      await server.close()
    }
  })

  it("rejects bad options, endpoints and postbacks before sending, naming them", async () => {
    const server = await startServer()
    const url = `${server.origin}/pb`
    try {
      const cases: Array<[() => Promise<unknown>, RegExp]> = [
        [
          () => deliver(postback, { method: "PUT" } as never),
          /endpoint\.method must be "GET" or "POST", got "PUT"/
        ],
        [
          () => deliver(postback, { method: "POST", url: "/relative" }),
          /endpoint\.url must be an absolute http or https URL, got "\/relative"/
        ],
        [
          () => deliver(postback, { method: "POST", url: "ftp://x/y" }),
          /endpoint\.url must use http or https/
        ],
        [
          () => deliver(postback, { method: "POST", url: "http://u:p@x/y" }),
          /must not carry credentials/
        ],
        [
          () => deliver(postback, { method: "POST", template: "http://x/{payout}" } as never),
          /template is for GET/
        ],
        [
          () => deliver(postback, { method: "GET", url, template: "http://x/{payout}" } as never),
          /either url .* or template/
        ],
        [
          () => deliver(postback, { method: "GET", url, extra: 1 } as never),
          /unknown field "extra"/
        ],
        [
          () => deliver(postback, { method: "GET", template: "http://x/?a={pay out}" }),
          /invalid postback URL template/
        ],
        [
          () =>
            deliver(postback, {
              method: "GET",
              template: "http://x/?a={payout}",
              missing: "drop" as never
            }),
          /endpoint\.missing must be one of "empty", "keep", "error", got "drop"/
        ],
        [
          () => deliver(postback, { method: "GET", template: {} as never }),
          /endpoint\.template must be a template text or a MacroTemplate/
        ],
        [
          () => deliver(postback, { method: "POST", url }, { timeoutMs: 0 }),
          /deliver: timeoutMs must be a whole number of milliseconds from 1 to 2147483647, got 0/
        ],
        [
          () => deliver(postback, { method: "POST", url }, { timeout: 5 } as never),
          /deliver: unknown option "timeout"/
        ],
        [
          () => deliver(postback, { method: "POST", url }, { timeScale: 0 }),
          /deliver: timeScale must be a finite number above 0, got 0/
        ],
        [
          () => deliver(postback, { method: "POST", url }, { policy: { maxAttempts: 0 } as never }),
          /deliver: policy is not a valid retry policy/
        ],
        [
          () => deliver(postback, { method: "POST", url }, { headers: { "bad name": "x" } }),
          /headers\["bad name"\] is not a valid HTTP header/
        ],
        [
          () => deliver(postback, { method: "POST", url }, { onAttempt: "log" as never }),
          /onAttempt must be a function, got "log"/
        ],
        [
          () => deliver(postback, { method: "POST", url }, { signal: "stop" as never }),
          /signal must be an AbortSignal/
        ],
        [() => deliver({ ...postback, offerId: "" }, { method: "POST", url }), /offer_id|offerId/]
      ]
      for (const [run, message] of cases) await expect(run()).rejects.toThrow(message)
      expect(server.received).toHaveLength(0)
    } finally {
      await server.close()
    }
  })

  it("deliverEffect throws at once for a bad option", () => {
    expect(() =>
      deliverEffect(postback, { method: "POST", url: "http://x/" }, { maxResponseChars: -1 })
    ).toThrow(/deliverEffect: maxResponseChars must be a whole number from 0/)
  })
})
