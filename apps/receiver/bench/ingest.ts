// Ingest throughput, side by side, in one run on this machine:
//   1. bare node:http + group commit (the ceiling for durable acks)
//   2. Fastify + one INSERT per request (the common baseline)
//   3. this receiver (worker off: ingest only), then with its worker on
// Each server runs as its own process on its own fresh PostgreSQL database;
// autocannon drives 50 connections of unique docs-shaped POST postbacks
// (made with @org/postback-sender's samplePostback, encoded by
// @org/postback-schema). autocannon, not the sender's fetch-based load
// generator, offers the load: on two shared cores the generator has to be
// the cheapest process in the room.
// Then the receiver is driven at half its peak rate to read its p99 latency.
//
//   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test pnpm --filter @org/receiver bench
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Decimal, encodePostbackJson } from "@org/postback-schema"
import { samplePostback } from "@org/postback-sender"
import autocannon from "autocannon"
import postgres from "postgres"

const baseUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/test"
const duration = Number(process.env.BENCH_DURATION ?? 5)
const rounds = Number(process.env.BENCH_ROUNDS ?? 4)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const appDir = fileURLToPath(new URL("..", import.meta.url))
const SECRET = "bench-secret-0123456789abcdef"
// Extra receiver settings to try, e.g. BENCH_RECEIVER_ENV="INGEST_BATCH_WAIT_MS=0 INGEST_MAX_INFLIGHT=3"
const receiverEnv = Object.fromEntries(
  (process.env.BENCH_RECEIVER_ENV ?? "")
    .split(/\s+/)
    .filter((pair) => pair.includes("="))
    .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)])
)
const only = process.env.BENCH_ONLY

const withDatabase = (name: string) => {
  const url = new URL(baseUrl)
  url.pathname = `/${name}`
  return url.toString()
}

const createDatabase = async () => {
  const name = `receiver_bench_${randomUUID().replaceAll("-", "").slice(0, 12)}`
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  await admin.end()
  return {
    url: withDatabase(name),
    drop: async () => {
      const again = postgres(baseUrl, { max: 1, onnotice: () => {} })
      await again.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await again.end()
    }
  }
}

const start = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  new Promise<{ url: string; child: ChildProcess }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@org/source", "--import", "tsx", ...args],
      {
        cwd: appDir,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          NODE_ENV: "production",
          ...env
        },
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    // The receiver logs a line per delivery: read until it listens, then
    // keep draining its output without holding it (the load generator shares
    // the machine, and the log of a run is megabytes).
    let output = ""
    let listening = false
    const onData = (chunk: Buffer) => {
      if (listening) return
      output += chunk.toString()
      const match = /Listening on (http:\/\/[^\s"]+)/.exec(output)
      if (match !== null) {
        listening = true
        output = ""
        resolve({ url: match[1]!.replace("0.0.0.0", "127.0.0.1"), child })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code) => {
      if (!listening) reject(new Error(`server exited (${code}):\n${output}`))
    })
  })

let counter = 0
/** A new docs-shaped LoyaltyBoost postback per request, encoded by the schema package. */
const nextPostback = () => {
  const n = counter++
  return samplePostback({
    offerId: String(1000 + (n % 97)),
    payout: Decimal.make(BigInt(100 + (n % 4000)), 2),
    timestamp: new Date(Date.UTC(2026, 0, 1) + n),
    isLoyaltyBoost: true,
    payload: { user_id: `user-${n % 5000}`, session_id: `s-${n}` }
  })
}
const nextBody = () => JSON.stringify(encodePostbackJson(nextPostback()))

interface Figures {
  readonly rps: number
  readonly total: number
  readonly p50: number
  readonly p99: number
  readonly non2xx: number
  readonly errors: number
}

const drive = async (url: string, seconds: number, overallRate?: number): Promise<Figures> => {
  const result = await autocannon({
    url,
    method: "POST",
    connections,
    duration: seconds,
    ...(overallRate === undefined ? {} : { overallRate }),
    headers: { "content-type": "application/json" },
    requests: [{ setupRequest: (request) => ({ ...request, body: nextBody() }) }]
  })
  return {
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts
  }
}

