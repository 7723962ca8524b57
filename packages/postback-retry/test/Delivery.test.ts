import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  ANY_2XX,
  attemptOffsets,
  attemptsMade,
  type DeliveryState,
  dueAttempt,
  fixed,
  isSuccess,
  isTerminal,
  momentScience,
  Outcome,
  onOutcome,
  type RetryPolicy,
  retryPolicy,
  seededRandom,
  start
} from "../src/index.ts"
import { latencies, outcome, outcomes, policy } from "./arbitraries.ts"

const T0 = Date.UTC(2025, 2, 1, 10, 0, 0)
const t = (seconds: number) => new Date(T0 + seconds * 1000)

const fail = Outcome.response(503)
const ok = Outcome.response(200)

/** Feeds `feed` to the machine, each outcome observed `latency` ms after its attempt was due. */
const run = (
  p: RetryPolicy,
  feed: ReadonlyArray<Outcome>,
  options: { readonly latency?: ReadonlyArray<number>; readonly random?: () => number } = {}
) => {
  let state: DeliveryState = start(p, new Date(T0))
  const states: Array<DeliveryState> = [state]
  const attemptTimes: Array<number> = []
  const observedTimes: Array<number> = []
  for (let i = 0; !isTerminal(state) && i < feed.length; i++) {
    const due = dueAttempt(state)!
    attemptTimes.push(due.at.getTime())
    const observed = due.at.getTime() + (options.latency?.[i] ?? 0)
    observedTimes.push(observed)
    state = onOutcome(
      p,
      state,
      feed[i]!,
      new Date(observed),
      options.random ? { random: options.random } : undefined
    )
    states.push(state)
  }
  return { state, states, attemptTimes, observedTimes }
}

describe("the MomentScience delivery", () => {
  it("fails for good after five failed attempts at 0, 60, 150, 270 and 420 s", () => {
    const { state, states, attemptTimes } = run(momentScience, Array(5).fill(fail))
    expect(attemptTimes.map((ms) => (ms - T0) / 1000)).toEqual([0, 60, 150, 270, 420])
    expect(states).toEqual([
      { _tag: "pending", nextAt: t(0) },
      { _tag: "retrying", attempt: 2, nextAt: t(60), lastOutcome: fail },
      { _tag: "retrying", attempt: 3, nextAt: t(150), lastOutcome: fail },
      { _tag: "retrying", attempt: 4, nextAt: t(270), lastOutcome: fail },
      { _tag: "retrying", attempt: 5, nextAt: t(420), lastOutcome: fail },
      { _tag: "failed", attempts: 5, lastOutcome: fail, at: t(420) }
    ])
    expect(state).toEqual({ _tag: "failed", attempts: 5, lastOutcome: fail, at: t(420) })
  })

  it.each([
    [1, 0],
    [2, 60],
    [3, 150],
    [4, 270],
    [5, 420]
  ])("succeeding on attempt %i is delivered at %i s", (attempt, seconds) => {
    const feed = [...Array(attempt - 1).fill(fail), ok]
    expect(run(momentScience, feed).state).toEqual({
      _tag: "delivered",
      attempt,
      at: t(seconds)
    })
  })

  it.each([
    ["a 201", Outcome.response(201)],
    ["a 204", Outcome.response(204)],
    ["a redirect", Outcome.response(302)],
    ["a timeout", Outcome.timeout()],
    ["a refused connection", Outcome.connectionError("ECONNREFUSED")]
  ])("treats %s as a failure", (_, outcome) => {
    expect(onOutcome(momentScience, start(momentScience, t(0)), outcome, t(0))).toEqual({
      _tag: "retrying",
      attempt: 2,
      nextAt: t(60),
      lastOutcome: outcome
    })
  })

  it("lets a policy decide what success is: 204 delivers under any-2xx", () => {
    const twoXX = { ...momentScience, successStatuses: ANY_2XX }
    expect(onOutcome(twoXX, start(twoXX, t(0)), Outcome.response(204), t(0))).toEqual({
      _tag: "delivered",
      attempt: 1,
      at: t(0)
    })
  })

  it("counts each delay from when the failure was observed", () => {
    // A 30 s timeout on every attempt: retries at 30+60, then +30+90, ...
    const { attemptTimes, state } = run(momentScience, Array(5).fill(Outcome.timeout()), {
      latency: Array(5).fill(30_000)
    })
    expect(attemptTimes.map((ms) => (ms - T0) / 1000)).toEqual([0, 90, 210, 360, 540])
    expect(state).toMatchObject({ _tag: "failed", attempts: 5, at: t(570) })
  })

  it("keeps delivered and failed final", () => {
    const delivered = run(momentScience, [ok]).state
    const failed = run(momentScience, Array(5).fill(fail)).state
    for (const final of [delivered, failed]) {
      expect(onOutcome(momentScience, final, ok, t(1000))).toBe(final)
      expect(onOutcome(momentScience, final, fail, t(1000))).toBe(final)
    }
  })

  it("reports the due attempt and the attempts made", () => {
    const p0 = start(momentScience, t(0))
    expect(dueAttempt(p0)).toEqual({ attempt: 1, at: t(0) })
    expect(attemptsMade(p0)).toBe(0)
    const r = onOutcome(momentScience, p0, fail, t(0))
    expect(dueAttempt(r)).toEqual({ attempt: 2, at: t(60) })
    expect(attemptsMade(r)).toBe(1)
    const d = onOutcome(momentScience, r, ok, t(61))
    expect(dueAttempt(d)).toBeUndefined()
    expect(attemptsMade(d)).toBe(2)
    expect(isTerminal(d)).toBe(true)
    expect(isTerminal(r)).toBe(false)
  })

  it("does not share Dates with its caller", () => {
    const when = t(0)
    const state = start(momentScience, when)
    when.setTime(0)
    expect(state.nextAt).toEqual(t(0))
  })
})

