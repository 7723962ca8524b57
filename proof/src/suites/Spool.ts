// Spool: the receiver with its local spool (SPOOL_DIR) on a PostgreSQL
// cluster of the suite's own. Three parts, one receiver and one database:
//
// 1. A 15-minute outage, time-scaled like the sender's schedule (×0.01:
//    the database away for 9 s, MomentScience's five attempts over 4.2 s):
//    longer than the sender's whole retry window, so without the spool
//    every postback of its first seconds would fail all five attempts.
//    Each postback is delivered once, as MomentScience does (one round of
//    five attempts, never started over): every one must be acknowledged in
//    that round, and credited exactly once after recovery.
// 2. SIGKILL while spooling, then (after the restart, with the database
//    back) SIGKILL while replaying: every acknowledged postback is
//    credited exactly once. The receiver cannot start while its database
//    is down (it migrates at start), so the postbacks of the restarts are
//    delivered until acknowledged, as in the crash suite.
// 3. The benchmark: acknowledged postbacks per second with the database
//    up, then on the spool with it stopped, in the same run (closed loop,
//    50 connections, unique POST postbacks).

import { randomUUID } from "node:crypto"
import { rmSync } from "node:fs"
import { Agent, request } from "node:http"
import { answerBound, crashViolations, trafficViolations } from "../Checks.ts"
import { senderFor, steadyLoad } from "../Client.ts"
import { postgresReader, readLedger, settled } from "../Ledger.ts"
import { makePlan, type PlannedPostback, random } from "../Plan.ts"
import { Cluster, createDatabase } from "../Postgres.ts"
import { Receiver, tempDir } from "../Receiver.ts"
import { formatResult, ledgerViolations, type SuiteResult, Traffic } from "../Report.ts"
import type { SuiteOptions } from "../Suite.ts"

const DATABASE_TIMEOUT_MS = 1_000
/** 15 minutes at the client's time scale (×0.01). */
const OUTAGE_MS = 9_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface SpoolHealth {
  readonly state: string
  readonly entries: number
}

const spoolHealth = async (receiver: Receiver): Promise<SpoolHealth | undefined> => {
  try {
    const response = await fetch(`${receiver.baseUrl}/healthz`, {
      signal: AbortSignal.timeout(2_000)
    })
    return ((await response.json()) as { spool?: SpoolHealth }).spool
  } catch {
    return undefined
  }
}

/** Polls the spool until `done` says so, for at most `timeoutMs`; the last state seen. */
const waitFor = async (
  receiver: Receiver,
  done: (health: SpoolHealth) => boolean,
  timeoutMs: number,
  everyMs = 100
): Promise<SpoolHealth | undefined> => {
  const deadline = Date.now() + timeoutMs
  let last: SpoolHealth | undefined
  while (Date.now() < deadline) {
    last = await spoolHealth(receiver)
    if (last !== undefined && done(last)) return last
    await sleep(everyMs)
  }
  return last
}

/** The end state of `planned` (every one acknowledged), as the crash suite reads it. */
const ledgerOf = async (url: string, planned: ReadonlyArray<PlannedPostback>) => {
  const reader = postgresReader(url)
  try {
    await settled(reader.query, 180_000)
    return await readLedger(reader.query, planned, new Set())
  } finally {
    await reader.close()
  }
}

/**
 * Acknowledged postbacks per second over `ms`: `connections` loops, each
 * POSTing unique postbacks over one keep-alive connection and counting
 * the `200`s.
 */
const acknowledgedPerSecond = async (
  url: string,
  run: string,
  ms: number,
  connections: number
): Promise<{ perSecond: number; others: number }> => {
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const target = new URL(url)
  let acknowledged = 0
  let others = 0
  let n = 0
  const end = performance.now() + ms
  const post = (body: string) =>
    new Promise<number>((resolve) => {
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: `${target.pathname}${target.search}`,
          method: "POST",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
        },
        (response) => {
          response.resume()
          response.on("end", () => resolve(response.statusCode ?? 0))
        }
      )
      req.on("error", () => resolve(0))
      req.end(body)
    })
  const started = performance.now()
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const i = n++
        const status = await post(
          JSON.stringify({
            offer_id: "bench",
            advertiser_name: "MomentScience",
            payout: "1.00",
            timestamp: "2024-03-01T12:00:00.000Z",
            is_loyaltyboost: "0",
            payload: { user_id: `bench-${i % 97}`, click_id: `${run}-${i}` }
          })
        )
        if (status === 200) acknowledged++
        else others++
      }
    })
  )
  agent.destroy()
  return { perSecond: acknowledged / ((performance.now() - started) / 1000), others }
}

