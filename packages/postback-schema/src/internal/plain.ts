// The plain decoders of one set of resolved options, shared by the plain API
// (../Parse.ts) and the Effect one (../PostbackParser.ts).
import type { PostbackIssue, PostbackResult } from "../PostbackIssue.ts"
import type { ResolvedPostbackOptions } from "../PostbackOptions.ts"
import type { PostbackQueryEncoded } from "../PostbackQuery.ts"
import { decodeJsonBody, decodeQuery, isIssues } from "./decode.ts"
import { readRequest } from "./request.ts"
import { toPostbackIssues } from "./validate.ts"

/** A GET query given as `URLSearchParams`, a query string (`"?a=1&b=2"` or `"a=1&b=2"`), or a record. */
export type QueryLike = PostbackQueryEncoded | string

/** The plain decoders of one set of options. */
export interface PlainPostbackParser {
  /** The options in force, with their defaults. */
  readonly options: ResolvedPostbackOptions
  /** Decodes a POST body (the value of `JSON.parse`). */
  readonly parseJson: (body: unknown) => PostbackResult
  /** Decodes a GET query or a form body. */
  readonly parseQuery: (query: QueryLike) => PostbackResult
  /** Reads and decodes a Web `Request` (GET query, POST JSON or POST form); never rejects. */
  readonly parseRequest: (request: Request) => Promise<PostbackResult>
}

const problem = (message: string): PostbackResult => ({
  ok: false,
  errors: [{ path: "", message } satisfies PostbackIssue]
})

/** The plain decoders for resolved options. */
export const plainParserOf = (options: ResolvedPostbackOptions): PlainPostbackParser => {
  const parseJson = (body: unknown): PostbackResult => {
    const decoded = decodeJsonBody(body, options)
    return isIssues(decoded)
      ? { ok: false, errors: toPostbackIssues(decoded) }
      : { ok: true, postback: decoded }
  }
  const parseQuery = (query: QueryLike): PostbackResult => {
    const decoded = decodeQuery(
      typeof query === "string" ? new URLSearchParams(query) : query,
      options
    )
    return isIssues(decoded)
      ? { ok: false, errors: toPostbackIssues(decoded) }
      : { ok: true, postback: decoded }
  }
  const parseRequest = async (request: Request): Promise<PostbackResult> => {
    const input = await readRequest(request, options.maxBodyBytes)
    switch (input.form) {
      case "json":
        return parseJson(input.body)
      case "query":
        return parseQuery(input.query)
      case "problem":
        return problem(input.message)
    }
  }
  return { options, parseJson, parseQuery, parseRequest }
}
