import { Effect, Schema } from "effect"
import { cachedByOptions } from "./internal/cache.ts"
import { type PlainPostbackParser, plainParserOf } from "./internal/plain.ts"
import { readRequest } from "./internal/request.ts"
import { makeJsonCodec, makeQueryCodec } from "./internal/schema.ts"
import type { Postback } from "./Postback.ts"
import { issuesFromSchemaIssue, PostbackDecodeError } from "./PostbackDecodeError.ts"
import type { PostbackJsonEncoded } from "./PostbackJson.ts"
import { type PostbackOptions, resolvePostbackOptions } from "./PostbackOptions.ts"
import type { PostbackQueryEncoded } from "./PostbackQuery.ts"

/**
 * Every decoder of one set of options, made once: the plain ones
 * (`parseJson`, `parseQuery`, `parseRequest`), both schemas, and
 * `decodeRequest` as an Effect. A receiver's hot path should make one at
 * start-up and call its methods; `decodeRequest` and the `parsePostback*`
 * functions do the same through a small cache.
 */
export interface PostbackParser extends PlainPostbackParser {
  /** The POST body schema with these options. */
  readonly PostbackJson: Schema.Codec<Postback, PostbackJsonEncoded>
  /** The GET query schema with these options. */
  readonly PostbackQuery: Schema.Codec<Postback, PostbackQueryEncoded>
  /**
   * Reads and decodes a Web `Request`, as an Effect failing with a
   * {@link PostbackDecodeError} that lists every problem.
   */
  readonly decodeRequest: (request: Request) => Effect.Effect<Postback, PostbackDecodeError>
}

/**
 * Makes every decoder for one set of options, checking the options first (a
 * bad one throws a `RangeError` or `TypeError` naming it).
 *
 * @example
 * import { makePostbackParser, postbackErrorJson } from "@org/postback-schema"
 *
 * const parser = makePostbackParser({ exclude: ["secret"], maxPayloadKeys: 20 })
 *
 * const result = parser.parseQuery(new URL(request.url).searchParams)
 * if (!result.ok) return Response.json(postbackErrorJson(result.errors), { status: 400 })
 */
export const makePostbackParser = (options?: PostbackOptions): PostbackParser => {
  const resolved = resolvePostbackOptions(options)
  const plain = plainParserOf(resolved)
  const PostbackJson = makeJsonCodec(resolved)
  const PostbackQuery = makeQueryCodec(resolved)
  const decodeJson = Schema.decodeUnknownEffect(PostbackJson)
  const decodeQuery = Schema.decodeUnknownEffect(PostbackQuery)
  const toError = (error: Schema.SchemaError): PostbackDecodeError =>
    PostbackDecodeError.fromIssues(issuesFromSchemaIssue(error.issue))
  const decodeRequest = Effect.fn("PostbackParser.decodeRequest")(function* (request: Request) {
    const input = yield* Effect.promise(() => readRequest(request, resolved.maxBodyBytes))
    switch (input.form) {
      case "json":
        return yield* Effect.mapError(decodeJson(input.body), toError)
      case "query":
        return yield* Effect.mapError(decodeQuery(input.query), toError)
      case "problem":
        return yield* PostbackDecodeError.fromIssues([{ path: "", message: input.message }])
    }
  })
  return { ...plain, PostbackJson, PostbackQuery, decodeRequest }
}

/**
 * The parser for `options`, from a small cache keyed by the options' content,
 * so that `decodeRequest(request, { exclude: ["secret"] })` with a fresh
 * options object on each call does not rebuild the schemas. Options are read
 * when first seen: do not mutate an options object between calls.
 */
export const postbackParserFor: (options?: PostbackOptions) => PostbackParser =
  cachedByOptions(makePostbackParser)

/**
 * Reads a Web-standard `Request` and decodes the postback it carries (see
 * `parsePostbackRequest` for the rules), as an Effect. Every failure, from a
 * wrong method to a bad field, is a {@link PostbackDecodeError} listing each
 * problem.
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
