import type { Schema } from "effect"
import { makeJsonCodec } from "./internal/schema.ts"
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
): Schema.Codec<Postback, PostbackJsonEncoded> => makeJsonCodec(resolvePostbackOptions(options))

/**
 * The POST body schema with the default guard rails (see `PostbackOptions`):
 * `Schema.decodeUnknownEffect(PostbackJson)(JSON.parse(body))`. A failure
 * lists every problem, each at its field's path (`payout`, `payload.user_id`).
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
export const PostbackJson: Schema.Codec<Postback, PostbackJsonEncoded> =
  makeJsonCodec(DEFAULT_POSTBACK_OPTIONS)
