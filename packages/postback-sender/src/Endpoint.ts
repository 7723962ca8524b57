import type { MacroTemplate, MissingValuePolicy } from "@org/postback-macros"

/** POST the postback as a JSON body (MomentScience's recommended form). */
export interface PostEndpoint {
  readonly method: "POST"
  /** An absolute `http` or `https` URL; its query (a receiver's `secret`, say) is kept. */
  readonly url: string | URL
  readonly template?: never
}

/** GET with every field as a query parameter, payload keys flattened among them. */
export interface GetEndpoint {
  readonly method: "GET"
  /** An absolute `http` or `https` URL; the postback's parameters follow its own query. */
  readonly url: string | URL
  readonly template?: never
}

/** GET a `{macro}` URL template rendered for the postback (see `@org/postback-macros`). */
export interface TemplateEndpoint {
  readonly method: "GET"
  /** The template text, or a template already parsed with `parseTemplate`. */
  readonly template: string | MacroTemplate
  /** What a payload macro without a value becomes (`render`'s `missing` option; default `"empty"`). */
  readonly missing?: MissingValuePolicy
  readonly url?: never
}

/**
 * Where and how a postback is delivered: the three ways MomentScience calls
 * a publisher.
 *
 * @example
 * const post: Endpoint = { method: "POST", url: "https://pub.example/postbacks?secret=s3cret" }
 * const get: Endpoint = { method: "GET", url: "https://pub.example/postbacks?secret=s3cret" }
 * const macros: Endpoint = {
 *   method: "GET",
 *   template: "https://pub.example/pb?amount={payout}&uid={user_id}&oid={offer_id}"
 * }
 */
export type Endpoint = PostEndpoint | GetEndpoint | TemplateEndpoint

/** Exactly what is sent for one postback: the same bytes on every attempt. */
export interface OutgoingRequest {
  readonly method: "GET" | "POST"
  /** The full URL, query included. */
  readonly url: string
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  /** The JSON body of a POST. */
  readonly body?: string
}
