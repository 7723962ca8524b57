import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  exponential,
  fromOffsets,
  lostInTransit,
  momentScience,
  Outcome,
  seededRandom,
  simulate,
  toleratedOutageSeconds
} from "../src/index.ts"
import { policy } from "./arbitraries.ts"

const T0 = Date.UTC(2025, 2, 1, 10, 0, 0)
const t = (seconds: number) => new Date(T0 + seconds * 1000)
/** One postback sent every second over [fromSeconds, toSeconds). */
const everySecond = (fromSeconds: number, toSeconds: number) =>
  Array.from({ length: toSeconds - fromSeconds }, (_, i) => t(fromSeconds + i))

describe("how long may a receiver be down before MomentScience postbacks are lost?", () => {
  it.each([
    [60, 0],
    [420, 0],
    [421, 1],
    [480, 60],
    [600, 180],
    [3600, 3180]
  ])("down for %i s with a postback every second: %i lost", (downSeconds, lost) => {
    const report = simulate(momentScience, {
      sends: everySecond(-600, downSeconds + 600),
      outages: [{ from: t(0), to: t(downSeconds) }]
    })
    expect(report.lost).toBe(lost)
    expect(report.failed).toBe(lost)
    expect(report.duplicates).toBe(0)
    // The lost ones are exactly those first sent in the first (down - 420) s.
    const lostAt = report.postbacks.filter((p) => p.lost).map((p) => p.sentAt.getTime())
    expect(lostAt).toEqual(everySecond(0, Math.max(0, downSeconds - 420)).map((d) => d.getTime()))
  })

  it("a postback sent as a 420 s outage begins is delivered by its fifth attempt, as it ends", () => {
    const [p] = simulate(momentScience, {
      sends: [t(0)],
      outages: [{ from: t(0), to: t(420) }]
    }).postbacks
    expect(p).toMatchObject({
      delivered: true,
      deliveredAt: t(420),
      attempts: 5,
      received: true,
      receivedAt: t(420),
      lost: false,
      duplicates: 0,
      state: { _tag: "delivered", attempt: 5, at: t(420) }
    })
    expect(p!.history.map((a) => [a.attempt, (a.at.getTime() - T0) / 1000, a.accepted])).toEqual([
      [1, 0, false],
      [2, 60, false],
      [3, 150, false],
      [4, 270, false],
      [5, 420, true]
    ])
  })

  it("under the other reading of the docs' table (times from the first attempt) only 150 s", () => {
    const other = fromOffsets([0, 60, 90, 120, 150], {
      successStatuses: momentScience.successStatuses
    })
    const sends = everySecond(-300, 800)
    expect(simulate(other, { sends, outages: [{ from: t(0), to: t(150) }] }).lost).toBe(0)
    expect(simulate(other, { sends, outages: [{ from: t(0), to: t(151) }] }).lost).toBe(1)
    expect(simulate(other, { sends, outages: [{ from: t(0), to: t(420) }] }).lost).toBe(270)
  })

  it("slow failures widen the window: with 30 s timeouts the last attempt is at 540 s", () => {
    const timeout30 = { outcome: Outcome.timeout(), durationSeconds: 30 }
    const run = (down: number) =>
      simulate(momentScience, {
        sends: [t(0)],
        outages: [{ from: t(0), to: t(down), exchange: timeout30 }]
      }).postbacks[0]!
    expect(run(540)).toMatchObject({ lost: false, deliveredAt: t(540) })
    expect(run(541)).toMatchObject({ lost: true, delivered: false, attempts: 5 })
    expect(run(541).history.map((a) => (a.at.getTime() - T0) / 1000)).toEqual([
      0, 90, 210, 360, 540
    ])
  })
})

