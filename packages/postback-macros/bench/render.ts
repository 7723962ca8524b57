// Renders one compiled template 1M times next to the naive way (String.replace
// with a regex over the raw template text, plus encodeURIComponent), in the same
// process, and prints renders/s and the ratio. Also times `match` per request
// against a URL + URLSearchParams lookup, for the receiver's hot path.
//
//   pnpm --filter @org/postback-macros bench
import { Decimal, isWireField, type Postback, wireValue } from "@org/postback-schema"
import { match, parseTemplate, render } from "../src/index.ts"

const ITERATIONS = 1_000_000

const postback: Postback = {
  offerId: "1511",
  advertiserName: "Moment Science & Co",
  payout: Decimal.parse("2.10"),
  timestamp: new Date("2023-09-20T15:27:40.802Z"),
  isLoyaltyBoost: true,
  payload: { user_id: "3410444", session_id: "s-9f2c 7e" }
}

const TEMPLATES: ReadonlyArray<readonly [string, string]> = [
  [
    "docs example (3 macros)",
    "https://api.example.com/postbacks?payout={payout}&user_id={user_id}&offer_id={offer_id}"
  ],
  [
    "all fields (7 macros)",
    "https://api.example.com/postbacks/{offer_id}?amount={payout}&uid={user_id}&sid={session_id}&adv={advertiser_name}&ts={timestamp}&lb={is_loyaltyboost}"
  ]
]

const MACRO = /\{([^{}]+)\}/g

/** The baseline: what one writes without a template engine. */
const naiveRender = (text: string, p: Postback): string =>
  text.replace(MACRO, (_, name: string) =>
    encodeURIComponent(isWireField(name) ? wireValue(p, name) : (p.payload[name] ?? ""))
  )

const ROUNDS = 3

/**
 * Runs each side ROUNDS times, alternating so that neither always runs on a
 * warmer or cooler machine, after one warm-up pass each; reports the median.
 */
const compare = (a: () => number, b: () => number): { readonly a: number; readonly b: number } => {
  a()
  b()
  const times: { a: Array<number>; b: Array<number> } = { a: [], b: [] }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [side, run] of [
      ["a", a],
      ["b", b]
    ] as const) {
      const start = performance.now()
      run()
      times[side].push((performance.now() - start) / 1000)
    }
  }
  const median = (seconds: Array<number>): number =>
    ITERATIONS / seconds.sort((x, y) => x - y)[Math.floor(seconds.length / 2)]!
  return { a: median(times.a), b: median(times.b) }
}

const format = (perSecond: number): string =>
  `${Math.round(perSecond).toLocaleString("en-US").padStart(11)} /s`

console.log(
  `render: ${ITERATIONS.toLocaleString("en-US")} renders per round, median of ${ROUNDS} rounds per side\n`
)
for (const [title, text] of TEMPLATES) {
  const template = parseTemplate(text)
  // Same URL on both sides (decoded): the comparison is like for like.
  const ours = new URL(render(template, postback))
  const naive = new URL(naiveRender(text, postback))
  if (ours.pathname !== decodeURIComponent(naive.pathname) && ours.pathname !== naive.pathname) {
    throw new Error(`paths differ: ${ours.pathname} vs ${naive.pathname}`)
  }
  for (const [name, value] of naive.searchParams) {
    if (ours.searchParams.get(name) !== value) throw new Error(`${name} differs`)
  }

  const { a: compiled, b: baseline } = compare(
    () => {
      let total = 0
      for (let i = 0; i < ITERATIONS; i++) total += render(template, postback).length
      return total
    },
    () => {
      let total = 0
      for (let i = 0; i < ITERATIONS; i++) total += naiveRender(text, postback).length
      return total
    }
  )
  console.log(title)
  console.log(`  compiled render          ${format(compiled)}`)
  console.log(`  naive replace+encode     ${format(baseline)}`)
  console.log(`  ratio                    ${(compiled / baseline).toFixed(2)}x\n`)
}

// The receiver's side: one match per GET request.
const [, receiverText] = TEMPLATES[1]!
const receiver = parseTemplate(receiverText)
const request = `${render(receiver, postback).replace("https://api.example.com", "")}&secret=s3cr3t`
const NAMES: ReadonlyArray<readonly [string, string]> = [
  ["amount", "payout"],
  ["uid", "user_id"],
  ["sid", "session_id"],
  ["adv", "advertiser_name"],
  ["ts", "timestamp"],
  ["lb", "is_loyaltyboost"]
]
const naiveMatch = (url: string): number => {
  const params = new URL(url, "http://localhost").searchParams
  let total = 0
  for (const [name] of NAMES) total += params.get(name)?.length ?? 0
  return total
}
if (!match(receiver, request).ok) throw new Error("the request does not match")
const { a: matched, b: lookedUp } = compare(
  () => {
    let total = 0
    for (let i = 0; i < ITERATIONS; i++) {
      const result = match(receiver, request)
      if (result.ok) total += result.fields.payout!.length
    }
    return total
  },
  () => {
    let total = 0
    for (let i = 0; i < ITERATIONS; i++) total += naiveMatch(request)
    return total
  }
)
console.log(
  `match: ${ITERATIONS.toLocaleString("en-US")} requests per side per round (${request.length} chars)`
)
console.log(`  match (path, query, checks) ${format(matched)}`)
console.log(`  URL + URLSearchParams.get   ${format(lookedUp)}`)
console.log(`  ratio                       ${(matched / lookedUp).toFixed(2)}x`)