describe("bad arguments get errors that name them", () => {
  const p0 = start(momentScience, t(0))
  it.each<[string, () => unknown, RegExp]>([
    [
      "an invalid start time",
      () => start(momentScience, new Date(Number.NaN)),
      /^start: at must be a valid Date, got Invalid Date$/
    ],
    [
      "a start time that is not a Date",
      () => start(momentScience, "2025-01-01" as unknown as Date),
      /^start: at must be a valid Date, got "2025-01-01"$/
    ],
    [
      "an invalid outcome time",
      () => onOutcome(momentScience, p0, fail, new Date("x")),
      /^onOutcome: at must be a valid Date/
    ],
    [
      "a status that is not HTTP",
      () => onOutcome(momentScience, p0, { _tag: "response", status: 42 }, t(0)),
      /^onOutcome: outcome must be an Outcome .*got \{"_tag":"response","status":42\}$/
    ],
    [
      "an unknown outcome",
      () => onOutcome(momentScience, p0, { _tag: "maybe" } as unknown as Outcome, t(0)),
      /^onOutcome: outcome must be an Outcome/
    ],
    [
      "an unknown state",
      () => onOutcome(momentScience, { _tag: "lost" } as unknown as DeliveryState, fail, t(0)),
      /^onOutcome: state must be a DeliveryState .*got \{"_tag":"lost"\}$/
    ],
    [
      "a state beyond the policy's attempts",
      () =>
        onOutcome(
          momentScience,
          { _tag: "retrying", attempt: 7, nextAt: t(0), lastOutcome: fail },
          fail,
          t(0)
        ),
      /^onOutcome: state.attempt must be a whole number from 2 to the policy's maxAttempts \(5\), got 7$/
    ],
    [
      "Outcome.response with a bad status",
      () => Outcome.response(600),
      /^Outcome.response: status must be an integer HTTP status from 100 to 599, got 600$/
    ]
  ])("%s", (_, f, message) => {
    expect(f).toThrow(message)
  })
})