const contenders = [
  {
    name: "node:http + group commit",
    args: ["bench/baselines/node-group-commit.ts"],
    path: "/postbacks",
    env: {}
  },
  {
    name: "fastify + INSERT per request",
    args: ["bench/baselines/fastify-per-request.ts"],
    path: "/postbacks",
    env: {}
  },
  {
    name: "receiver (worker off)",
    args: ["src/main.ts", "serve"],
    path: `/postbacks?secret=${SECRET}`,
    env: {
      POSTBACK_SECRET: SECRET,
      ADMIN_TOKEN: SECRET,
      WORKER_ENABLED: "false",
      HOST: "127.0.0.1"
    }
  },
  {
    name: "receiver (worker on)",
    args: ["src/main.ts", "serve"],
    path: `/postbacks?secret=${SECRET}`,
    env: { POSTBACK_SECRET: SECRET, ADMIN_TOKEN: SECRET, WORKER_ENABLED: "true", HOST: "127.0.0.1" }
  }
] as const

let halfLoad: (Figures & { rate: number }) | undefined

interface Running {
  readonly name: string
  readonly url: string
  readonly child: ChildProcess
  readonly database: { readonly url: string; readonly drop: () => Promise<void> }
  readonly runs: Array<
    Figures & { readonly cpuMsPer1000: number; readonly serverCpuMsPer1000: number }
  >
}

// CPU time (user + system) of a process, in ms, from /proc (Linux).
const cpuMs = (pid: number | undefined): number => {
  if (pid === undefined) return 0
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
  } catch {
    return 0
  }
}
const CLOCK_TICKS = 100

// The PostgreSQL backends serving one database (their CPU is the server's
// cost too): the process ids of its sessions, read from pg_stat_activity.
const backends = async (databaseUrl: string): Promise<ReadonlyArray<number>> => {
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} })
  try {
    const name = new URL(databaseUrl).pathname.slice(1)
    const rows = await admin<Array<{ pid: number }>>`
      SELECT pid FROM pg_stat_activity WHERE datname = ${name}`
    return rows.map((r) => r.pid)
  } finally {
    await admin.end()
  }
}

const running: Array<Running> = []
// BENCH_ONLY: comma-separated parts of names, e.g. "node:http,worker off"
const chosen = contenders.filter(
  (c) => only === undefined || only.split(",").some((part) => c.name.includes(part.trim()))
)
try {
  const launch = async (contender: (typeof contenders)[number]) => {
    const database = await createDatabase()
    const server = await start(contender.args, {
      ...contender.env,
      ...(contender.name.startsWith("receiver") ? receiverEnv : {}),
      PORT: "0",
      DATABASE_URL: database.url,
      RECEIVER_DATA_DIR: `/tmp/receiver-bench-${process.pid}-${running.length}`
    })
    const entry: Running = {
      name: contender.name,
      url: `${server.url}${contender.path}`,
      child: server.child,
      database,
      runs: []
    }
    running.push(entry)
    await drive(entry.url, 3) // warm-up: JIT, connection pools, prepared statements
    return entry
  }
  const measure = async (entry: Running, round: number) => {
    const pids = [entry.child.pid!, ...(await backends(entry.database.url))]
    const before = pids.map(cpuMs)
    const figures = await drive(entry.url, duration)
    const spent = pids.map((pid, i) => cpuMs(pid) - before[i]!)
    const used = spent.reduce((sum, ms) => sum + ms, 0)
    entry.runs.push({
      ...figures,
      cpuMsPer1000: (used / figures.total) * 1000,
      serverCpuMsPer1000: (spent[0]! / figures.total) * 1000
    })
    console.error(
      `round ${round + 1} ${entry.name}: ${Math.round(figures.rps)} req/s, p99 ${figures.p99} ms`
    )
  }
  // Interleaved rounds: every contender runs once per round, one after the
  // other, so a machine whose other load changes over the minutes of the
  // script weighs on all of them alike; each ratio is taken within a round.
  const interleaved = []
  for (const contender of chosen.filter((c) => c.name !== "receiver (worker on)")) {
    interleaved.push(await launch(contender))
  }
  for (let round = 0; round < rounds; round++) {
    for (const entry of interleaved) await measure(entry, round)
  }
  // The receiver with its worker on keeps crediting after its load stops,
  // which would weigh on whoever runs next: its rounds come last, back to
  // back (each draining what the one before left, its steady state), and its
  // ratio is taken to the baselines' rounds of the same index.
  const workerOn = chosen.find((c) => c.name === "receiver (worker on)")
  if (workerOn !== undefined) {
    const entry = await launch(workerOn)
    for (let round = 0; round < rounds; round++) await measure(entry, round)
  }
  const receiver = running.find((r) => r.name === "receiver (worker off)")
  if (receiver !== undefined) {
    const median = receiver.runs.map((r) => r.rps).sort((a, b) => a - b)[
      Math.floor(receiver.runs.length / 2)
    ]!
    const rate = Math.round(median / 2)
    halfLoad = { rate, ...(await drive(receiver.url, duration, rate)) }
  }
} finally {
  for (const entry of running) {
    entry.child.kill("SIGTERM")
    await new Promise((resolve) => entry.child.once("exit", resolve))
    await entry.database.drop()
  }
}

