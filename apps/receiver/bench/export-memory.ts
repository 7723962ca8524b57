// Peak memory of the CSV export: a receiver process on a fresh PostgreSQL
// database holding EXPORT_ROWS postbacks (1,000,000 by default, written by
// generate_series), exporting them all through HTTP. The receiver's resident
// set is read from /proc/<pid>/status: VmRSS once started (the baseline),
// then VmHWM (its peak) after the peak is reset (`5` to clear_refs) and the
// whole CSV was streamed to this process, which only counts its bytes.
// RECEIVER_NODE_OPTIONS passes V8 options to the receiver (a heap limit
// smaller than the file shows that the export does not hold it).
//
//   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test pnpm --filter @org/receiver exec tsx --conditions=@org/source bench/export-memory.ts
import { type ChildProcess, spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import postgres from "postgres"

const baseUrl =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/test"
const rows = Number(process.env.EXPORT_ROWS ?? 1_000_000)
const appDir = fileURLToPath(new URL("..", import.meta.url))
const TOKEN = "bench-admin-token-0123456789abcdef"

const withDatabase = (name: string) => {
  const url = new URL(baseUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** kB figures of /proc/<pid>/status (VmRSS, VmHWM). */
const memory = (pid: number): { rss: number; hwm: number } => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1])
  return { rss: field("VmRSS"), hwm: field("VmHWM") }
}

const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`

const start = (env: Record<string, string>) =>
  new Promise<{ url: string; child: ChildProcess }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@org/source", "--import", "tsx", "src/main.ts", "serve"],
      {
        cwd: appDir,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    let output = ""
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /Listening on (http:\/\/[^\s"]+)/.exec(output)
      if (match !== null) resolve({ url: match[1]!.replace("0.0.0.0", "127.0.0.1"), child })
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code) => reject(new Error(`receiver exited (${code}):\n${output}`)))
  })

const name = `receiver_export_${randomUUID().replaceAll("-", "").slice(0, 12)}`
const admin = postgres(baseUrl, { max: 1, onnotice: () => {} })
await admin.unsafe(`CREATE DATABASE ${name}`)
await admin.end()
const url = withDatabase(name)
const server = await start({
  PORT: "0",
  HOST: "127.0.0.1",
  NODE_ENV: "production",
  DATABASE_URL: url,
  WORKER_ENABLED: "false",
  POSTBACK_SECRET: "bench-secret-0123456789abcdef",
  ADMIN_TOKEN: TOKEN,
  RECEIVER_DATA_DIR: `/tmp/receiver-export-bench-${process.pid}`,
  // e.g. RECEIVER_NODE_OPTIONS=--max-old-space-size=128: the export must fit a heap smaller than the file
  ...(process.env.RECEIVER_NODE_OPTIONS === undefined
    ? {}
    : { NODE_OPTIONS: process.env.RECEIVER_NODE_OPTIONS })
})
const pid = server.child.pid!
try {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  const began = performance.now()
  await sql.unsafe(
    `INSERT INTO postbacks (dedup_key, status, source, offer_id, advertiser_name, payout, occurred_at,
       is_loyalty_boost, payload, user_id, received_at, last_http_status, delivery_count)
     SELECT 'k-' || g, 'recorded', 'post-json', (1000 + g % 97)::text, 'Advertiser, "quoted" ' || (g % 13),
       ((100 + g % 4000) / 100.0)::numeric(12, 2), '2026-01-01T00:00:00Z'::timestamptz + g * interval '1 second',
       true, jsonb_build_object('user_id', 'user-' || (g % 5000)), 'user-' || (g % 5000),
       '2026-01-01T00:00:00Z'::timestamptz + g * interval '1 second', 200, 1 + g % 3
     FROM generate_series(1, ${rows}) AS g`
  )
  await sql.end()
  console.error(`${rows} rows written in ${((performance.now() - began) / 1000).toFixed(1)} s`)

  const baseline = memory(pid)
  // Reset the peak (VmHWM) to the current resident set: what follows is the export's own.
  writeFileSync(`/proc/${pid}/clear_refs`, "5")
  const exportStart = performance.now()
  const response = await fetch(`${server.url}/api/postbacks/export.csv`, {
    headers: { authorization: `Bearer ${TOKEN}` }
  })
  if (response.status !== 200) throw new Error(`export answered ${response.status}`)
  let bytes = 0
  let lines = 0
  const reader = response.body!.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    bytes += value.byteLength
    for (const byte of value) if (byte === 10) lines++
  }
  const seconds = (performance.now() - exportStart) / 1000
  const after = memory(pid)
  console.log(
    `\nCSV export of ${rows} postbacks on PostgreSQL: ${lines - 1} records, ${(bytes / 1024 / 1024).toFixed(1)} MB in ${seconds.toFixed(1)} s (${Math.round(rows / seconds)} rows/s)`
  )
  console.log(`receiver RSS after start (baseline): ${mb(baseline.rss)}`)
  console.log(`receiver peak RSS while exporting (VmHWM): ${mb(after.hwm)}`)
  console.log(`receiver RSS after the export: ${mb(after.rss)}`)
  if (lines - 1 !== rows) throw new Error(`expected ${rows} records, got ${lines - 1}`)
} finally {
  server.child.kill("SIGTERM")
  await new Promise((resolve) => server.child.once("exit", resolve))
  const again = postgres(baseUrl, { max: 1, onnotice: () => {} })
  await again.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await again.end()
}
