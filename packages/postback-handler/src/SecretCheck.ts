import { sha256 } from "@noble/hashes/sha2.js"
import { textDigest } from "./internal/digest.ts"

/**
 * Which SHA-256 to use for the secret check and the identity. Both forms
 * give the same digests; the text form skips the UTF-8 encoding and the
 * base64url in JavaScript (on Node, `hash("sha256", text, "base64url")` is
 * about five times faster on a postback's key than `@noble/hashes` through
 * `TextEncoder`).
 */
export interface Sha256Options {
  /** SHA-256, bytes in, 32 bytes out. Default: `@noble/hashes` (Web APIs only, synchronous). */
  readonly sha256?: ((data: Uint8Array) => Uint8Array) | undefined
  /**
   * SHA-256 of a text's UTF-8 bytes, as base64url without padding (43
   * characters). When given, used instead of `sha256`. Node:
   * `(text) => hash("sha256", text, "base64url")` from `node:crypto`.
   */
  readonly sha256Text?: ((text: string) => string) | undefined
}

/**
 * A check of a presented secret against the expected one in constant time:
 * both sides are hashed (SHA-256) and the digests compared without an early
 * exit, so the time taken says nothing about how much of a guess was right,
 * nor about the secret's length. The expected digest is computed once.
 *
 * `hash` is the SHA-256 to use: a function from bytes to 32 bytes (the
 * default is `@noble/hashes`), or {@link Sha256Options}.
 *
 * @example
 * const matches = secretCheck(process.env.POSTBACK_SECRET!)
 * matches(new URL(request.url).searchParams.get("secret")) // true or false
 * // On Node, faster: secretCheck(secret, { sha256Text: (text) => hash("sha256", text, "base64url") })
 */
export const secretCheck = (
  expected: string,
  hash: ((data: Uint8Array) => Uint8Array) | Sha256Options = sha256
): ((presented: string | null | undefined) => boolean) => {
  const digest = textDigest(typeof hash === "function" ? { sha256: hash } : hash)
  const want = digest(expected)
  return (presented) => {
    if (typeof presented !== "string") return false
    const got = digest(presented)
    // Two base64url digests of 43 characters each: compared in full.
    let difference = want.length ^ got.length
    for (let i = 0; i < want.length; i++) difference |= want.charCodeAt(i) ^ got.charCodeAt(i)
    return difference === 0
  }
}

/**
 * Characters a secret may hold: RFC 3986's unreserved characters, the ones
 * that mean the same in every part of a URL whether or not the sender
 * percent-encodes them. `+`, `/`, `=`, `&`, `#`, `%` or a space would be read
 * differently by one sender or another, and refuse every postback.
 */
export const SECRET_PATTERN: RegExp = /^[A-Za-z0-9._~-]+$/
