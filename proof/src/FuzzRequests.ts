// What the fuzz suite sends: fast-check arbitraries of requests to the
// ingest route (queries, JSON bodies, near-valid postbacks with one field
// mutated, content types, content encodings, bytes that are not UTF-8,
// sizes, methods, paths), of malformed HTTP for raw sockets, and of every
// wrong form of the admin token.
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib"
import fc from "fast-check"

/** One HTTP request, sent with `node:http` (any token as method, any header value it allows). */
export interface HttpSpec {
  readonly kind: "http"
  /** What the request is made of, for the per-category table. */
  readonly category: string
  readonly method: string
  /** Path and query, as sent. */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: Uint8Array
  /** Whether the request carries the right postback secret (a refused one must never store or credit). */
  readonly authenticated: boolean
}

/** Bytes written to a raw TCP socket, then half-closed: HTTP that `node:http` would not send. */
export interface RawSpec {
  readonly kind: "raw"
  readonly category: string
  readonly bytes: Uint8Array
}

export type RequestSpec = HttpSpec | RawSpec

const FIELDS = ["offer_id", "advertiser_name", "payout", "timestamp", "is_loyaltyboost"] as const
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Values a sender might put in a field: text of any kind, numbers as text, and the edge cases. */
const valueArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
  fc.constantFrom(
    "",
    " ",
    "2.10",
    "-0",
    "-0.00",
    "-1",
    "1e3",
    "NaN",
    "Infinity",
    "0x10",
    "2,10",
    " 2.10 ",
    "٢٫١٠",
    "{payout}",
    "{user_id}",
    "null",
    "true",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z",
    "2023-09-20T15:27:40.802Z",
    "2024-03-01T05:04:05 02:00",
    "10000-01-01T00:00:00Z",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "1".repeat(200),
    "9".repeat(1_000)
  )
)

/** Percent-encodes the UTF-8 bytes of `s` (a lone surrogate becomes U+FFFD, as a browser sends it). */
const pct = (s: string): string =>
  [...utf8(s)]
    .map((b) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, "0")}`
    )
    .join("")

const keyArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...FIELDS, "user_id", "click_id", "payload", "secret", "payload[user_id]"),
  fc.string({ maxLength: 12 })
)

/** A query string from pairs, each part percent-encoded or, sometimes, left raw (`%zz`, `%FF`, `&&`). */
const queryArb: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      {
        weight: 8,
        arbitrary: fc.tuple(keyArb, valueArb).map(([k, v]) => `${pct(k)}=${pct(v)}`)
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "%",
          "%zz",
          "payout=%FF",
          "user_id=%C3",
          "&&",
          "=",
          "payout",
          "payout=1&payout=2",
          "offer_id=%00",
          "+=+"
        )
      }
    ),
    { maxLength: 14 }
  )
  .map((parts) => parts.join("&"))

/** A clean LoyaltyBoost postback in the POST JSON form. */
const postbackArb = fc.record({
  offer_id: fc.stringMatching(/^[0-9]{1,6}$/),
  advertiser_name: fc.constantFrom("MomentScience", "Acme", ""),
  payout: fc
    .integer({ min: 0, max: 3_000 })
    .map((c) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, "0")}`),
  timestamp: fc
    .integer({ min: Date.parse("2020-01-01"), max: Date.parse("2025-01-01") })
    .map((t) => new Date(t).toISOString()),
  is_loyaltyboost: fc.constantFrom("1", "0"),
  payload: fc.record({ user_id: fc.stringMatching(/^fuzz-[a-z0-9]{1,8}$/) })
})

type PostbackJson = typeof postbackArb extends fc.Arbitrary<infer T> ? T : never

/** One field of a postback changed: removed, emptied, given another type or a value of {@link valueArb}. */
const mutatedArb: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    postbackArb,
    fc.constantFrom(...FIELDS, "payload", "payload.user_id"),
    fc.oneof(
      fc.constant<unknown>(undefined),
      valueArb.map((v): unknown => v),
      fc.constantFrom<unknown>(null, 0, -1, 2.1, 1e21, true, [], ["2.10"], {}, { a: 1 })
    )
  )
  .map(([p, field, value]) => {
    const copy: Record<string, unknown> = { ...p, payload: { ...p.payload } }
    if (field === "payload.user_id") {
      const payload = copy.payload as Record<string, unknown>
      if (value === undefined) delete payload.user_id
      else payload.user_id = value
    } else if (value === undefined) delete copy[field]
    else copy[field] = value
    return copy
  })

