/**
 * The load generator's own overhead in the open model, printed next to a
 * baseline run in the same process: a minimal loop that starts bare
 * `fetch` POSTs at a fixed rate (one timer, every due request started per
 * tick, at most `concurrency` in flight, a waiting request started as soon
 * as one finishes), with the same bodies (the generator's postbacks,
 * `JSON.stringify(encodePostbackJson(p))`, the same share of byte-identical
 * duplicates), against the same in-process keep-alive `node:http` server.
 *
 * For each rate it prints, for both, the achieved rate, p50/p99 latency, the
 * maximum lag (latest start after its due time), the event loop's worst
 * delay, GC pauses and CPU per request, then runLoad's ratios to the
 * baseline. The server answers in microseconds, so any latency or lag above
 * the baseline's is the generator's own. Printed, never asserted.
 *
 * 1. warm: both in this process, after a warm-up, alternating rounds;
 * 2. fresh process: each run in a new process, as `postback load` runs, so
 *    the runtime's own warm-up (compiling fetch's code) falls in the run.
 *
 *   pnpm --filter @org/postback-sender bench
 *   BENCH_LOAD_RATES=1000,2000,4000 BENCH_LOAD_SECONDS=3 BENCH_LOAD_ROUNDS=3 \
 *   BENCH_LOAD_FRESH_RATES=2000 BENCH_LOAD_SERVER=child tsx --conditions=@org/source bench/load.ts
 */
import { spawn } from "node:child_process"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { seededRandom } from "@org/postback-retry"
import { encodePostbackJson } from "@org/postback-schema"
import { type LoadSummary, runLoad } from "../src/index.ts"
import { loadPostbacks } from "../src/internal/generate.ts"

const RATES = (process.env.BENCH_LOAD_RATES ?? "1000,2000,4000").split(",").map(Number)
const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? "3")
const ROUNDS = Number(process.env.BENCH_LOAD_ROUNDS ?? "3")
const FRESH_RATES = (process.env.BENCH_LOAD_FRESH_RATES ?? "2000")
  .split(",")
  .filter((r) => r !== "")
  .map(Number)
const CONCURRENCY = 100
const DUPLICATES = 0.1
const RECENT = 1024

interface Figures {
  readonly sent: number
  readonly ok: number
  readonly achievedRate: number
  readonly p50: number
  readonly p99: number
  readonly maxLagMs: number
  /** The event loop's worst delay during the run (node:perf_hooks), in ms. */
  readonly loopMaxMs: number
  /** Garbage collection pauses during the run, in ms. */
  readonly gcMs: number
  /** CPU time of this process per request sent, in µs (the in-process server's included). */
  readonly cpuUs: number
}

/** The nearest-rank percentile of sorted values. */
const rank = (sorted: Float64Array, perMille: number) =>
  sorted[Math.max(0, Math.ceil((perMille * sorted.length) / 1000) - 1)] ?? Number.NaN

/**
 * The baseline: the least a fetch-based open-model generator must do. The
 * bodies are those runLoad sends (same generator, same duplicate spread).
 */
