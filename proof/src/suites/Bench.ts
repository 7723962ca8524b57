// Benchmarks: figures only, nothing asserted.
//   1. The worker draining a backlog of pending LoyaltyBoost postbacks on
//      PostgreSQL (20,000 and 200,000; quick: 2,000 and 20,000): credits/s,
//      and the backlog over time.
//   2. End to end under the ingest benchmark's load (50 connections of
//      unique POST postbacks, as apps/receiver/bench/ingest.ts offers it):
//      acknowledged/s and credited/s each second, with the lag (age of the
//      oldest pending postback).
// The backlog is made by ingesting one postback through the receiver (so
// the row has every column as the ingest writes it) and cloning it in SQL
// with its own dedup key and user: seconds instead of minutes of HTTP.
import { randomUUID } from "node:crypto"
import { Decimal } from "@org/postback-schema"
import { runLoad, samplePostback, sendOnce } from "@org/postback-sender"
import { postgresReader, type Query } from "../Ledger.ts"
import { createDatabase } from "../Postgres.ts"
import { Receiver } from "../Receiver.ts"
import { formatResult, type SuiteResult } from "../Report.ts"
import type { SuiteOptions } from "../Suite.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const rate = (n: number, ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString("en-US")}/s`

const count = async (query: Query, where: string): Promise<number> => {
  const [row] = await query<{ n: string }>(
    `SELECT count(*)::text AS n FROM postbacks WHERE ${where}`
  )
  return Number(row?.n ?? 0)
}

/** The worker alone on a backlog of `size` pending LoyaltyBoost postbacks. */
const drain = async (size: number): Promise<SuiteResult> => {
  const started = Date.now()
  const database = await createDatabase()
  const reader = postgresReader(database.url)
  const env = { DATABASE_URL: database.url }
  const ingest = await Receiver.make({ env: { ...env, WORKER_ENABLED: "false" } })
  const figures: Array<readonly [string, string]> = []
  try {
    await ingest.start()
    const first = await sendOnce(
      samplePostback({
        isLoyaltyBoost: true,
        payout: Decimal.parse("2.10"),
        payload: { user_id: "bench-0" }
      }),
      { method: "POST", url: ingest.postbackUrl }
    )
    if (first.status !== 200) throw new Error(`the template postback was answered ${first.status}`)
    await ingest.stop()
    const columns = (
      await reader.query<{ column_name: string }>(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'postbacks' AND column_name <> 'id' ORDER BY ordinal_position"
      )
    ).map((c) => c.column_name)
    const value = (c: string) =>
      c === "dedup_key"
        ? `'bench-' || g`
        : c === "user_id"
          ? `'bench-' || (g % 1000)`
          : c === "payload"
            ? `jsonb_build_object('user_id', 'bench-' || (g % 1000))`
            : c
    const t0 = Date.now()
    await reader.query(
      `INSERT INTO postbacks (${columns.join(", ")}) SELECT ${columns.map(value).join(", ")} FROM postbacks, generate_series(1, ${size - 1}) g WHERE id = (SELECT min(id) FROM postbacks)`
    )
    await reader.query("ANALYZE postbacks")
    figures.push([
      "backlog made",
      `${size.toLocaleString("en-US")} pending rows in ${((Date.now() - t0) / 1000).toFixed(1)} s (SQL)`
    ])

    const worker = await Receiver.make({ env })
    await worker.start()
    // from the moment it answers /healthz: migrations checked, the worker started
    const w0 = Date.now()
    const curve: Array<string> = []
    let left = size
    let lastMark = w0
    while (left > 0 && Date.now() - w0 < 1_800_000) {
      await sleep(1_000)
      left = await count(reader.query, "status IN ('pending', 'processing')")
      if (Date.now() - lastMark >= (size > 50_000 ? 10_000 : 2_000)) {
        lastMark = Date.now()
        curve.push(
          `${((Date.now() - w0) / 1000).toFixed(0)}s:${(size - left).toLocaleString("en-US")}`
        )
      }
    }
    const elapsed = Date.now() - w0
    await worker.stop()
    await worker.remove()
    const credited = await count(reader.query, "status = 'credited'")
    figures.push([
      "credited",
      `${credited.toLocaleString("en-US")} in ${(elapsed / 1000).toFixed(1)} s (from the process being up): ${rate(credited, elapsed)}`
    ])
    figures.push(["settled over time", curve.join("  ")])
    return {
      name: `worker draining ${size.toLocaleString("en-US")} pending LoyaltyBoost postbacks (PostgreSQL)`,
      figures,
      violations: [],
      elapsedMs: Date.now() - started
    }
  } finally {
    await ingest.remove()
    await reader.close()
    await database.drop()
  }
}

