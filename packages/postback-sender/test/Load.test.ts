import { describe, expect, it } from "@effect/vitest"
import { canonicalPostbackKey, parsePostbackJson } from "@org/postback-schema"
import { Cause, Clock, Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import {
  type FetchLike,
  type LoadProgress,
  latencyStats,
  loadEffect,
  runLoad,
  samplePostback
} from "../src/index.ts"
import { startServer, testServer } from "./support/server.ts"

/** A fetch whose answers (200) wait until the gate opens. */
const gatedFetch = () => {
  const calls: Array<string> = []
  const waiting: Array<() => void> = []
  let open = false
  const fetch: FetchLike = (url, init) => {
    calls.push(url)
    return new Promise((resolve, reject) => {
      const answer = () => resolve(new Response("OK"))
      if (open) answer()
      else waiting.push(answer)
      init.signal?.addEventListener("abort", () => reject(init.signal?.reason))
    })
  }
  return {
    calls,
    fetch,
    open: () => {
      open = true
      for (const answer of waiting.splice(0)) answer()
    }
  }
}

/** A fetch that never answers; it rejects when its signal aborts, and keeps the signals. */
const silentFetch = () => {
  const signals: Array<AbortSignal> = []
  const fetch: FetchLike = (_url, init) => {
    const signal = init.signal!
    signals.push(signal)
    return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))
  }
  return { signals, fetch }
}

/**
 * A clock with coarse timers, as a busy event loop has: time moves only in
 * 10 ms steps, so a sleep ends on the first step at or after its due time.
 * Counts the sleeps that ended.
 */
const coarseClock = () => {
  let nowMs = 0
  const clock = {
    wakeUps: 0,
    currentTimeMillisUnsafe: () => nowMs,
    currentTimeNanosUnsafe: () => BigInt(nowMs) * 1_000_000n,
    monotonicTimeNanosUnsafe: () => BigInt(nowMs) * 1_000_000n,
    currentTimeMillis: Effect.sync(() => nowMs),
    currentTimeNanos: Effect.sync(() => BigInt(nowMs) * 1_000_000n),
    monotonicTimeNanos: Effect.sync(() => BigInt(nowMs) * 1_000_000n),
    sleep: (duration: Duration.Duration) =>
      Effect.callback<void>((resume) => {
        const until = Math.ceil((nowMs + Duration.toMillis(duration)) / 10) * 10
        const timer = setTimeout(() => {
          nowMs = Math.max(nowMs, until)
          clock.wakeUps++
          resume(Effect.void)
        }, 0)
        return Effect.sync(() => clearTimeout(timer))
      })
  } satisfies Clock.Clock & { wakeUps: number }
  return clock
}

const endpoint = { method: "POST", url: "http://receiver.test/postbacks" } as const

