/**
 * Percent-encoding and decoding by URL component.
 *
 * Each component gets its own encoder, built once from the set of ASCII
 * characters it may carry raw. Values made only of raw characters (offer ids,
 * payouts, most user ids) come back as the very same string: no allocation.
 */

/** Turns a value into URL text for one component. */
export type Encoder = (value: string) => string

const HEX = "0123456789ABCDEF"
const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

/**
 * Characters a macro value keeps raw in a query value. Everything that
 * separates or decodes differently is escaped: `&` `=` (structure), `+`
 * (a space in form decoding), `#` `%`, and `;` `'` (some servers split on
 * `;`; WHATWG URL re-encodes `'` in queries, so escaping it keeps
 * `new URL(rendered).href` identical to the rendered text).
 */
export const QUERY_VALUE_RAW: string = `${UNRESERVED}!$()*,:@/?`
/**
 * Characters a macro value keeps raw in a path segment (RFC 3986 `pchar`
 * minus `+` and `;`, which some servers read as a space and as a
 * path-parameter separator).
 */
export const PATH_SEGMENT_RAW: string = `${UNRESERVED}!$&'()*,=:@`
/** Characters a macro value keeps raw in the fragment (RFC 3986 `fragment`). */
export const FRAGMENT_RAW: string = `${UNRESERVED}!$&'()*+,;=:@/?`
/**
 * Characters a template's literal text may hold raw, in any component:
 * unreserved, sub-delimiters, `:` `@` `/` `?`. Other printable characters
 * (non-ASCII, `"` `<` `>` `[` `]` `^` `` ` `` `|`, a second `#`) are
 * percent-encoded when the template is parsed.
 */
export const LITERAL_RAW: string = `${UNRESERVED}!$&'()*+,;=:@/?`

/** A 128-entry table: `undefined` keeps the ASCII character, a string replaces it. */
export const escapeTable = (raw: string): ReadonlyArray<string | undefined> => {
  const table: Array<string | undefined> = []
  for (let code = 0; code < 128; code++) {
    table.push(
      raw.includes(String.fromCharCode(code)) ? undefined : `%${HEX[code >> 4]}${HEX[code & 15]}`
    )
  }
  return table
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * UTF-8 percent-encoding of non-ASCII text. A lone surrogate cannot be UTF-8:
 * like WHATWG URL and `TextEncoder`, it becomes U+FFFD instead of throwing.
 */
export const encodeNonAscii = (text: string): string => {
  try {
    return encodeURIComponent(text)
  } catch {
    return encodeURIComponent(text.replace(LONE_SURROGATE, "\uFFFD"))
  }
}

/** An encoder that keeps `raw` characters and percent-encodes everything else as UTF-8. */
export const makeEncoder = (raw: string): Encoder => {
  const table = escapeTable(raw)
  return (value) => {
    if (typeof value !== "string") throw new TypeError(`expected a string, got ${typeof value}`)
    let out = ""
    let last = 0
    const length = value.length
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i)
      if (code < 0x80) {
        const escaped = table[code]
        if (escaped === undefined) continue
        out += value.slice(last, i)
        out += escaped
        last = i + 1
      } else {
        let end = i + 1
        while (end < length && value.charCodeAt(end) >= 0x80) end++
        out += value.slice(last, i)
        out += encodeNonAscii(value.slice(i, end))
        last = end
        i = end - 1
      }
    }
    return last === 0 ? value : out + value.slice(last)
  }
}

export const encodeQueryValue: Encoder = makeEncoder(QUERY_VALUE_RAW)
export const encodePathSegment: Encoder = makeEncoder(PATH_SEGMENT_RAW)
export const encodeFragment: Encoder = makeEncoder(FRAGMENT_RAW)

/** Percent-decoding (path segments, fragment). Throws `URIError` on malformed escapes or bad UTF-8. */
export const decodeComponent = (text: string): string =>
  text.includes("%") ? decodeURIComponent(text) : text

/** Form decoding of a query name or value: `+` is a space, then percent-decoding. */
export const decodeQuery = (text: string): string =>
  decodeComponent(text.includes("+") ? text.replaceAll("+", " ") : text)
