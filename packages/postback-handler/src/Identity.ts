import { sha256 } from "@noble/hashes/sha2.js"
import { canonicalPostbackKey, type Postback } from "@org/postback-schema/plain"

const ENCODER = new TextEncoder()

/** Options of {@link postbackIdentity}. */
export interface IdentityOptions {
  /**
   * A payload key whose value identifies the conversion on the sender's side
   * (a click or transaction id, e.g. `"click_id"`): when the postback carries
   * a non-empty value for it, that value alone is the identity. Otherwise
   * (and without this option) the whole postback is, by its canonical key.
   */
  readonly dedupKey?: string | undefined
  /** Fields whose values are stand-ins (see `canonicalPostbackKey`); `null` in the key. */
  readonly unknown?: ReadonlyArray<"timestamp" | "is_loyaltyboost"> | undefined
  /** SHA-256 to use (bytes in, 32 bytes out); default `@noble/hashes`. */
  readonly sha256?: ((data: Uint8Array) => Uint8Array) | undefined
}

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

const base64url = (bytes: Uint8Array): string => {
  let out = ""
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out +=
      BASE64URL[n >> 18]! +
      BASE64URL[(n >> 12) & 63]! +
      BASE64URL[(n >> 6) & 63]! +
      BASE64URL[n & 63]!
  }
  if (i < bytes.length) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8)
    out += BASE64URL[n >> 18]! + BASE64URL[(n >> 12) & 63]!
    if (i + 1 < bytes.length) out += BASE64URL[(n >> 6) & 63]!
  }
  return out
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
  return base64url((options?.sha256 ?? sha256)(ENCODER.encode(text)))
}