const asQuery = (p: Record<string, unknown>): string => {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(p)) {
    if (k === "payload" && typeof v === "object" && v !== null && !Array.isArray(v)) {
      for (const [pk, pv] of Object.entries(v)) params.append(pk, String(pv))
    } else params.append(k, typeof v === "string" ? v : JSON.stringify(v))
  }
  return params.toString()
}

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=latin1",
  "APPLICATION/JSON",
  "application/x-www-form-urlencoded",
  "text/plain",
  "text/html",
  "application/xml",
  "multipart/form-data; boundary=x",
  "application/octet-stream",
  "application/*",
  "*/*",
  ";;;",
  "json",
  ""
]

const ENCODINGS = [
  "gzip",
  "deflate",
  "br",
  "x-gzip",
  "GZIP",
  "zstd",
  "identity",
  "gzip, gzip",
  "compress",
  "",
  "chunked"
]

const encode = (encoding: string, body: Uint8Array): Uint8Array =>
  encoding.toLowerCase() === "gzip" || encoding === "x-gzip"
    ? gzipSync(body)
    : encoding === "deflate"
      ? deflateSync(body)
      : encoding === "br"
        ? brotliCompressSync(body)
        : body

const bombs = new Map<string, Uint8Array>()
/** 5 MB of spaces compressed with `encoding` (made once per encoding): past MAX_BODY_BYTES once undone. */
const bomb = (encoding: string): Uint8Array => {
  let made = bombs.get(encoding)
  if (made === undefined) {
    made = encode(encoding, new Uint8Array(5_000_000).fill(0x20))
    bombs.set(encoding, made)
  }
  return made
}

/**
 * Every kind of request to the ingest route, weighted so that most carry
 * the right secret (to reach the decoder and the database) and a few do not.
 */
