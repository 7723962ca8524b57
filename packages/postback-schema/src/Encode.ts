// The plain (non-Effect) encoders: a postback as a sender sends it.
import { encodeError, postbackProblems } from "./internal/validate.ts"
import { postbackToQuery, postbackToWire } from "./internal/wire.ts"
import type { Postback } from "./Postback.ts"
import type { PostbackWire } from "./PostbackJson.ts"
import { DEFAULT_POSTBACK_OPTIONS } from "./PostbackOptions.ts"

const checked = (postback: Postback): Postback => {
  const problems = postbackProblems(postback)
  if (problems.length > 0) throw encodeError(problems)
  return postback
}

/**
 * The POST body of a postback, as a sender sends it: every field in its
 * canonical text (`payout` keeps its digits, `"2.10"`; `timestamp` in UTC
 * with milliseconds). Throws a `TypeError` naming the field when the
 * postback is invalid (an empty `offerId`, a negative `payout`, an invalid
 * `Date`).
 *
 * @example
 * import { Decimal, encodePostbackJson } from "@org/postback-schema"
 *
 * JSON.stringify(encodePostbackJson({
 *   offerId: "1511",
 *   advertiserName: "MomentScience",
 *   payout: Decimal.parse("2.10"),
 *   timestamp: new Date("2023-09-20T15:27:40.802Z"),
 *   isLoyaltyBoost: false,
 *   payload: { user_id: "3410444" }
 * }))
 * // {"offer_id":"1511","advertiser_name":"MomentScience","payout":"2.10",...}
 */
export const encodePostbackJson = (postback: Postback): PostbackWire =>
  postbackToWire(checked(postback))

/**
 * The GET query of a postback, as a sender sends it: the five fields in their
 * canonical text, then the payload entries. Throws a `TypeError` naming the
 * field when the postback is invalid or a payload key is a field's name.
 *
 * @example
 * import { encodePostbackQuery } from "@org/postback-schema"
 *
 * const url = new URL("https://publisher.example/postbacks")
 * url.search = encodePostbackQuery(postback).toString()
 * // ?offer_id=1511&advertiser_name=MomentScience&payout=2.10&timestamp=2023-09-20T15%3A27%3A40.802Z&is_loyaltyboost=0&user_id=3410444
 */
export const encodePostbackQuery = (postback: Postback): URLSearchParams => {
  const query = postbackToQuery(checked(postback), DEFAULT_POSTBACK_OPTIONS)
  if (Array.isArray(query)) throw encodeError(query)
  return query
}
