// Resident memory, start-up time and end-to-end throughput of the built
// receiver (`node dist/main.js`, as `pnpm start` runs it), on embedded PGlite
// and on PostgreSQL side by side, in one run on this machine:
//
//   1. start on an empty data folder (PGlite) or an empty database:
//      time from the process's start to the first 200 on /readyz, then the
//      resident memory (VmRSS) after BENCH_IDLE_SECONDS idle;
//   2. a steady BENCH_RATE postbacks/s (default 1,000) for BENCH_DURATION
//      seconds (default 30): the most resident memory seen (sampled every
//      200 ms), acknowledged/s, p99, and credited/s (the run's postbacks
//      credited, over the time from the first request until the worker has
//      credited the last of them);
//   3. the inbox filled to BENCH_INBOX_ROWS rows (default 100,000) as fast as
//      the receiver takes them, all credited: resident memory after it;
//   4. a restart on the same data: time to the first 200 on /readyz, and
//      the resident memory after BENCH_IDLE_SECONDS idle.
//
// On a shared machine the rates follow whatever else runs; the receiver's
// CPU time per postback (from /proc/<pid>/stat, ingest and crediting both)
// does not, and says what one free core sustains: PGlite runs inside the
// receiver's one thread, so that is the embedded receiver's ceiling.
//
// Memory is read from outside, from /proc/<pid>/status (VmRSS; VmHWM, the
// peak, over the whole life of the process). The load is offered by
// autocannon in this process (unique docs-shaped LoyaltyBoost postbacks from
// @org/postback-sender's samplePostback), so it never counts against the
// receiver.
//
//   npx -y pnpm@10.34.9 build    # the figures are those of dist/main.js
//   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//     npx -y pnpm@10.34.9 --filter @org/receiver bench:memory
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { cpus, tmpdir, totalmem } from "node:os"
import { fileURLToPath } from "node:url"
import { Decimal, encodePostbackJson } from "@org/postback-schema"
import { samplePostback } from "@org/postback-sender"
import autocannon from "autocannon"
import postgres from "postgres"

const baseUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/test"
const rate = Number(process.env.BENCH_RATE ?? 1_000)
const duration = Number(process.env.BENCH_DURATION ?? 30)
const inboxRows = Number(process.env.BENCH_INBOX_ROWS ?? 100_000)
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 10)
const only = process.env.BENCH_ONLY // "pglite" or "postgres"
const appDir = fileURLToPath(new URL("..", import.meta.url))
const main = `${appDir}dist/main.js`
const SECRET = "bench-secret-0123456789abcdef"
// Extra receiver settings to try, e.g. BENCH_RECEIVER_ENV="INGEST_MAX_INFLIGHT=1 WORKER_BATCH_SIZE=500"
const receiverEnv = Object.fromEntries(
  (process.env.BENCH_RECEIVER_ENV ?? "")
    .split(/\s+/)
    .filter((pair) => pair.includes("="))
    .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)])
)

if (!existsSync(main)) {
  console.error(`${main} is missing: build first (npx -y pnpm@10.34.9 build)`)
  process.exit(1)
}

/** VmRSS and VmHWM of `pid`, in MB. */
const memoryOf = (pid: number): { rss: number; hwm: number } => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 }
}

/**
 * CPU time `pid` has used (user + system), in ms. On a shared machine the
 * wall-clock rate depends on what else runs; the CPU spent per postback
 * does not, and bounds the rate one free core could sustain.
 */
const cpuMsOf = (pid: number): number => {
  // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
}
// USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK).
const CLOCK_TICKS = 100

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Receiver {
  readonly child: ChildProcess
  readonly baseUrl: string
  readonly output: () => string
  /** Milliseconds from the spawn to the first 200 on /readyz. */
  readonly readyMs: number
}

// Every receiver started, killed when the bench ends however it ends.
const children = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL")
})

const startReceiver = async (env: Record<string, string>): Promise<Receiver> => {
  const started = performance.now()
  const child = spawn(process.execPath, [main, "serve"], {
    cwd: appDir,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      POSTBACK_SECRET: SECRET,
      ADMIN_TOKEN: SECRET,
      LOG_FORMAT: "logfmt",
      LOG_LEVEL: "Info",
      ...receiverEnv,
      ...env
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.add(child)
  child.once("exit", () => children.delete(child))
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString()
  })
  const url = `http://127.0.0.1:${env.PORT}`
  for (;;) {
    if (child.exitCode !== null) throw new Error(`receiver exited (${child.exitCode}):\n${output}`)
    const ready = await fetch(`${url}/readyz`).then(
      (response) => response.status === 200,
      () => false
    )
    if (ready) {
      return { child, baseUrl: url, output: () => output, readyMs: performance.now() - started }
    }
    if (performance.now() - started > 300_000) throw new Error(`not ready in 5 min:\n${output}`)
    await sleep(20)
  }
}