const bareOpenLoop = (url: string, rate: number, seconds: number): Promise<Figures> =>
  new Promise((resolve) => {
    const planned = Math.floor(rate * seconds + 1e-9)
    const t0 = performance.now()
    const postbackAt = loadPostbacks(Date.now().toString(36), Date.now(), rate, 1000)
    const random = seededRandom(1)
    const recent: Array<string> = []
    const latencies = new Float64Array(planned)
    const headers = { "content-type": "application/json" }
    let next = 0
    let unique = 0
    let answered = 0
    let ok = 0
    let done = 0
    let inFlight = 0
    let maxLagMs = 0
    let lastStartMs = 0
    const bodyOf = (i: number): string => {
      if (unique > 0 && Math.floor((i + 1) * DUPLICATES) > Math.floor(i * DUPLICATES)) {
        return recent[Math.floor(random() * Math.min(unique, RECENT))]!
      }
      const body = JSON.stringify(encodePostbackJson(postbackAt(unique)))
      recent[unique++ % RECENT] = body
      return body
    }
    const finish = () => {
      const sorted = latencies.subarray(0, answered).sort()
      resolve({
        sent: next,
        ok,
        achievedRate: next > 1 ? ((next - 1) * 1000) / lastStartMs : rate,
        p50: rank(sorted, 500),
        p99: rank(sorted, 990),
        maxLagMs,
        loopMaxMs: 0,
        gcMs: 0,
        cpuUs: 0
      })
    }
    const settle = () => {
      inFlight--
      done++
      pump()
      if (done === planned) finish()
    }
    const start = (i: number) => {
      // Each start's own time, as runLoad takes it: the last of a burst
      // starts after the others have been sent.
      const began = performance.now()
      const lag = began - t0 - (i * 1000) / rate
      if (lag > maxLagMs) maxLagMs = lag
      lastStartMs = began - t0
      inFlight++
      fetch(url, { method: "POST", headers, body: bodyOf(i) }).then(
        async (response) => {
          await response.arrayBuffer()
          latencies[answered++] = performance.now() - began
          if (response.status === 200) ok++
          settle()
        },
        () => settle()
      )
    }
    const pump = () => {
      const nowMs = performance.now() - t0
      while (next < planned && inFlight < CONCURRENCY && (next * 1000) / rate <= nowMs) {
        start(next++)
      }
    }
    const tick = () => {
      pump()
      if (next < planned) {
        setTimeout(tick, Math.max(0, (next * 1000) / rate - (performance.now() - t0)))
      }
    }
    tick()
  })

const generator = async (url: string, rate: number, seconds: number): Promise<Figures> => {
  const s: LoadSummary = await runLoad(
    { method: "POST", url },
    { rate, durationSeconds: seconds, duplicates: DUPLICATES, concurrency: CONCURRENCY }
  )
  return {
    sent: s.sent,
    ok: s.ok,
    achievedRate: s.achievedRate,
    p50: s.latency?.p50 ?? Number.NaN,
    p99: s.latency?.p99 ?? Number.NaN,
    maxLagMs: s.maxLagMs,
    loopMaxMs: 0,
    gcMs: 0,
    cpuUs: 0
  }
}

let gcMs = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration
}).observe({ entryTypes: ["gc"] })

/** Runs one measurement with the event loop's delay, GC pauses and CPU time recorded alongside. */
const watched = async (run: () => Promise<Figures>): Promise<Figures> => {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  gcMs = 0
  const cpu = process.cpuUsage()
  const figures = await run()
  const used = process.cpuUsage(cpu)
  histogram.disable()
  return {
    ...figures,
    loopMaxMs: histogram.max / 1e6,
    gcMs,
    cpuUs: (used.user + used.system) / figures.sent
  }
}

/** The median of each figure over rounds (tails are noisy on a shared machine). */
const median = (rounds: ReadonlyArray<Figures>): Figures => {
  const mid = (pick: (f: Figures) => number) => {
    const sorted = rounds.map(pick).sort((a, b) => a - b)
    return sorted[sorted.length >> 1]!
  }
  return {
    sent: mid((f) => f.sent),
    ok: mid((f) => f.ok),
    achievedRate: mid((f) => f.achievedRate),
    p50: mid((f) => f.p50),
    p99: mid((f) => f.p99),
    maxLagMs: mid((f) => f.maxLagMs),
    loopMaxMs: mid((f) => f.loopMaxMs),
    gcMs: mid((f) => f.gcMs),
    cpuUs: mid((f) => f.cpuUs)
  }
}

const fixed = (n: number, width: number, digits = 2) =>
  (Number.isFinite(n) ? n.toFixed(digits) : "-").padStart(width)
const row = (name: string, f: Figures) =>
  console.log(
    `  ${name.padEnd(10)} ${fixed(f.achievedRate, 9, 1)}/s ${fixed(f.p50, 7)} ${fixed(f.p99, 7)} ${fixed(f.maxLagMs, 8)} ${fixed(f.loopMaxMs, 8)} ${fixed(f.gcMs, 7, 0)} ${fixed(f.cpuUs, 6, 0)}${f.ok === f.sent ? "" : `   (${f.sent - f.ok} not 200)`}`
  )
