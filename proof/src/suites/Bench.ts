// Benchmarks: figures only, nothing asserted. In one script, on one machine:
//   1. The worker draining a backlog of pending LoyaltyBoost postbacks on
//      PostgreSQL, next to graphile-worker (0.16) running as many no-op jobs
//      on the same server (a database of its own), at each size: 20,000,
//      200,000 and 2,000,000 (quick: 2,000 and 20,000). Credits/s, the rate
//      in each tenth of the drain (a backlog must not slow the worker down
//      per row), and the CPU each side spent per row.
//   2. End to end under the ingest benchmark's load (50 connections of
//      unique POST postbacks, as apps/receiver/bench/ingest.ts offers it):
//      first ingest alone (WORKER_ENABLED=false), then ingest and worker
//      together on a fresh database: acknowledged/s, credited/s, their
//      ratio to ingest alone, and each second's acknowledged, settled and
//      oldest pending age, computed afterwards from the rows' time stamps
//      (nothing polls the database during the load).
//   3. The embedded default (no DATABASE_URL: PGlite in RECEIVER_DATA_DIR):
//      ingest alone under the same load, then the worker crediting that
//      backlog on a restart, then both together.
// The backlog is made by ingesting one postback through the receiver (so
// the row has every column as the ingest writes it) and cloning it in SQL
// with its own dedup key and user: seconds instead of minutes of HTTP.
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import { Decimal, encodePostbackJson } from "@org/postback-schema"
import { samplePostback, sendOnce } from "@org/postback-sender"
import autocannon from "autocannon"
import { Logger, run as runGraphile, runMigrations } from "graphile-worker"
import { pgliteReader, postgresReader, type Query } from "../Ledger.ts"
import { createDatabase } from "../Postgres.ts"
import { ADMIN_TOKEN, Receiver } from "../Receiver.ts"
import { formatResult, type SuiteResult } from "../Report.ts"
import type { SuiteOptions } from "../Suite.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const int = (n: number) => Math.round(n).toLocaleString("en-US")
const perSecond = (n: number, ms: number) => n / (ms / 1000)
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`

/** graphile-worker's concurrency here: jobs run at once, each on a pool connection of its own. */
const GRAPHILE_CONCURRENCY = 10

/**
 * The longest graphile-worker's drain may run: on a busy machine 2,000,000
 * no-op jobs can take most of an hour; past this its rate so far is the figure.
 */
const GRAPHILE_LIMIT_MS = 15 * 60_000

/**
 * CPU time (user + system) a local process has used so far, in
 * milliseconds; `undefined` where /proc cannot tell (not Linux, or a
 * database server on another machine).
 */
const cpuMs = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    // utime and stime, in clock ticks of 10 ms (USER_HZ on Linux)
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

/** The PostgreSQL server processes serving `database` (not the caller's own connection). */
const backendPids = async (query: Query, database: string): Promise<Array<number>> =>
  (
    await query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = '${database}' AND pid <> pg_backend_pid()`
    )
  ).map((row) => Number(row.pid))

const databaseName = (url: string) => new URL(url).pathname.slice(1)

const sumCpu = (pids: ReadonlyArray<number>): number | undefined => {
  let total = 0
  for (const pid of pids) {
    const ms = cpuMs(pid)
    if (ms === undefined) return undefined
    total += ms
  }
  return total
}

/**
 * CPU time of a receiver process and of the database server's processes for
 * its database, from `start()` to `stop()`: milliseconds each, `undefined`
 * where /proc cannot tell.
 */
const cpuMeter = (query: Query, database: string, receiver: Receiver) => {
  let receiver0: number | undefined
  let backends0 = new Map<number, number>()
  return {
    start: async () => {
      receiver0 = cpuMs(receiver.pid)
      backends0 = new Map(
        (await backendPids(query, database)).map((pid) => [pid, cpuMs(pid) ?? Number.NaN])
      )
    },
    stop: async () => {
      const receiverNow = cpuMs(receiver.pid)
      let backends: number | undefined = 0
      for (const pid of await backendPids(query, database)) {
        const ms = cpuMs(pid)
        backends =
          ms === undefined || backends === undefined
            ? undefined
            : backends + ms - (backends0.get(pid) ?? 0)
      }
      return {
        receiver:
          receiverNow === undefined || receiver0 === undefined
            ? undefined
            : receiverNow - receiver0,
        postgres: backends === undefined || Number.isNaN(backends) ? undefined : backends
      }
    }
  }
}