const stopReceiver = async (receiver: Receiver) => {
  const exited = new Promise((resolve) => receiver.child.once("exit", resolve))
  receiver.child.kill("SIGTERM")
  await exited
}

/** Postbacks the worker has credited, from the receiver's own counter. */
const credited = async (receiver: Receiver): Promise<number> => {
  const text = await fetch(`${receiver.baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${SECRET}` }
  }).then((response) => response.text())
  const line = /^receiver_postbacks_processed_total\{status="credited"\} (\d+)/m.exec(text)
  return line === null ? 0 : Number(line[1])
}

/** Waits until `target` postbacks are credited; resolves with when that was seen. */
const creditedAll = async (receiver: Receiver, target: number, timeoutMs = 300_000) => {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const count = await credited(receiver)
    if (count >= target) return performance.now()
    if (performance.now() > deadline) {
      throw new Error(`only ${count} of ${target} postbacks credited in ${timeoutMs / 1000} s`)
    }
    await sleep(100)
  }
}

let counter = 0
/** A new docs-shaped LoyaltyBoost postback per request, encoded by the schema package. */
const nextBody = () => {
  const n = counter++
  return JSON.stringify(
    encodePostbackJson(
      samplePostback({
        offerId: String(1000 + (n % 97)),
        payout: Decimal.make(BigInt(100 + (n % 4000)), 2),
        timestamp: new Date(Date.UTC(2026, 0, 1) + n),
        isLoyaltyBoost: true,
        payload: { user_id: `user-${n % 5000}`, session_id: `s-${n}` }
      })
    )
  )
}

/** Offers load; `overallRate` paces it, `amount` stops it after that many requests. */
const drive = (
  receiver: Receiver,
  options: { readonly seconds?: number; readonly overallRate?: number; readonly amount?: number }
) =>
  autocannon({
    url: `${receiver.baseUrl}/postbacks?secret=${SECRET}`,
    method: "POST",
    connections: 50,
    ...(options.amount === undefined
      ? { duration: options.seconds ?? duration }
      : { amount: options.amount }),
    ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
    headers: { "content-type": "application/json" },
    requests: [{ setupRequest: (request) => ({ ...request, body: nextBody() }) }]
  })

/** Samples VmRSS every 200 ms while `work` runs; resolves with its result and the most seen. */
const sampled = async <A>(
  pid: number,
  work: Promise<A>
): Promise<{ result: A; maxRss: number }> => {
  let maxRss = 0
  let done = false
  const sampler = (async () => {
    while (!done) {
      maxRss = Math.max(maxRss, memoryOf(pid).rss)
      await sleep(200)
    }
  })()
  const result = await Promise.resolve(work).finally(() => {
    done = true
  })
  await sampler
  return { result, maxRss: Math.max(maxRss, memoryOf(pid).rss) }
}

interface Figures {
  readyFreshMs: number
  hwmAtReady: number
  initdbPeak: number | undefined
  cpuMsPerPostback: number
  idleRss: number
  loadMaxRss: number
  ackPerSecond: number
  p99: number
  non2xx: number
  creditedPerSecond: number
  inboxRss: number
  inboxIdleRss: number
  hwm: number
  readyRestartMs: number
  restartIdleRss: number
  restartHwm: number
}

