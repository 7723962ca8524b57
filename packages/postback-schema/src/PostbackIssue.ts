import type { Postback } from "./Postback.ts"

/**
 * One problem with an incoming postback: where (`path`, as in the JSON body:
 * `"payout"`, `"payload.user_id"`; `""` for the whole input) and what is
 * wrong (`message`).
 */
export interface PostbackIssue {
  readonly path: string
  readonly message: string
}

/**
 * The outcome of the plain (non-Effect) parsers: the postback, or every
 * problem found.
 */
export type PostbackResult =
  | { readonly ok: true; readonly postback: Postback }
  | { readonly ok: false; readonly errors: ReadonlyArray<PostbackIssue> }

const MAX_ISSUES_IN_MESSAGE = 5

/**
 * One line for logs and plain-text answers: `path: message` pairs joined by
 * `"; "`, at most five, then how many more there are.
 *
 * @example
 * import { formatPostbackIssues, parsePostbackJson } from "@org/postback-schema"
 * const result = parsePostbackJson({ offer_id: "1511", payout: "abc" })
 * if (!result.ok) formatPostbackIssues(result.errors)
 * // 'payout: expected a decimal string like "2.10", got "abc"; timestamp: is required; ...'
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
    const text = String(segment)
    if (PLAIN_SEGMENT.test(text)) out += out === "" ? text : `.${text}`
    else out += `[${JSON.stringify(text)}]`
  }
  return out
}
