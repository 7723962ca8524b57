// Crash: steady load, a quarter of it repeated deliveries (POST and GET),
// while a supervisor kills the receiver with SIGKILL at random moments and
// restarts it on the same port. The client is MomentScience's (five
// attempts, 60/90/120/150 s apart, time-scaled) and starts over until it
// gets 200. Afterwards every acknowledged postback must be stored, each
// distinct postback credited once, and the balances add up to the points
// the postbacks are worth. Once on PostgreSQL, once on the embedded
// database (PGlite in a temporary data folder).
import { randomUUID } from "node:crypto"
import { answerBound, boundFigure, crashViolations, trafficViolations } from "../Checks.ts"
import { loadViolations, senderFor, steadyLoad } from "../Client.ts"
import {
  pgliteReader,
  postgresReader,
  type Query,
  readLedger,
  settled,
  unsettledCount
} from "../Ledger.ts"
import { makePlan, random } from "../Plan.ts"
import { createDatabase } from "../Postgres.ts"
import { Receiver, tempDir, watchdog } from "../Receiver.ts"
import {
  formatResult,
  type Ledger,
  ledgerViolations,
  type SuiteResult,
  Traffic
} from "../Report.ts"
import type { SuiteOptions } from "../Suite.ts"

const DATABASE_TIMEOUT_MS = 5_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface CrashSettings {
  readonly kills: number
  /** Distinct postbacks started per second. */
  readonly rate: number
  /** Distinct postbacks at least (the run goes on until the kills are done). */
  readonly minPostbacks: number
  /**
   * Deliveries in flight at most (a sender's connection pool): while the
   * receiver is down, postbacks due wait for a slot instead of piling up
   * thousands of retry loops that all land at the restart.
   */
  readonly concurrency: number
  /** The run gives up (a violation) past this long. */
  readonly deadlineMs: number
}

const settingsFor = (quick: boolean): CrashSettings =>
  quick
    ? { kills: 3, rate: 60, minPostbacks: 600, concurrency: 100, deadlineMs: 240_000 }
    : { kills: 12, rate: 100, minPostbacks: 4_000, concurrency: 100, deadlineMs: 900_000 }

/** One crash run on one storage; resolves with its result (violations included). */
const crashRun = async (
  storage: "postgres" | "pglite",
  settings: CrashSettings,
  seed: number
): Promise<SuiteResult> => {
  const started = Date.now()
  const run = randomUUID().slice(0, 8)
  const database = storage === "postgres" ? await createDatabase() : undefined
  const dataDir = tempDir("crash-data")
  const receiver = await Receiver.make({
    env: {
      ...(database === undefined ? {} : { DATABASE_URL: database.url }),
      RECEIVER_DATA_DIR: dataDir,
      DATABASE_TIMEOUT_MS: String(DATABASE_TIMEOUT_MS)
    }
  })
  const traffic = new Traffic()
  const violations: Array<string> = []
  const next = random(seed)
  const maxPostbacks = settings.minPostbacks * 20
  const plan = makePlan(run, maxPostbacks, { seed })
  let kills = 0
  const restartMs: Array<number> = []
  try {
    await receiver.start()
    const post = senderFor("POST", receiver.postbackUrl, traffic)
    const get = senderFor("GET", receiver.postbackUrl, traffic)

    // The supervisor: up for a random 0.3 to 2.5 s, then SIGKILL, then a restart.
    let supervising = true
    let failed = false
    const supervisor = (async () => {
      try {
        while (kills < settings.kills) {
          await sleep(300 + next() * 2_200)
          await receiver.kill()
          kills++
          const t0 = Date.now()
          await receiver.start()
          restartMs.push(Date.now() - t0)
        }
      } catch (error) {
        failed = true
        throw error
      } finally {
        supervising = false
      }
    })()
    const deadline = Date.now() + settings.deadlineMs
    const watch = watchdog([receiver])

    const load = await steadyLoad({
      plan,
      post,
      get,
      rate: settings.rate,
      concurrency: settings.concurrency,
      minPostbacks: settings.minPostbacks,
      keepGoing: () => supervising,
      stop: () => failed || Date.now() > deadline,
      random: next
    })
    await supervisor
    await watch.stop()
    const { sent, repeats, acknowledged } = load
    const used = plan.slice(0, sent)

    let ledger: Ledger
    if (database !== undefined) {
      const reader = postgresReader(database.url)
      try {
        await settled(reader.query, 120_000)
        ledger = await readLedger(reader.query, used, acknowledged)
      } finally {
        await reader.close()
      }
      await receiver.stop()
    } else {
      ledger = await settledPglite(receiver, dataDir, (query) =>
        readLedger(query, used, acknowledged)
      )
    }
    violations.push(...ledgerViolations(ledger))
    violations.push(
      ...trafficViolations(traffic, {
        allowed: [200, 503],
        boundMs: answerBound(DATABASE_TIMEOUT_MS)
      })
    )
    violations.push(...loadViolations(load))
    violations.push(...crashViolations([receiver]))
    if (kills < settings.kills) violations.push(`only ${kills} of ${settings.kills} kills done`)
    const mean = restartMs.reduce((a, b) => a + b, 0) / Math.max(1, restartMs.length)
    return {
      name: `crash on ${storage === "postgres" ? "PostgreSQL" : "PGlite (embedded)"}`,
      traffic,
      kills,
      ledger,
      figures: [
        ["distinct postbacks", `${sent.toLocaleString("en-US")} (${repeats} delivered again)`],
        ["restart to healthy", `mean ${(mean / 1000).toFixed(1)} s over ${restartMs.length}`],
        boundFigure(traffic, answerBound(DATABASE_TIMEOUT_MS))
      ],
      violations,
      elapsedMs: Date.now() - started
    }
  } catch (error) {
    violations.push(`run failed: ${error instanceof Error ? error.message : String(error)}`)
    violations.push(`receiver output:\n${receiver.output().slice(-4_000)}`)
    return {
      name: `crash on ${storage}`,
      traffic,
      kills,
      figures: [],
      violations,
      elapsedMs: Date.now() - started
    }
  } finally {
    await receiver.remove()
    await database?.drop()
  }
}

/**
 * Reads a PGlite run's end state: the receiver is stopped (SIGTERM) to free
 * the folder; while rows are still unsettled (a killed worker's lease not
 * yet expired), it is started again to let its worker finish.
 */
const settledPglite = async <A>(
  receiver: Receiver,
  dataDir: string,
  read: (query: Query) => Promise<A>
): Promise<A> => {
  for (let round = 0; ; round++) {
    await receiver.stop()
    const reader = await pgliteReader(dataDir)
    try {
      if (round >= 20 || (await unsettledCount(reader.query)) === 0) return await read(reader.query)
    } finally {
      await reader.close()
    }
    await receiver.start()
    await sleep(3_000)
  }
}

/** The crash suite: PostgreSQL, then PGlite. */
export const crash = async (options: SuiteOptions): Promise<Array<SuiteResult>> => {
  const settings = settingsFor(options.quick)
  const results: Array<SuiteResult> = []
  for (const storage of ["postgres", "pglite"] as const) {
    const result = await crashRun(storage, settings, options.seed)
    console.log(formatResult(result))
    results.push(result)
  }
  return results
}
