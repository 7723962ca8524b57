import { sha256 } from "@noble/hashes/sha2.js"

const ENCODER = new TextEncoder()

/**
 * A check of a presented secret against the expected one in constant time:
 * both sides are hashed (SHA-256) and the digests compared without an early
 * exit, so the time taken says nothing about how much of a guess was right,
 * nor about the secret's length. The expected digest is computed once.
 *
 * @example
 * const matches = secretCheck(process.env.POSTBACK_SECRET!)
 * matches(new URL(request.url).searchParams.get("secret")) // true or false
 */
export const secretCheck = (
  expected: string,
  /** SHA-256 to use (bytes in, 32 bytes out); default `@noble/hashes`. */
  hash: (data: Uint8Array) => Uint8Array = sha256
): ((presented: string | null | undefined) => boolean) => {
  const want = hash(ENCODER.encode(expected))
  return (presented) => {
    if (typeof presented !== "string") return false
    const got = hash(ENCODER.encode(presented))
    let difference = 0
    for (let i = 0; i < want.length; i++) difference |= want[i]! ^ got[i]!
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
