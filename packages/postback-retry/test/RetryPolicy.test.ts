import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  ANY_2XX,
  attemptOffsets,
  delayAfter,
  EXACTLY_200,
  exponential,
  fixed,
  fromOffsets,
  isSuccess,
  linear,
  momentScience,
  nextAttemptAt,
  Outcome,
  type RetryPolicy,
  RetryPolicyError,
  retryPolicy,
  scaled,
  seededRandom,
  start,
  toleratedOutageSeconds
} from "../src/index.ts"
import { policy } from "./arbitraries.ts"

const at = (iso: string) => new Date(iso)

describe("momentScience", () => {
  it("places the attempts at 0, 60, 150, 270 and 420 s", () => {
    expect(attemptOffsets(momentScience)).toEqual([0, 60, 150, 270, 420])
  })

  it.each([
    [1, 60],
    [2, 90],
    [3, 120],
    [4, 150],
    [5, undefined]
  ])("waits %i failed attempts -> %s s", (attempts, seconds) => {
    expect(delayAfter(momentScience, attempts)).toBe(seconds)
  })

  it.each([
    [1, "2025-03-01T10:01:00.000Z"],
    [2, "2025-03-01T10:01:30.000Z"],
    [3, "2025-03-01T10:02:00.000Z"],
    [4, "2025-03-01T10:02:30.000Z"],
    [5, undefined]
  ])("after %i failed attempts, the last at 10:00, retries at %s", (attempts, iso) => {
    const next = nextAttemptAt(momentScience, attempts, at("2025-03-01T10:00:00.000Z"))
    expect(next?.toISOString()).toBe(iso)
  })

  it("counts exactly 200 as success", () => {
    expect(isSuccess(momentScience, Outcome.response(200))).toBe(true)
    for (const status of [201, 202, 204, 299, 301, 500]) {
      expect(isSuccess(momentScience, Outcome.response(status))).toBe(false)
    }
    expect(isSuccess(momentScience, Outcome.timeout())).toBe(false)
    expect(isSuccess(momentScience, Outcome.connectionError())).toBe(false)
  })

  it("is the linear policy 60 s + 30 s per retry, five attempts, exactly 200", () => {
    expect(
      linear({
        initialSeconds: 60,
        incrementSeconds: 30,
        maxAttempts: 5,
        successStatuses: EXACTLY_200
      })
    ).toEqual(momentScience)
  })

  it("tolerates a 420 s outage; the other reading of the table only 150 s", () => {
    expect(toleratedOutageSeconds(momentScience)).toBe(420)
    const fromFirstAttempt = fromOffsets([0, 60, 90, 120, 150], { successStatuses: EXACTLY_200 })
    expect(fromFirstAttempt.delaysSeconds).toEqual([60, 30, 30, 30])
    expect(toleratedOutageSeconds(fromFirstAttempt)).toBe(150)
  })

  it("is frozen plain data", () => {
    expect(Object.isFrozen(momentScience)).toBe(true)
    expect(Object.isFrozen(momentScience.delaysSeconds)).toBe(true)
    expect(JSON.parse(JSON.stringify(momentScience))).toEqual(momentScience)
  })
})

describe("other senders' published schedules", () => {
  // Svix: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; any 2xx.
  const svix = retryPolicy({ delaysSeconds: [5, 300, 1800, 7200, 18000, 36000, 36000] })

  it("Svix: eight attempts, any 2xx is a success", () => {
    expect(svix.maxAttempts).toBe(8)
    expect(isSuccess(svix, Outcome.response(204))).toBe(true)
    expect(isSuccess(svix, Outcome.response(301))).toBe(false)
    expect(attemptOffsets(svix)).toEqual([0, 5, 305, 2105, 9305, 27305, 63305, 99305])
  })

  it("Svix: three failures then a success is delivered 35 min 5 s after the first attempt", () => {
    // Svix's own worked example.
    expect(attemptOffsets(svix)[3]).toBe(35 * 60 + 5)
  })

  it("AWS-style capped exponential backoff with full jitter", () => {
    const policy = exponential({
      baseSeconds: 1,
      factor: 2,
      capSeconds: 20,
      maxAttempts: 8,
      jitter: "full"
    })
    expect(policy.delaysSeconds).toEqual([1, 2, 4, 8, 16, 20, 20])
    expect(policy.capSeconds).toBe(20)
    expect(attemptOffsets(policy)).toEqual([0, 1, 3, 7, 15, 31, 51, 71])
    expect(toleratedOutageSeconds(policy)).toBe(0)
  })
})

