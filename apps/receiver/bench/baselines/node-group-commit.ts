// Baseline: bare node:http with group commit. One multi-row INSERT per tick,
// each response sent after its batch committed. No framework, no validation
// beyond JSON.parse: the ceiling a receiver with the same durability can reach.
import { createHash } from "node:crypto"
import { createServer, type ServerResponse } from "node:http"
import { type BaselineRow, connect, toRow } from "./shared.ts"

const sql = await connect(process.env.DATABASE_URL!)
const INSERT = `
INSERT INTO baseline_postbacks (dedup_key, offer_id, advertiser_name, payout, occurred_at, is_loyalty_boost, payload, user_id)
SELECT k, o, a, p::numeric, t::timestamptz, l::boolean, pl::jsonb, u
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS b(k, o, a, p, t, l, pl, u)
ON CONFLICT (dedup_key) DO NOTHING`

let queue: Array<{ row: BaselineRow; response: ServerResponse }> = []
let inFlight = 0
let scheduled: NodeJS.Immediate | undefined

// Flush on the next turn of the event loop, with every request read in this
// one; while two batches are in flight, requests wait for the next slot.
const flush = () => {
  scheduled = undefined
  if (inFlight >= 2 || queue.length === 0) return
  const batch = queue
  queue = []
  inFlight++
  const seen = new Set<string>()
  const rows = batch.map((b) => b.row).filter((r) => !seen.has(r.dedupKey) && seen.add(r.dedupKey))
  sql
    .unsafe(
      INSERT,
      [
        rows.map((r) => r.dedupKey),
        rows.map((r) => r.offerId),
        rows.map((r) => r.advertiserName),
        rows.map((r) => r.payout),
        rows.map((r) => r.timestamp),
        rows.map((r) => r.isLoyaltyBoost),
        rows.map((r) => r.payload),
        rows.map((r) => r.userId)
      ],
      { prepare: true }
    )
    .then(
      () => {
        for (const { response } of batch)
          response
            .writeHead(200, { "content-type": "application/json" })
            .end('{"status":"accepted"}')
      },
      () => {
        for (const { response } of batch) response.writeHead(503).end()
      }
    )
    .finally(() => {
      inFlight--
      if (queue.length > 0 && scheduled === undefined) scheduled = setImmediate(flush)
    })
}

const server = createServer((request, response) => {
  const chunks: Array<Buffer> = []
  request.on("data", (chunk: Buffer) => chunks.push(chunk))
  request.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8")
    queue.push({
      row: toRow(body, createHash("sha256").update(body).digest("base64url")),
      response
    })
    if (queue.length >= 500) flush()
    else if (scheduled === undefined) scheduled = setImmediate(flush)
  })
})
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(`Listening on http://127.0.0.1:${(server.address() as { port: number }).port}`)
})