const measure = async (name: string, env: Record<string, string>): Promise<Figures> => {
  const log = (text: string) => console.error(`${name}: ${text}`)
  counter = 0
  const first = await startReceiver(env)
  const pid = first.child.pid!
  // An empty PGlite folder is created by a process of its own, which reports its peak.
  const initdb = /Created the embedded database.*initdbPeakMiB=(\d+)/.exec(first.output())
  const figures: Partial<Figures> = {
    readyFreshMs: first.readyMs,
    hwmAtReady: memoryOf(pid).hwm,
    initdbPeak: initdb === null ? undefined : Number(initdb[1])
  }
  log(`ready in ${Math.round(first.readyMs)} ms (fresh), peak ${figures.hwmAtReady?.toFixed(0)} MB`)
  await sleep(idleSeconds * 1000)
  figures.idleRss = memoryOf(pid).rss
  log(`idle ${figures.idleRss.toFixed(0)} MB`)

  const loadStarted = performance.now()
  const cpuBefore = cpuMsOf(pid)
  const before = await credited(first)
  const steady = await sampled(pid, drive(first, { seconds: duration, overallRate: rate }))
  const acknowledged = steady.result["2xx"]
  const creditedAt = await creditedAll(first, before + acknowledged)
  figures.cpuMsPerPostback = (cpuMsOf(pid) - cpuBefore) / acknowledged
  figures.loadMaxRss = steady.maxRss
  figures.ackPerSecond = acknowledged / duration
  figures.p99 = steady.result.latency.p99
  figures.non2xx = steady.result.non2xx + steady.result.errors + steady.result.timeouts
  figures.creditedPerSecond = acknowledged / ((creditedAt - loadStarted) / 1000)
  log(
    `${rate}/s offered: ${figures.ackPerSecond.toFixed(0)} acknowledged/s, ${figures.creditedPerSecond.toFixed(0)} credited/s, ${figures.cpuMsPerPostback.toFixed(2)} ms CPU per postback, most ${figures.loadMaxRss.toFixed(0)} MB`
  )

  const remaining = inboxRows - counter
  if (remaining > 0) {
    const fill = await sampled(pid, drive(first, { amount: remaining }))
    await creditedAll(first, before + acknowledged + fill.result["2xx"])
    figures.inboxRss = Math.max(fill.maxRss, memoryOf(pid).rss)
  } else {
    figures.inboxRss = memoryOf(pid).rss
  }
  await sleep(idleSeconds * 1000)
  figures.inboxIdleRss = memoryOf(pid).rss
  figures.hwm = memoryOf(pid).hwm
  log(
    `${inboxRows} rows: most ${figures.inboxRss.toFixed(0)} MB, then idle ${figures.inboxIdleRss.toFixed(0)} MB`
  )
  await stopReceiver(first)

  const second = await startReceiver(env)
  figures.readyRestartMs = second.readyMs
  await sleep(idleSeconds * 1000)
  const restarted = memoryOf(second.child.pid!)
  figures.restartIdleRss = restarted.rss
  figures.restartHwm = restarted.hwm
  log(`restart: ready in ${Math.round(second.readyMs)} ms, idle ${restarted.rss.toFixed(0)} MB`)
  await stopReceiver(second)
  return figures as Figures
}

const results: Array<{ readonly name: string; readonly figures: Figures }> = []

if (only === undefined || only === "pglite") {
  const dataDir = `${tmpdir()}/receiver-bench-memory-${process.pid}`
  try {
    results.push({
      name: "PGlite",
      figures: await measure("PGlite", { PORT: "3291", RECEIVER_DATA_DIR: dataDir })
    })
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (only === undefined || only === "postgres") {
  const name = `receiver_bench_${randomUUID().replaceAll("-", "").slice(0, 12)}`
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  const url = new URL(baseUrl)
  url.pathname = `/${name}`
  try {
    results.push({
      name: "PostgreSQL",
      figures: await measure("PostgreSQL", {
        PORT: "3292",
        DATABASE_URL: url.toString(),
        RECEIVER_DATA_DIR: `${tmpdir()}/receiver-bench-memory-pg-${process.pid}`
      })
    })
  } finally {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
}

const mb = (value: number) => `${Math.round(value)} MB`
const rows: ReadonlyArray<readonly [string, (f: Figures) => string]> = [
  ["first start: process start to /readyz 200", (f) => `${(f.readyFreshMs / 1000).toFixed(1)} s`],
  ["first start: peak resident (VmHWM) at ready", (f) => mb(f.hwmAtReady)],
  [
    "first start: peak of the initdb process (PGlite)",
    (f) => (f.initdbPeak === undefined ? "-" : mb(f.initdbPeak))
  ],
  [`idle after start (VmRSS, ${idleSeconds} s)`, (f) => mb(f.idleRss)],
  [`under ${rate} postbacks/s for ${duration} s (most VmRSS)`, (f) => mb(f.loadMaxRss)],
  ["acknowledged/s (200s / s)", (f) => f.ackPerSecond.toFixed(0)],
  ["p99 latency", (f) => `${f.p99} ms`],
  ["non-2xx and errors", (f) => String(f.non2xx)],
  ["credited/s (end to end)", (f) => f.creditedPerSecond.toFixed(0)],
  ["receiver CPU per postback, ingest and credit (ms)", (f) => f.cpuMsPerPostback.toFixed(2)],
  ["so one free core sustains (postbacks/s)", (f) => (1000 / f.cpuMsPerPostback).toFixed(0)],
  [`filling a ${inboxRows.toLocaleString("en")}-row inbox (most VmRSS)`, (f) => mb(f.inboxRss)],
  [`idle after it (VmRSS)`, (f) => mb(f.inboxIdleRss)],
  ["peak of the whole run (VmHWM)", (f) => mb(f.hwm)],
  ["restart: process start to /readyz 200", (f) => `${(f.readyRestartMs / 1000).toFixed(1)} s`],
  ["restart: idle (VmRSS) / peak (VmHWM)", (f) => `${mb(f.restartIdleRss)} / ${mb(f.restartHwm)}`]
]
console.log(
  `\nReceiver memory and start-up, node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GB\n`
)
console.log(`| | ${results.map((r) => r.name).join(" | ")} |`)
console.log(`| --- |${results.map(() => " ---: |").join("")}`)
for (const [label, value] of rows) {
  console.log(`| ${label} | ${results.map((r) => value(r.figures)).join(" | ")} |`)
}
