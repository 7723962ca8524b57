import { sha256 } from "@noble/hashes/sha2.js"
import type { Sha256Options } from "../SecretCheck.ts"

const ENCODER = new TextEncoder()

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/** Bytes as base64url without padding (RFC 4648 section 5). */
export const base64url = (bytes: Uint8Array): string => {
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
 * The SHA-256 of a text's UTF-8 bytes as base64url (43 characters), by the
 * chosen implementation (see {@link Sha256Options}).
 */
export const textDigest = (options: Sha256Options | undefined): ((text: string) => string) => {
  if (options?.sha256Text !== undefined) return options.sha256Text
  const bytes = options?.sha256 ?? sha256
  return (text) => base64url(bytes(ENCODER.encode(text)))
}
