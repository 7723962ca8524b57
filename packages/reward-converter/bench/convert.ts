// Converts payouts with `convert` next to the bare arithmetic it wraps
// (Decimal parse, multiply, round: no rules, no checks, no explanation), in the
// same process, and prints conversions/s and the ratio. The receiver's worker
// calls `convert` once per LoyaltyBoost postback, so this is its cost per
// reward, and it shows why rules are parsed once rather than per call.
//
//   pnpm --filter @org/reward-converter bench
import { readFileSync } from "node:fs"
import { Decimal } from "@org/postback-schema"
import { convert, parseRules, parseRulesJson } from "../src/index.ts"

const ITERATIONS = 200_000

const PAYOUTS = ["2.10", "30", "0.29", "19.99", "1250.5", "0.01", "7.25", "100"]
const AT = new Date("2024-11-30T12:00:00Z")

const time = (iterations: number, run: (i: number) => bigint): number => {
  let sink = 0n
  for (let i = 0; i < Math.min(iterations, 20_000); i++) sink += run(i) // warm-up
  const start = performance.now()
  for (let i = 0; i < iterations; i++) sink += run(i)
  const seconds = (performance.now() - start) / 1000
  if (sink < 0n) throw new Error("unreachable: keeps the loop from being optimized away")
  return iterations / seconds
}

const format = (perSecond: number): string =>
  `${Math.round(perSecond).toLocaleString("en-US").padStart(11)} /s`

const ten = Decimal.parse("10")
const baseline = time(ITERATIONS, (i) =>
  Decimal.parse(PAYOUTS[i % PAYOUTS.length]!)
    .multiply(ten)
    .toBigInt("floor")
)

const simple = parseRules({ multiplier: "10" })
const full = parseRulesJson(
  readFileSync(new URL("../examples/rewards.json", import.meta.url), "utf8")
)
const contexts = [
  { offerId: "1511", advertiserName: "Acme", isLoyaltyBoost: true, at: AT },
  { offerId: "9", advertiserName: "Globex", isLoyaltyBoost: true, at: AT },
  {
    offerId: "9",
    advertiserName: "Initech",
    isLoyaltyBoost: true,
    at: new Date("2025-01-01T00:00:00Z")
  }
]

const cases: ReadonlyArray<readonly [string, number, (i: number) => bigint]> = [
  [
    'convert, { multiplier: "10" } parsed once',
    ITERATIONS,
    (i) => convert(PAYOUTS[i % PAYOUTS.length]!, simple).points
  ],
  [
    "convert, examples/rewards.json parsed once",
    ITERATIONS,
    (i) => convert(PAYOUTS[i % PAYOUTS.length]!, full, contexts[i % contexts.length]).points
  ],
  [
    'convert, { multiplier: "10" } in JSON form',
    ITERATIONS / 10,
    (i) => convert(PAYOUTS[i % PAYOUTS.length]!, { multiplier: "10" }).points
  ]
]

console.log(`convert: payouts ${PAYOUTS.join(", ")}\n`)
console.log(`${"baseline: Decimal parse × 10, floor".padEnd(48)}${format(baseline)}`)
for (const [title, iterations, run] of cases) {
  const perSecond = time(iterations, run)
  console.log(
    `${title.padEnd(48)}${format(perSecond)}   ${(baseline / perSecond).toFixed(1)}x slower than baseline`
  )
}
