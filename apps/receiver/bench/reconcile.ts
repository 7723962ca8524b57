// Reconciliation at scale: a BENCH_ROWS-row MomentScience export (default
// 1,000,000) against an inbox of about as many stored postbacks, on
// PostgreSQL, in a database of its own (created, then dropped):
//
//   - the inbox: conversion i (0 <= i < BENCH_ROWS) is stored unless it is
//     lost (i % 200 = 7); conversions i % 500 = 3 are stored but not in the
//     export (unknown to MomentScience); every 1,000th is a pair of
//     identical conversions (same offer, payout and second) stored twice;
//   - the export: every conversion but the unknown ones, `success` with 200
//     or, when lost, `failed` with 503; second-precision timestamps (stored
//     ones carry milliseconds); written to a temporary file first;
//   - then `reconcile()` reads the file as a stream and stores the report.
//     BENCH_SKEW_MS shifts every export time (a clock skew): the exact pass
//     then pairs nothing, and every row is paired within the tolerance.
//
// Printed: the time to reconcile (the inbox is filled before the clock
// starts), the report's totals checked against what was generated, and the
// resident memory and heap in use while reconciling (sampled every 100 ms),
// and the process's peak resident memory (getrusage maxrss).
//
//   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//     npx -y pnpm@10.34.9 --filter @org/receiver exec tsx --conditions=@org/source bench/reconcile.ts
import { randomUUID } from "node:crypto"
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import postgres from "postgres"
import { Database } from "../src/Db/Database.ts"
import { reconcile } from "../src/Reconcile/Reconcile.ts"

const baseUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/test"
const rows = Number(process.env.BENCH_ROWS ?? 1_000_000)
// One conversion every 2.5 s from 2026-01-01: a million span about 29 days.
const BASE = Date.UTC(2026, 0, 1)
const STEP_MS = 2_500
// A clock skew between the export and the stored timestamps: every row then
// misses the exact pass and is paired within the tolerance (in windows).
const SKEW_MS = Number(process.env.BENCH_SKEW_MS ?? 0)

const lost = (i: number) => i % 200 === 7
const unknown = (i: number) => i % 500 === 3
const twin = (i: number) => i % 1000 === 11
const offerOf = (i: number) => String(1000 + (i % 50))
const payoutOf = (i: number) =>
  `${Math.floor((i % 300) / 100) + 1}.${String(i % 100).padStart(2, "0")}`

const admin = postgres(baseUrl, { max: 1, onnotice: () => {} })
const name = `receiver_bench_${randomUUID().replaceAll("-", "").slice(0, 16)}`
await admin.unsafe(`CREATE DATABASE ${name}`)
const url = new URL(baseUrl)
url.pathname = `/${name}`
const folder = mkdtempSync(join(tmpdir(), "reconcile-bench-"))
const file = join(folder, "export.csv")
const scope = Effect.runSync(Scope.make())