describe("constructors", () => {
  it("fixed", () => {
    const policy = fixed({ delaySeconds: 30, maxAttempts: 4 })
    expect(policy).toEqual({
      maxAttempts: 4,
      delaysSeconds: [30, 30, 30],
      successStatuses: ANY_2XX
    })
    expect(attemptOffsets(policy)).toEqual([0, 30, 60, 90])
  })

  it("linear", () => {
    expect(
      attemptOffsets(linear({ initialSeconds: 10, incrementSeconds: 5, maxAttempts: 4 }))
    ).toEqual([0, 10, 25, 45])
  })

  it("exponential without a cap", () => {
    expect(exponential({ baseSeconds: 2, factor: 3, maxAttempts: 5 }).delaysSeconds).toEqual([
      2, 6, 18, 54
    ])
    expect(exponential({ baseSeconds: 1, maxAttempts: 4 }).delaysSeconds).toEqual([1, 2, 4])
  })

  it("exponential with a cap keeps every delay finite, even after overflow", () => {
    const policy = exponential({ baseSeconds: 1, factor: 10, capSeconds: 3600, maxAttempts: 400 })
    expect(policy.delaysSeconds.slice(0, 5)).toEqual([1, 10, 100, 1000, 3600])
    expect(policy.delaysSeconds.every((d) => d <= 3600)).toBe(true)
  })

  it("a single attempt has no delays", () => {
    const policy = fixed({ delaySeconds: 10, maxAttempts: 1 })
    expect(attemptOffsets(policy)).toEqual([0])
    expect(delayAfter(policy, 1)).toBeUndefined()
  })

  it("a cap given on a table applies to every delay", () => {
    const policy = retryPolicy({ delaysSeconds: [10, 100, 1000], capSeconds: 50 })
    expect(attemptOffsets(policy)).toEqual([0, 10, 60, 110])
    expect(delayAfter(policy, 3)).toBe(50)
  })

  it("scaled multiplies delays and cap, for real-time emulation", () => {
    expect(attemptOffsets(scaled(momentScience, 0.01))).toEqual([0, 0.6, 1.5, 2.7, 4.2])
    expect(scaled(momentScience, 2).successStatuses).toEqual(EXACTLY_200)
    expect(scaled(retryPolicy({ delaysSeconds: [100], capSeconds: 10 }), 3).capSeconds).toBe(30)
  })

  it("fromOffsets inverts attemptOffsets", () => {
    fc.assert(
      fc.property(policy({ jitter: ["none"] }), (p) => {
        const again = fromOffsets(attemptOffsets(p), { successStatuses: p.successStatuses })
        expect(attemptOffsets(again)).toEqual(attemptOffsets(p))
        expect(again.maxAttempts).toBe(p.maxAttempts)
      }),
      { numRuns: 200 }
    )
  })

  it("attemptOffsets has one offset per attempt, from 0, never decreasing", () => {
    fc.assert(
      fc.property(policy(), (p) => {
        const offsets = attemptOffsets(p)
        expect(offsets.length).toBe(p.maxAttempts)
        expect(offsets[0]).toBe(0)
        for (let i = 1; i < offsets.length; i++) {
          expect(offsets[i]!).toBeGreaterThanOrEqual(offsets[i - 1]!)
        }
      }),
      { numRuns: 200 }
    )
  })
})