export const ingestRequestArb = (secret: string): fc.Arbitrary<RequestSpec> => {
  const withSecret = (query: string) =>
    `/postbacks?secret=${secret}${query === "" ? "" : `&${query}`}`
  const http = (
    category: string,
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Uint8Array,
    authenticated = true
  ): HttpSpec =>
    body === undefined
      ? { kind: "http", category, method, path, headers, authenticated }
      : { kind: "http", category, method, path, headers, body, authenticated }
  const json = { "content-type": "application/json" }

  const query = queryArb.map((q) => http("query", "GET", withSecret(q), {}))
  const jsonBody = fc
    .oneof(fc.jsonValue(), fc.dictionary(keyArb, fc.jsonValue(), { maxKeys: 8 }))
    .map((v) => http("json body", "POST", withSecret(""), json, utf8(JSON.stringify(v) ?? "null")))
  const nearValid = fc
    .tuple(mutatedArb, fc.constantFrom("post", "get", "form"))
    .map(([p, form]) =>
      form === "post"
        ? http("near-valid", "POST", withSecret(""), json, utf8(JSON.stringify(p)))
        : form === "get"
          ? http("near-valid", "GET", withSecret(asQuery(p)), {})
          : http(
              "near-valid",
              "POST",
              withSecret(""),
              { "content-type": "application/x-www-form-urlencoded" },
              utf8(asQuery(p))
            )
    )
  const contentType = fc
    .tuple(
      fc.constantFrom(...CONTENT_TYPES),
      fc.oneof(
        postbackArb.map((p) => utf8(JSON.stringify(p))),
        postbackArb.map((p) => utf8(asQuery(p))),
        fc.uint8Array({ maxLength: 200 })
      )
    )
    .map(([type, body]) =>
      http(
        "content type",
        "POST",
        withSecret(""),
        type === "" ? {} : { "content-type": type },
        body
      )
    )
  const contentEncoding = fc
    .tuple(
      fc.constantFrom(...ENCODINGS),
      postbackArb,
      fc.constantFrom("right", "plain", "truncated", "bomb")
    )
    .map(([encoding, p, how]) => {
      const clean = utf8(JSON.stringify(p))
      const body =
        how === "right"
          ? encode(encoding, clean)
          : how === "plain"
            ? clean
            : how === "truncated"
              ? encode(encoding, clean).slice(0, 12)
              : bomb(encoding)
      return http(
        "content encoding",
        "POST",
        withSecret(""),
        { ...json, "content-encoding": encoding },
        body
      )
    })
  const notUtf8 = fc
    .tuple(
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      postbackArb,
      fc.constantFrom("body", "field", "query")
    )
    .map(([bytes, p, where]) => {
      if (where === "body") return http("not UTF-8", "POST", withSecret(""), json, bytes)
      if (where === "query") {
        const hex = [...bytes.slice(0, 40)]
          .map((b) => `%${b.toString(16).padStart(2, "0")}`)
          .join("")
        return http("not UTF-8", "GET", withSecret(`${asQuery(p)}&user_id=${hex}`), {})
      }
      // invalid UTF-8 inside a JSON string value
      const text = JSON.stringify(p).replace('"payout":"', '"payout":"\u0001')
      const raw = utf8(text)
      const at = raw.indexOf(1)
      const out = new Uint8Array(raw.length + bytes.length)
      out.set(raw.slice(0, at))
      out.set(
        bytes.map((b) => b | 0x80),
        at
      )
      out.set(raw.slice(at + 1), at + bytes.length)
      return http(
        "not UTF-8",
        "POST",
        withSecret(""),
        json,
        out.slice(0, raw.length + bytes.length - 1)
      )
    })
  const sizes = fc
    .tuple(
      fc.constantFrom(0, 1, 1_023, 65_535, 65_536, 65_537, 100_000, 300_000),
      fc.constantFrom("body", "query", "header", "payload")
    )
    .map(([n, where]) => {
      if (where === "body")
        return http("size", "POST", withSecret(""), json, new Uint8Array(n).fill(0x7b))
      if (where === "query")
        return http("size", "GET", withSecret(`user_id=${"x".repeat(Math.min(n, 70_000))}`), {})
      if (where === "header")
        return http("size", "GET", withSecret("offer_id=1&payout=1"), {
          "x-fill": "h".repeat(Math.min(n, 70_000))
        })
      const payload: Record<string, string> = { user_id: "fuzz-big" }
      for (let i = 0; i < Math.min(n, 70_000) / 100; i++) payload[`k${i}`] = "v".repeat(90)
      return http(
        "size",
        "POST",
        withSecret(""),
        json,
        utf8(
          JSON.stringify({
            offer_id: "1",
            payout: "1.00",
            timestamp: "2024-01-01T00:00:00Z",
            is_loyaltyboost: "1",
            payload
          })
        )
      )
    })
  const methods = fc
    .tuple(
      fc.oneof(
        fc.constantFrom(
          "GET",
          "POST",
          "HEAD",
          "PUT",
          "DELETE",
          "PATCH",
          "OPTIONS",
          "TRACE",
          "PROPFIND",
          "get",
          "Post"
        ),
        fc.stringMatching(/^[A-Z]{1,10}$/)
      ),
      postbackArb
    )
    .map(([method, p]) =>
      http(
        "method",
        method,
        withSecret(method === "GET" || method === "HEAD" ? asQuery(p) : ""),
        json,
        method === "GET" || method === "HEAD" ? undefined : utf8(JSON.stringify(p))
      )
    )
  const paths = fc
    .tuple(
      fc.oneof(
        fc.constantFrom(
          "/postbacks",
          "/postbacks/",
          "/POSTBACKS",
          "//postbacks",
          "/postbacks/1",
          "/postbacks/../api/users/x",
          "/./postbacks",
          "/postbacks%2F",
          "/%70ostbacks",
          "/postbacks;x",
          "/api/postbacks",
          "/",
          "/*",
          "/api/openapi.json",
          "/healthz"
        ),
        fc.webPath()
      ),
      postbackArb
    )
    .map(([path, p]) => http("path", "GET", `${path}?secret=${secret}&${asQuery(p)}`, {}))
  const secrets = wrongSecretArb(secret)
  return fc.oneof(
    { weight: 3, arbitrary: query },
    { weight: 3, arbitrary: jsonBody },
    { weight: 5, arbitrary: nearValid },
    { weight: 2, arbitrary: contentType },
    { weight: 2, arbitrary: contentEncoding },
    { weight: 2, arbitrary: notUtf8 },
    { weight: 1, arbitrary: sizes },
    { weight: 2, arbitrary: methods },
    { weight: 2, arbitrary: paths },
    { weight: 2, arbitrary: secrets },
    { weight: 2, arbitrary: rawArb(secret) }
  )
}