describe("duplicates when a 200 is lost in transit", () => {
  it("the receiver sees every attempt whose 200 never reached the sender", () => {
    const report = simulate(momentScience, {
      sends: [t(0)],
      outages: [{ from: t(0), to: t(100), exchange: lostInTransit() }]
    })
    expect(report.postbacks[0]).toMatchObject({
      delivered: true,
      deliveredAt: t(150),
      attempts: 3,
      received: true,
      receivedAt: t(0),
      lost: false,
      duplicates: 2
    })
    expect(report.duplicates).toBe(2)
  })

  it("a lost 200 after a 30 s wait pushes the retry back by 30 s", () => {
    const [p] = simulate(momentScience, {
      sends: [t(0)],
      outages: [{ from: t(0), to: t(1), exchange: lostInTransit({ durationSeconds: 30 }) }]
    }).postbacks
    expect(
      p!.history.map((a) => [(a.at.getTime() - T0) / 1000, (a.observedAt.getTime() - T0) / 1000])
    ).toEqual([
      [0, 30],
      [90, 90]
    ])
    expect(p!.duplicates).toBe(1)
  })

  it("when every 200 is lost the sender marks it failed, but the receiver has it five times", () => {
    const report = simulate(momentScience, {
      sends: [t(0)],
      outages: [{ from: t(0), to: t(1000), exchange: lostInTransit() }]
    })
    expect(report.postbacks[0]).toMatchObject({
      delivered: false,
      received: true,
      lost: false,
      duplicates: 4,
      state: { _tag: "failed", attempts: 5, lastOutcome: Outcome.timeout() }
    })
    expect(report).toMatchObject({ sent: 1, delivered: 0, failed: 1, lost: 0, duplicates: 4 })
  })

  it("a receiver that answers 200 before keeping the postback loses it, though the sender is satisfied", () => {
    const report = simulate(momentScience, {
      sends: [t(0)],
      healthy: { outcome: Outcome.response(200), accepted: false }
    })
    expect(report).toMatchObject({ delivered: 1, lost: 1 })
  })
})

describe("a receiver given as a function of time", () => {
  it("is asked about each attempt, with the postback and attempt number", () => {
    const asked: Array<[number, number, number]> = []
    const report = simulate(momentScience, {
      sends: [t(0), t(10)],
      receiver: (at, { index, attempt }) => {
        asked.push([index, attempt, (at.getTime() - T0) / 1000])
        return attempt < 3 ? Outcome.response(503) : Outcome.response(200)
      }
    })
    expect(asked).toEqual([
      [0, 1, 0],
      [0, 2, 60],
      [0, 3, 150],
      [1, 1, 10],
      [1, 2, 70],
      [1, 3, 160]
    ])
    expect(report.postbacks.map((p) => p.deliveredAt)).toEqual([t(150), t(160)])
  })

  it("a 500 is seen by the receiver but not accepted, so no duplicate follows", () => {
    const report = simulate(momentScience, {
      sends: [t(0)],
      receiver: (_at, { attempt }) => Outcome.response(attempt === 1 ? 500 : 200)
    })
    expect(report.postbacks[0]).toMatchObject({ attempts: 2, duplicates: 0, receivedAt: t(60) })
  })
})

describe("jittered policies", () => {
  const jittered = exponential({ baseSeconds: 60, capSeconds: 600, maxAttempts: 6, jitter: "full" })
  const scenario = (seed: number) => ({
    sends: everySecond(0, 300),
    outages: [{ from: t(0), to: t(900) }],
    random: seededRandom(seed)
  })

  it("are reproducible with a seeded random source", () => {
    expect(simulate(jittered, scenario(1))).toEqual(simulate(jittered, scenario(1)))
    expect(simulate(jittered, scenario(1))).not.toEqual(simulate(jittered, scenario(2)))
  })
})

describe("bad scenarios get errors that name the field", () => {
  it.each<[string, () => unknown, RegExp]>([
    [
      "sends that are not an array",
      () => simulate(momentScience, { sends: t(0) as unknown as Array<Date> }),
      /^simulate: scenario.sends must be an array of Dates/
    ],
    [
      "an invalid send time",
      () => simulate(momentScience, { sends: [t(0), new Date("x")] }),
      /^simulate: scenario.sends\[1\] must be a valid Date, got Invalid Date$/
    ],
    [
      "an outage that ends before it starts",
      () => simulate(momentScience, { sends: [], outages: [{ from: t(10), to: t(0) }] }),
      /^simulate: scenario.outages\[0\].to must not be before from/
    ],
    [
      "a negative duration",
      () =>
        simulate(momentScience, {
          sends: [],
          outages: [
            { from: t(0), to: t(1), exchange: { outcome: Outcome.timeout(), durationSeconds: -1 } }
          ]
        }),
      /^simulate: scenario.outages\[0\].exchange.durationSeconds must be a finite number of seconds >= 0, got -1$/
    ],
    [
      "an exchange that is neither",
      () => simulate(momentScience, { sends: [], healthy: { status: 200 } as unknown as Outcome }),
      /^simulate: scenario.healthy must be an Outcome or \{ outcome, accepted\?, durationSeconds\? \}, got \{"status":200\}$/
    ],
    [
      "both a receiver and outages",
      () => simulate(momentScience, { sends: [], outages: [], receiver: () => Outcome.timeout() }),
      /not both/
    ],
    [
      "a receiver returning garbage",
      () => simulate(momentScience, { sends: [t(0)], receiver: () => 42 as unknown as Outcome }),
      /^simulate: scenario.receiver\(2025-03-01T10:00:00.000Z\) must be an Outcome or/
    ]
  ])("%s", (_, f, message) => {
    expect(f).toThrow(message)
  })
})

