import { PGlite } from "@electric-sql/pglite"
import postgres from "postgres"
import type { PlannedPostback } from "./Plan.ts"
import type { Ledger } from "./Report.ts"

/** Runs one SQL text and returns its rows (every number cast to text in the SQL, so exact). */
export type Query = <Row>(text: string) => Promise<Array<Row>>

/** A connection to a suite's database, PostgreSQL or a PGlite data folder, for reading its end state. */
export interface Reader {
  readonly query: Query
  readonly close: () => Promise<void>
}

/** A reader on a PostgreSQL database (`url`). */
export const postgresReader = (url: string): Reader => {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  return {
    query: async <Row>(text: string) => (await sql.unsafe(text)) as unknown as Array<Row>,
    close: () => sql.end()
  }
}

/**
 * A reader on the embedded database of a stopped receiver
 * (`RECEIVER_DATA_DIR/pglite`, the folder layout of the receiver's
 * `Database.layerPglite`). The receiver must not run: PGlite takes a
 * folder for one process.
 */
export const pgliteReader = async (dataDir: string): Promise<Reader> => {
  const db = await PGlite.create(`${dataDir}/pglite`)
  return {
    query: async <Row>(text: string) => (await db.query<Row>(text)).rows,
    close: () => db.close()
  }
}

/** Inbox rows still waiting for the worker (`pending`, or `processing` under a lease). */
export const unsettledCount = async (query: Query): Promise<number> => {
  const [row] = await query<{ n: string }>(
    "SELECT count(*)::text AS n FROM postbacks WHERE status IN ('pending', 'processing')"
  )
  return Number(row?.n ?? 0)
}

/**
 * Reads the end state of a run on a database of its own and compares it
 * with what was sent: `planned` (every distinct postback delivered until
 * `200`) and `acknowledged` (the row ids of the `200` answers).
 */
export const readLedger = async (
  query: Query,
  planned: ReadonlyArray<PlannedPostback>,
  acknowledged: ReadonlySet<number>
): Promise<Ledger> => {
  const rows = await query<{ id: string; click: string | null; status: string }>(
    "SELECT id::text AS id, payload->>'click_id' AS click, status FROM postbacks"
  )
  const credits = await query<{ postback_id: string; n: string }>(
    "SELECT postback_id::text AS postback_id, count(*)::text AS n FROM reward_transactions GROUP BY postback_id"
  )
  const [sums] = await query<{ balances: string | null; ledger: string | null }>(
    `SELECT (SELECT sum(balance)::text FROM accounts) AS balances,
            (SELECT sum(points)::text FROM reward_transactions) AS ledger`
  )
  const ids = new Set(rows.map((r) => Number(r.id)))
  const rowsByClick = new Map<string, Array<{ id: number; status: string }>>()
  for (const r of rows) {
    if (r.click === null) continue
    const list = rowsByClick.get(r.click) ?? []
    list.push({ id: Number(r.id), status: r.status })
    rowsByClick.set(r.click, list)
  }
  const creditsByRow = new Map(credits.map((c) => [Number(c.postback_id), Number(c.n)]))
  let acknowledgedMissing = 0
  for (const id of acknowledged) if (!ids.has(id)) acknowledgedMissing++
  let distinctMissing = 0
  let duplicateRows = 0
  let uncredited = 0
  for (const p of planned) {
    const found = rowsByClick.get(p.click)
    if (found === undefined) {
      distinctMissing++
      continue
    }
    if (found.length > 1) duplicateRows++
    if (p.points > 0n && !found.some((r) => (creditsByRow.get(r.id) ?? 0) > 0)) uncredited++
  }
  return {
    acknowledgedMissing,
    distinctMissing,
    duplicateRows,
    doubleCredits: credits.filter((c) => Number(c.n) > 1).length,
    uncredited,
    unsettled: rows.filter((r) => r.status === "pending" || r.status === "processing").length,
    balanceSum: BigInt(sums?.balances ?? "0"),
    expectedSum: planned.reduce((sum, p) => sum + p.points, 0n),
    ledgerSum: BigInt(sums?.ledger ?? "0")
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Waits until no inbox row is `pending` or `processing` (the worker has
 * settled everything; a killed worker's leases expire first), polling
 * every 200 ms for at most `timeoutMs`. Resolves with the count left.
 */
export const settled = async (query: Query, timeoutMs: number): Promise<number> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const left = await unsettledCount(query)
    if (left === 0 || Date.now() > deadline) return left
    await sleep(200)
  }
}
