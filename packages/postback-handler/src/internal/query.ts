// A query string (or form body) read parameter by parameter, keeping what
// `URLSearchParams` would lose: bytes that are not UTF-8 are not replaced
// with U+FFFD but kept (marked; see ./bytes.ts), so the parameter can be
// named and its raw bytes stored.
import { decodeMarked } from "./bytes.ts"

export interface QueryParam {
  readonly name: string
  readonly value: string
}

const hex = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1

const ENCODER = new TextEncoder()

/**
 * One component of `application/x-www-form-urlencoded` (WHATWG URL), as
 * `URLSearchParams` decodes it (`+` is a space, a malformed `%` escape stays
 * as it is), but to marked text. Characters from U+0080 to U+00FF stand for
 * the bytes Node's HTTP parser read them from (a raw byte in a request line
 * arrives as latin1); a character above U+00FF is UTF-8 encoded.
 */
const decodeComponent = (text: string): string => {
  let plain = true
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 37 || c === 43 || c >= 0x80) {
      plain = false
      break
    }
  }
  if (plain) return text
  const bytes: Array<number> = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 43) bytes.push(0x20)
    else if (c === 37 && i + 2 < text.length && hex(text.charCodeAt(i + 1)) >= 0) {
      const high = hex(text.charCodeAt(i + 1))
      const low = hex(text.charCodeAt(i + 2))
      if (low >= 0) {
        bytes.push(high * 16 + low)
        i += 2
      } else bytes.push(c)
    } else if (c < 0x100) bytes.push(c)
    else {
      const end = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? i + 2 : i + 1
      for (const b of ENCODER.encode(text.slice(i, end))) bytes.push(b)
      i = end - 1
    }
  }
  return decodeMarked(Uint8Array.from(bytes)).text
}

/** Every `name=value` of a query string (without its `?`) or form body, in order. */
export const parseQuery = (query: string): Array<QueryParam> => {
  const params: Array<QueryParam> = []
  if (query === "") return params
  for (const part of query.split("&")) {
    if (part === "") continue
    const equals = part.indexOf("=")
    params.push(
      equals === -1
        ? { name: decodeComponent(part), value: "" }
        : {
            name: decodeComponent(part.slice(0, equals)),
            value: decodeComponent(part.slice(equals + 1))
          }
    )
  }
  return params
}