describe("laws of the simulator", () => {
  const settings = { numRuns: 150 }
  const sendOffsets = fc.array(fc.integer({ min: -100_000, max: 200_000 }), {
    minLength: 1,
    maxLength: 20
  })

  it("an outage as long as toleratedOutageSeconds loses nothing; one millisecond more loses the postback sent as it began", () => {
    fc.assert(
      fc.property(policy({ jitter: ["none"] }), sendOffsets, (p, offsets) => {
        const tolerated = Math.round(toleratedOutageSeconds(p) * 1000)
        const sends = offsets.map((ms) => new Date(T0 + ms))
        const safe = simulate(p, {
          sends,
          outages: [{ from: new Date(T0), to: new Date(T0 + tolerated) }]
        })
        expect(safe.lost).toBe(0)
        const tooLong = simulate(p, {
          sends: [new Date(T0)],
          outages: [{ from: new Date(T0), to: new Date(T0 + tolerated + 1) }]
        })
        expect(tooLong.lost).toBe(1)
      }),
      settings
    )
  })

  it("every report is consistent: attempts within the maximum, times in order, duplicates = acceptances - 1", () => {
    fc.assert(
      fc.property(
        policy(),
        sendOffsets,
        fc.array(
          fc.record({
            from: fc.integer({ min: -50_000, max: 150_000 }),
            length: fc.integer({ min: 0, max: 900_000 }),
            kind: fc.constantFrom("down", "lost", "503", "slow")
          }),
          { maxLength: 4 }
        ),
        fc.integer(),
        (p, offsets, windows, seed) => {
          const report = simulate(p, {
            sends: offsets.map((ms) => new Date(T0 + ms)),
            outages: windows.map((w) => ({
              from: new Date(T0 + w.from),
              to: new Date(T0 + w.from + w.length),
              exchange:
                w.kind === "down"
                  ? Outcome.connectionError()
                  : w.kind === "lost"
                    ? lostInTransit()
                    : w.kind === "503"
                      ? Outcome.response(503)
                      : { outcome: Outcome.timeout(), durationSeconds: 20 }
            })),
            random: seededRandom(seed)
          })
          expect(report.sent).toBe(offsets.length)
          expect(report.delivered + report.failed).toBe(report.sent)
          for (const pb of report.postbacks) {
            expect(pb.attempts).toBeGreaterThanOrEqual(1)
            expect(pb.attempts).toBeLessThanOrEqual(p.maxAttempts)
            expect(pb.history).toHaveLength(pb.attempts)
            expect(pb.history[0]!.at).toEqual(pb.sentAt)
            for (let i = 1; i < pb.history.length; i++) {
              expect(pb.history[i]!.at.getTime()).toBeGreaterThanOrEqual(
                pb.history[i - 1]!.observedAt.getTime()
              )
            }
            const accepted = pb.history.filter((a) => a.accepted).length
            expect(pb.lost).toBe(accepted === 0)
            expect(pb.duplicates).toBe(Math.max(0, accepted - 1))
            expect(pb.delivered).toBe(pb.state._tag === "delivered")
            if (pb.state._tag === "failed") expect(pb.attempts).toBe(p.maxAttempts)
            if (pb.state._tag === "delivered") expect(pb.state.attempt).toBe(pb.attempts)
          }
        }
      ),
      settings
    )
  })
})
