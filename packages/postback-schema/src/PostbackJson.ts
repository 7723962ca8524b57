import { ParseResult, Schema } from "effect"
import { encodedOrThrow, postbackJsonSchema } from "./internal/schema.ts"
import type { Postback } from "./Postback.ts"
import {
  DEFAULT_POSTBACK_OPTIONS,
  type PostbackOptions,
  resolvePostbackOptions
} from "./PostbackOptions.ts"

/**
 * A POST body as the decoders accept it. Besides the canonical strings
 * ({@link PostbackWire}): a JSON integer for `offer_id`, a JSON number for
 * `payout` (when it prints in plain notation), `1`/`0`/`true`/`false` for
 * `is_loyaltyboost`, numbers and booleans as payload values, no
 * `advertiser_name` (MomentScience sends it "if available"; it decodes as
 * `""`) and no `payload` (empty). Other top-level keys are ignored.
 */
export interface PostbackJsonEncoded {
  readonly offer_id: string | number
  readonly advertiser_name?: string
  readonly payout: string | number
  readonly timestamp: string
  readonly is_loyaltyboost: "1" | "0" | 1 | 0 | boolean
  readonly payload?: { readonly [key: string]: string | number | boolean }
}

/**
 * The canonical wire form of a postback: every field as the text both wire
 * forms carry, printed by `wireValue`. The JSON encoder gives exactly this.
 */
export interface PostbackWire {
  readonly offer_id: string
  readonly advertiser_name: string
  readonly payout: string
  readonly timestamp: string
  readonly is_loyaltyboost: "1" | "0"
  readonly payload: { readonly [key: string]: string }
}

/**
 * The POST body schema with the given guard rails: decodes what senders send
 * ({@link PostbackJsonEncoded}) into a {@link Postback}, and encodes a
 * postback to its canonical body ({@link PostbackWire}). Throws when an
 * option is invalid.
 *
 * @example
 * import { makePostbackJson } from "@org/postback-schema"
 * import { Schema } from "effect"
 *
 * const StrictPostbackJson = makePostbackJson({ maxPayloadKeys: 10, payloadKeyPattern: /^\w+$/ })
 * const postback = Schema.decodeUnknownSync(StrictPostbackJson)(JSON.parse(body))
 */
export const makePostbackJson = (
  options?: PostbackOptions
): Schema.Schema<Postback, PostbackJsonEncoded> =>
  postbackJsonSchema(resolvePostbackOptions(options))

/**
 * The POST body schema with the default guard rails (see `PostbackOptions`):
 * `Schema.decodeUnknown(PostbackJson)(JSON.parse(body))`. A failure lists
 * every problem, each at its field's path (`payout`, `payload.user_id`).
 *
 * @example
 * import { PostbackJson } from "@org/postback-schema"
 * import { Schema } from "effect"
 *
 * const postback = Schema.decodeUnknownSync(PostbackJson)({
 *   offer_id: "1511",
 *   advertiser_name: "MomentScience",
 *   payout: "2.10",
 *   timestamp: "2023-09-20T15:27:40.802Z",
 *   is_loyaltyboost: "0",
 *   payload: { user_id: "3410444" }
 * })
 * postback.payout.toString() // "2.10"
 */
export const PostbackJson: Schema.Schema<Postback, PostbackJsonEncoded> =
  postbackJsonSchema(DEFAULT_POSTBACK_OPTIONS)

/**
 * {@link PostbackJson} as a Standard Schema (v1), for Hono, tRPC, TanStack
 * Form and other libraries that accept one.
 *
 * @example
 * import { sValidator } from "@hono/standard-validator"
 * import { PostbackJsonStandardSchema } from "@org/postback-schema"
 *
 * app.post("/postbacks", sValidator("json", PostbackJsonStandardSchema), (c) => {
 *   const postback = c.req.valid("json")
 *   return c.text("OK")
 * })
 */
export const PostbackJsonStandardSchema: ReturnType<
  typeof Schema.standardSchemaV1<Postback, PostbackJsonEncoded>
> = Schema.standardSchemaV1(PostbackJson)

const encodeJson = ParseResult.encodeEither(PostbackJson, { errors: "all" })

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
  encodedOrThrow(encodeJson(postback)) as PostbackWire