/**
 * Clean LoyaltyBoost postbacks (POST or GET) with a missing, empty, wrong,
 * repeated or misspelled secret: each must be refused (401) and store nothing.
 */
export const wrongSecretArb = (secret: string): fc.Arbitrary<HttpSpec> => {
  const json = { "content-type": "application/json" }
  return fc
    .tuple(
      fc.constantFrom(
        "",
        "secret=",
        `secret=${secret.toUpperCase()}`,
        `secret=${secret.slice(0, -1)}`,
        `secret=${secret}x`,
        `secret=${secret}&secret=${secret}`,
        `secret=${secret}&secret=wrong`,
        `SECRET=${secret}`,
        `secret=%20${secret}`,
        `secret[]=${secret}`
      ),
      postbackArb.map((p) => ({ ...p, is_loyaltyboost: "1" })),
      fc.boolean()
    )
    .map(
      ([s, p, post]): HttpSpec =>
        post
          ? {
              kind: "http",
              category: "wrong secret",
              method: "POST",
              path: `/postbacks?${s}`,
              headers: json,
              body: utf8(JSON.stringify(p)),
              authenticated: false
            }
          : {
              kind: "http",
              category: "wrong secret",
              method: "GET",
              path: `/postbacks?${s}${s === "" ? "" : "&"}${asQuery(p)}`,
              headers: {},
              authenticated: false
            }
    )
}

