// Text from bytes without ever substituting U+FFFD: a value that cannot be
// stored as text (bytes that are not UTF-8, a NUL, an unpaired surrogate)
// is kept as the percent-encoding of its bytes, and said so.

const STRICT = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const ENCODER = new TextEncoder()

// Invalid bytes decode to code points of Supplementary Private Use Area-B
// (U+10FF00 + byte), so that JSON.parse can still find the structure of a
// body with a bad byte inside a string, and the string can name it.
const MARK_BASE = 0x10ff00

/** The text of `bytes`; `marked` when some bytes were not UTF-8 (they are marked in `text`). */
export const decodeMarked = (bytes: Uint8Array): { text: string; marked: boolean } => {
  try {
    return { text: STRICT.decode(bytes), marked: false }
  } catch {
    return { text: decodeLenient(bytes), marked: true }
  }
}

const decodeLenient = (bytes: Uint8Array): string => {
  let out = ""
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]!
    let length = 0
    let min = 0
    if (b < 0x80) {
      out += String.fromCharCode(b)
      i++
      continue
    } else if (b >= 0xc2 && b <= 0xdf) {
      length = 2
      min = 0x80
    } else if (b >= 0xe0 && b <= 0xef) {
      length = 3
      min = 0x800
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4
      min = 0x10000
    }
    let cp = length === 2 ? b & 0x1f : length === 3 ? b & 0x0f : b & 0x07
    let ok = length > 0 && i + length <= bytes.length
    for (let k = 1; ok && k < length; k++) {
      const c = bytes[i + k]!
      if ((c & 0xc0) !== 0x80) ok = false
      else cp = (cp << 6) | (c & 0x3f)
    }
    if (ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) {
      out += String.fromCodePoint(cp)
      i += length
    } else {
      out += String.fromCodePoint(MARK_BASE + b)
      i++
    }
  }
  return out
}

/** Why a decoded value cannot be stored as it is. */
export type Unstorable = "invalid_utf8" | "nul" | "unpaired_surrogate"

/** What is wrong with `text` for storage (PostgreSQL text and jsonb), if anything. */
export const unstorable = (text: string): Unstorable | undefined => {
  let reason: Unstorable | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0) reason ??= "nul"
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        const cp = ((c - 0xd800) << 10) + (next - 0xdc00) + 0x10000
        if (cp >= MARK_BASE && cp <= MARK_BASE + 0xff) return "invalid_utf8"
        i++
      } else reason ??= "unpaired_surrogate"
    } else if (c >= 0xdc00 && c <= 0xdfff) reason ??= "unpaired_surrogate"
  }
  return reason
}

const HEX = "0123456789ABCDEF"

const pushByte = (out: Array<string>, b: number): void => {
  // Printable ASCII stays as it is, except `%` (so that the text reads back unambiguously).
  if (b > 0x20 && b < 0x7f && b !== 0x25) out.push(String.fromCharCode(b))
  else out.push(`%${HEX[b >> 4]}${HEX[b & 15]}`)
}

/**
 * The bytes of `text` (its marked invalid bytes as they were; an unpaired
 * surrogate as its WTF-8 bytes) percent-encoded: `Z%F6e`, `bad%00`. Printable
 * ASCII other than `%` is kept.
 */
export const percentEncoded = (text: string): string => {
  const out: Array<string> = []
  for (const char of text) {
    const cp = char.codePointAt(0)!
    if (cp >= MARK_BASE && cp <= MARK_BASE + 0xff) pushByte(out, cp - MARK_BASE)
    else if (cp >= 0xd800 && cp <= 0xdfff) {
      // WTF-8: a lone surrogate as the three bytes UTF-8 would give it.
      pushByte(out, 0xe0 | (cp >> 12))
      pushByte(out, 0x80 | ((cp >> 6) & 0x3f))
      pushByte(out, 0x80 | (cp & 0x3f))
    } else for (const b of ENCODER.encode(char)) pushByte(out, b)
  }
  return out.join("")
}

/** `bytes` in base64 (for bodies kept as they came). */
export const base64 = (bytes: Uint8Array): string => {
  let binary = ""
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  }
  return btoa(binary)
}
