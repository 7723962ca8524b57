// Duplicate storm: 2,000 postbacks (quick: 500), each delivered 1 to 20
// times, the deliveries shuffled and sent 200 at once, spread over two
// receiver processes on one PostgreSQL; once as is, once while a supervisor
// kills one receiver or the other with SIGKILL (a delivery without an answer
// goes to the other receiver, as a load balancer would send it). Every
// postback must be stored once and credited once, every 200 must name that
// one row, and no delivery may get 503 (the database is healthy throughout).
import { randomUUID } from "node:crypto"
import { makeSender, SendError, type Sender } from "@org/postback-sender"
import { answerBound, boundFigure, crashViolations, trafficViolations } from "../Checks.ts"
import { idOf } from "../Client.ts"
import { postgresReader, readLedger, settled } from "../Ledger.ts"
import { makePlan, random } from "../Plan.ts"
import { createDatabase } from "../Postgres.ts"
import { Receiver, watchdog } from "../Receiver.ts"
import { formatResult, ledgerViolations, type SuiteResult, Traffic } from "../Report.ts"
import type { SuiteOptions } from "../Suite.ts"

const MAX_DELIVERIES = 20
const CONCURRENCY = 200
const DATABASE_TIMEOUT_MS = 5_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const stormRun = async (postbacks: number, kills: number, seed: number): Promise<SuiteResult> => {
  const started = Date.now()
  const violations: Array<string> = []
  const traffic = new Traffic()
  const database = await createDatabase()
  const env = { DATABASE_URL: database.url, DATABASE_TIMEOUT_MS: String(DATABASE_TIMEOUT_MS) }
  const receivers = await Promise.all([Receiver.make({ env }), Receiver.make({ env })])
  const name = `duplicate storm, ${postbacks.toLocaleString("en-US")} postbacks on 2 receivers${kills > 0 ? `, ${kills} kills` : ""}`
  try {
    await Promise.all(receivers.map((r) => r.start()))
    const watch = watchdog(receivers)
    const senders: Array<Sender> = receivers.map((r) =>
      makeSender({ method: "POST", url: r.postbackUrl }, { timeoutMs: 10_000 })
    )
    const next = random(seed)
    const plan = makePlan(randomUUID().slice(0, 8), postbacks, { seed, offer: "storm" })
    const counts = plan.map(() => 1 + Math.floor(next() * MAX_DELIVERIES))
    const deliveries = counts.flatMap((n, i) => Array<number>(n).fill(i))
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1))
      ;[deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!]
    }

    let storming = true
    let killed = 0
    const supervisor = (async () => {
      while (storming && killed < kills) {
        await sleep(500 + next() * 1_500)
        if (!storming) break
        const victim = receivers[killed % 2]!
        await victim.kill()
        killed++
        await victim.start()
      }
    })()

    const rowOf = new Map<number, number>()
    const acknowledged = new Set<number>()
    let mismatched = 0
    let cursor = 0
    const deadline = Date.now() + 600_000
    const sendOne = async (n: number) => {
      const i = deliveries[n]!
      for (let attempt = 0; Date.now() < deadline; attempt++) {
        const sender = senders[(n + attempt) % 2]!
        try {
          const answer = await sender.sendOnce(plan[i]!.postback)
          traffic.answered(answer.status, answer.latencyMs)
          if (answer.status === 200) {
            const id = idOf(answer.body)
            if (id === undefined) violations.push(`a 200 without a row id: ${answer.body}`)
            else {
              acknowledged.add(id)
              const first = rowOf.get(i)
              if (first === undefined) rowOf.set(i, id)
              else if (first !== id) mismatched++
            }
            return
          }
        } catch (error) {
          if (!(error instanceof SendError)) throw error
          traffic.unanswered(
            error.outcome._tag === "timeout"
              ? "timeout"
              : (error.outcome.reason ?? "connection error")
          )
          await sleep(50)
        }
      }
    }
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (cursor < deliveries.length) {
          // the last fifth waits for the kills, so that they all land mid-storm
          if (cursor > deliveries.length * 0.8 && killed < kills && Date.now() < deadline) {
            await sleep(50)
            continue
          }
          await sendOne(cursor++)
        }
      })
    )
    storming = false
    await supervisor
    await watch.stop()

    const reader = postgresReader(database.url)
    try {
      await settled(reader.query, 120_000)
      const ledger = await readLedger(reader.query, plan, acknowledged)
      const rows = await reader.query<{ click: string; delivery_count: number }>(
        "SELECT payload->>'click_id' AS click, delivery_count FROM postbacks"
      )
      const countOf = new Map(rows.map((r) => [r.click, Number(r.delivery_count)]))
      // Without kills every delivery was answered once, so each is counted
      // exactly; a kill may lose the answer to a committed delivery, which
      // is then sent again: counted at least once.
      const miscounted = plan.filter((p, i) => {
        const stored = countOf.get(p.click) ?? 0
        return kills === 0 ? stored !== counts[i] : stored < counts[i]!
      }).length
      violations.push(...ledgerViolations(ledger))
      violations.push(
        ...trafficViolations(traffic, { allowed: [200], boundMs: answerBound(DATABASE_TIMEOUT_MS) })
      )
      violations.push(...crashViolations(receivers))
      if (mismatched > 0) violations.push(`${mismatched} deliveries acknowledged with another row`)
      if (miscounted > 0) violations.push(`${miscounted} postbacks with a wrong delivery_count`)
      if (killed < kills) violations.push(`only ${killed} of ${kills} kills done`)
      return {
        name,
        traffic,
        kills: killed,
        ledger,
        figures: [
          [
            "deliveries",
            `${deliveries.length.toLocaleString("en-US")} of ${postbacks} postbacks, ${CONCURRENCY} at once`
          ],
          ["delivery_count", miscounted === 0 ? "every delivery counted" : `${miscounted} wrong`],
          boundFigure(traffic, answerBound(DATABASE_TIMEOUT_MS))
        ],
        violations,
        elapsedMs: Date.now() - started
      }
    } finally {
      await reader.close()
    }
  } catch (error) {
    violations.push(`run failed: ${error instanceof Error ? error.message : String(error)}`)
    return { name, traffic, figures: [], violations, elapsedMs: Date.now() - started }
  } finally {
    await Promise.all(receivers.map((r) => r.remove()))
    await database.drop()
  }
}

/** The duplicate storm suite: without kills, then with them. */
export const storm = async (options: SuiteOptions): Promise<Array<SuiteResult>> => {
  const postbacks = options.quick ? 500 : 2_000
  const results: Array<SuiteResult> = []
  for (const kills of [0, options.quick ? 2 : 6]) {
    const result = await stormRun(postbacks, kills, options.seed)
    console.log(formatResult(result))
    results.push(result)
  }
  return results
}
