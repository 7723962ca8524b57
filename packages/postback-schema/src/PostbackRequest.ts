import type { Effect } from "effect"
import type { Postback } from "./Postback.ts"
import type { PostbackDecodeError, PostbackResult } from "./PostbackDecodeError.ts"
import type { PostbackOptions } from "./PostbackOptions.ts"
import { postbackParserFor } from "./PostbackParser.ts"

/**
 * Reads a Web-standard `Request` and decodes the postback it carries: the
 * URL's query for GET; the body for POST, as JSON (`application/json`, or no
 * content type and a body starting with `{`) or as a form
 * (`application/x-www-form-urlencoded`, decoded like a GET query). The body
 * is read up to `options.maxBodyBytes`. Works unchanged in Deno.serve, Bun,
 * Cloudflare Workers and Node's fetch-style servers.
 *
 * Every failure, from a wrong method to a bad field, is a
 * {@link PostbackDecodeError} listing each problem.
 *
 * @example
 * import { decodeRequest, postbackErrorJson } from "@org/postback-schema"
 * import { Effect } from "effect"
 *
 * const handle = (request: Request) =>
 *   decodeRequest(request, { exclude: ["secret"] }).pipe(
 *     Effect.map((postback) => new Response("OK")),
 *     Effect.catchTag("PostbackDecodeError", (error) =>
 *       Effect.succeed(Response.json(postbackErrorJson(error.issues), { status: 400 }))
 *     )
 *   )
 */
export const decodeRequest = (
  request: Request,
  options?: PostbackOptions
): Effect.Effect<Postback, PostbackDecodeError> => postbackParserFor(options).decodeRequest(request)

/**
 * {@link decodeRequest} without Effect: resolves to the postback or every
 * problem (never rejects for a bad request).
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
): Promise<PostbackResult> => postbackParserFor(options).parseRequest(request)
