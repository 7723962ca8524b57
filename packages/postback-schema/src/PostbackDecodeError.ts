import { type Cause, Schema, SchemaIssue } from "effect"
import { formatIssuePath, formatPostbackIssues, type PostbackIssue } from "./PostbackIssue.ts"

/** A {@link PostbackIssue} as an Effect Schema (for HTTP API error bodies and OpenAPI documents). */
export const PostbackIssueSchema: Schema.Struct<{
  readonly path: Schema.String
  readonly message: Schema.String
}> = Schema.Struct({
  path: Schema.String,
  message: Schema.String
}).annotate({ identifier: "PostbackIssue" })

const PostbackDecodeErrorBase: Schema.Class<
  PostbackDecodeError,
  Schema.TaggedStruct<
    "PostbackDecodeError",
    {
      readonly message: Schema.String
      readonly issues: Schema.NonEmptyArray<typeof PostbackIssueSchema>
    }
  >,
  Cause.YieldableError
> = Schema.TaggedError<PostbackDecodeError>()(
  "PostbackDecodeError",
  {
    message: Schema.String,
    issues: Schema.NonEmptyArray(PostbackIssueSchema)
  },
  {
    description: "The postback is invalid: every problem, with the field it is about",
    // Read by `effect/http-api`: an HttpApi endpoint failing with this error answers 400.
    httpApiStatus: 400
  }
)

/**
 * A postback that could not be decoded. `issues` lists every problem found,
 * each with its field path; `message` is {@link formatPostbackIssues} of them.
 * As a `Schema.TaggedError` it encodes to the JSON body of an HTTP 400
 * answer, and an `effect/http-api` endpoint that fails with it answers 400
 * (the `httpApiStatus` annotation).
 *
 * @example
 * import { decodeRequest, postbackErrorJson } from "@org/postback-schema"
 * import { Effect } from "effect"
 *
 * decodeRequest(request).pipe(
 *   Effect.catchTag("PostbackDecodeError", (error) =>
 *     Effect.succeed(Response.json(postbackErrorJson(error.issues), { status: 400 })))
 * )
 */
export class PostbackDecodeError extends PostbackDecodeErrorBase {
  /** The error for these issues (at least one); throws a `RangeError` for none. */
  static fromIssues(issues: ReadonlyArray<PostbackIssue>): PostbackDecodeError {
    const [first, ...rest] = issues
    if (first === undefined) throw new RangeError("a PostbackDecodeError needs at least one issue")
    return new PostbackDecodeError({
      message: formatPostbackIssues(issues),
      issues: [first, ...rest]
    })
  }
}

const standardFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Every problem of an Effect Schema issue, as {@link PostbackIssue}s. */
export const issuesFromSchemaIssue = (issue: SchemaIssue.Issue): Array<PostbackIssue> =>
  standardFormatter(issue).issues.map((item) => ({
    path: formatIssuePath(
      (item.path ?? []).map((segment) => (typeof segment === "object" ? segment.key : segment))
    ),
    message: item.message
  }))
