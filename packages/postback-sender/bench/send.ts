/**
 * What the sender costs per request, printed as requests/s and as a ratio
 * against a baseline run in the same process: the same requests made with
 * a bare `fetch` and `JSON.stringify(encodePostbackJson(p))`, no Effect, no
 * validation, no timing or time limit. Printed, never asserted.
 *
 * 1. in memory: a stub `fetch` answering at once, so only the sender's own
 *    work is measured (request building, Effect, timeout timer, latency,
 *    and for runLoad the scheduling);
 * 2. over HTTP: a keep-alive node:http server in a child process, 64
 *    requests in flight, sendOnce next to bare fetch;
 * 3. the load generator at a rate it cannot reach (so it runs flat out,
 *    bounded by its concurrency) next to 64 bare-fetch workers.
 *
 *   pnpm --filter @org/postback-sender bench
 */
import { type ChildProcess, spawn } from "node:child_process"
import { encodePostbackJson, type Postback } from "@org/postback-schema"
import { makeSender, runLoad, samplePostback } from "../src/index.ts"

const ROUNDS = 3

const postbacks: Array<Postback> = Array.from({ length: 1000 }, (_, i) =>
  samplePostback({ payload: { user_id: `u${i}`, click_id: `c${i}` } })
)

const best = async (ops: number, run: () => Promise<unknown>): Promise<number> => {
  await run() // warm up
  let fastest = Number.POSITIVE_INFINITY
  for (let round = 0; round < ROUNDS; round++) {
    const began = performance.now()
    await run()
    fastest = Math.min(fastest, performance.now() - began)
  }
  return (ops / fastest) * 1000
}

const line = (name: string, perSecond: number) =>
  console.log(
    `  ${name.padEnd(40)} ${Math.round(perSecond).toLocaleString("en-US").padStart(12)} req/s`
  )
const ratio = (name: string, value: number) =>
  console.log(`  ${name.padEnd(40)} ${value.toFixed(2).padStart(12)}x`)

/** Runs `total` calls of `one`, `width` at a time. */
const pool = async (total: number, width: number, one: (i: number) => Promise<unknown>) => {
  let next = 0
  const worker = async () => {
    while (next < total) await one(next++)
  }
  await Promise.all(Array.from({ length: width }, worker))
}

// --- 1. in memory -------------------------------------------------------------

const IN_MEMORY = 20_000
const stub = async (_url: string, _init: RequestInit) => new Response("OK")
console.log(
  `in memory: ${IN_MEMORY.toLocaleString("en-US")} POSTs per round to a stub fetch, best of ${ROUNDS}`
)
const bareMemory = await best(IN_MEMORY, () =>
  pool(IN_MEMORY, 64, async (i) => {
    const response = await stub("http://receiver.test/pb", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(encodePostbackJson(postbacks[i % postbacks.length]!))
    })
    await response.text()
  })
)
const memorySender = makeSender({ method: "POST", url: "http://receiver.test/pb" }, { fetch: stub })
const senderMemory = await best(IN_MEMORY, () =>
  pool(IN_MEMORY, 64, (i) => memorySender.sendOnce(postbacks[i % postbacks.length]!))
)
const loadMemory = await best(IN_MEMORY, () =>
  runLoad(
    { method: "POST", url: "http://receiver.test/pb" },
    { rate: 1_000_000, durationSeconds: IN_MEMORY / 1_000_000, concurrency: 64, fetch: stub }
  )
)
line("baseline: bare stub call", bareMemory)
line("sendOnce (Sender)", senderMemory)
line("runLoad flat out", loadMemory)
ratio("sendOnce / baseline", senderMemory / bareMemory)
ratio("runLoad / baseline", loadMemory / bareMemory)

// --- 2 and 3. over HTTP ---------------------------------------------------------

const SERVER = `
const http = require("node:http")
const server = http.createServer((req, res) => { req.resume(); req.on("end", () => res.end("OK")) })
server.keepAliveTimeout = 60000
server.listen(0, "127.0.0.1", () => process.stdout.write(String(server.address().port) + "\\n"))
`
const child: ChildProcess = spawn(process.execPath, ["-e", SERVER], {
  stdio: ["ignore", "pipe", "inherit"]
})
const port = await new Promise<string>((resolve) =>
  child.stdout!.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()))
)
const url = `http://127.0.0.1:${port}/postbacks?secret=s3cret`

try {
  const HTTP = 10_000
  console.log(
    `\nover HTTP: ${HTTP.toLocaleString("en-US")} POSTs per round, 64 in flight, server in a child process, best of ${ROUNDS}`
  )
  const bareHttp = await best(HTTP, () =>
    pool(HTTP, 64, async (i) => {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(encodePostbackJson(postbacks[i % postbacks.length]!))
      })
      await response.text()
    })
  )
  const sender = makeSender({ method: "POST", url })
  const senderHttp = await best(HTTP, () =>
    pool(HTTP, 64, (i) => sender.sendOnce(postbacks[i % postbacks.length]!))
  )
  line("baseline: bare fetch", bareHttp)
  line("sendOnce (Sender)", senderHttp)
  ratio("sendOnce / baseline", senderHttp / bareHttp)

  console.log(
    `\nload generator flat out: ${HTTP.toLocaleString("en-US")} requests per round, concurrency 64, best of ${ROUNDS}`
  )
  let p99 = 0
  const load = await best(HTTP, async () => {
    const summary = await runLoad(
      { method: "POST", url },
      { rate: 1_000_000, durationSeconds: HTTP / 1_000_000, concurrency: 64, duplicates: 0.1 }
    )
    if (summary.ok !== HTTP) throw new Error(`expected ${HTTP} answers of 200, got ${summary.ok}`)
    p99 = summary.latency?.p99 ?? 0
  })
  line("baseline: 64 bare-fetch workers", bareHttp)
  line("runLoad", load)
  ratio("runLoad / baseline", load / bareHttp)
  console.log(`  (p99 latency of the last round: ${p99.toFixed(2)} ms)`)
} finally {
  child.kill()
}
