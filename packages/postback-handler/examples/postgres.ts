// Storing postbacks idempotently in PostgreSQL with postgres.js: the
// identity is the same for every delivery of one conversion (MomentScience
// retries for about 7 minutes, and a replay re-sends it), so a primary key on
// it and ON CONFLICT DO NOTHING store each conversion once, however many
// times, or however concurrently, it arrives.
import { createPostbackHandler, type PostbackEvent } from "@org/postback-handler"
import postgres from "postgres"

export const sql = postgres(process.env.DATABASE_URL!)

// Once, as a migration.
export const migrate = () => sql`
  CREATE TABLE IF NOT EXISTS postbacks (
    identity        text PRIMARY KEY,
    offer_id        text NOT NULL,
    advertiser_name text NOT NULL,
    payout          numeric NOT NULL,
    converted_at    timestamptz NOT NULL,
    is_loyaltyboost boolean NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL CHECK (status IN ('accepted', 'held')),
    holds           jsonb NOT NULL,
    flags           jsonb NOT NULL,
    raw             jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
  )`

// postgres.js's JSONValue type wants index signatures, which the event's interfaces do not declare.
const json = (value: object) => sql.json(value as postgres.JSONValue)

export const storePostback = async (event: PostbackEvent): Promise<void> => {
  const { identity, postback, status, holds, flags, raw } = event
  // A delivery of a conversion already stored changes nothing, and is answered 200 again.
  await sql`
    INSERT INTO postbacks (identity, offer_id, advertiser_name, payout, converted_at,
                           is_loyaltyboost, payload, status, holds, flags, raw)
    VALUES (${identity}, ${postback.offerId}, ${postback.advertiserName},
            ${postback.payout.toString()}, ${postback.timestamp}, ${postback.isLoyaltyBoost},
            ${json(postback.payload)}, ${status}, ${json(holds)}, ${json(flags)}, ${json(raw)})
    ON CONFLICT (identity) DO NOTHING`
}

// Serve it with any of the other examples, or pass storePostback as their onPostback.
export const handler = createPostbackHandler({
  secret: process.env.POSTBACK_SECRET!,
  onPostback: storePostback
})