/** "12 µs per row" from CPU milliseconds over `rows`, or "unknown". */
const perRow = (ms: number | undefined, rows: number) =>
  ms === undefined ? "unknown" : `${Math.round((ms * 1000) / rows)} µs per row`

/** What a drain measured, for the curve across sizes. */
interface Drained {
  readonly size: number
  readonly rate: number
  /** Rate in each tenth of the drain, first to last. */
  readonly tenths: ReadonlyArray<number>
}

const tenthsText = (tenths: ReadonlyArray<number>) =>
  tenths.length === 0 ? "(under 20,000: too few batches to split)" : tenths.map(int).join(" ")

/** Below this size a tenth of the drain is a batch or two: no rate to read from it. */
const TENTHS_FROM = 20_000

/** The worker alone on a backlog of `size` pending LoyaltyBoost postbacks. */
const drainOurs = async (
  size: number
): Promise<{ drained: Drained; figures: Array<readonly [string, string]> }> => {
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
    // as after a day of ingest: statistics known, the visibility map set
    await reader.query("VACUUM ANALYZE postbacks")
    figures.push([
      "backlog made",
      `${int(size)} pending rows in ${((Date.now() - t0) / 1000).toFixed(1)} s (SQL)`
    ])

    const worker = await Receiver.make({ env })
    await worker.start()
    const name = databaseName(database.url)
    const receiverCpu0 = cpuMs(worker.pid)
    const pids = await backendPids(reader.query, name)
    const backendCpu0 = sumCpu(pids)
    const w0 = Date.now()
    // A cheap probe (the partial ready index) every 100 ms; the rate itself
    // comes from the rows' time stamps afterwards.
    for (;;) {
      const [row] = await reader.query<{ left: boolean }>(
        "SELECT EXISTS (SELECT 1 FROM postbacks WHERE status IN ('pending', 'processing')) AS left"
      )
      if (row?.left !== true || Date.now() - w0 > 3_600_000) break
      await sleep(100)
    }
    const wall = Date.now() - w0
    const receiverCpu = cpuMs(worker.pid)
    // the worker's connections (the pool may have opened more since)
    const backendCpu = sumCpu(await backendPids(reader.query, name))
    await worker.stop()
    await worker.remove()
    // processed_at is the start of the transaction that settled the row:
    // from the first batch's start to the last one's, every batch but the
    // last was settled.
    const [span] = await reader.query<{ n: string; ms: string; last: string }>(
      `SELECT count(*)::text AS n,
              (extract(epoch FROM max(processed_at) - min(processed_at)) * 1000)::text AS ms,
              count(*) FILTER (WHERE processed_at = (SELECT max(processed_at) FROM postbacks))::text AS last
         FROM postbacks WHERE status = 'credited'`
    )
    const credited = Number(span?.n ?? 0)
    const spanMs = Number(span?.ms ?? 0)
    const rate = perSecond(credited - Number(span?.last ?? 0), spanMs)
    // Each tenth from its first batch's start to the next tenth's (the last
    // tenth: to its last batch's start, without that batch).
    const cuts = (
      await reader.query<{ n: string; start: string }>(
        `SELECT count(*)::text AS n, (extract(epoch FROM min(processed_at)) * 1000)::text AS start
           FROM (SELECT processed_at, ntile(10) OVER (ORDER BY processed_at) AS tenth
                   FROM postbacks WHERE status = 'credited') t
          GROUP BY tenth ORDER BY tenth`
      )
    ).map((t) => ({ n: Number(t.n), start: Number(t.start) }))
    const end = cuts.length === 0 ? 0 : cuts[0]!.start + spanMs
    const tenths = (size < TENTHS_FROM ? [] : cuts).map((t, i) =>
      i < cuts.length - 1
        ? perSecond(t.n, Math.max(1, cuts[i + 1]!.start - t.start))
        : perSecond(t.n - Number(span?.last ?? 0), Math.max(1, end - t.start))
    )
    const [ledger] = await reader.query<{ balances: string; points: string }>(
      "SELECT (SELECT sum(balance) FROM accounts)::text AS balances, (SELECT sum(points) FROM reward_transactions)::text AS points"
    )
    figures.push([
      "credited",
      `${int(credited)} in ${(spanMs / 1000).toFixed(1)} s (first batch to last): ${int(rate)}/s; ${(wall / 1000).toFixed(1)} s from the process being up to an empty inbox; balances ${ledger?.balances === ledger?.points ? "equal" : "DIFFER FROM"} the ledger`
    ])
    figures.push(["credits/s in each tenth", tenthsText(tenths)])
    figures.push([
      "CPU",
      `receiver ${perRow(receiverCpu === undefined || receiverCpu0 === undefined ? undefined : receiverCpu - receiverCpu0, credited)}, PostgreSQL ${perRow(backendCpu === undefined || backendCpu0 === undefined || pids.length === 0 ? undefined : backendCpu - backendCpu0, credited)}`
    ])
    return { drained: { size, rate, tenths }, figures }
  } finally {
    await ingest.remove()
    await reader.close()
    await database.drop()
  }
}

