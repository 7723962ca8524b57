import { type MacroTemplate, match, parseTemplate } from "@org/postback-macros"
import {
  bodyForm,
  decodeContentEncoding,
  type PostbackOptions,
  resolvePostbackOptions,
  stripByteOrderMark,
  WIRE_FIELDS
} from "@org/postback-schema/plain"
import type {
  AdmittedRequest,
  Classification,
  Delivery,
  PostbackSource,
  RawDelivery
} from "./Delivery.ts"
import { postbackIdentity } from "./Identity.ts"
import { decodeMarked } from "./internal/bytes.ts"
import { textDigest } from "./internal/digest.ts"
import {
  containsNumberText,
  fromJson,
  fromMatched,
  fromParams,
  fromTemplateParams,
  parseJson,
  type RawFields,
  wholeValueMacros
} from "./internal/fields.ts"
import {
  type Decision,
  decide,
  decideClean,
  guardRailsOf,
  type LenientSettings
} from "./internal/lenient.ts"
import { parseQuery, type QueryParam } from "./internal/query.ts"
import { rawDelivery } from "./internal/raw.ts"
import { SECRET_PATTERN, secretCheck } from "./SecretCheck.ts"

/**
 * How to receive postbacks. Checked once by {@link makePostbackIngest}: a bad
 * value throws a `TypeError` or `RangeError` naming the option.
 */
export interface IngestOptions {
  /**
   * The shared secret the sender puts in the URL (`?secret=...`). Only
   * RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`), at least 16:
   * anything else reads differently from one sender to another.
   */
  readonly secret: string
  /** The query parameter carrying the secret. Default `"secret"`. */
  readonly secretParam?: string | undefined
  /**
   * The GET URL template registered with MomentScience, with `{macro}`
   * placeholders (`https://host/postbacks?amount={payout}&uid={user_id}`): a
   * GET is read through it, so parameters may have any names. A template
   * that lacks fields is allowed: they take the documented stand-ins (see
   * `PostbackIngest.templateDefaults`).
   */
  readonly template?: string | undefined
  /** A payload key whose value identifies a conversion (see `postbackIdentity`). */
  readonly dedupKey?: string | undefined
  /** Largest body read, in bytes, after any Content-Encoding is undone. Default 65536. */
  readonly maxBodyBytes?: number | undefined
  /** Largest query string read, in bytes. Default 32768 (a GET carries its payload there). */
  readonly maxQueryBytes?: number | undefined
  /** `is_loyaltyboost` when the sender gives none (e.g. a template without `{is_loyaltyboost}`). Default `false`. */
  readonly defaultLoyaltyBoost?: boolean | undefined
  /**
   * How far ahead of its receipt a conversion time may be, in ms, before the
   * postback is held for a person. Default 300000 (5 minutes).
   */
  readonly maxFutureSkewMs?: number | undefined
  /**
   * The schema's guard rails (payload size, digits, lengths): past them a
   * postback is held, not refused. Default: `@org/postback-schema`'s defaults.
   */
  readonly guardRails?: Omit<PostbackOptions, "exclude" | "maxBodyBytes"> | undefined
  /**
   * SHA-256 for the secret check and the identity: bytes in, 32 bytes out.
   * Default: `@noble/hashes` (Web APIs only, synchronous). A Node server may
   * pass its native one: `(data) => createHash("sha256").update(data).digest()`,
   * or, faster, `sha256Text`. Every choice gives the same identities.
   */
  readonly sha256?: ((data: Uint8Array) => Uint8Array) | undefined
  /**
   * SHA-256 of a text's UTF-8 bytes as base64url (43 characters); used
   * instead of `sha256` when given. On Node:
   * `(text) => hash("sha256", text, "base64url")` (`node:crypto`), which
   * spares the UTF-8 encoding and the base64url in JavaScript: about 5 µs
   * of the ingest core's time per postback.
   */
  readonly sha256Text?: ((text: string) => string) | undefined
}

/** What is decided before the body is read: refused by method, URL length or secret, or a HEAD probe. */
export type Refusal = Extract<
  Classification,
  { readonly _tag: "MethodNotAllowed" | "TooLarge" | "Unauthorized" | "Probe" }
>

