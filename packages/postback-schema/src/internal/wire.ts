// Printing a decoded postback in its two wire forms. Plain code: the plain
// encoders and the schemas' encoding side both go through here.
import type { Postback } from "../Postback.ts"
import type { PostbackWire } from "../PostbackJson.ts"
import type { ResolvedPostbackOptions } from "../PostbackOptions.ts"
import { isWireField, WIRE_FIELDS, wireValue } from "../WireFields.ts"
import type { Issue } from "./decode.ts"

/**
 * The canonical wire form of a postback, each field printed by `wireValue`
 * and the payload copied. Does not check the postback (see ./validate.ts).
 */
export const postbackToWire = (postback: Postback): PostbackWire => ({
  offer_id: wireValue(postback, "offer_id"),
  advertiser_name: wireValue(postback, "advertiser_name"),
  payout: wireValue(postback, "payout"),
  timestamp: wireValue(postback, "timestamp"),
  is_loyaltyboost: postback.isLoyaltyBoost ? "1" : "0",
  payload: { ...postback.payload }
})

/**
 * The GET query of a postback: the five fields, then the payload entries; or
 * every payload key a query cannot carry (a field's name, an excluded name).
 */
export const postbackToQuery = (
  postback: Postback,
  o: ResolvedPostbackOptions
): URLSearchParams | Array<Issue> => {
  const query = new URLSearchParams()
  for (const field of WIRE_FIELDS) query.append(field, wireValue(postback, field))
  const issues: Array<Issue> = []
  for (const key in postback.payload) {
    if (!Object.hasOwn(postback.payload, key)) continue
    const value = postback.payload[key]!
    const clash = isWireField(key)
      ? "it is the name of a postback field"
      : o.exclude.has(key)
        ? "it is a name excluded from queries (the exclude option)"
        : undefined
    if (clash === undefined) query.append(key, value)
    else {
      issues.push({
        path: ["payload", key],
        message: `cannot be sent as a GET query parameter: ${clash}`,
        actual: value
      })
    }
  }
  return issues.length > 0 ? issues : query
}