/** Ingest and worker together under 50 connections of unique POST postbacks. */
const endToEnd = async (seconds: number): Promise<SuiteResult> => {
  const started = Date.now()
  const database = await createDatabase()
  const reader = postgresReader(database.url)
  const receiver = await Receiver.make({ env: { DATABASE_URL: database.url } })
  try {
    await receiver.start()
    const run = randomUUID().slice(0, 8)
    const samples: Array<string> = []
    let loading = true
    let previous = { acked: 0, settled: 0 }
    const sampler = (async () => {
      const t0 = Date.now()
      while (loading) {
        await sleep(1_000)
        const [row] = await reader.query<{ acked: string; settled: string; lag: string | null }>(
          `SELECT count(*)::text AS acked, count(*) FILTER (WHERE status NOT IN ('pending', 'processing'))::text AS settled,
                  (extract(epoch FROM now() - min(received_at) FILTER (WHERE status IN ('pending', 'processing'))) * 1000)::bigint::text AS lag
             FROM postbacks`
        )
        const acked = Number(row?.acked ?? 0)
        const settledNow = Number(row?.settled ?? 0)
        samples.push(
          `${((Date.now() - t0) / 1000).toFixed(0)}s ack +${acked - previous.acked} settled +${settledNow - previous.settled} lag ${row?.lag ?? 0} ms`
        )
        previous = { acked, settled: settledNow }
      }
    })()
    const summary = await runLoad(
      { method: "POST", url: receiver.postbackUrl },
      {
        rate: 20_000,
        durationSeconds: seconds,
        concurrency: 50,
        // an open model at a rate no run reaches: 50 connections always busy,
        // as autocannon drives them; the signal ends it after `seconds`
        signal: AbortSignal.timeout(seconds * 1_000),
        postback: (i) =>
          samplePostback({
            isLoyaltyBoost: true,
            payout: Decimal.parse("2.10"),
            timestamp: new Date(Date.parse("2024-01-01T00:00:00Z") + i),
            payload: { user_id: `e2e-${i % 1000}`, click_id: `${run}-${i}` }
          })
      }
    )
    const loadEnd = Date.now()
    while (
      (await count(reader.query, "status IN ('pending', 'processing')")) > 0 &&
      Date.now() - loadEnd < 600_000
    ) {
      await sleep(1_000)
    }
    const drained = Date.now() - loadEnd
    loading = false
    await sampler
    const acked = await count(reader.query, "true")
    const credited = await count(reader.query, "status = 'credited'")
    const figures: Array<readonly [string, string]> = [
      [
        "offered",
        `${summary.sent.toLocaleString("en-US")} requests, 50 connections, ${seconds} s: ${summary.achievedRate.toFixed(0)}/s started`
      ],
      [
        "acknowledged",
        `${summary.ok.toLocaleString("en-US")} (200): ${rate(summary.ok, summary.elapsedMs)}; p50 ${summary.latency?.p50.toFixed(1)} ms, p99 ${summary.latency?.p99.toFixed(1)} ms`
      ],
      [
        "credited",
        `${credited.toLocaleString("en-US")} of ${acked.toLocaleString("en-US")} rows: ${rate(credited, summary.elapsedMs + drained)} over load and drain; backlog drained ${(drained / 1000).toFixed(1)} s after the load`
      ],
      ["each second", samples.join("; ")]
    ]
    return {
      name: "end to end: ingest and worker together (PostgreSQL)",
      figures,
      violations: [],
      elapsedMs: Date.now() - started
    }
  } finally {
    await receiver.remove()
    await reader.close()
    await database.drop()
  }
}

/** The benchmarks: printed, never failed on their figures. */
export const bench = async (options: SuiteOptions): Promise<Array<SuiteResult>> => {
  const results: Array<SuiteResult> = []
  for (const size of options.quick ? [2_000, 20_000] : [20_000, 200_000]) {
    const result = await drain(size)
    console.log(formatResult(result))
    results.push(result)
  }
  const result = await endToEnd(options.quick ? 5 : 20)
  console.log(formatResult(result))
  results.push(result)
  return results
}