/**
 * graphile-worker (in this process) running `size` no-op jobs on a database
 * of its own on the same server: timed from `run()` to the last job's
 * completion.
 */
const drainGraphile = async (
  size: number
): Promise<{ drained: Drained; figures: Array<readonly [string, string]> }> => {
  const database = await createDatabase()
  const reader = postgresReader(database.url)
  const figures: Array<readonly [string, string]> = []
  const quiet = new Logger(() => () => {})
  try {
    await runMigrations({ connectionString: database.url, logger: quiet })
    const t0 = Date.now()
    for (let made = 0; made < size; made += 100_000) {
      const n = Math.min(100_000, size - made)
      await reader.query(
        `SELECT count(*) FROM graphile_worker.add_jobs((SELECT array_agg(('noop', '{}'::json, NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec) FROM generate_series(1, ${n})))`
      )
    }
    await reader.query("VACUUM ANALYZE graphile_worker._private_jobs")
    figures.push([
      "backlog made",
      `${int(size)} jobs in ${((Date.now() - t0) / 1000).toFixed(1)} s (graphile_worker.add_jobs)`
    ])
    const name = databaseName(database.url)
    const marks: Array<number> = []
    let done = 0
    let finished: () => void = () => {}
    const allDone = new Promise<void>((resolve) => {
      finished = resolve
    })
    const cpu0 = cpuMs(process.pid)
    const r0 = Date.now()
    const runner = await runGraphile({
      connectionString: database.url,
      concurrency: GRAPHILE_CONCURRENCY,
      maxPoolSize: GRAPHILE_CONCURRENCY + 1,
      noHandleSignals: true,
      pollInterval: 1_000,
      logger: quiet,
      taskList: { noop: async () => {} }
    })
    runner.events.on("job:complete", () => {
      done++
      if (done % (size / 10) === 0) marks.push(Date.now())
      if (done === size) finished()
    })
    await Promise.race([allDone, sleep(GRAPHILE_LIMIT_MS)])
    const elapsed = Date.now() - r0
    const cpu = cpuMs(process.pid)
    const backendCpu = sumCpu(await backendPids(reader.query, name))
    await runner.stop()
    // graphile-worker ends its own pg pool without waiting for it (and
    // without an error handler left): the database may be dropped only once
    // its connections are gone, or the pool's idle clients emit an error
    // nobody handles when DROP DATABASE ... WITH (FORCE) terminates them.
    for (let waited = 0; waited < 30_000; waited += 100) {
      const [open] = await reader.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`
      )
      if (Number(open?.n ?? 0) === 0) break
      await sleep(100)
    }
    const rate = perSecond(done, elapsed)
    const tenths = (size < TENTHS_FROM ? [] : marks).map((t, i) =>
      perSecond(size / 10, t - (i === 0 ? r0 : marks[i - 1]!))
    )
    figures.push([
      "run",
      `${int(done)}${done < size ? ` of ${int(size)} (stopped at the limit)` : ""} in ${(elapsed / 1000).toFixed(1)} s (run() to the ${done < size ? "limit" : "last completion"}): ${int(rate)}/s; concurrency ${GRAPHILE_CONCURRENCY}`
    ])
    figures.push(["jobs/s in each tenth", tenthsText(tenths)])
    figures.push([
      "CPU",
      `graphile-worker ${perRow(cpu === undefined || cpu0 === undefined ? undefined : cpu - cpu0, done)} (with this script), PostgreSQL ${perRow(backendCpu, done)}`
    ])
    return { drained: { size, rate, tenths }, figures }
  } finally {
    await reader.close()
    await database.drop()
  }
}

/** Both drains at one size, in one result with their ratio. */
const drain = async (
  size: number
): Promise<{ result: SuiteResult; ours: Drained; theirs: Drained }> => {
  const started = Date.now()
  const ours = await drainOurs(size)
  const theirs = await drainGraphile(size)
  return {
    ours: ours.drained,
    theirs: theirs.drained,
    result: {
      name: `draining ${int(size)}: the worker crediting LoyaltyBoost postbacks vs graphile-worker 0.16 running no-op jobs (PostgreSQL)`,
      figures: [
        ...ours.figures.map(([k, v]) => [`worker: ${k}`, v] as const),
        ...theirs.figures.map(([k, v]) => [`graphile-worker: ${k}`, v] as const),
        [
          "worker vs graphile-worker",
          `${int(ours.drained.rate)} credits/s vs ${int(theirs.drained.rate)} no-op jobs/s: ${ratio(ours.drained.rate, theirs.drained.rate)}`
        ]
      ],
      violations: [],
      elapsedMs: Date.now() - started
    }
  }
}

/** What the load saw in its measured window (after the warm-up). */
interface Load {
  /** Requests answered 200. */
  readonly ok: number
  /** Requests answered 200, the warm-up's included: rows written. */
  readonly allOk: number
  /** Requests answered otherwise, or not at all. */
  readonly failed: number
  /** 200s per second over the window. */
  readonly rate: number
  readonly p50: number
  readonly p99: number
  /** When the measured window started (this machine's clock, as the database's). */
  readonly startedAt: Date
}

const WARM_UP_SECONDS = 2

/**
 * The ingest benchmark's load (apps/receiver/bench/ingest.ts): autocannon
 * with 50 connections of unique docs-shaped LoyaltyBoost POST postbacks
 * (1,000 users), first `WARM_UP_SECONDS` of warm-up (JIT, pools, prepared
 * statements), then `seconds` measured. autocannon, not the sender's
 * fetch-based generator: on two shared cores the generator has to be the
 * cheapest process in the room.
 */
const load = async (
  url: string,
  seconds: number,
  onMeasure: () => Promise<void> = async () => {}
): Promise<Load> => {
  const tag = randomUUID().slice(0, 8)
  let n = 0
  const body = () =>
    JSON.stringify(
      encodePostbackJson(
        samplePostback({
          isLoyaltyBoost: true,
          payout: Decimal.make(BigInt(100 + (n % 4000)), 2),
          timestamp: new Date(Date.parse("2024-01-01T00:00:00Z") + n),
          payload: { user_id: `e2e-${n % 1000}`, click_id: `${tag}-${n++}` }
        })
      )
    )
  const drive = (duration: number) =>
    autocannon({
      url,
      method: "POST",
      connections: 50,
      duration,
      headers: { "content-type": "application/json" },
      requests: [{ setupRequest: (request) => ({ ...request, body: body() }) }]
    })
  const warmUp = await drive(WARM_UP_SECONDS)
  await onMeasure()
  const startedAt = new Date()
  const result = await drive(seconds)
  return {
    ok: result["2xx"],
    allOk: warmUp["2xx"] + result["2xx"],
    failed: result.non2xx + result.errors + result.timeouts,
    rate: result["2xx"] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    startedAt
  }
}

const acknowledged = (l: Load) =>
  `${int(l.ok)} (200)${l.failed > 0 ? `, ${int(l.failed)} not 200` : ""}: ${int(l.rate)}/s; p50 ${l.p50} ms, p99 ${l.p99} ms`

const count = async (query: Query, where: string): Promise<number> => {
  const [row] = await query<{ n: string }>(
    `SELECT count(*)::text AS n FROM postbacks WHERE ${where}`
  )
  return Number(row?.n ?? 0)
}

/** Waits until nothing is pending (PostgreSQL), at most `limitMs`; the milliseconds waited. */
const untilSettled = async (query: Query, limitMs: number): Promise<number> => {
  const t0 = Date.now()
  while ((await count(query, "status IN ('pending', 'processing')")) > 0) {
    if (Date.now() - t0 > limitMs) break
    await sleep(250)
  }
  return Date.now() - t0
}

/** CPU per acknowledged row of a load: the receiver's and PostgreSQL's. */
const cpuText = (
  cpu: { receiver: number | undefined; postgres: number | undefined },
  rows: number
) => `receiver ${perRow(cpu.receiver, rows)}, PostgreSQL ${perRow(cpu.postgres, rows)}`

/** Ingest alone (worker off) under the load, on a fresh PostgreSQL database. */
const ingestAlone = async (seconds: number): Promise<{ load: Load; cpu: string }> => {
  const database = await createDatabase()
  const reader = postgresReader(database.url)
  const receiver = await Receiver.make({
    env: { DATABASE_URL: database.url, WORKER_ENABLED: "false" }
  })
  try {
    await receiver.start()
    const meter = cpuMeter(reader.query, databaseName(database.url), receiver)
    const result = await load(receiver.postbackUrl, seconds, meter.start)
    return { load: result, cpu: cpuText(await meter.stop(), result.ok) }
  } finally {
    await receiver.remove()
    await reader.close()
    await database.drop()
  }
}

/** A time stamp as an SQL literal. */
const at = (date: Date) => `'${date.toISOString()}'::timestamptz`

/**
 * Each second of the measured window from the rows' time stamps:
 * acknowledged (received_at, written by the acknowledging statement),
 * settled (processed_at, the settling transaction's start), and the age of
 * the oldest postback still pending at the second's end.
 */
const eachSecond = (query: Query, from: Date, seconds: number) =>
  query<{ acked: string; settled: string; lag: string | null }>(
    `WITH s AS (SELECT g, ${at(from)} + (g + 1) * interval '1 second' AS t_end FROM generate_series(0, ${seconds - 1}) g)
     SELECT (SELECT count(*) FROM postbacks p WHERE p.received_at >= s.t_end - interval '1 second' AND p.received_at < s.t_end)::text AS acked,
            (SELECT count(*) FROM postbacks p WHERE p.processed_at >= s.t_end - interval '1 second' AND p.processed_at < s.t_end)::text AS settled,
            (SELECT (extract(epoch FROM s.t_end - min(p.received_at)) * 1000)::bigint::text FROM postbacks p
              WHERE p.received_at < s.t_end AND (p.processed_at IS NULL OR p.processed_at >= s.t_end)) AS lag
       FROM s ORDER BY s.g`
  )

/**
 * Ingest and worker together under the load, beside ingest alone measured
 * just before in the same way: acknowledged/s and credited/s while loaded,
 * and each second's figures.
 */
const endToEnd = async (seconds: number): Promise<SuiteResult> => {
  const started = Date.now()
  const alone = await ingestAlone(seconds)
  const database = await createDatabase()
  const reader = postgresReader(database.url)
  const receiver = await Receiver.make({ env: { DATABASE_URL: database.url } })
  try {
    await receiver.start()
    const meter = cpuMeter(reader.query, databaseName(database.url), receiver)
    const both = await load(receiver.postbackUrl, seconds, meter.start)
    const cpu = await meter.stop()
    const drained = await untilSettled(reader.query, 600_000)
    await receiver.stop()
    const acked = await count(reader.query, "true")
    const credited = await count(reader.query, "status = 'credited'")
    const perSec = await eachSecond(reader.query, both.startedAt, seconds)
    const ackedSustained = perSec.reduce((sum, s) => sum + Number(s.acked), 0) / seconds
    const creditedSustained = perSec.reduce((sum, s) => sum + Number(s.settled), 0) / seconds
    const lags = perSec.map((s) => Number(s.lag ?? 0))
    return {
      name: `end to end: ingest and worker together vs ingest alone (PostgreSQL, 50 connections, ${seconds} s after ${WARM_UP_SECONDS} s of warm-up)`,
      figures: [
        ["ingest alone (worker off)", acknowledged(alone.load)],
        ["ingest alone: CPU per acknowledged row", alone.cpu],
        ["with the worker: acknowledged", acknowledged(both)],
        ["with the worker: CPU per acknowledged row", cpuText(cpu, both.ok)],
        [
          "with the worker: credited",
          `${int(creditedSustained)}/s during the load (${int(ackedSustained)} acknowledged/s by the rows' time stamps); all ${int(credited)} of ${int(acked)} rows credited ${(drained / 1000).toFixed(1)} s after the load`
        ],
        [
          "end to end vs ingest alone",
          `acknowledged ${ratio(both.rate, alone.load.rate)}, credited ${ratio(creditedSustained, alone.load.rate)} (${int(both.rate)}/s and ${int(creditedSustained)}/s vs ${int(alone.load.rate)}/s)`
        ],
        [
          "oldest pending age",
          `at most ${int(Math.max(...lags))} ms; at each second's end: ${lags.map(int).join(" ")}`
        ],
        [
          "each second: acknowledged/settled",
          perSec.map((s) => `${s.acked}/${s.settled}`).join(" ")
        ]
      ],
      violations: [],
      elapsedMs: Date.now() - started
    }
  } finally {
    await receiver.remove()
    await reader.close()
    await database.drop()
  }
}

