import type { Postback, PostbackIssue } from "@org/postback-schema/plain"

/**
 * One HTTP delivery to a postback URL, as the ingest core reads it: what any
 * server (Node's `http`, a Web `Request`, Express, Fastify) can give.
 */
export interface Delivery {
  /** The HTTP method, any case. */
  readonly method: string
  /**
   * The request target: a path with its query (`/postbacks?secret=...`, as
   * Node's `request.url` gives it) or an absolute URL.
   */
  readonly url: string
  /** The `Content-Type` header, if any. */
  readonly contentType?: string | null | undefined
  /**
   * The body's bytes with any `Content-Encoding` already undone (see
   * `decodeContentEncoding` of `@org/postback-schema`); empty or absent for GET.
   */
  readonly body?: Uint8Array | null | undefined
  /** When the delivery arrived: the stand-in for a missing or unreadable `timestamp`. */
  readonly receivedAt: Date
  /**
   * What `admitRequest` of the same core answered for this request's method
   * and URL, so that `classify` does not read the URL and check the secret a
   * second time. Ignored unless it came from this core for this very method
   * and URL (then the request is admitted again, as without it).
   */
  readonly admitted?: AdmittedRequest | undefined
}

/**
 * A request that passed the checks made before its body is read (method,
 * URL length, secret): `admitRequest` of a `PostbackIngest` gives it, and
 * `classify` takes it back as `delivery.admitted`. Opaque.
 */
export interface AdmittedRequest {
  readonly _tag: "Admitted"
}

/**
 * How a postback arrived: a plain GET (every field a query parameter), a GET
 * read through the registered macro template, a POST JSON body, or a POST
 * form body.
 */
export type PostbackSource = "get" | "get-template" | "post-json" | "post-form"

/**
 * What the core noticed and normalised in a delivery that it accepted, so an
 * operator can see it (`code`, the field's `path`, a sentence). Flags never
 * change the outcome by themselves; `holds` do.
 *
 * - `timestamp_defaulted`: no `timestamp` (or an unreplaced `{timestamp}`):
 *   the time of receipt stands in
 * - `timestamp_repaired`: a `+` of the offset arrived as a space and was put back
 * - `timestamp_unreadable`: the stand-in (time of receipt) replaces an
 *   unreadable value (the postback is held)
 * - `loyaltyboost_defaulted`: no `is_loyaltyboost`: the configured default stands in
 * - `macro_unreplaced`: a value was exactly a `{name}` placeholder: it is not data
 * - `payload_value_normalized`: a JSON payload value that was not a string
 *   (number, boolean, object, array) is kept as its JSON text; `null` is left out
 * - `payload_key_unusual`: a payload key outside letters, digits, `_`, `.`
 *   and `-` (such as `utm[source]` or `sub id`), kept as it is
 * - `field_normalized`: a top-level field sent as a JSON number or boolean,
 *   kept as its text
 * - `unstorable_text`: a value that is not text (bytes that are not UTF-8, a
 *   NUL, an unpaired surrogate), kept as the percent-encoding of its bytes
 *   (the postback is held)
 * - `parameter_repeated`: a query parameter given more than once with the same value
 * - `template_mismatch`: the URL does not fit the registered template; read as a plain GET
 */
export interface PostbackFlag {
  readonly code:
    | "timestamp_defaulted"
    | "timestamp_repaired"
    | "timestamp_unreadable"
    | "loyaltyboost_defaulted"
    | "macro_unreplaced"
    | "payload_value_normalized"
    | "payload_key_unusual"
    | "field_normalized"
    | "unstorable_text"
    | "parameter_repeated"
    | "template_mismatch"
  /** The field, as in the JSON body (`timestamp`, `payload.user_id`). */
  readonly path: string
  readonly message: string
}

/**
 * The request as it came, for debugging and for a person who reviews it, with
 * the secret removed wherever it was (query, form body, JSON body).
 */
export interface RawDelivery {
  readonly method: string
  /** The path, without the query. */
  readonly path: string
  /** The query parameters (a repeated one as a list), the secret removed. */
  readonly query: Readonly<Record<string, string | ReadonlyArray<string>>>
  readonly contentType: string | null
  /**
   * The body: UTF-8 text when it is text (`bodyEncoding: "utf8"`), else
   * base64 (`"base64"`); a form body without its secret parameter, a JSON
   * body without a top-level `secret`. `null` when there was none.
   */
  readonly body: string | null
  readonly bodyEncoding: "utf8" | "base64" | null
}

/**
 * What to do with one delivery: exactly one of these, each with the HTTP
 * status to answer with (see the README's response table).
 */
export type Classification =
  /** No secret, a wrong one, or more than one: refused, nothing kept (401). */
  | { readonly _tag: "Unauthorized"; readonly status: 401; readonly message: string }
  /** Not GET, HEAD or POST (405, with `Allow`). */
  | { readonly _tag: "MethodNotAllowed"; readonly status: 405; readonly message: string }
  /** HEAD with the right secret: a URL checker's probe; answer 200, keep nothing. */
  | { readonly _tag: "Probe"; readonly status: 200 }
  /** The body (or the query) is larger than the limit (413, or 414 for the URL). */
  | { readonly _tag: "TooLarge"; readonly status: 413 | 414; readonly message: string }
  /** A body this core does not read (415), such as `multipart/form-data`. */
  | { readonly _tag: "Unsupported"; readonly status: 415; readonly message: string }
  /**
   * Not a conversion: no usable `offer_id` or `payout`, or a body that is not
   * JSON or a form (400). Keep `raw` for debugging; the sender will not retry.
   */
  | {
      readonly _tag: "Rejected"
      readonly status: 400
      readonly source: PostbackSource
      readonly issues: ReadonlyArray<PostbackIssue>
      readonly raw: RawDelivery
    }
  /**
   * A conversion (200 once it is stored). `holds` lists what a person must
   * look at before it is credited (empty: process it); `flags` what was
   * normalised on the way; `identity` is the same for every delivery of it.
   */
  | {
      readonly _tag: "Accepted"
      readonly status: 200
      readonly source: PostbackSource
      readonly postback: Postback
      readonly identity: string
      readonly flags: ReadonlyArray<PostbackFlag>
      readonly holds: ReadonlyArray<PostbackIssue>
      readonly raw: RawDelivery
    }
