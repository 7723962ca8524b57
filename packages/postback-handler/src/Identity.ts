import { canonicalPostbackKey, type Postback } from "@org/postback-schema/plain"
import { textDigest } from "./internal/digest.ts"
import type { Sha256Options } from "./SecretCheck.ts"

/** Options of {@link postbackIdentity}. */
export interface IdentityOptions extends Sha256Options {
  /**
   * A payload key whose value identifies the conversion on the sender's side
   * (a click or transaction id, e.g. `"click_id"`): when the postback carries
   * a non-empty value for it, that value alone is the identity. Otherwise
   * (and without this option) the whole postback is, by its canonical key.
   */
  readonly dedupKey?: string | undefined
  /** Fields whose values are stand-ins (see `canonicalPostbackKey`); `null` in the key. */
  readonly unknown?: ReadonlyArray<"timestamp" | "is_loyaltyboost"> | undefined
}

/**
 * The identity of a postback: the same for every delivery of one conversion
 * (MomentScience's retries, a replay, the GET or the POST form), different
 * for two conversions. It is the SHA-256 (base64url, 43 characters) of
 * `payload:<dedupKey>=<value>` when `dedupKey` is set and the payload carries
 * a value for it, else of `postback:` and the canonical key
 * (`canonicalPostbackKey` of `@org/postback-schema`: payout without trailing
 * zeros, timestamp in UTC, payload sorted). Store it under a unique
 * constraint and insert with `ON CONFLICT DO NOTHING` to credit once.
 *
 * The receiver stores exactly this as `dedup_key`; the value for a given
 * postback never changes between versions (a fixture table holds it).
 *
 * @example
 * import { postbackIdentity } from "@org/postback-handler"
 * postbackIdentity(postback)                            // "lAYmtDG3uAfJR9STJg4fVe_fUWmsOxk4xo9tyP9nTKo"
 * postbackIdentity(postback, { dedupKey: "click_id" })  // the same for every postback with this click_id
 */
export const postbackIdentity = (postback: Postback, options?: IdentityOptions): string => {
  const key = options?.dedupKey
  const explicit = key === undefined ? undefined : postback.payload[key]
  const text =
    explicit === undefined || explicit === ""
      ? `postback:${canonicalPostbackKey(postback, options?.unknown === undefined ? undefined : { unknown: options.unknown })}`
      : `payload:${key}=${explicit}`
  return textDigest(options)(text)
}