/** Malformed HTTP/1.1 for a raw socket: broken request lines, headers, framing, bytes. */
export const rawArb = (secret: string): fc.Arbitrary<RawSpec> => {
  const good = `{"offer_id":"1","payout":"1.00","timestamp":"2024-01-01T00:00:00Z","is_loyaltyboost":"1","payload":{"user_id":"fuzz-raw"}}`
  const target = `/postbacks?secret=${secret}`
  const templates = [
    `GET ${target} HTTP/9.9\r\nHost: x\r\n\r\n`,
    `GET ${target}\r\n\r\n`,
    `GET  ${target}  HTTP/1.1\r\nHost: x\r\n\r\n`,
    `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
    `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    `POST ${target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n${good}\r\n0\r\n\r\n`,
    `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 9999\r\nContent-Type: application/json\r\n\r\n${good}`,
    `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n`,
    `GET ${target} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n`,
    `GET ${target} HTTP/1.1\r\nHost: x\r\nX: a\u0000b\r\n\r\n`,
    `GET ${target} HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n`,
    `GET /postbacks?secret=${secret}&user_id=\u00ff\u00fe HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET /postbacks?secret=${secret}&user_id=a b HTTP/1.1\r\nHost: x\r\n\r\n`,
    `\r\n\r\n\r\n`,
    `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
    `GET ${target} HTTP/1.1\nHost: x\n\n`,
    `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${good.length}\r\n\r\n${good}POST ${target} HTTP/1.1\r\nContent-Length: 3\r\n\r\n{`,
    `GET ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n`
  ]
  return fc.oneof(
    fc
      .constantFrom(...templates)
      .map(
        (t): RawSpec => ({ kind: "raw", category: "raw HTTP", bytes: Buffer.from(t, "latin1") })
      ),
    fc
      .uint8Array({ minLength: 1, maxLength: 400 })
      .map((bytes): RawSpec => ({ kind: "raw", category: "raw bytes", bytes })),
    fc
      .tuple(fc.constantFrom(...templates), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }))
      .map(([t, at, junk]): RawSpec => {
        const bytes = Buffer.from(t, "latin1")
        const i = at % bytes.length
        return {
          kind: "raw",
          category: "raw HTTP mutated",
          bytes: Buffer.concat([bytes.subarray(0, i), junk, bytes.subarray(i + 1)])
        }
      })
  )
}

/**
 * Every wrong form of the admin token (each must be refused with 401), and
 * forms whose reading is a choice (the scheme's case, spacing): those are
 * reported, and must never be a 5xx.
 */
export const adminTokenForms = (
  token: string,
  secret: string
): ReadonlyArray<{
  readonly form: string
  readonly headers: Record<string, string>
  readonly query: string
  readonly mustRefuse: boolean
}> => [
  { form: "missing", headers: {}, query: "", mustRefuse: true },
  { form: "empty header", headers: { authorization: "" }, query: "", mustRefuse: true },
  {
    form: "Bearer without token",
    headers: { authorization: "Bearer" },
    query: "",
    mustRefuse: true
  },
  {
    form: "Bearer and a space",
    headers: { authorization: "Bearer " },
    query: "",
    mustRefuse: true
  },
  {
    form: "wrong scheme (Basic)",
    headers: { authorization: `Basic ${token}` },
    query: "",
    mustRefuse: true
  },
  {
    form: "wrong scheme (Basic, base64)",
    headers: { authorization: `Basic ${Buffer.from(`admin:${token}`).toString("base64")}` },
    query: "",
    mustRefuse: true
  },
  {
    form: "wrong scheme (Token)",
    headers: { authorization: `Token ${token}` },
    query: "",
    mustRefuse: true
  },
  { form: "no scheme", headers: { authorization: token }, query: "", mustRefuse: true },
  {
    form: "token in upper case",
    headers: { authorization: `Bearer ${token.toUpperCase()}` },
    query: "",
    mustRefuse: true
  },
  {
    form: "token with its first letter's case changed",
    headers: {
      authorization: `Bearer ${token[0] === token[0]!.toUpperCase() ? token[0]!.toLowerCase() : token[0]!.toUpperCase()}${token.slice(1)}`
    },
    query: "",
    mustRefuse: true
  },
  {
    form: "the postback secret",
    headers: { authorization: `Bearer ${secret}` },
    query: "",
    mustRefuse: true
  },
  {
    form: "a prefix of the token",
    headers: { authorization: `Bearer ${token.slice(0, -1)}` },
    query: "",
    mustRefuse: true
  },
  {
    form: "half of the token",
    headers: { authorization: `Bearer ${token.slice(0, token.length >> 1)}` },
    query: "",
    mustRefuse: true
  },
  {
    form: "the token and one more character",
    headers: { authorization: `Bearer ${token}x` },
    query: "",
    mustRefuse: true
  },
  {
    form: "the token twice",
    headers: { authorization: `Bearer ${token}${token}` },
    query: "",
    mustRefuse: true
  },
  {
    form: "two tokens, comma",
    headers: { authorization: `Bearer wrong, Bearer ${token}` },
    query: "",
    mustRefuse: true
  },
  {
    form: "the token in the query (token)",
    headers: {},
    query: `token=${token}`,
    mustRefuse: true
  },
  {
    form: "the token in the query (access_token)",
    headers: {},
    query: `access_token=${token}`,
    mustRefuse: true
  },
  {
    form: "the token in the query (secret)",
    headers: {},
    query: `secret=${token}`,
    mustRefuse: true
  },
  {
    form: "the token in another header",
    headers: { "x-admin-token": token },
    query: "",
    mustRefuse: true
  },
  {
    form: "the token as a cookie",
    headers: { cookie: `token=${token}` },
    query: "",
    mustRefuse: true
  },
  {
    form: "scheme in lower case",
    headers: { authorization: `bearer ${token}` },
    query: "",
    mustRefuse: false
  },
  {
    form: "scheme in upper case",
    headers: { authorization: `BEARER ${token}` },
    query: "",
    mustRefuse: false
  },
  {
    form: "two spaces after the scheme",
    headers: { authorization: `Bearer  ${token}` },
    query: "",
    mustRefuse: false
  },
  {
    form: "a trailing space",
    headers: { authorization: `Bearer ${token} ` },
    query: "",
    mustRefuse: false
  },
  {
    form: "a leading space",
    headers: { authorization: ` Bearer ${token}` },
    query: "",
    mustRefuse: false
  },
  {
    form: "a tab after the scheme",
    headers: { authorization: `Bearer\t${token}` },
    query: "",
    mustRefuse: false
  },
  {
    form: "the right token (control: must be 200)",
    headers: { authorization: `Bearer ${token}` },
    query: "",
    mustRefuse: false
  }
]

/** Requests of a postback {@link PostbackJson} as the sender would make it, for reuse by suites. */
export type { PostbackJson }
