// Baseline: Fastify, one INSERT (one commit) per request, postgres.js pool of
// 10: the common way receivers are written.
import { createHash } from "node:crypto"
import Fastify from "fastify"
import { connect, toRow } from "./shared.ts"

const sql = await connect(process.env.DATABASE_URL!)
const app = Fastify({ logger: false })
app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) =>
  done(null, body)
)
app.post("/postbacks", async (request, reply) => {
  const body = request.body as string
  const row = toRow(body, createHash("sha256").update(body).digest("base64url"))
  await sql`
    INSERT INTO baseline_postbacks (dedup_key, offer_id, advertiser_name, payout, occurred_at, is_loyalty_boost, payload, user_id)
    VALUES (${row.dedupKey}, ${row.offerId}, ${row.advertiserName}, ${row.payout}::numeric, ${row.timestamp}::timestamptz,
            ${row.isLoyaltyBoost}::boolean, ${row.payload}::jsonb, ${row.userId})
    ON CONFLICT (dedup_key) DO NOTHING`
  return reply.send({ status: "accepted" })
})
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: "127.0.0.1" })
console.log(`Listening on ${address}`)