/** A counter of the receiver's `/metrics` (the admin token), summed over its lines matching `labels`. */
const metric = async (receiver: Receiver, name: string, labels: string): Promise<number> => {
  const response = await fetch(`${receiver.baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` }
  })
  let total = 0
  for (const line of (await response.text()).split("\n")) {
    if (line.startsWith(name) && line.includes(labels)) total += Number(line.split(" ").at(-1))
  }
  return total
}

/** Waits until the receiver has credited `target` postbacks in all, at most `limitMs`. */
const untilCredited = async (receiver: Receiver, target: number, limitMs: number) => {
  const t0 = Date.now()
  while (
    (await metric(receiver, "receiver_postbacks_processed_total", 'status="credited"')) < target &&
    Date.now() - t0 < limitMs
  ) {
    await sleep(250)
  }
}

/**
 * The embedded default: PGlite in a data folder of its own (no
 * DATABASE_URL). Ingest alone under the load; the worker crediting that
 * backlog after a restart; then ingest and worker together in a fresh
 * folder. Rates come from the rows' time stamps, read from the folder once
 * its receiver has stopped.
 */
const embedded = async (seconds: number): Promise<SuiteResult> => {
  const started = Date.now()
  const figures: Array<readonly [string, string]> = []
  const first = await Receiver.make({ env: { WORKER_ENABLED: "false" } })
  const together = await Receiver.make({ env: {} })
  const rowCount = async (dataDir: string) => {
    const reader = await pgliteReader(dataDir)
    try {
      return await count(reader.query, "true")
    } finally {
      await reader.close()
    }
  }
  try {
    await first.start()
    const alone = await load(first.postbackUrl, seconds)
    await first.stop()
    figures.push(["ingest alone (worker off)", acknowledged(alone)])
    const backlog = await rowCount(first.dataDir)
    const worker = await Receiver.make({ env: { RECEIVER_DATA_DIR: first.dataDir } })
    await worker.start()
    await untilCredited(worker, backlog, 1_800_000)
    await worker.stop()
    const reader = await pgliteReader(first.dataDir)
    try {
      const [span] = await reader.query<{ n: string; ms: string; last: string }>(
        `SELECT count(*)::text AS n,
                (extract(epoch FROM max(processed_at) - min(processed_at)) * 1000)::text AS ms,
                count(*) FILTER (WHERE processed_at = (SELECT max(processed_at) FROM postbacks))::text AS last
           FROM postbacks WHERE status = 'credited'`
      )
      const n = Number(span?.n ?? 0)
      figures.push([
        "worker alone on that backlog (restarted)",
        `${int(n)} credited in ${(Number(span?.ms ?? 0) / 1000).toFixed(1)} s (first batch to last): ${int(perSecond(n - Number(span?.last ?? 0), Number(span?.ms ?? 1)))}/s`
      ])
    } finally {
      await reader.close()
    }
    await together.start()
    const both = await load(together.postbackUrl, seconds)
    const l0 = Date.now()
    await untilCredited(together, both.allOk, 600_000)
    await together.stop()
    const after = await pgliteReader(together.dataDir)
    try {
      const rows = await count(after.query, "true")
      const perSec = await eachSecond(after.query, both.startedAt, seconds)
      const credited = perSec.reduce((sum, s) => sum + Number(s.settled), 0) / seconds
      const unsettled = await count(after.query, "status IN ('pending', 'processing')")
      figures.push(["with the worker: acknowledged", acknowledged(both)])
      figures.push([
        "with the worker: credited",
        `${int(credited)}/s during the load; ${int(rows - unsettled)} of ${int(rows)} rows settled when it stopped ${((Date.now() - l0) / 1000).toFixed(1)} s after the load`
      ])
      figures.push([
        "with the worker vs ingest alone",
        `acknowledged ${ratio(both.rate, alone.rate)}, credited ${ratio(credited, alone.rate)}`
      ])
    } finally {
      await after.close()
    }
    return {
      name: `embedded default: PGlite (no DATABASE_URL), 50 connections, ${seconds} s after ${WARM_UP_SECONDS} s of warm-up`,
      figures,
      violations: [],
      elapsedMs: Date.now() - started
    }
  } finally {
    await first.remove()
    await together.remove()
  }
}