describe("loadEffect under the TestClock", () => {
  it.effect("starts requests on schedule whatever the answers (an open model)", () =>
    Effect.gen(function* () {
      const stub = gatedFetch()
      const fiber = yield* Effect.forkChild(
        loadEffect(endpoint, { rate: 10, durationSeconds: 2, fetch: stub.fetch })
      )
      yield* TestClock.adjust("500 millis")
      // Due at 0, 100, ..., 500 ms; none has been answered.
      expect(stub.calls).toHaveLength(6)
      yield* TestClock.adjust("1500 millis")
      expect(stub.calls).toHaveLength(20)
      stub.open()
      const summary = yield* Fiber.join(fiber)
      expect(summary).toMatchObject({
        planned: 20,
        sent: 20,
        unique: 20,
        duplicates: 0,
        ok: 20,
        non200: 0,
        errors: 0,
        statuses: { "200": 20 },
        maxLagMs: 0,
        achievedRate: 10,
        elapsedMs: 2000,
        stopped: false
      })
      // Request i was sent at 100 i ms and answered at 2000 ms.
      expect(summary.latency).toEqual({
        count: 20,
        min: 100,
        mean: 1050,
        p50: 1000,
        p90: 1800,
        p95: 1900,
        p99: 2000,
        p999: 2000,
        max: 2000
      })
    })
  )

  it.effect("holds at most `concurrency` in flight; late requests go out when a slot frees", () =>
    Effect.gen(function* () {
      const stub = gatedFetch()
      const fiber = yield* Effect.forkChild(
        loadEffect(endpoint, { rate: 10, durationSeconds: 1, concurrency: 3, fetch: stub.fetch })
      )
      yield* TestClock.adjust("1 second")
      expect(stub.calls).toHaveLength(3)
      stub.open()
      const summary = yield* Fiber.join(fiber)
      expect(summary.sent).toBe(10)
      expect(summary.ok).toBe(10)
      // The fourth request was due at 300 ms and went out at 1000 ms.
      expect(summary.maxLagMs).toBe(700)
      expect(summary.latency?.max).toBe(1000)
    })
  )

  it.effect("times requests out on the clock and aborts them", () =>
    Effect.gen(function* () {
      const stub = silentFetch()
      const fiber = yield* Effect.forkChild(
        loadEffect(endpoint, { rate: 10, durationSeconds: 1, timeoutMs: 250, fetch: stub.fetch })
      )
      yield* TestClock.adjust("1100 millis")
      // Due at 0, 100, ..., 900 ms, each timed out 250 ms later: all but the last by now.
      expect(stub.signals.map((s) => s.aborted)).toEqual([...Array(9).fill(true), false])
      yield* TestClock.adjust("100 millis")
      const summary = yield* Fiber.join(fiber)
      expect(stub.signals.every((s) => s.aborted)).toBe(true)
      expect(summary).toMatchObject({
        sent: 10,
        ok: 0,
        timeouts: 10,
        connectionErrors: 0,
        errors: 10,
        maxLagMs: 0,
        elapsedMs: 1150
      })
      expect(summary.latency).toBeUndefined()
    })
  )

  it.effect("starts every request already due when it wakes, not one per wake-up", () =>
    Effect.gen(function* () {
      const clock = coarseClock()
      const stub = gatedFetch()
      stub.open()
      const summary = yield* loadEffect(endpoint, {
        rate: 1000,
        durationSeconds: 0.1,
        fetch: stub.fetch
      }).pipe(Effect.provideService(Clock.Clock, clock))
      // 100 requests due 1 ms apart, woken every 10 ms: ten at each wake-up.
      expect(summary).toMatchObject({ planned: 100, sent: 100, ok: 100 })
      expect(summary.maxLagMs).toBe(9)
      expect(clock.wakeUps).toBe(10)
    })
  )

  it.effect(
    "ends with the error of a postback function that throws, aborting the requests in flight",
    () =>
      Effect.gen(function* () {
        const stub = silentFetch()
        const fiber = yield* Effect.forkChild(
          loadEffect(endpoint, {
            rate: 1000,
            durationSeconds: 0.01,
            fetch: stub.fetch,
            postback: (i) => {
              if (i === 3) throw new Error("no postback 3")
              return samplePostback()
            }
          })
        )
        yield* TestClock.adjust("10 millis")
        const exit = yield* Fiber.await(fiber)
        expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toEqual(new Error("no postback 3"))
        expect(stub.signals.map((s) => s.aborted)).toEqual([true, true, true])
      })
  )

  it.effect("interrupted, it aborts the requests in flight", () =>
    Effect.gen(function* () {
      const stub = silentFetch()
      const fiber = yield* Effect.forkChild(
        loadEffect(endpoint, { rate: 10, durationSeconds: 2, fetch: stub.fetch })
      )
      yield* TestClock.adjust("500 millis")
      expect(stub.signals).toHaveLength(6)
      yield* Fiber.interrupt(fiber)
      expect(stub.signals.every((s) => s.aborted)).toBe(true)
      yield* TestClock.adjust("2 seconds")
      expect(stub.signals).toHaveLength(6)
    })
  )

  it.effect("reports progress at its interval", () =>
    Effect.gen(function* () {
      const stub = gatedFetch()
      stub.open()
      const seen: Array<LoadProgress> = []
      const fiber = yield* Effect.forkChild(
        loadEffect(endpoint, {
          rate: 10,
          durationSeconds: 2,
          fetch: stub.fetch,
          // Between due times, so that no snapshot races a request.
          progressIntervalMs: 550,
          onProgress: (p) => seen.push(p)
        })
      )
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      expect(seen.map((p) => [p.elapsedMs, p.sent, p.ok, p.inFlight])).toEqual([
        [550, 6, 6, 0],
        [1100, 12, 12, 0],
        [1650, 17, 17, 0]
      ])
    })
  )
})

