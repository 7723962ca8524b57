// Outage: steady load on a receiver whose PostgreSQL (a cluster of the
// suite's own, so that stopping it touches nothing else) is stopped (fast
// and immediate shutdown) and frozen (every server process SIGSTOPped, then
// SIGCONTed). While it is away every answer must still come within the
// documented bound (twice DATABASE_TIMEOUT_MS), as 503 and never a 200 that
// is not committed; once it is back, the receiver recovers by itself, and
// the end state is the crash suite's: nothing acknowledged lost, one credit
// per postback, balances adding up.

import { randomUUID } from "node:crypto"
import type { AttemptReport } from "@org/postback-sender"
import { answerBound, boundFigure, crashViolations, trafficViolations } from "../Checks.ts"
import { loadViolations, senderFor, steadyLoad } from "../Client.ts"
import { postgresReader, readLedger, settled } from "../Ledger.ts"
import { makePlan, random } from "../Plan.ts"
import { Cluster, createDatabase } from "../Postgres.ts"
import { Receiver, watchdog } from "../Receiver.ts"
import { formatResult, ledgerViolations, type SuiteResult, Traffic } from "../Report.ts"
import type { SuiteOptions } from "../Suite.ts"

/** The receiver's `DATABASE_TIMEOUT_MS` here: answers within 2 s by the README's bound. */
const DATABASE_TIMEOUT_MS = 1_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

type Fault = "fast shutdown" | "immediate shutdown" | "freeze (SIGSTOP)"
const FAULTS: ReadonlyArray<Fault> = ["fast shutdown", "immediate shutdown", "freeze (SIGSTOP)"]

/** The outage suite: one receiver, three outages of `20 s` (quick: 4 s) under steady load. */
export const outage = async (options: SuiteOptions): Promise<Array<SuiteResult>> => {
  const outageMs = options.quick ? 4_000 : 20_000
  const rate = options.quick ? 40 : 60
  const started = Date.now()
  const violations: Array<string> = []
  const figures: Array<readonly [string, string]> = []
  const traffic = new Traffic()
  const cluster = await Cluster.create()
  const database = await createDatabase(cluster.url)
  const receiver = await Receiver.make({
    env: {
      DATABASE_URL: database.url,
      DATABASE_TIMEOUT_MS: String(DATABASE_TIMEOUT_MS),
      DATABASE_POOL_SIZE: "6"
    }
  })
  // The traffic of the phase in progress, for the per-fault figures.
  let phase: { traffic: Traffic; restoredAt?: number; recoveredAt?: number } | undefined
  const onAttempt = (attempt: AttemptReport) => {
    if (phase === undefined) return
    if (attempt.status !== undefined) phase.traffic.answered(attempt.status, attempt.latencyMs)
    else phase.traffic.unanswered(attempt.outcome._tag)
    const answeredAt = attempt.at.getTime() + attempt.latencyMs
    if (
      attempt.status === 200 &&
      phase.restoredAt !== undefined &&
      phase.recoveredAt === undefined &&
      attempt.at.getTime() >= phase.restoredAt
    ) {
      phase.recoveredAt = answeredAt
    }
  }
  try {
    await receiver.start()
    const watch = watchdog([receiver])
    const post = senderFor("POST", receiver.postbackUrl, traffic, { onAttempt })
    const get = senderFor("GET", receiver.postbackUrl, traffic, { onAttempt })
    const next = random(options.seed)
    const plan = makePlan(randomUUID().slice(0, 8), 100_000, { seed: options.seed })
    let faulting = true
    const deadline = Date.now() + (options.quick ? 180_000 : 600_000)
    const faults = (async () => {
      try {
        await sleep(2_000)
        for (const fault of FAULTS) {
          phase = { traffic: new Traffic() }
          const current = phase
          const t0 = Date.now()
          if (fault === "freeze (SIGSTOP)") cluster.freeze()
          else await cluster.stop(fault === "fast shutdown" ? "fast" : "immediate")
          await sleep(Math.max(0, outageMs - (Date.now() - t0)))
          if (fault === "freeze (SIGSTOP)") cluster.thaw()
          else await cluster.start()
          current.restoredAt = Date.now()
          const away = current.restoredAt - t0
          // Let the receiver show it is back before the next fault.
          while (current.recoveredAt === undefined && Date.now() < current.restoredAt + 60_000) {
            await sleep(100)
          }
          await sleep(3_000)
          phase = undefined
          const statuses = [...current.traffic.statuses]
            .sort(([a], [b]) => a - b)
            .map(([s, n]) => `${s}: ${n}`)
            .join("  ")
          const errors = [...current.traffic.errors].map(([r, n]) => `${r}: ${n}`).join("  ")
          const latency = current.traffic.latency()
          figures.push([
            fault,
            `away ${(away / 1000).toFixed(1)} s; ${statuses}${errors === "" ? "" : `  no answer ${errors}`}; max answer ${latency === undefined ? "-" : latency.max.toFixed(0)} ms; recovered ${
              current.recoveredAt === undefined
                ? "NEVER"
                : `${((current.recoveredAt - current.restoredAt) / 1000).toFixed(2)} s after it was back`
            }`
          ])
          if (current.recoveredAt === undefined)
            violations.push(`${fault}: no 200 within 60 s after the database was back`)
          if (current.traffic.count(503) === 0)
            violations.push(`${fault}: no 503 while the database was away (was it?)`)
        }
      } finally {
        faulting = false
      }
    })()
    const load = await steadyLoad({
      plan,
      post,
      get,
      rate,
      concurrency: 200,
      minPostbacks: 0,
      keepGoing: () => faulting,
      stop: () => Date.now() > deadline,
      random: next
    })
    await faults
    await watch.stop()
    const reader = postgresReader(database.url)
    try {
      await settled(reader.query, 120_000)
      const ledger = await readLedger(reader.query, plan.slice(0, load.sent), load.acknowledged)
      violations.push(...ledgerViolations(ledger))
      violations.push(...loadViolations(load))
      violations.push(...crashViolations([receiver]))
      violations.push(
        ...trafficViolations(traffic, {
          allowed: [200, 503],
          boundMs: answerBound(DATABASE_TIMEOUT_MS)
        })
      )
      const result: SuiteResult = {
        name: `outage of PostgreSQL, ${outageMs / 1000} s each (DATABASE_TIMEOUT_MS ${DATABASE_TIMEOUT_MS}: answers within ${answerBound(DATABASE_TIMEOUT_MS)} ms)`,
        traffic,
        ledger,
        figures: [
          [
            "distinct postbacks",
            `${load.sent.toLocaleString("en-US")} (${load.repeats} delivered again)`
          ],
          ...figures,
          boundFigure(traffic, answerBound(DATABASE_TIMEOUT_MS))
        ],
        violations,
        elapsedMs: Date.now() - started
      }
      console.log(formatResult(result))
      return [result]
    } finally {
      await reader.close()
    }
  } catch (error) {
    violations.push(`run failed: ${error instanceof Error ? error.message : String(error)}`)
    violations.push(`receiver output:\n${receiver.output().slice(-4_000)}`)
    const result: SuiteResult = {
      name: "outage",
      traffic,
      figures,
      violations,
      elapsedMs: Date.now() - started
    }
    console.log(formatResult(result))
    return [result]
  } finally {
    await receiver.remove()
    await cluster.remove()
  }
}
