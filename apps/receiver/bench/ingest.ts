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
import { fileURLToPath } from "node:url"
import { Decimal, encodePostbackJson } from "@org/postback-schema"
import { samplePostback } from "@org/postback-sender"
import autocannon from "autocannon"
import postgres from "postgres"

const baseUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/test"
const duration = Number(process.env.BENCH_DURATION ?? 10)
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

const results: Array<{ name: string } & Figures> = []
let halfLoad: (Figures & { rate: number }) | undefined

for (const contender of contenders) {
  if (only !== undefined && !contender.name.includes(only)) continue
  const database = await createDatabase()
  const server = await start(contender.args, {
    ...contender.env,
    ...(contender.name.startsWith("receiver") ? receiverEnv : {}),
    PORT: "0",
    DATABASE_URL: database.url,
    RECEIVER_DATA_DIR: `/tmp/receiver-bench-${process.pid}`
  })
  const url = `${server.url}${contender.path}`
  try {
    await drive(url, 3) // warm-up: JIT, connection pools, prepared statements
    const figures = await drive(url, duration)
    results.push({ name: contender.name, ...figures })
    console.error(`${contender.name}: ${Math.round(figures.rps)} req/s, p99 ${figures.p99} ms`)
    if (contender.name === "receiver (worker off)") {
      const rate = Math.round(figures.rps / 2)
      halfLoad = { rate, ...(await drive(url, duration, rate)) }
    }
  } finally {
    server.child.kill("SIGTERM")
    await new Promise((resolve) => server.child.once("exit", resolve))
    await database.drop()
  }
}

const byName = (name: string) => results.find((r) => r.name === name) ?? results[0]!
const bare = byName("node:http + group commit")
const fastify = byName("fastify + INSERT per request")
const ours = byName("receiver (worker off)")
console.log(
  `\nIngest, ${connections} connections, ${duration} s per run, unique POST postbacks, PostgreSQL fsync on\n`
)
console.log("| server | req/s | p50 ms | p99 ms | non-2xx | errors | vs bare | vs fastify |")
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for (const r of results) {
  console.log(
    `| ${r.name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.non2xx} | ${r.errors} | ${(r.rps / bare.rps).toFixed(2)}x | ${(r.rps / fastify.rps).toFixed(2)}x |`
  )
}
if (halfLoad !== undefined) {
  console.log(
    `\nReceiver at half its peak (${halfLoad.rate} req/s offered): ${Math.round(halfLoad.rps)} req/s, p50 ${halfLoad.p50} ms, p99 ${halfLoad.p99} ms, non-2xx ${halfLoad.non2xx}`
  )
}
console.log(
  `\nGoals: receiver >= 0.9x bare (${(ours.rps / bare.rps).toFixed(2)}x), >= 2x fastify (${(ours.rps / fastify.rps).toFixed(2)}x), p99 < 20 ms at half load (${halfLoad?.p99 ?? "n/a"} ms)`
)
