// The plain (non-Effect) decoders. Nothing here imports `effect`, so an app
// or an edge bundle that uses only these carries none of it.
import { cachedByOptions } from "./internal/cache.ts"
import { type PlainPostbackParser, plainParserOf, type QueryLike } from "./internal/plain.ts"
import type { PostbackResult } from "./PostbackIssue.ts"
import { type PostbackOptions, resolvePostbackOptions } from "./PostbackOptions.ts"

export type { PlainPostbackParser, QueryLike } from "./internal/plain.ts"

/**
 * The plain decoders for one set of options, made once (the options checked
 * first: a bad one throws a `RangeError` or `TypeError` naming it). A
 * receiver's hot path makes one at start-up and calls its methods.
 *
 * @example
 * import { makePlainParser, postbackErrorJson } from "@org/postback-schema/plain"
 *
 * const parser = makePlainParser({ exclude: ["secret"] })
 * const result = parser.parseQuery(new URL(request.url).searchParams)
 * if (!result.ok) return Response.json(postbackErrorJson(result.errors), { status: 400 })
 */
export const makePlainParser = (options?: PostbackOptions): PlainPostbackParser =>
  plainParserOf(resolvePostbackOptions(options))

const plainParserFor = cachedByOptions(makePlainParser)

/**
 * Decodes a POST body (the value of `JSON.parse`) without Effect: the
 * postback, or every problem with its field path. Throws a `RangeError` or
 * `TypeError` naming a bad option.
 *
 * @example
 * import { parsePostbackJson } from "@org/postback-schema"
 *
 * const result = parsePostbackJson(JSON.parse(body))
 * if (result.ok) result.postback.payout.toString() // "2.10"
 * else result.errors // [{ path: "payout", message: 'expected a decimal string like "2.10", got "abc"' }]
 */
export const parsePostbackJson = (body: unknown, options?: PostbackOptions): PostbackResult =>
  plainParserFor(options).parseJson(body)

/**
 * Decodes a GET query (or a form body) without Effect. Every parameter that
 * is not a postback field is a payload entry, except the names in
 * `options.exclude`; a repeated parameter is an error naming it.
 *
 * @example
 * import { parsePostbackQuery } from "@org/postback-schema"
 *
 * const result = parsePostbackQuery(new URL(request.url).searchParams, { exclude: ["secret"] })
 * if (result.ok) result.postback.payload.user_id // "3410444"
 */
export const parsePostbackQuery = (query: QueryLike, options?: PostbackOptions): PostbackResult =>
  plainParserFor(options).parseQuery(query)

/**
 * Reads a Web-standard `Request` and decodes the postback it carries, without
 * Effect: the URL's query for GET; the body for POST, as JSON
 * (`application/json`, or no content type and a body starting with `{`) or
 * as a form (`application/x-www-form-urlencoded`, decoded like a GET query).
 * The body is read up to `options.maxBodyBytes`. Resolves to the postback or
 * every problem (never rejects for a bad request). Works unchanged in
 * Deno.serve, Bun, Cloudflare Workers and Node's fetch-style servers.
 *
 * @example
 * import { parsePostbackRequest, postbackErrorJson } from "@org/postback-schema"
 *
 * Deno.serve(async (request) => {
 *   const result = await parsePostbackRequest(request, { exclude: ["secret"] })
 *   if (!result.ok) return Response.json(postbackErrorJson(result.errors), { status: 400 })
 *   return new Response("OK")
 * })
 */
export const parsePostbackRequest = (
  request: Request,
  options?: PostbackOptions
): Promise<PostbackResult> => plainParserFor(options).parseRequest(request)