describe("laws of the machine", () => {
  const settings = { numRuns: 300 }

  it("attempts never exceed the policy's maximum, and the machine stops by then", () => {
    fc.assert(
      fc.property(policy(), outcomes, latencies, fc.integer(), (p, feed, latency, seed) => {
        const { state, states } = run(p, feed, { latency, random: seededRandom(seed) })
        expect(isTerminal(state)).toBe(true)
        for (const s of states) {
          expect(attemptsMade(s)).toBeLessThanOrEqual(p.maxAttempts)
          if (s._tag === "retrying") expect(s.attempt).toBeLessThanOrEqual(p.maxAttempts)
        }
        if (state._tag === "failed") expect(state.attempts).toBe(p.maxAttempts)
        expect(states.length - 1).toBe(attemptsMade(state))
      }),
      settings
    )
  })

  it("time always moves forward: each attempt is due at or after the failure before it", () => {
    fc.assert(
      fc.property(policy(), outcomes, latencies, fc.integer(), (p, feed, latency, seed) => {
        const { states, attemptTimes, observedTimes } = run(p, feed, {
          latency,
          random: seededRandom(seed)
        })
        for (let i = 1; i < attemptTimes.length; i++) {
          expect(attemptTimes[i]!).toBeGreaterThanOrEqual(observedTimes[i - 1]!)
          expect(attemptTimes[i]!).toBeGreaterThanOrEqual(attemptTimes[i - 1]!)
        }
        for (const s of states) {
          if (s._tag === "delivered" || s._tag === "failed") {
            expect(s.at.getTime()).toBe(observedTimes.at(-1))
          }
        }
      }),
      settings
    )
  })

  it("with positive delays and no jitter, attempts are strictly later and fall at attemptOffsets", () => {
    fc.assert(
      fc.property(
        policy({ jitter: ["none"] }),
        fc.integer({ min: 1, max: 5000 }),
        (p, minimumMs) => {
          // Lift every delay, and the cap if any, above zero.
          const lift = (d: number) => d + minimumMs / 1000
          const positive = retryPolicy({
            ...p,
            delaysSeconds: p.delaysSeconds.map(lift),
            ...(p.capSeconds === undefined ? {} : { capSeconds: lift(p.capSeconds) })
          })
          const { attemptTimes } = run(positive, Array(8).fill(fail))
          expect(attemptTimes.map((ms) => (ms - T0) / 1000)).toEqual(attemptOffsets(positive))
          for (let i = 1; i < attemptTimes.length; i++) {
            expect(attemptTimes[i]!).toBeGreaterThan(attemptTimes[i - 1]!)
          }
        }
      ),
      settings
    )
  })

  it("a success ends the machine, and nothing moves it afterwards", () => {
    fc.assert(
      fc.property(policy(), outcomes, outcome, fc.integer(), (p, feed, later, seed) => {
        const { state, states } = run(p, feed, { random: seededRandom(seed) })
        const firstSuccess = feed.findIndex((o) => isSuccess(p, o))
        if (firstSuccess !== -1 && firstSuccess < p.maxAttempts) {
          expect(state).toMatchObject({ _tag: "delivered", attempt: firstSuccess + 1 })
          expect(states.filter((s) => s._tag === "delivered")).toHaveLength(1)
        } else {
          expect(state._tag).toBe("failed")
        }
        expect(onOutcome(p, state, later, new Date(T0 + 10 ** 9))).toBe(state)
      }),
      settings
    )
  })

  it("is pure: the same inputs and seed give the same states", () => {
    fc.assert(
      fc.property(policy(), outcomes, latencies, fc.integer(), (p, feed, latency, seed) => {
        const a = run(p, feed, { latency, random: seededRandom(seed) })
        const b = run(p, feed, { latency, random: seededRandom(seed) })
        expect(a.states).toEqual(b.states)
      }),
      { numRuns: 100 }
    )
  })

  it("a policy of one attempt fails on the first failure", () => {
    const once = fixed({ delaySeconds: 10, maxAttempts: 1 })
    expect(onOutcome(once, start(once, t(0)), fail, t(1))).toEqual({
      _tag: "failed",
      attempts: 1,
      lastOutcome: fail,
      at: t(1)
    })
  })
})