const medianOf = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
const byName = (name: string) => running.find((r) => r.name === name) ?? running[0]!
const bare = byName("node:http + group commit")
const fastify = byName("fastify + INSERT per request")
const ours = byName("receiver (worker off)")
// the median over rounds of each round's ratio
const ratio = (a: Running, b: Running) => medianOf(a.runs.map((r, i) => r.rps / b.runs[i]!.rps))
const load = (await import("node:os")).loadavg()
console.log(
  `\nIngest, ${connections} connections, ${rounds} interleaved rounds of ${duration} s, unique POST postbacks, PostgreSQL fsync on; load average at the end ${load.map((l) => l.toFixed(1)).join(" ")}\n`
)
console.log(
  "| server | req/s (median) | each round | p50 ms | p99 ms | CPU ms per 1,000 (server + its PostgreSQL sessions) | non-2xx | errors | vs bare | vs fastify |"
)
console.log("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for (const r of running) {
  const rps = r.runs.map((run) => run.rps)
  console.log(
    `| ${r.name} | ${Math.round(medianOf(rps))} | ${rps.map((v) => Math.round(v)).join(" / ")} | ${medianOf(r.runs.map((run) => run.p50))} | ${medianOf(r.runs.map((run) => run.p99))} | ${Math.round(medianOf(r.runs.map((run) => run.cpuMsPer1000)))} (${Math.round(medianOf(r.runs.map((run) => run.serverCpuMsPer1000)))} + ${Math.round(medianOf(r.runs.map((run) => run.cpuMsPer1000 - run.serverCpuMsPer1000)))}) | ${r.runs.reduce((n, run) => n + run.non2xx, 0)} | ${r.runs.reduce((n, run) => n + run.errors, 0)} | ${ratio(r, bare).toFixed(2)}x | ${ratio(r, fastify).toFixed(2)}x |`
  )
}
if (halfLoad !== undefined) {
  console.log(
    `\nReceiver at half its peak (${halfLoad.rate} req/s offered): ${Math.round(halfLoad.rps)} req/s, p50 ${halfLoad.p50} ms, p99 ${halfLoad.p99} ms, non-2xx ${halfLoad.non2xx}`
  )
}
console.log(
  `\nGoals: receiver >= 0.8x bare (${ratio(ours, bare).toFixed(2)}x), >= 2x fastify (${ratio(ours, fastify).toFixed(2)}x), p99 < 20 ms at half load (${halfLoad?.p99 ?? "n/a"} ms)`
)