const compare = (rate: number, bareRounds: Array<Figures>, loadRounds: Array<Figures>) => {
  const bare = median(bareRounds)
  const load = median(loadRounds)
  console.log(`\n${rate} req/s target`)
  console.log(
    `  ${"".padEnd(10)} ${"achieved".padStart(11)} ${"p50".padStart(7)} ${"p99".padStart(7)} ${"max lag".padStart(8)} ${"loop max".padStart(8)} ${"GC".padStart(7)} ${"CPU".padStart(6)}`
  )
  row("bare loop", bare)
  row("runLoad", load)
  console.log(
    `  runLoad / bare loop: rate ${fixed(load.achievedRate / bare.achievedRate, 0)}x  p50 ${fixed(load.p50 / bare.p50, 0)}x  p99 ${fixed(load.p99 / bare.p99, 0)}x  max lag ${fixed(load.maxLagMs / Math.max(bare.maxLagMs, 0.001), 0)}x  CPU ${fixed(load.cpuUs / bare.cpuUs, 0)}x`
  )
}

type Kind = "bare" | "runLoad"
const runOnce = (kind: Kind, url: string, rate: number): Promise<Figures> =>
  watched(() => (kind === "bare" ? bareOpenLoop : generator)(url, rate, SECONDS))

/** One run in a new process (this script, in its child mode); its figures come back as JSON. */
const inFreshProcess = (kind: Kind, url: string, rate: number): Promise<Figures> => {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), "--fresh", kind, url, String(rate)],
    { stdio: ["ignore", "pipe", "inherit"] }
  )
  let out = ""
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString()
  })
  return new Promise((resolve, reject) =>
    child.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(out) as Figures) : reject(new Error(`${kind}: exit ${code}`))
    )
  )
}

if (process.argv[2] === "--fresh") {
  const [kind, url, rate] = process.argv.slice(3) as [Kind, string, string]
  process.stdout.write(JSON.stringify(await runOnce(kind, url, Number(rate))))
} else {
  // In this process by default, as in a receiver's own test suite; "child"
  // puts it in another process (another core on a multi-core machine).
  const SERVER = `
  const http = require("node:http")
  const server = http.createServer((req, res) => { req.resume(); req.on("end", () => res.end("OK")) })
  server.keepAliveTimeout = 60000
  server.listen(0, "127.0.0.1", () => process.stdout.write(String(server.address().port) + "\\n"))
  `
  const inChild = process.env.BENCH_LOAD_SERVER === "child"
  let port: number
  let close: () => void
  if (inChild) {
    const child = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] })
    port = await new Promise<number>((resolve) =>
      child.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
    )
    close = () => child.kill()
  } else {
    const server = createServer((req, res) => {
      req.resume()
      req.on("end", () => res.end("OK"))
    })
    server.keepAliveTimeout = 60_000
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    port = (server.address() as AddressInfo).port
    close = () => {
      server.closeAllConnections()
      server.close()
    }
  }
  const url = `http://127.0.0.1:${port}/postbacks?secret=s3cret`

  try {
    console.log(
      `open model: ${SECONDS} s per run, concurrency ${CONCURRENCY}, ${DUPLICATES * 100}% duplicates, ${inChild ? "node:http server in a child process" : "node:http server in this process"}`
    )
    console.log(
      `median of ${ROUNDS} alternating rounds; latency, lag, event-loop delay and GC pauses in ms, CPU in µs per request`
    )
    console.log("\n1. warm: both in this process, after a warm-up")
    await bareOpenLoop(url, 500, 1)
    await generator(url, 500, 1)
    for (const rate of RATES) {
      const bareRounds: Array<Figures> = []
      const loadRounds: Array<Figures> = []
      for (let round = 0; round < ROUNDS; round++) {
        bareRounds.push(await runOnce("bare", url, rate))
        loadRounds.push(await runOnce("runLoad", url, rate))
      }
      compare(rate, bareRounds, loadRounds)
    }
    if (FRESH_RATES.length > 0) {
      console.log(
        "\n2. fresh process: one run per new process, as `postback load` runs (the server stays here)"
      )
      for (const rate of FRESH_RATES) {
        const bareRounds: Array<Figures> = []
        const loadRounds: Array<Figures> = []
        for (let round = 0; round < ROUNDS; round++) {
          bareRounds.push(await inFreshProcess("bare", url, rate))
          loadRounds.push(await inFreshProcess("runLoad", url, rate))
        }
        compare(rate, bareRounds, loadRounds)
      }
    }
  } finally {
    close()
  }
}
