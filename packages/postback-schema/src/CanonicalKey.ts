import type { Postback } from "./Postback.ts"
import { wireValue } from "./WireFields.ts"

/**
 * A stable text identifying a postback, for deduplication: the same for two
 * deliveries of one postback whatever their wire form (GET, POST, form,
 * macro template), key order or payload order.
 *
 * It is the JSON of the canonical body with the payload's keys sorted (by
 * UTF-16 code units) and the payout without trailing fractional zeros
 * (`"2.10"` and `"2.1"` are one amount). Timestamps are UTC with
 * milliseconds, so `+02:00` and `Z` spellings of one instant agree.
 * Hash it (e.g. SHA-256) if a fixed length is wanted.
 *
 * @example
 * import { canonicalPostbackKey, parsePostbackJson, parsePostbackQuery } from "@org/postback-schema"
 *
 * // '{"offer_id":"1511","advertiser_name":"MomentScience","payout":"2.1","timestamp":"2023-09-20T15:27:40.802Z","is_loyaltyboost":"0","payload":[["session_id","abc"],["user_id","3410444"]]}'
 */
export const canonicalPostbackKey = (postback: Postback, options?: CanonicalKeyOptions): string => {
  const unknown = options?.unknown
  // Written out rather than `JSON.stringify` of an object: the same text
  // (every value is a string, quoted by `JSON.stringify`), for a fraction of
  // the cost on the ingest path. Payload entries as [key, value] pairs: a
  // JSON object would list integer-like keys ("10", "9") in numeric order
  // whatever order they were added in.
  let text = `{"offer_id":${quote(postback.offerId)},"advertiser_name":${quote(postback.advertiserName)},"payout":${quote(postback.payout.normalize().toString())},"timestamp":${unknown?.includes("timestamp") ? "null" : quote(wireValue(postback, "timestamp"))},"is_loyaltyboost":${unknown?.includes("is_loyaltyboost") ? "null" : quote(wireValue(postback, "is_loyaltyboost"))},"payload":[`
  const keys = Object.keys(postback.payload).sort()
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    text += `${i === 0 ? "" : ","}[${quote(key)},${quote(postback.payload[key]!)}]`
  }
  return `${text}]}`
}

// What JSON.stringify escapes in a string: `"`, `\`, control characters
// and lone surrogates (any surrogate sends the text the long way).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what JSON escapes
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/

/** `JSON.stringify` of a string; text without anything to escape is quoted as it is. */
const quote = (text: string): string => (ESCAPED.test(text) ? JSON.stringify(text) : `"${text}"`)

/** Options of {@link canonicalPostbackKey}. */
export interface CanonicalKeyOptions {
  /**
   * Fields the sender did not give (or gave unreadably), whose values in the
   * postback are stand-ins (the time of receipt, a configured default): they
   * are `null` in the key, so that every retry of the delivery has the same
   * key whatever the stand-in.
   */
  readonly unknown?: ReadonlyArray<"timestamp" | "is_loyaltyboost">
}