describe("jitter", () => {
  const jittered = exponential({ baseSeconds: 10, capSeconds: 100, maxAttempts: 6, jitter: "full" })

  it("full jitter waits between 0 and the capped delay", () => {
    expect(delayAfter(jittered, 1, { random: () => 0 })).toBe(0)
    expect(delayAfter(jittered, 1, { random: () => 0.5 })).toBe(5)
    expect(delayAfter(jittered, 5, { random: () => 0.5 })).toBe(50) // 160 capped at 100
    expect(delayAfter(jittered, 5, { random: () => 1 })).toBe(100)
  })

  it("is reproducible with a seeded source", () => {
    const draws = (seed: number) => {
      const random = seededRandom(seed)
      return [1, 2, 3, 4, 5].map((n) => delayAfter(jittered, n, { random }))
    }
    expect(draws(42)).toEqual(draws(42))
    expect(draws(42)).not.toEqual(draws(43))
  })

  it("stays within [0, capped delay] with the default Math.random", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), (n) => {
        const delay = delayAfter(jittered, n)!
        expect(delay).toBeGreaterThanOrEqual(0)
        expect(delay).toBeLessThanOrEqual(Math.min(100, 10 * 2 ** (n - 1)))
      })
    )
  })

  it("seededRandom gives numbers in [0, 1)", () => {
    const random = seededRandom(7)
    for (let i = 0; i < 1000; i++) {
      const r = random()
      expect(r >= 0 && r < 1).toBe(true)
    }
  })

  it("refuses a random source that leaves [0, 1]", () => {
    expect(() => delayAfter(jittered, 1, { random: () => 2 })).toThrow(
      "random() must return a number from 0 to 1, got 2"
    )
    expect(() => delayAfter(jittered, 1, { random: () => Number.NaN })).toThrow(/got NaN/)
  })
})

