import { Effect, Either, ParseResult, type Schema } from "effect"
import { readRequest } from "./internal/request.ts"
import { postbackJsonSchema, postbackQuerySchema } from "./internal/schema.ts"
import type { Postback } from "./Postback.ts"
import {
  issuesFromParseIssue,
  PostbackDecodeError,
  type PostbackResult
} from "./PostbackDecodeError.ts"
import type { PostbackJsonEncoded } from "./PostbackJson.ts"
import {
  DEFAULT_POSTBACK_OPTIONS,
  type PostbackOptions,
  type ResolvedPostbackOptions,
  resolvePostbackOptions
} from "./PostbackOptions.ts"
import type { PostbackQueryEncoded } from "./PostbackQuery.ts"

/** A GET query given as `URLSearchParams`, a query string (`"?a=1&b=2"` or `"a=1&b=2"`), or a record. */
export type QueryLike = PostbackQueryEncoded | string

/**
 * Every decoder of one set of options, made once. The receiver's hot path
 * should make one at start-up and call its methods; the `parsePostback*`
 * functions and `decodeRequest` do the same through a small cache.
 */
export interface PostbackParser {
  /** The options in force, with their defaults. */
  readonly options: ResolvedPostbackOptions
  /** The POST body schema with these options. */
  readonly PostbackJson: Schema.Schema<Postback, PostbackJsonEncoded>
  /** The GET query schema with these options. */
  readonly PostbackQuery: Schema.Schema<Postback, PostbackQueryEncoded>
  /** Decodes a POST body (the value of `JSON.parse`). */
  readonly parseJson: (body: unknown) => PostbackResult
  /** Decodes a GET query or a form body. */
  readonly parseQuery: (query: QueryLike) => PostbackResult
  /** Reads and decodes a Web `Request` (GET query, POST JSON or POST form). */
  readonly parseRequest: (request: Request) => Promise<PostbackResult>
  /** Reads and decodes a Web `Request`, as an Effect. */
  readonly decodeRequest: (request: Request) => Effect.Effect<Postback, PostbackDecodeError>
}

const toResult = (decoded: Either.Either<Postback, ParseResult.ParseIssue>): PostbackResult =>
  Either.isRight(decoded)
    ? { ok: true, postback: decoded.right }
    : { ok: false, errors: issuesFromParseIssue(decoded.left) }

const toError = (issue: ParseResult.ParseIssue): PostbackDecodeError =>
  PostbackDecodeError.fromIssues(issuesFromParseIssue(issue))

const build = (options: ResolvedPostbackOptions): PostbackParser => {
  const PostbackJson = postbackJsonSchema(options)
  const PostbackQuery = postbackQuerySchema(options)
  const decodeJson = ParseResult.decodeUnknownEither(PostbackJson, { errors: "all" })
  const decodeQuery = ParseResult.decodeUnknownEither(PostbackQuery, { errors: "all" })
  const decodeRequest = Effect.fn("PostbackParser.decodeRequest")(function* (request: Request) {
    const input = yield* readRequest(request, options.maxBodyBytes)
    const decoded = input.form === "json" ? decodeJson(input.body) : decodeQuery(input.query)
    return yield* Either.mapLeft(decoded, toError)
  })
  return {
    options,
    PostbackJson,
    PostbackQuery,
    parseJson: (body) => toResult(decodeJson(body)),
    parseQuery: (query) =>
      toResult(decodeQuery(typeof query === "string" ? new URLSearchParams(query) : query)),
    parseRequest: (request) =>
      Effect.runPromise(
        Effect.match(decodeRequest(request), {
          onSuccess: (postback): PostbackResult => ({ ok: true, postback }),
          onFailure: (error): PostbackResult => ({ ok: false, errors: error.issues })
        })
      ),
    decodeRequest
  }
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
export const makePostbackParser = (options?: PostbackOptions): PostbackParser =>
  build(resolvePostbackOptions(options))

let defaultParser: PostbackParser | undefined
let lastOptions: PostbackOptions | undefined
let lastParser: PostbackParser | undefined
const parsers = new Map<string, PostbackParser>()
const MAX_CACHED_PARSERS = 64

const optionsKey = (options: PostbackOptions): string =>
  JSON.stringify(options, (_, value) =>
    value instanceof RegExp ? `/${value.source}/${value.flags}` : value
  )

/**
 * The parser for `options`, from a small cache keyed by the options' content,
 * so that `parsePostbackQuery(query, { exclude: ["secret"] })` with a fresh
 * options object on each call does not rebuild the schemas. Options are read
 * when first seen: do not mutate an options object between calls.
 */
export const postbackParserFor = (options?: PostbackOptions): PostbackParser => {
  if (options === undefined) {
    defaultParser ??= build(DEFAULT_POSTBACK_OPTIONS)
    return defaultParser
  }
  if (options === lastOptions) return lastParser!
  const key = optionsKey(options)
  let parser = parsers.get(key)
  if (parser === undefined) {
    parser = makePostbackParser(options)
    if (parsers.size >= MAX_CACHED_PARSERS) parsers.clear()
    parsers.set(key, parser)
  }
  lastOptions = options
  lastParser = parser
  return parser
}

/**
 * Decodes a POST body (the value of `JSON.parse`) without Effect: the
 * postback, or every problem with its field path.
 *
 * @example
 * import { parsePostbackJson } from "@org/postback-schema"
 *
 * const result = parsePostbackJson(JSON.parse(body))
 * if (result.ok) result.postback.payout.toString() // "2.10"
 * else result.errors // [{ path: "payout", message: 'expected a decimal string like "2.10", got "abc"' }]
 */
export const parsePostbackJson = (body: unknown, options?: PostbackOptions): PostbackResult =>
  postbackParserFor(options).parseJson(body)

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
  postbackParserFor(options).parseQuery(query)