/** The ingest core for one set of options, made once (see {@link makePostbackIngest}). */
export interface PostbackIngest {
  readonly secretParam: string
  readonly template: MacroTemplate | undefined
  /**
   * The fields the template does not carry, each with its stand-in
   * (`timestamp`: the time of receipt; `is_loyaltyboost`: the default);
   * empty without a template.
   */
  readonly templateDefaults: ReadonlyArray<{ readonly field: string; readonly standIn: string }>
  readonly dedupKey: string | undefined
  readonly maxBodyBytes: number
  readonly maxQueryBytes: number
  /** Whether a presented secret is the right one (constant time). */
  readonly secretMatches: (presented: string | null | undefined) => boolean
  /**
   * What can be decided before reading the body (method, URL length, secret,
   * HEAD probe): that outcome, or `undefined` when the body must be read and
   * the delivery classified. Adapters call it first, so that nothing is read
   * from a caller without the secret.
   */
  readonly admit: (request: {
    readonly method: string
    readonly url: string
  }) => Refusal | undefined
  /**
   * `admit`, keeping what it read: the refusal, or an {@link AdmittedRequest}
   * to pass to `classify` as `delivery.admitted`, which then does not parse
   * the URL and hash the secret a second time (about 1.3 µs a postback on
   * Node).
   */
  readonly admitRequest: (request: {
    readonly method: string
    readonly url: string
  }) => Refusal | AdmittedRequest
  /** Classifies one delivery (see {@link classifyDelivery}). */
  readonly classify: (delivery: Delivery) => Classification
  /**
   * Undoes the body's `Content-Encoding` (gzip, deflate, br where the runtime
   * has it; at most `maxBodyBytes` once decoded), then classifies. An
   * encoding that cannot be undone is 415; a body that is not what its
   * encoding claims is Rejected (400, kept raw); one that decodes past the
   * limit is 413.
   */
  readonly classifyEncoded: (
    delivery: Delivery & { readonly contentEncoding?: string | null | undefined }
  ) => Promise<Classification>
}

const positiveInteger = (name: string, value: unknown, fallback: number): number => {
  if (value === undefined) return fallback
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`option ${name} must be a positive integer, got ${String(value)}`)
  }
  return value
}

const MIN_SECRET_LENGTH = 16

/**
 * Checks `options` once and returns the ingest core: the constant-time
 * secret check, the body-form rule, the template, the lenient decoding and
 * the identity, behind `classify`.
 *
 * @example
 * import { makePostbackIngest } from "@org/postback-handler"
 *
 * const ingest = makePostbackIngest({ secret: process.env.POSTBACK_SECRET! })
 * const outcome = ingest.classify({ method: "GET", url: request.url, receivedAt: new Date() })
 * outcome._tag // "Accepted" | "Rejected" | "Unauthorized" | ...
 */
