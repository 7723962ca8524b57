import { ParseResult, Schema } from "effect"
import type { Postback } from "./Postback.ts"

/**
 * One problem with an incoming postback: where (`path`, as in the JSON body:
 * `"payout"`, `"payload.user_id"`; `""` for the whole input) and what is
 * wrong (`message`).
 */
export const PostbackIssue: Schema.Struct<{
  path: typeof Schema.String
  message: typeof Schema.String
}> = Schema.Struct({
  path: Schema.String,
  message: Schema.String
}).annotations({ identifier: "PostbackIssue" })

/** One problem with an incoming postback (see the {@link PostbackIssue} schema). */
export interface PostbackIssue extends Schema.Schema.Type<typeof PostbackIssue> {}

/**
 * The outcome of the plain (non-Effect) parsers: the postback, or every
 * problem found.
 */
export type PostbackResult =
  | { readonly ok: true; readonly postback: Postback }
  | { readonly ok: false; readonly errors: ReadonlyArray<PostbackIssue> }

// @effect/platform's HttpApiSchema status annotation, by its global symbol, so
// that an HttpApi using this error answers 400 without this package depending
// on the platform.
const HttpApiStatus: unique symbol = Symbol.for(
  "@effect/platform/HttpApiSchema/AnnotationStatus"
) as never

const PostbackDecodeErrorBase: Schema.TaggedErrorClass<
  PostbackDecodeError,
  "PostbackDecodeError",
  {
    readonly _tag: Schema.tag<"PostbackDecodeError">
    readonly message: typeof Schema.String
    readonly issues: Schema.NonEmptyArray<typeof PostbackIssue>
  }
> = Schema.TaggedError<PostbackDecodeError>()(
  "PostbackDecodeError",
  {
    message: Schema.String,
    issues: Schema.NonEmptyArray(PostbackIssue)
  },
  {
    description: "The postback is invalid: every problem, with the field it is about",
    [HttpApiStatus]: 400
  }
)

/**
 * A postback that could not be decoded. `issues` lists every problem found,
 * each with its field path; `message` is {@link formatPostbackIssues} of them.
 * As a `Schema.TaggedError` it encodes to the JSON body of an HTTP 400
 * answer, and it carries `@effect/platform`'s status annotation (400).
 *
 * @example
 * import { decodeRequest } from "@org/postback-schema"
 * import { Effect } from "effect"
 *
 * decodeRequest(request).pipe(
 *   Effect.catchTag("PostbackDecodeError", (error) =>
 *     Effect.succeed(Response.json(postbackErrorJson(error.issues), { status: 400 })))
 * )
 */
export class PostbackDecodeError extends PostbackDecodeErrorBase {
  /** The error for these issues (at least one). */
  static fromIssues(issues: ReadonlyArray<PostbackIssue>): PostbackDecodeError {
    const [first, ...rest] = issues
    if (first === undefined) throw new RangeError("a PostbackDecodeError needs at least one issue")
    return new PostbackDecodeError({
      message: formatPostbackIssues(issues),
      issues: [first, ...rest]
    })
  }
}

const MAX_ISSUES_IN_MESSAGE = 5

/**
 * One line for logs and plain-text answers: `path: message` pairs joined by
 * `"; "`, at most five, then how many more there are.
 *
 * @example
 * import { formatPostbackIssues, parsePostbackJson } from "@org/postback-schema"
 * const result = parsePostbackJson({ offer_id: "1511", payout: "abc" })
 * if (!result.ok) formatPostbackIssues(result.errors)
 * // 'advertiser_name: is required; payout: expected a decimal string like "2.10", got "abc"; ...'
 */
export const formatPostbackIssues = (issues: ReadonlyArray<PostbackIssue>): string => {
  const shown = issues
    .slice(0, MAX_ISSUES_IN_MESSAGE)
    .map((issue) => (issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`))
  const more = issues.length - shown.length
  return more > 0 ? `${shown.join("; ")} (and ${more} more)` : shown.join("; ")
}

/** The JSON body of an HTTP 400 answer to an invalid postback. */
export interface PostbackErrorJson {
  readonly error: "invalid_postback"
  /** {@link formatPostbackIssues} of `issues`. */
  readonly message: string
  /** Every problem, with its field path. */
  readonly issues: ReadonlyArray<PostbackIssue>
}

/**
 * The JSON object to answer an invalid postback with (HTTP 400).
 *
 * @example
 * import { parsePostbackQuery, postbackErrorJson } from "@org/postback-schema"
 * const result = parsePostbackQuery("payout=abc")
 * if (!result.ok) return Response.json(postbackErrorJson(result.errors), { status: 400 })
 */
export const postbackErrorJson = (issues: ReadonlyArray<PostbackIssue>): PostbackErrorJson => ({
  error: "invalid_postback",
  message: formatPostbackIssues(issues),
  issues: issues.map(({ path, message }) => ({ path, message }))
})

const PLAIN_SEGMENT = /^[A-Za-z0-9_-]+$/

/** `["payload", "user_id"]` as `payload.user_id`; keys that need it are quoted: `payload["a.b"]`. */
export const formatIssuePath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const segment of path) {
    const text = typeof segment === "symbol" ? String(segment) : String(segment)
    if (PLAIN_SEGMENT.test(text)) out += out === "" ? text : `.${text}`
    else out += `[${JSON.stringify(text)}]`
  }
  return out
}

/** Every problem of an Effect Schema `ParseIssue`, as {@link PostbackIssue}s. */
export const issuesFromParseIssue = (issue: ParseResult.ParseIssue): Array<PostbackIssue> =>
  ParseResult.ArrayFormatter.formatIssueSync(issue).map((item) => ({
    path: formatIssuePath(item.path),
    message: item.message
  }))