/** The spool suite (quick: the outage part alone, 4 s). */
export const spool = async (options: SuiteOptions): Promise<Array<SuiteResult>> => {
  const started = Date.now()
  const cluster = await Cluster.create()
  const database = await createDatabase(cluster.url)
  const spoolDir = tempDir("spool")
  const receiver = await Receiver.make({
    env: {
      DATABASE_URL: database.url,
      DATABASE_TIMEOUT_MS: String(DATABASE_TIMEOUT_MS),
      DATABASE_POOL_SIZE: "6",
      SPOOL_DIR: spoolDir,
      SPOOL_PROBE_MS: "200",
      // about 30 postbacks a segment: replay deletes one every few milliseconds
      SPOOL_SEGMENT_BYTES: "32768"
    }
  })
  const results: Array<SuiteResult> = []
  const fail = (name: string, error: unknown, figures: Array<readonly [string, string]>) => {
    const result: SuiteResult = {
      name,
      figures,
      violations: [
        `run failed: ${error instanceof Error ? error.message : String(error)}`,
        `receiver output:\n${receiver.output().slice(-4_000)}`
      ],
      elapsedMs: Date.now() - started
    }
    console.log(formatResult(result))
    results.push(result)
  }
  try {
    await receiver.start()
    const run = randomUUID().slice(0, 8)
    const plan = makePlan(run, 100_000, { seed: options.seed })
    const outageMs = options.quick ? 4_000 : OUTAGE_MS
    /** Postbacks of the first part (its plan's first ones): the later ledgers count them too. */
    let firstPart: ReadonlyArray<PlannedPostback> = []

    // 1. An outage longer than the sender's retry window, each postback delivered once.
    {
      const figures: Array<readonly [string, string]> = []
      const violations: Array<string> = []
      const traffic = new Traffic()
      try {
        const post = senderFor("POST", receiver.postbackUrl, traffic)
        const get = senderFor("GET", receiver.postbackUrl, traffic)
        const rate = 60
        let sent = 0
        let gaveUp = 0
        const deliveries: Array<Promise<void>> = []
        let outage: { start: number; end?: number } | undefined
        const faults = (async () => {
          await sleep(2_000)
          outage = { start: Date.now() }
          await cluster.stop("immediate")
          await sleep(outageMs)
          await cluster.start()
          outage.end = Date.now()
          await sleep(3_000)
        })()
        let loading = true
        void faults.finally(() => {
          loading = false
        })
        const t0 = performance.now()
        while (loading) {
          const due = ((performance.now() - t0) / 1000) * rate
          while (sent < due) {
            const i = sent++
            const sender = i % 2 === 0 ? post : get
            deliveries.push(
              sender.deliver(plan[i]!.postback).then((report) => {
                if (!report.delivered) gaveUp++
              })
            )
          }
          await sleep(10)
        }
        await faults
        await Promise.all(deliveries)
        const spooledAtMost = await waitFor(receiver, (h) => h.entries === 0, 120_000)
        firstPart = plan.slice(0, sent)
        const ledger = await ledgerOf(database.url, firstPart)
        violations.push(...ledgerViolations(ledger))
        if (gaveUp > 0)
          violations.push(`${gaveUp} postbacks failed all five attempts (lost at MomentScience)`)
        if (spooledAtMost?.entries !== 0)
          violations.push(`the spool still holds ${spooledAtMost?.entries} postbacks`)
        if ((traffic.statuses.get(200) ?? 0) < sent)
          violations.push("fewer 200s than postbacks (was every one acknowledged?)")
        violations.push(
          ...trafficViolations(traffic, {
            allowed: [200, 503],
            boundMs: answerBound(DATABASE_TIMEOUT_MS)
          })
        )
        const statuses = [...traffic.statuses]
          .sort(([a], [b]) => a - b)
          .map(([s, k]) => `${s}: ${k}`)
          .join("  ")
        figures.push(
          ["postbacks", `${sent.toLocaleString("en-US")}, each delivered once (5 attempts)`],
          [
            "database away",
            `${(((outage?.end ?? 0) - (outage?.start ?? 0)) / 1000).toFixed(1)} s (15 min at ×0.01; the sender's retry window is 4.2 s)`
          ],
          ["answers", statuses],
          ["failed all five attempts", String(gaveUp)]
        )
        const result: SuiteResult = {
          name: `spool: PostgreSQL away ${outageMs / 1000} s, longer than the sender's retry window`,
          traffic,
          ledger,
          figures,
          violations,
          elapsedMs: Date.now() - started
        }
        console.log(formatResult(result))
        results.push(result)
      } catch (error) {
        fail("spool: outage", error, figures)
      }
    }
    if (options.quick) return results

    // 2. SIGKILL while spooling, and while replaying.
    {
      const figures: Array<readonly [string, string]> = []
      const violations: Array<string> = []
      const traffic = new Traffic()
      const partStarted = Date.now()
      try {
        const offset = 50_000
        const part = plan.slice(offset)
        const post = senderFor("POST", receiver.postbackUrl, traffic)
        const get = senderFor("GET", receiver.postbackUrl, traffic)
        let faulting = true
        const kills: Array<string> = []
        const faults = (async () => {
          try {
            // SIGKILL while spooling: the restart (once the database is back) replays at start.
            await sleep(2_000)
            await cluster.stop("immediate")
            await sleep(4_000)
            const spooling = await spoolHealth(receiver)
            await receiver.kill()
            kills.push(`while spooling (${spooling?.entries ?? "?"} in the journal)`)
            await cluster.start()
            await receiver.start()
            await waitFor(receiver, (h) => h.entries === 0, 120_000)
            // SIGKILL while replaying: the running receiver replays once the database is back.
            await cluster.stop("immediate")
            await sleep(6_000)
            const before = await spoolHealth(receiver)
            await cluster.start()
            const seen = await waitFor(
              receiver,
              (h) => h.state === "replaying" && h.entries < (before?.entries ?? 0),
              60_000,
              2
            )
            await receiver.kill()
            kills.push(
              `while replaying (${before?.entries ?? "?"} in the journal, ${seen?.entries ?? "?"} left${seen?.entries === 0 ? ": replay had ended" : ""})`
            )
            await receiver.start()
            await waitFor(receiver, (h) => h.entries === 0, 120_000)
            await sleep(2_000)
          } finally {
            faulting = false
          }
        })()
        const load = await steadyLoad({
          plan: part,
          post,
          get,
          rate: 60,
          concurrency: 200,
          minPostbacks: 0,
          keepGoing: () => faulting,
          stop: () => Date.now() > partStarted + 600_000,
          random: random(options.seed)
        })
        await faults
        // The whole database: the first part's postbacks, then these (balances are summed over all).
        const ledger = await ledgerOf(database.url, [...firstPart, ...part.slice(0, load.sent)])
        // Every postback is delivered until 200 (the deadline is never reached): one missing
        // from the ledger is one lost. (An answer from the spool has no row id yet, so the
        // client's id checks do not apply.)
        violations.push(...ledgerViolations(ledger))
        violations.push(
          ...trafficViolations(traffic, {
            allowed: [200, 503],
            boundMs: answerBound(DATABASE_TIMEOUT_MS)
          })
        )
        figures.push(
          [
            "postbacks",
            `${load.sent.toLocaleString("en-US")} (${load.repeats} delivered again), each until 200`
          ],
          ["SIGKILL", kills.join("; ")]
        )
        const result: SuiteResult = {
          name: "spool: SIGKILL while spooling and while replaying",
          traffic,
          ledger,
          kills: kills.length,
          figures,
          violations,
          elapsedMs: Date.now() - partStarted
        }
        console.log(formatResult(result))
        results.push(result)
      } catch (error) {
        fail("spool: SIGKILL", error, figures)
      }
    }

    // 3. Acknowledged per second: on PostgreSQL, then on the spool.
    {
      const figures: Array<readonly [string, string]> = []
      try {
        const ms = 8_000
        const onPostgres = await acknowledgedPerSecond(receiver.postbackUrl, `${run}-pg`, ms, 50)
        await cluster.stop("immediate")
        // the first postbacks wait for DATABASE_TIMEOUT_MS; measure once it spools
        await acknowledgedPerSecond(receiver.postbackUrl, `${run}-warm`, 2_500, 50)
        const onSpool = await acknowledgedPerSecond(receiver.postbackUrl, `${run}-spool`, ms, 50)
        await cluster.start()
        const drained = await waitFor(receiver, (h) => h.entries === 0, 300_000)
        figures.push(
          ["on PostgreSQL", `${onPostgres.perSecond.toFixed(0)} acknowledged/s (1.00x)`],
          [
            "on the spool",
            `${onSpool.perSecond.toFixed(0)} acknowledged/s (${(onSpool.perSecond / onPostgres.perSecond).toFixed(2)}x)`
          ],
          ["not 200", `${onPostgres.others} on PostgreSQL, ${onSpool.others} on the spool`],
          ["spool after recovery", `${drained?.entries ?? "?"} left`]
        )
        const result: SuiteResult = {
          name: `spool benchmark: 50 connections of unique POST postbacks, ${ms / 1000} s each`,
          figures,
          violations: [],
          elapsedMs: Date.now() - started
        }
        console.log(formatResult(result))
        results.push(result)
      } catch (error) {
        fail("spool: benchmark", error, figures)
      }
    }
    const crashes = crashViolations([receiver])
    if (crashes.length > 0) {
      const result: SuiteResult = {
        name: "spool: crashes",
        figures: [],
        violations: crashes,
        elapsedMs: Date.now() - started
      }
      console.log(formatResult(result))
      results.push(result)
    }
    return results
  } finally {
    await receiver.remove()
    await cluster.remove()
    rmSync(spoolDir, { recursive: true, force: true })
  }
}