export const makePostbackIngest = (options: IngestOptions): PostbackIngest => {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`ingest options must be an object, got ${String(options)}`)
  }
  const { secret } = options
  if (
    typeof secret !== "string" ||
    secret.length < MIN_SECRET_LENGTH ||
    !SECRET_PATTERN.test(secret)
  ) {
    throw new TypeError(
      `option secret must be at least ${MIN_SECRET_LENGTH} characters of A-Z a-z 0-9 - . _ ~ (characters such as + / = & # % or a space change meaning in a URL), got ${typeof secret === "string" ? `${secret.length} characters${SECRET_PATTERN.test(secret) || secret === "" ? "" : " with others among them"}` : String(secret)}`
    )
  }
  const secretParam = options.secretParam ?? "secret"
  if (
    typeof secretParam !== "string" ||
    !/^[A-Za-z0-9_.-]{1,64}$/.test(secretParam) ||
    (WIRE_FIELDS as ReadonlyArray<string>).includes(secretParam)
  ) {
    throw new TypeError(
      `option secretParam must be a query parameter name (letters, digits, _ . -) other than a postback field, got ${JSON.stringify(secretParam)}`
    )
  }
  let template: MacroTemplate | undefined
  if (options.template !== undefined) {
    if (typeof options.template !== "string") {
      throw new TypeError(
        `option template must be a URL template string, got ${String(options.template)}`
      )
    }
    template = parseTemplate(options.template)
  }
  const dedupKey = options.dedupKey
  if (dedupKey !== undefined && (typeof dedupKey !== "string" || dedupKey === "")) {
    throw new TypeError(`option dedupKey must be a payload key, got ${JSON.stringify(dedupKey)}`)
  }
  const defaultLoyaltyBoost = options.defaultLoyaltyBoost ?? false
  if (typeof defaultLoyaltyBoost !== "boolean") {
    throw new TypeError(
      `option defaultLoyaltyBoost must be a boolean, got ${String(defaultLoyaltyBoost)}`
    )
  }
  if (options.sha256 !== undefined && typeof options.sha256 !== "function") {
    throw new TypeError(
      `option sha256 must be a function from bytes to a 32-byte digest, got ${String(options.sha256)}`
    )
  }
  if (options.sha256Text !== undefined && typeof options.sha256Text !== "function") {
    throw new TypeError(
      `option sha256Text must be a function from text to its base64url SHA-256 digest, got ${String(options.sha256Text)}`
    )
  }
  const digest = textDigest(options)
  const maxFutureSkewMs = options.maxFutureSkewMs ?? 300_000
  if (
    typeof maxFutureSkewMs !== "number" ||
    !Number.isSafeInteger(maxFutureSkewMs) ||
    maxFutureSkewMs < 0
  ) {
    throw new RangeError(
      `option maxFutureSkewMs must be a non-negative integer (ms), got ${String(maxFutureSkewMs)}`
    )
  }
  // Checked here so that a bad guard rail is named at start.
  resolvePostbackOptions(options.guardRails)
  const settings: LenientSettings = {
    guardRails: guardRailsOf(options.guardRails),
    defaultLoyaltyBoost,
    maxFutureSkewMs
  }
  const resolved = {
    secretParam,
    template,
    macroOf: template === undefined ? undefined : wholeValueMacros(template),
    dedupKey,
    maxBodyBytes: positiveInteger("maxBodyBytes", options.maxBodyBytes, 65_536),
    maxQueryBytes: positiveInteger("maxQueryBytes", options.maxQueryBytes, 32_768),
    secretMatches: secretCheck(secret, { sha256Text: digest }),
    digest,
    settings,
    admissions: new WeakMap<AdmittedRequest, Admitted>()
  }
  const carried =
    template === undefined
      ? undefined
      : new Set(template.parts.flatMap((p) => (p._tag === "Macro" ? [p.name] : [])))
  const templateDefaults =
    carried === undefined
      ? []
      : [
          ...(carried.has("timestamp")
            ? []
            : [{ field: "timestamp", standIn: "the time of receipt" }]),
          ...(carried.has("is_loyaltyboost")
            ? []
            : [{ field: "is_loyaltyboost", standIn: defaultLoyaltyBoost ? "1" : "0" }]),
          ...(carried.has("advertiser_name") ? [] : [{ field: "advertiser_name", standIn: '""' }])
        ]
  return {
    secretParam,
    template,
    templateDefaults,
    dedupKey,
    maxBodyBytes: resolved.maxBodyBytes,
    maxQueryBytes: resolved.maxQueryBytes,
    secretMatches: resolved.secretMatches,
    admit: (request) => {
      const admitted = admit(resolved, request.method, request.url)
      return admitted._tag === "Admitted" ? undefined : admitted
    },
    admitRequest: (request) => {
      const admitted = admit(resolved, request.method, request.url)
      if (admitted._tag !== "Admitted") return admitted
      const token: AdmittedRequest = Object.freeze({ _tag: "Admitted" })
      resolved.admissions.set(token, admitted)
      return token
    },
    classify: (delivery) => classify(resolved, delivery),
    classifyEncoded: async (delivery) => {
      const encoding = delivery.contentEncoding
      if (encoding == null || encoding === "" || delivery.body == null) {
        return classify(resolved, delivery)
      }
      const admitted = admissionOf(resolved, delivery)
      if (admitted._tag !== "Admitted") return admitted
      const decoded = await decodeContentEncoding(delivery.body, encoding, resolved.maxBodyBytes)
      if (decoded.ok) return classify(resolved, { ...delivery, body: decoded.body })
      switch (decoded.status) {
        case 413:
          return { _tag: "TooLarge", status: 413, message: decoded.message }
        case 415:
          return { _tag: "Unsupported", status: 415, message: decoded.message }
        case 400: {
          // Strip the secret if the body is in fact a readable form or JSON.
          const shape = bodyForm(delivery.contentType, decodeMarked(delivery.body).text).form
          return {
            _tag: "Rejected",
            status: 400,
            source: shape === "form" ? "post-form" : "post-json",
            issues: [{ path: "", message: decoded.message }],
            raw: rawDelivery({
              method: admitted.method,
              path: admitted.path,
              params: admitted.params,
              contentType: delivery.contentType ?? null,
              body: delivery.body,
              form: shape === "unsupported" ? undefined : shape,
              secretParam
            })
          }
        }
      }
    }
  }
}