describe("validation names the option and its value", () => {
  const bad = (f: () => unknown): RetryPolicyError => {
    try {
      f()
    } catch (error) {
      expect(error).toBeInstanceOf(RetryPolicyError)
      return error as RetryPolicyError
    }
    throw new Error("expected a RetryPolicyError")
  }

  it.each<[string, () => unknown, string, unknown, string]>([
    [
      "a negative delay",
      () => retryPolicy({ delaysSeconds: [60, -1] }),
      "delaysSeconds[1]",
      -1,
      "retryPolicy: delaysSeconds[1] must be a finite number of seconds >= 0, got -1"
    ],
    [
      "a NaN delay",
      () => retryPolicy({ delaysSeconds: [Number.NaN] }),
      "delaysSeconds[0]",
      Number.NaN,
      "retryPolicy: delaysSeconds[0] must be a finite number of seconds >= 0, got NaN"
    ],
    [
      "delays that do not match maxAttempts",
      () => retryPolicy({ maxAttempts: 3, delaysSeconds: [1] }),
      "delaysSeconds",
      [1],
      "retryPolicy: delaysSeconds must hold one delay per retry, maxAttempts - 1 = 2 of them, not 1, got [1]"
    ],
    [
      "zero attempts",
      () => fixed({ delaySeconds: 1, maxAttempts: 0 }),
      "maxAttempts",
      0,
      "fixed: maxAttempts must be a whole number from 1 to 10000, got 0"
    ],
    [
      "fractional attempts",
      () => linear({ initialSeconds: 1, incrementSeconds: 1, maxAttempts: 2.5 }),
      "maxAttempts",
      2.5,
      "linear: maxAttempts must be a whole number from 1 to 10000, got 2.5"
    ],
    [
      "absurdly many attempts",
      () => exponential({ baseSeconds: 1, capSeconds: 1, maxAttempts: 1e9 }),
      "maxAttempts",
      1e9,
      "exponential: maxAttempts must be a whole number from 1 to 10000, got 1000000000"
    ],
    [
      "a shrinking factor",
      () => exponential({ baseSeconds: 1, factor: 0.5, maxAttempts: 3 }),
      "factor",
      0.5,
      "exponential: factor must be a finite number of at least 1, got 0.5"
    ],
    [
      "a negative cap",
      () => exponential({ baseSeconds: 1, capSeconds: -5, maxAttempts: 3 }),
      "capSeconds",
      -5,
      "exponential: capSeconds must be a finite number of seconds >= 0 (or absent), got -5"
    ],
    [
      "an overflowing exponential without a cap",
      () => exponential({ baseSeconds: 1, factor: 10, maxAttempts: 400 }),
      "capSeconds",
      undefined,
      "exponential: capSeconds is needed: without it delay 310 (1 × 10^309 s) overflows, got undefined"
    ],
    [
      "an infinite fixed delay",
      () => fixed({ delaySeconds: Number.POSITIVE_INFINITY, maxAttempts: 2 }),
      "delaySeconds",
      Number.POSITIVE_INFINITY,
      "fixed: delaySeconds must be a finite number of seconds >= 0, got Infinity"
    ],
    [
      "a negative increment",
      () => linear({ initialSeconds: 100, incrementSeconds: -10, maxAttempts: 3 }),
      "incrementSeconds",
      -10,
      "linear: incrementSeconds must be a finite number of seconds >= 0, got -10"
    ],
    [
      "an unknown jitter",
      () => retryPolicy({ delaysSeconds: [1], jitter: "half" as unknown as "full" }),
      "jitter",
      "half",
      'retryPolicy: jitter must be "none" or "full" (or absent), got "half"'
    ],
    [
      "no success statuses",
      () => retryPolicy({ delaysSeconds: [1], successStatuses: [] }),
      "successStatuses",
      [],
      "retryPolicy: successStatuses must be a non-empty array of { from, to } status ranges (MomentScience: [{ from: 200, to: 200 }]), got []"
    ],
    [
      "a reversed status range",
      () => retryPolicy({ delaysSeconds: [1], successStatuses: [{ from: 299, to: 200 }] }),
      "successStatuses[0].to",
      200,
      "retryPolicy: successStatuses[0].to must be an HTTP status from 299 to 599, got 200"
    ],
    [
      "a status that is not HTTP",
      () => retryPolicy({ delaysSeconds: [1], successStatuses: [{ from: 42, to: 200 }] }),
      "successStatuses[0].from",
      42,
      "retryPolicy: successStatuses[0].from must be an HTTP status from 100 to 599, got 42"
    ],
    [
      "offsets not starting at 0",
      () => fromOffsets([5, 60]),
      "offsetsSeconds[0]",
      5,
      "fromOffsets: offsetsSeconds[0] must be 0 (the first attempt is made at once), got 5"
    ],
    [
      "offsets going back in time",
      () => fromOffsets([0, 60, 30]),
      "offsetsSeconds[2]",
      30,
      "fromOffsets: offsetsSeconds[2] must be a finite number of seconds >= the one before (60), got 30"
    ],
    [
      "a zero scale factor",
      () => scaled(momentScience, 0),
      "factor",
      0,
      "scaled: factor must be a finite number > 0, got 0"
    ],
    [
      "a hand-written policy with too few delays",
      () =>
        start({ maxAttempts: 3, delaysSeconds: [60], successStatuses: EXACTLY_200 }, new Date(0)),
      "delaysSeconds",
      [60],
      "start: delaysSeconds must hold one delay per retry, maxAttempts - 1 = 2 of them, not 1, got [60]"
    ],
    [
      "a hand-written policy without success statuses",
      () => attemptOffsets({ maxAttempts: 1, delaysSeconds: [] } as unknown as RetryPolicy),
      "successStatuses",
      undefined,
      "attemptOffsets: successStatuses must be a non-empty array of { from, to } status ranges (MomentScience: [{ from: 200, to: 200 }]), got undefined"
    ]
  ])("%s", (_, f, option, value, message) => {
    const error = bad(f)
    expect(error.option).toBe(option)
    expect(error.value).toEqual(value)
    expect(error.message).toBe(message)
  })

  it("re-checks a hand-written policy that was changed after use", () => {
    const mutable = {
      maxAttempts: 2,
      delaysSeconds: [10],
      successStatuses: [{ from: 200, to: 200 }]
    }
    expect(attemptOffsets(mutable)).toEqual([0, 10])
    mutable.delaysSeconds = [-10]
    expect(() => attemptOffsets(mutable)).toThrow(RetryPolicyError)
  })

  it.each<[string, () => unknown, RegExp]>([
    [
      "attempts 0",
      () => delayAfter(momentScience, 0),
      /delayAfter: attempts must be a whole number >= 1 .*got 0/
    ],
    [
      "attempts 1.5",
      () => nextAttemptAt(momentScience, 1.5, new Date()),
      /nextAttemptAt: attempts .*got 1.5/
    ],
    [
      "an invalid lastAt",
      () => nextAttemptAt(momentScience, 1, new Date("nope")),
      /nextAttemptAt: lastAt must be a valid Date, got Invalid Date/
    ],
    [
      "a seed that is not whole",
      () => seededRandom(0.5),
      /seededRandom: seed must be a whole number, got 0.5/
    ]
  ])("refuses %s", (_, f, message) => {
    expect(f).toThrow(message)
  })

  it("treats attempts beyond the maximum as the end", () => {
    expect(delayAfter(momentScience, 9)).toBeUndefined()
    expect(nextAttemptAt(momentScience, 9, new Date())).toBeUndefined()
  })
})