describe("runLoad against a real server", () => {
  it.effect("counts statuses, timeouts and duplicates exactly", () =>
    Effect.gen(function* () {
      // By arrival: every tenth request hangs (the server never answers it),
      // the next one gets 503. The timeout only has to outlast an answered
      // request on a busy machine; the hanging ones time out whatever it is.
      const server = yield* testServer((_, i) =>
        i % 10 === 0 ? "hang" : i % 10 === 1 ? { status: 503 } : { status: 200 }
      )
      const summary = yield* Effect.promise(() =>
        runLoad(
          { method: "POST", url: `${server.origin}/postbacks?secret=s3cret` },
          { rate: 400, durationSeconds: 0.5, duplicates: 0.25, timeoutMs: 15_000, concurrency: 50 }
        )
      )
      expect(server.received).toHaveLength(200)
      expect(summary).toMatchObject({
        planned: 200,
        sent: 200,
        duplicates: 50,
        unique: 150,
        ok: 160,
        non200: 20,
        statuses: { "200": 160, "503": 20 },
        timeouts: 20,
        connectionErrors: 0,
        errors: 20,
        stopped: false
      })
      expect(summary.latency?.count).toBe(180)
      // Distinct postbacks are distinct for a receiver; duplicates are byte-identical re-sends.
      const keys = server.received.map((r) => {
        const decoded = parsePostbackJson(JSON.parse(r.body))
        if (!decoded.ok) throw new Error(r.body)
        return canonicalPostbackKey(decoded.postback)
      })
      expect(new Set(keys).size).toBe(150)
      expect(new Set(server.received.map((r) => r.body)).size).toBe(150)
      expect(server.received.every((r) => r.url === "/postbacks?secret=s3cret")).toBe(true)
    })
  )

  it.effect("uses the caller's postbacks and any endpoint", () =>
    Effect.gen(function* () {
      const server = yield* testServer()
      const summary = yield* Effect.promise(() =>
        runLoad(
          { method: "GET", template: `${server.origin}/pb?u={user_id}&a={payout}` },
          {
            rate: 1000,
            durationSeconds: 0.01,
            postback: (i) => samplePostback({ payload: { user_id: `u${i}` } })
          }
        )
      )
      expect(summary.sent).toBe(10)
      expect(server.received.map((r) => r.url).sort()).toEqual(
        Array.from({ length: 10 }, (_, i) => `/pb?u=u${i}&a=2.10`).sort()
      )
    })
  )

  it("stops when its signal aborts and reports what it did", async () => {
    const server = await startServer()
    try {
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 100)
      const summary = await runLoad(
        { method: "POST", url: `${server.origin}/pb` },
        { rate: 200, durationSeconds: 10, signal: controller.signal }
      )
      expect(summary.stopped).toBe(true)
      expect(summary.sent).toBeGreaterThan(0)
      expect(summary.sent).toBeLessThan(2000)
      expect(server.received).toHaveLength(summary.sent)
      expect(summary.ok).toBe(summary.sent)
    } finally {
      await server.close()
    }
  })

  it("rejects bad options before sending, naming them", async () => {
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /runLoad: options \{ rate, durationSeconds \} are required/],
      [{ rate: 0, durationSeconds: 1 }, /runLoad: rate must be a finite number above 0/],
      [
        { rate: 10, durationSeconds: -1 },
        /runLoad: durationSeconds must be a finite number above 0/
      ],
      [{ rate: 0.5, durationSeconds: 1 }, /must plan from 1 to 10000000 requests, got 0.5 × 1 = 0/],
      [
        { rate: 10, durationSeconds: 1, duplicates: 1 },
        /duplicates must be a share from 0 to below 1/
      ],
      [
        { rate: 10, durationSeconds: 1, concurrency: 0 },
        /concurrency must be a whole number from 1/
      ],
      [{ rate: 10, durationSeconds: 1, duration: 5 }, /unknown option "duration"/],
      [{ rate: 10, durationSeconds: 1, maxResponseChars: 5 }, /unknown option "maxResponseChars"/]
    ]
    for (const [options, message] of cases) {
      await expect(runLoad(endpoint, options as never)).rejects.toThrow(message)
    }
    expect(() => loadEffect(endpoint, { rate: -1, durationSeconds: 1 })).toThrow(
      /loadEffect: rate must be/
    )
  })
})

describe("latencyStats", () => {
  // The nearest-rank percentile by its definition: the smallest value with
  // at least p% of all values at or below it (counted, not indexed).
  const byDefinition = (values: ReadonlyArray<number>, perMille: number) =>
    [...values]
      .sort((a, b) => a - b)
      .find((v) => values.filter((x) => x <= v).length * 1000 >= perMille * values.length)

  it("percentiles are exact", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e5, noNaN: true }), { minLength: 1, maxLength: 300 }),
        (values) => {
          const stats = latencyStats(values)!
          expect(stats.count).toBe(values.length)
          expect(stats.min).toBe(Math.min(...values))
          expect(stats.max).toBe(Math.max(...values))
          expect(stats.p50).toBe(byDefinition(values, 500))
          expect(stats.p90).toBe(byDefinition(values, 900))
          expect(stats.p95).toBe(byDefinition(values, 950))
          expect(stats.p99).toBe(byDefinition(values, 990))
          expect(stats.p999).toBe(byDefinition(values, 999))
        }
      ),
      { numRuns: 200 }
    )
  })

  it("p99.9 of 1000 values is the 999th", () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1000 - i)
    expect(latencyStats(values)?.p999).toBe(999)
    expect(latencyStats([])).toBeUndefined()
    expect(() => latencyStats([1, Number.NaN])).toThrow(/values\[1\] must be a finite number/)
  })
})