interface Resolved {
  readonly secretParam: string
  readonly template: MacroTemplate | undefined
  readonly macroOf: ReadonlyMap<string, string> | undefined
  readonly dedupKey: string | undefined
  readonly maxBodyBytes: number
  readonly maxQueryBytes: number
  readonly secretMatches: (presented: string | null | undefined) => boolean
  /** SHA-256 of a text, base64url. */
  readonly digest: (text: string) => string
  /** What `admitRequest` read, by the token it gave. */
  readonly admissions: WeakMap<AdmittedRequest, Admitted>
  readonly settings: LenientSettings
}

const SCHEME_AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/

/** The path and the raw query string of a request target (absolute URL or path). */
const splitTarget = (url: string): { path: string; query: string } => {
  const origin = SCHEME_AUTHORITY.exec(url)
  const rest = origin === null ? url : url.slice(origin[0].length)
  const hash = rest.indexOf("#")
  const target = hash === -1 ? rest : rest.slice(0, hash)
  const question = target.indexOf("?")
  return question === -1
    ? { path: target === "" ? "/" : target, query: "" }
    : { path: target.slice(0, question) || "/", query: target.slice(question + 1) }
}

const byteLength = (text: string): number => {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    // Up to U+00FF a character is one byte: Node reads a raw byte of the
    // request line as latin1 (a Web URL percent-encodes anything else).
    if (c < 0x100) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

interface Admitted {
  readonly _tag: "Admitted"
  readonly method: "GET" | "POST"
  readonly path: string
  readonly params: ReadonlyArray<QueryParam>
  /** The request's method and URL as given. */
  readonly given: { readonly method: string; readonly url: string }
}

type Admission = Refusal | Admitted

const admit = (r: Resolved, rawMethod: string, url: string): Admission => {
  const method = rawMethod.toUpperCase()
  if (method !== "GET" && method !== "POST" && method !== "HEAD") {
    return {
      _tag: "MethodNotAllowed",
      status: 405,
      message: `${method} is not allowed here; use GET or POST`
    }
  }
  const { path, query } = splitTarget(url)
  if (byteLength(query) > r.maxQueryBytes) {
    return {
      _tag: "TooLarge",
      status: 414,
      message: `the query string has more than ${r.maxQueryBytes} bytes, the limit; send a large postback as a POST body`
    }
  }
  const params = parseQuery(query)
  const secrets = params.filter((p) => p.name === r.secretParam)
  if (secrets.length !== 1 || !r.secretMatches(secrets[0]!.value)) {
    return {
      _tag: "Unauthorized",
      status: 401,
      message: `missing or wrong ${r.secretParam} parameter`
    }
  }
  if (method === "HEAD") return { _tag: "Probe", status: 200 }
  return { _tag: "Admitted", method, path, params, given: { method: rawMethod, url } }
}

/** The admission `admitRequest` kept for this delivery, else a new one. */
const admissionOf = (r: Resolved, delivery: Delivery): Admission => {
  const kept = delivery.admitted === undefined ? undefined : r.admissions.get(delivery.admitted)
  return kept !== undefined &&
    kept.given.url === delivery.url &&
    kept.given.method.toUpperCase() === delivery.method.toUpperCase()
    ? kept
    : admit(r, delivery.method, delivery.url)
}

const classify = (r: Resolved, delivery: Delivery): Classification => {
  const admitted = admissionOf(r, delivery)
  if (admitted._tag !== "Admitted") return admitted
  const { method, path, params } = admitted
  const contentType = delivery.contentType ?? null
  const body = delivery.body ?? null
  if (body !== null && body.length > r.maxBodyBytes) {
    return {
      _tag: "TooLarge",
      status: 413,
      message: `the request body has more than ${r.maxBodyBytes} bytes, the limit`
    }
  }

  let source: PostbackSource
  let raw: RawFields | undefined
  let form: "json" | "form" | undefined
  let problem: string | undefined
  let clean: Decision | undefined
  if (method === "GET") {
    source = r.template === undefined ? "get" : "get-template"
    if (r.template === undefined) clean = cleanQuery(r, params, delivery.receivedAt)
    if (clean === undefined) raw = readGet(r, delivery.url, params)
  } else {
    const text = decodeMarked(stripByteOrderMark(body ?? new Uint8Array())).text
    const shape = bodyForm(contentType, text)
    if (shape.form === "unsupported")
      return { _tag: "Unsupported", status: 415, message: shape.message }
    form = shape.form
    if (shape.form === "form") {
      source = "post-form"
      const formParams = parseQuery(text)
      clean = cleanQuery(r, formParams, delivery.receivedAt)
      if (clean === undefined) raw = fromParams(formParams, r.secretParam)
    } else {
      source = "post-json"
      if (text.trim() === "") problem = "the request body is empty; expected a JSON object"
      else {
        try {
          const value = parseJson(text)
          if (typeof value === "object" && value !== null && !Array.isArray(value)) {
            if (!containsNumberText(value)) {
              const decoded = r.settings.guardRails.parseJson(value)
              if (decoded.ok) clean = decideClean(decoded.postback, delivery.receivedAt, r.settings)
            }
            if (clean === undefined) raw = fromJson(value as Record<string, unknown>)
          } else {
            problem = `expected a JSON object with the postback fields, got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "a number" : typeof value}`
          }
        } catch (error) {
          problem = `the request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`
        }
      }
    }
  }
  const rawRequest = (): RawDelivery =>
    rawDelivery({ method, path, params, contentType, body, form, secretParam: r.secretParam })
  if (raw === undefined && clean === undefined) {
    return {
      _tag: "Rejected",
      status: 400,
      source,
      issues: [{ path: "", message: problem! }],
      raw: rawRequest()
    }
  }
  const decision = clean ?? decide(raw!, delivery.receivedAt, r.settings)
  if (!decision.ok) {
    return { _tag: "Rejected", status: 400, source, issues: decision.issues, raw: rawRequest() }
  }
  let kept: RawDelivery | undefined
  return {
    _tag: "Accepted",
    status: 200,
    source,
    postback: decision.postback,
    identity: postbackIdentity(decision.postback, {
      dedupKey: r.dedupKey,
      unknown: decision.unknown.length === 0 ? undefined : decision.unknown,
      sha256Text: r.digest
    }),
    flags: decision.flags,
    holds: decision.holds,
    // Built when read: most accepted postbacks never need their raw request.
    get raw() {
      kept ??= rawRequest()
      return kept
    }
  }
}

/**
 * The fast path of a plain query (GET or form body): the configured decoder
 * on the parameters as they are, when no name repeats and nothing needs a
 * rule of the lenient decoding; `undefined` otherwise.
 */
const cleanQuery = (
  r: Resolved,
  params: ReadonlyArray<QueryParam>,
  receivedAt: Date
): Decision | undefined => {
  const record: Record<string, string> = {}
  for (const { name, value } of params) {
    if (name === r.secretParam) continue
    if (Object.hasOwn(record, name)) return undefined
    record[name] = value
  }
  const decoded = r.settings.guardRails.parseQuery(record)
  return decoded.ok ? decideClean(decoded.postback, receivedAt, r.settings) : undefined
}

/** A GET's fields: by the template when there is one, else by the fields' own names. */
const readGet = (r: Resolved, url: string, params: ReadonlyArray<QueryParam>): RawFields => {
  if (r.template === undefined) return fromParams(params, r.secretParam)
  if (r.macroOf !== undefined) return fromTemplateParams(params, r.macroOf, r.secretParam)
  // Macros in the path or beside other text: only `match` can read them.
  const matched = match(r.template, url)
  if (matched.ok) return fromMatched(matched.fields)
  const plain = fromParams(params, r.secretParam)
  plain.flags.push({
    code: "template_mismatch",
    path: "",
    message: `the URL does not fit the registered template (${matched.errors.map((e) => e.message).join("; ")}); read as a plain GET`
  })
  return plain
}

/**
 * Classifies one delivery with a made ingest core: `ingest.classify(delivery)`.
 * Pure and synchronous: the body must already be read (and its
 * Content-Encoding undone).
 */
export const classifyDelivery = (ingest: PostbackIngest, delivery: Delivery): Classification =>
  ingest.classify(delivery)
