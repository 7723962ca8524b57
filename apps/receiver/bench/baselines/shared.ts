import postgres from "postgres"

// A table close to the receiver's inbox (same columns for the row itself and
// a unique dedup key), without the receiver's secondary indexes and trigger.
export const BASELINE_TABLE = `
CREATE TABLE IF NOT EXISTS baseline_postbacks (
  id bigserial PRIMARY KEY,
  dedup_key text UNIQUE NOT NULL,
  offer_id text, advertiser_name text, payout numeric, occurred_at timestamptz,
  is_loyalty_boost boolean, payload jsonb, user_id text,
  received_at timestamptz NOT NULL DEFAULT now()
)`

export const connect = async (url: string) => {
  const sql = postgres(url, { max: 10, onnotice: () => {} })
  await sql.unsafe(BASELINE_TABLE)
  return sql
}

export interface BaselineRow {
  readonly dedupKey: string
  readonly offerId: string
  readonly advertiserName: string
  readonly payout: string
  readonly timestamp: string
  readonly isLoyaltyBoost: string
  readonly payload: string
  readonly userId: string | null
}

/** The minimum a receiver must do with a body: parse it and pick the fields. */
export const toRow = (body: string, dedupKey: string): BaselineRow => {
  const json = JSON.parse(body) as Record<string, unknown> & { payload?: Record<string, string> }
  return {
    dedupKey,
    offerId: String(json.offer_id),
    advertiserName: String(json.advertiser_name),
    payout: String(json.payout),
    timestamp: String(json.timestamp),
    isLoyaltyBoost: json.is_loyaltyboost === "1" ? "t" : "f",
    payload: JSON.stringify(json.payload ?? {}),
    userId: json.payload?.user_id ?? null
  }
}
