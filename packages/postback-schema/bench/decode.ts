// Decoding throughput: 100k GET and 100k POST postbacks through this
// package's Effect Schemas (and the plain parsers the receiver calls), side
// by side with a hand-written Zod 4 schema of the same contract, in the same
// process. Prints ops/s and the ratio; asserts nothing about speed.
//
//   pnpm --filter @org/postback-schema bench
import { Result, Schema } from "effect"
import { z } from "zod"
import {
  Decimal,
  makePostbackJson,
  makePostbackParser,
  makePostbackQuery,
  type Postback,
  parsePostbackJson,
  parsePostbackQuery
} from "../src/index.ts"

const COUNT = 100_000
const ROUNDS = 5

// -- inputs: distinct postbacks, as the receiver sees them ----------------------

let seed = 0x2545f491
const random = (): number => {
  // xorshift32: the same inputs on every run.
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) / 2 ** 32
}
const int = (max: number): number => Math.floor(random() * max)

const makeFields = (i: number) => ({
  offer_id: String(1000 + int(9000)),
  advertiser_name: ["MomentScience", "Acme Rewards", "Shop & Save"][i % 3]!,
  payout: `${int(100)}.${String(int(100)).padStart(2, "0")}`,
  timestamp: new Date(Date.UTC(2023, 0, 1) + int(365 * 86_400_000)).toISOString(),
  is_loyaltyboost: i % 4 === 0 ? "1" : "0"
})

const getQueries: Array<URLSearchParams> = []
const postBodies: Array<unknown> = []
for (let i = 0; i < COUNT; i++) {
  const fields = makeFields(i)
  const payload = { user_id: String(int(10_000_000)), session_id: `s${int(1e9).toString(36)}` }
  getQueries.push(new URLSearchParams({ ...fields, ...payload, secret: "s3cr3t" }))
  // What JSON.parse gives the receiver, so each body is a fresh object.
  postBodies.push(JSON.parse(JSON.stringify({ ...fields, payload })))
}

// -- this package -----------------------------------------------------------------

const options = { exclude: ["secret"] }
const effectQuery = Schema.decodeUnknownResult(makePostbackQuery(options), { errors: "all" })
const effectJson = Schema.decodeUnknownResult(makePostbackJson(options), { errors: "all" })
const parser = makePostbackParser(options)

// -- the same contract, written by hand in Zod 4 -------------------------------------

const WIRE = new Set(["offer_id", "advertiser_name", "payout", "timestamp", "is_loyaltyboost"])
const PAYOUT = /^0*\d{1,12}(\.\d{1,8})?$/
const KEY = /^[A-Za-z0-9_.-]{1,128}$/

const zodPostbackJson = z
  .object({
    offer_id: z
      .union([
        z.string().min(1).max(1024),
        z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
      ])
      .transform(String),
    advertiser_name: z.string().max(1024),
    payout: z.union([z.string(), z.number().nonnegative()]).transform((value, ctx) => {
      const text = String(value)
      if (!PAYOUT.test(text)) {
        ctx.addIssue({ code: "custom", message: `expected a decimal string like "2.10"` })
        return z.NEVER
      }
      return Decimal.parse(text)
    }),
    timestamp: z.iso.datetime({ offset: true }).transform((text) => new Date(text)),
    is_loyaltyboost: z
      .union([z.literal(["1", "0"]), z.literal([1, 0]), z.boolean()])
      .transform((value) => value === "1" || value === 1 || value === true),
    payload: z
      .record(
        z.string().regex(KEY),
        z.union([z.string().max(1024), z.number(), z.boolean()]).transform(String)
      )
      .default({})
      .check((ctx) => {
        const keys = Object.keys(ctx.value)
        let size = 0
        for (const key of keys) size += key.length + ctx.value[key]!.length
        if (keys.length > 50 || size > 16384) {
          ctx.issues.push({ code: "custom", message: "payload too large", input: ctx.value })
        }
      })
  })
  .transform(
    (wire): Postback => ({
      offerId: wire.offer_id,
      advertiserName: wire.advertiser_name,
      payout: wire.payout,
      timestamp: wire.timestamp,
      isLoyaltyBoost: wire.is_loyaltyboost,
      payload: wire.payload
    })
  )