/** The benchmarks: printed, never failed on their figures. */
export const bench = async (options: SuiteOptions): Promise<Array<SuiteResult>> => {
  const results: Array<SuiteResult> = []
  const print = (result: SuiteResult) => {
    console.log(formatResult(result))
    results.push(result)
  }
  const curve: Array<{ ours: Drained; theirs: Drained }> = []
  const t0 = Date.now()
  // PROOF_BENCH_SIZES=200000 (comma-separated) drains those backlogs only;
  // PROOF_BENCH_DRAIN_ONLY=1 skips the end-to-end and embedded parts.
  const sizes =
    process.env.PROOF_BENCH_SIZES?.split(",").map(Number) ??
    (options.quick ? [2_000, 20_000] : [20_000, 200_000, 2_000_000])
  if (sizes.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    throw new Error(
      `PROOF_BENCH_SIZES must be positive whole numbers separated by commas, got ${process.env.PROOF_BENCH_SIZES}`
    )
  }
  const drainOnly = process.env.PROOF_BENCH_DRAIN_ONLY === "1"
  for (const size of sizes) {
    const { result, ours, theirs } = await drain(size)
    print(result)
    curve.push({ ours, theirs })
  }
  print({
    name: "drain rate by backlog size",
    figures: curve.map(({ ours, theirs }) => [
      int(ours.size),
      `worker ${int(ours.rate)} credits/s${ours.tenths.length === 0 ? "" : ` (slowest tenth ${int(Math.min(...ours.tenths))}/s)`}, graphile-worker ${int(theirs.rate)} jobs/s: ${ratio(ours.rate, theirs.rate)}`
    ]),
    violations: [],
    elapsedMs: Date.now() - t0
  })
  if (drainOnly) return results
  print(await endToEnd(options.quick ? 5 : 20))
  print(await embedded(options.quick ? 5 : 10))
  return results
}
