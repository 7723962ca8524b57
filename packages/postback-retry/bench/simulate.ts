/**
 * Throughput of the state machine and the simulator, printed as ops/s and
 * as a ratio against a baseline run in the same process: a bare loop that
 * computes MomentScience attempt times with plain arithmetic and no
 * validation, objects or Dates. The ratio is the price of the checked,
 * general model; it is printed, never asserted.
 *
 *   pnpm --filter @org/postback-retry bench
 */
import {
  type DeliveryState,
  dueAttempt,
  isTerminal,
  momentScience,
  Outcome,
  onOutcome,
  simulate,
  start
} from "../src/index.ts"

const T0 = Date.UTC(2025, 0, 1)
const OUTAGE_FROM = T0 + 3_600_000
const OUTAGE_TO = OUTAGE_FROM + 600_000
const SENDS = 20_000 // one postback every 0.5 s for ~2.8 hours, across a 10-minute outage
const sends = Array.from({ length: SENDS }, (_, i) => new Date(T0 + i * 500))

const measure = (name: string, ops: number, run: () => number): number => {
  run() // warm up
  let best = Number.POSITIVE_INFINITY
  let sink = 0
  for (let round = 0; round < 5; round++) {
    const began = performance.now()
    sink += run()
    best = Math.min(best, performance.now() - began)
  }
  const perSecond = (ops / best) * 1000
  console.log(
    `${name.padEnd(44)} ${Math.round(perSecond).toLocaleString("en-US").padStart(14)} ops/s  (check ${sink})`
  )
  return perSecond
}

// Baseline: the same question answered by hand for one fixed policy.
const DELAYS = [60_000, 90_000, 120_000, 150_000]
const baseline = measure("baseline: hand-written loop (postbacks)", SENDS, () => {
  let lost = 0
  for (const sentAt of sends) {
    let at = sentAt.getTime()
    let delivered = false
    for (let attempt = 0; attempt < 5; attempt++) {
      if (at < OUTAGE_FROM || at >= OUTAGE_TO) {
        delivered = true
        break
      }
      if (attempt < 4) at += DELAYS[attempt]!
    }
    if (!delivered) lost++
  }
  return lost
})

const simulated = measure(
  "simulate(momentScience) (postbacks)",
  SENDS,
  () =>
    simulate(momentScience, {
      sends,
      outages: [{ from: new Date(OUTAGE_FROM), to: new Date(OUTAGE_TO) }]
    }).lost
)

const fail = Outcome.response(503)
const ok = Outcome.response(200)
const transitions = measure("start + onOutcome, public API (postbacks)", SENDS, () => {
  let lost = 0
  for (const sentAt of sends) {
    let state: DeliveryState = start(momentScience, sentAt)
    while (!isTerminal(state)) {
      const at = dueAttempt(state)!.at
      const t = at.getTime()
      state = onOutcome(momentScience, state, t >= OUTAGE_FROM && t < OUTAGE_TO ? fail : ok, at)
    }
    if (state._tag === "failed") lost++
  }
  return lost
})

console.log()
console.log(`simulate / baseline:          ${(simulated / baseline).toFixed(3)}x`)
console.log(`start + onOutcome / baseline: ${(transitions / baseline).toFixed(3)}x`)