const zodJson = (body: unknown) => zodPostbackJson.safeParse(body)

const zodQuery = (query: URLSearchParams) => {
  const body: Record<string, unknown> = {}
  const payload: Record<string, string> = {}
  const repeated: Array<string> = []
  query.forEach((value, name) => {
    if (name === "secret") return
    const target = WIRE.has(name) ? body : payload
    if (Object.hasOwn(target, name)) repeated.push(name)
    else target[name] = value
  })
  if (repeated.length > 0) return { success: false as const, repeated }
  body.payload = payload
  return zodPostbackJson.safeParse(body)
}

// -- the run --------------------------------------------------------------------------

type Case = {
  readonly name: string
  readonly inputs: ReadonlyArray<unknown>
  readonly decode: (input: never) => boolean
}

const run = (c: Case): number => {
  const decode = c.decode as (input: unknown) => boolean
  let ok = 0
  const start = performance.now()
  for (const input of c.inputs) if (decode(input)) ok++
  const seconds = (performance.now() - start) / 1000
  if (ok !== c.inputs.length)
    throw new Error(`${c.name}: ${c.inputs.length - ok} inputs failed to decode`)
  return c.inputs.length / seconds
}

const cases: ReadonlyArray<Case> = [
  {
    name: "GET  Effect Schema (PostbackQuery)",
    inputs: getQueries,
    decode: (q: URLSearchParams) => Result.isSuccess(effectQuery(q))
  },
  {
    name: "GET  parser.parseQuery",
    inputs: getQueries,
    decode: (q: URLSearchParams) => parser.parseQuery(q).ok
  },
  {
    // What the receiver may write: a fresh options object on every call.
    name: "GET  parsePostbackQuery(q, { exclude })",
    inputs: getQueries,
    decode: (q: URLSearchParams) => parsePostbackQuery(q, { exclude: ["secret"] }).ok
  },
  { name: "GET  Zod 4", inputs: getQueries, decode: (q: URLSearchParams) => zodQuery(q).success },
  {
    name: "POST Effect Schema (PostbackJson)",
    inputs: postBodies,
    decode: (b: unknown) => Result.isSuccess(effectJson(b))
  },
  {
    name: "POST parser.parseJson",
    inputs: postBodies,
    decode: (b: unknown) => parser.parseJson(b).ok
  },
  {
    name: "POST parsePostbackJson(b)",
    inputs: postBodies,
    decode: (b: unknown) => parsePostbackJson(b).ok
  },
  { name: "POST Zod 4", inputs: postBodies, decode: (b: unknown) => zodJson(b).success }
]

// Both decoders must agree before their speed means anything.
for (let i = 0; i < 1000; i++) {
  const ours = parser.parseJson(postBodies[i])
  const theirs = zodJson(postBodies[i])
  if (
    !ours.ok ||
    !theirs.success ||
    ours.postback.payout.toString() !== theirs.data.payout.toString()
  ) {
    throw new Error(`the decoders disagree on body ${i}`)
  }
}

const best = new Map<string, number>()
for (let round = 0; round < ROUNDS; round++) {
  for (const c of cases) best.set(c.name, Math.max(best.get(c.name) ?? 0, run(c)))
}

const format = (n: number): string => Math.round(n).toLocaleString("en-US").padStart(11)
console.log(
  `decoding ${COUNT.toLocaleString("en-US")} distinct postbacks per round, best of ${ROUNDS} rounds (ops/s)`
)
for (const c of cases) console.log(`  ${c.name.padEnd(40)} ${format(best.get(c.name)!)}`)
const ratio = (a: string, b: string): string => (best.get(a)! / best.get(b)!).toFixed(2)
console.log(
  `ratio Effect Schema / Zod 4:  GET ${ratio("GET  Effect Schema (PostbackQuery)", "GET  Zod 4")}  POST ${ratio("POST Effect Schema (PostbackJson)", "POST Zod 4")}`
)
console.log(
  `ratio parser.parse* / Zod 4:  GET ${ratio("GET  parser.parseQuery", "GET  Zod 4")}  POST ${ratio("POST parser.parseJson", "POST Zod 4")}`
)
