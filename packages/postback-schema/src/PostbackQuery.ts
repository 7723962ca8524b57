import type { Schema } from "effect"
import { makeQueryCodec } from "./internal/schema.ts"
import type { Postback } from "./Postback.ts"
import {
  DEFAULT_POSTBACK_OPTIONS,
  type PostbackOptions,
  resolvePostbackOptions
} from "./PostbackOptions.ts"

/**
 * A GET query as the decoders accept it: `URLSearchParams`, or a record of
 * parameters (a parameter given more than once as an array of its values, as
 * Hono's `c.req.queries()` gives them). The encoder gives `URLSearchParams`.
 */
export type PostbackQueryEncoded =
  | URLSearchParams
  | { readonly [name: string]: string | ReadonlyArray<string> }

/**
 * The GET query schema with the given options (`exclude` names the
 * parameters that are not part of the postback, such as the receiver's
 * secret). Throws when an option is invalid.
 *
 * @example
 * import { makePostbackQuery } from "@org/postback-schema"
 * import { Schema } from "effect"
 *
 * const Query = makePostbackQuery({ exclude: ["secret"] })
 * const postback = Schema.decodeUnknownSync(Query)(new URL(request.url).searchParams)
 */
export const makePostbackQuery = (
  options?: PostbackOptions
): Schema.Codec<Postback, PostbackQueryEncoded> => makeQueryCodec(resolvePostbackOptions(options))

/**
 * The GET query schema with the default options: the five fields by name,
 * every other parameter a payload entry, a repeated parameter an error.
 * Encoding gives `URLSearchParams` (fields first, then the payload) and
 * fails for a payload key that a query cannot carry (a field's name).
 *
 * @example
 * import { PostbackQuery } from "@org/postback-schema"
 * import { Schema } from "effect"
 *
 * const postback = Schema.decodeUnknownSync(PostbackQuery)(
 *   new URLSearchParams("payout=2.10&timestamp=2023-09-20T15:27:40.802Z&offer_id=1511&advertiser_name=MomentScience&is_loyaltyboost=0&user_id=3410444")
 * )
 * postback.payload // { user_id: "3410444" }
 */
export const PostbackQuery: Schema.Codec<Postback, PostbackQueryEncoded> =
  makeQueryCodec(DEFAULT_POSTBACK_OPTIONS)