try {
  const context = await Effect.runPromise(
    Layer.buildWithScope(Database.layerPostgres(url.toString(), { timeoutMs: 3_600_000 }), scope)
  )
  const { sql } = Context.get(context, Database)

  // The inbox, filled by the database itself (fast, and outside the clock).
  let started = performance.now()
  await sql.query(
    `INSERT INTO postbacks (dedup_key, status, source, offer_id, advertiser_name, payout, occurred_at,
       is_loyalty_boost, payload, user_id, received_at, last_received_at, last_http_status)
     SELECT 'bench:' || i || ':' || copy, 'credited', 'post-json', (1000 + i % 50)::text, 'Bench',
       (((i % 300) / 100 + 1)::text || '.' || lpad((i % 100)::text, 2, '0'))::numeric,
       to_timestamp(($1::bigint + i::bigint * $2::bigint + (i % 997)) / 1000.0), true,
       jsonb_build_object('user_id', 'u' || i || ':' || copy), 'u' || i || ':' || copy,
       now(), now(), 200
     FROM generate_series(0, $3::integer - 1) AS i
     CROSS JOIN LATERAL generate_series(1, CASE WHEN i % 1000 = 11 THEN 2 ELSE 1 END) AS copy
     WHERE i % 200 <> 7`,
    [BASE, STEP_MS, rows]
  )
  await sql.query("ANALYZE postbacks")
  const [{ n: inbox } = { n: "0" }] = await sql.query<{ n: string }>(
    "SELECT count(*)::text AS n FROM postbacks"
  )
  console.log(`inbox: ${inbox} postbacks in ${((performance.now() - started) / 1000).toFixed(1)} s`)

  // The export, written to a file.
  started = performance.now()
  const out = createWriteStream(file)
  const write = (text: string) =>
    out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once("drain", () => r()))
  await write(
    "Event Timestamp,Offer ID,Advertiser Name,Payout,Delivery Status,Response Code,User ID\n"
  )
  let exported = 0
  let chunk = ""
  for (let i = 0; i < rows; i++) {
    if (unknown(i)) continue
    // The export shows the conversion's timestamp to the second (the
    // stored one has its milliseconds), shifted by BENCH_SKEW_MS if set.
    const time = new Date(Math.floor((BASE + i * STEP_MS + (i % 997)) / 1000) * 1000 + SKEW_MS)
      .toISOString()
      .replace(".000Z", "Z")
    const status = lost(i) ? "failed,503" : "success,200"
    for (let copy = 1; copy <= (twin(i) ? 2 : 1); copy++) {
      chunk += `${time},${offerOf(i)},Bench,$${payoutOf(i)},${status},u${i}:${copy}\n`
      exported++
    }
    if (chunk.length > 1 << 16) {
      await write(chunk)
      chunk = ""
    }
  }
  await write(chunk)
  await new Promise<void>((resolve) => out.end(() => resolve()))
  console.log(`export: ${exported} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`)

  // Reconcile, with the heap sampled.
  let heapPeak = 0
  let rssPeak = 0
  const sampler = setInterval(() => {
    const usage = process.memoryUsage()
    heapPeak = Math.max(heapPeak, usage.heapUsed)
    rssPeak = Math.max(rssPeak, usage.rss)
  }, 100)
  const rssBefore = process.resourceUsage().maxRSS
  started = performance.now()
  const summary = await reconcile(sql, createReadStream(file), {
    source: "bench.csv",
    userIdKey: "user_id",
    toleranceMs: Math.max(1000, Math.abs(SKEW_MS) + 1000),
    onPhase: (phase, ms) => console.log(`  ${phase}: ${(ms / 1000).toFixed(1)} s`)
  })
  const seconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  const expectedLost = Array.from({ length: rows }, (_, i) => i).filter(
    (i) => lost(i) && !unknown(i)
  ).length
  const expectedUnknown = Array.from({ length: rows }, (_, i) => i).filter(
    (i) => unknown(i) && !lost(i)
  ).length
  const { categories } = summary
  console.log(
    `reconciled ${summary.exportRows} export rows against ${inbox} postbacks in ${seconds.toFixed(1)} s (${Math.round(summary.exportRows / seconds)} rows/s)`
  )
  console.log(
    `  delivered ${categories.delivered.count}, lost ${categories.lost.count} (${categories.lost.payout} USD), unknown ${categories.unknown.count}, missing ${categories.missing.count}, stored after failure ${categories.stored_after_failure.count}, unreadable ${categories.unreadable.count}`
  )
  console.log(
    `  while reconciling: peak RSS ${(rssPeak / 1048576).toFixed(0)} MiB, peak heap in use ${(heapPeak / 1048576).toFixed(0)} MiB (sampled every 100 ms); the process's peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (${(rssBefore / 1024).toFixed(0)} MiB before reconciling)`
  )
  const ok =
    categories.lost.count === expectedLost &&
    categories.unknown.count === expectedUnknown &&
    categories.missing.count === 0 &&
    categories.delivered.count === exported - expectedLost
  console.log(
    ok
      ? "  totals: as generated"
      : `  totals: NOT as generated (lost ${expectedLost}, unknown ${expectedUnknown})`
  )
  if (!ok) process.exitCode = 1
} finally {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  rmSync(folder, { recursive: true, force: true })
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.end()
}
