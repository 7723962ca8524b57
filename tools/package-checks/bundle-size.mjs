// What the plain (non-Effect) decoder costs in a browser or edge bundle:
// `parsePostbackJson` imported from @org/postback-schema (its built dist/,
// as npm users get it), bundled and minified by esbuild for the browser,
// then gzipped; next to the same POST-body contract written with zod/mini
// and with classic Zod. Fails when ours passes the 25 KB gzip budget (a
// size, not a speed: the figure is the same on every machine).
//
//   pnpm check:bundle-size
import { gzipSync } from "node:zlib"
import { build } from "esbuild"

const BUDGET = 25 * 1024

const entries = {
  "@org/postback-schema parsePostbackJson": `
    import { parsePostbackJson } from "@org/postback-schema"
    globalThis.decode = parsePostbackJson`,
  "@org/postback-schema/plain parsePostbackJson": `
    import { parsePostbackJson } from "@org/postback-schema/plain"
    globalThis.decode = parsePostbackJson`,
  // The same contract as bench/decode.ts's Zod 4 schema, in zod/mini.
  "zod/mini (same contract)": `
    import * as z from "zod/mini"
    const PAYOUT = /^0*\\d{1,12}(\\.\\d{1,8})?$/
    const schema = z.pipe(z.object({
      offer_id: z.pipe(z.union([z.string().check(z.minLength(1), z.maxLength(1024)), z.number().check(z.int(), z.nonnegative())]), z.transform(String)),
      advertiser_name: z.optional(z.string().check(z.maxLength(1024))),
      payout: z.pipe(z.union([z.string().check(z.regex(PAYOUT)), z.number().check(z.nonnegative())]), z.transform(String)),
      timestamp: z.pipe(z.iso.datetime({ offset: true }), z.transform((t) => new Date(t))),
      is_loyaltyboost: z.pipe(z.union([z.literal(["1", "0"]), z.literal([1, 0]), z.boolean()]), z.transform((v) => v === "1" || v === 1 || v === true)),
      payload: z._default(z.record(z.string().check(z.regex(/^[A-Za-z0-9_.-]{1,128}$/)), z.pipe(z.union([z.string().check(z.maxLength(1024)), z.number(), z.boolean()]), z.transform(String))), {})
    }), z.transform((w) => ({ offerId: w.offer_id, advertiserName: w.advertiser_name ?? "", payout: w.payout, timestamp: w.timestamp, isLoyaltyBoost: w.is_loyaltyboost, payload: w.payload })))
    globalThis.decode = (body) => z.safeParse(schema, body)`,
  "zod (classic, same contract)": `
    import { z } from "zod"
    const schema = z.object({
      offer_id: z.union([z.string().min(1).max(1024), z.number().int().nonnegative()]).transform(String),
      advertiser_name: z.string().max(1024).optional(),
      payout: z.union([z.string().regex(/^0*\\d{1,12}(\\.\\d{1,8})?$/), z.number().nonnegative()]).transform(String),
      timestamp: z.iso.datetime({ offset: true }).transform((t) => new Date(t)),
      is_loyaltyboost: z.union([z.literal(["1", "0"]), z.literal([1, 0]), z.boolean()]),
      payload: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({})
    })
    globalThis.decode = (body) => schema.safeParse(body)`
}

const sizes = {}
for (const [name, contents] of Object.entries(entries)) {
  const result = await build({
    stdin: { contents, resolveDir: import.meta.dirname, loader: "js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "error"
  })
  const bytes = result.outputFiles[0].contents
  sizes[name] = { minified: bytes.byteLength, gzip: gzipSync(bytes, { level: 9 }).byteLength }
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`.padStart(9)
console.log("bundle of one decode function (esbuild --bundle --minify, browser; gzip -9)")
console.log(`  ${"".padEnd(46)} ${"minified".padStart(9)} ${"gzip".padStart(9)}`)
for (const [name, size] of Object.entries(sizes)) {
  console.log(`  ${name.padEnd(46)} ${kb(size.minified)} ${kb(size.gzip)}`)
}
const ours = sizes["@org/postback-schema parsePostbackJson"].gzip
const mini = sizes["zod/mini (same contract)"].gzip
console.log(
  `ratio ours / zod/mini (gzip): ${(ours / mini).toFixed(2)}; budget ${kb(BUDGET).trim()}`
)
if (ours > BUDGET) {
  console.error(
    `parsePostbackJson bundles to ${kb(ours).trim()} gzip, over the ${kb(BUDGET).trim()} budget`
  )
  process.exit(1)
}
