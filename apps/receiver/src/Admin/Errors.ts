import { Cause, Effect, Layer, SchemaIssue, type Types } from "effect"
import { HttpApiError } from "effect/http-api"
import { ApiErrors, InternalError, InvalidRequest, type Issue } from "../Api.ts"

const formatIssue = SchemaIssue.makeFormatterStandardSchemaV1()

/** `["payload", "user_id"]` as `payload.user_id`, the way the ingest route names fields. */
const pathText = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((key) => String(key)).join(".")

/** Every problem under `issue`, each with the path of the value it is about. */
const flatten = (
  issue: SchemaIssue.Issue,
  path: ReadonlyArray<PropertyKey>
): Array<typeof Issue.Type> => {
  switch (issue._tag) {
    case "Pointer":
      return flatten(issue.issue, [...path, ...issue.path])
    case "Composite":
    case "AnyOf":
      // An AnyOf without inner issues (a value of none of the members of an
      // optional field's union: `5` for a string) is itself the problem.
      if (issue.issues.length > 0) return issue.issues.flatMap((inner) => flatten(inner, path))
      return [
        {
          path: pathText(path),
          message: formatIssue(issue).issues[0]?.message ?? String(issue)
        }
      ]
    default:
      return [
        {
          path: pathText(path),
          message: formatIssue(issue).issues[0]?.message ?? String(issue)
        }
      ]
  }
}

/** A 400 listing every problem of `issue`, each with the path of the value it is about. */
export const invalidRequest = (issue: SchemaIssue.Issue): InvalidRequest => {
  const issues = flatten(issue, [])
  return new InvalidRequest({
    message: issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)).join("; "),
    issues
  })
}

type ApiError = InvalidRequest | InternalError

const internalError = new InternalError({
  message: "the receiver could not answer this request; the cause is in its log"
})

/**
 * The API's error bodies (see {@link ApiErrors}): a request whose path,
 * query or headers do not decode gets a 400 listing every problem; a
 * response that does not encode, and any defect, a logged 500.
 */
export const ApiErrorsLive: Layer.Layer<ApiErrors> = Layer.succeed(ApiErrors, (httpEffect) =>
  Effect.catch(httpEffect, (error): Effect.Effect<never, Types.unhandled | ApiError> => {
    if (!HttpApiError.HttpApiSchemaError.is(error)) return Effect.fail(error)
    return error.kind === "Body" || error.kind === "ResponseHeaders"
      ? Effect.logError("Admin API response failed", error.cause).pipe(
          Effect.andThen(Effect.fail(internalError))
        )
      : Effect.fail(invalidRequest(error.cause.issue))
  }).pipe(
    Effect.catchDefect((defect) =>
      Effect.logError("Admin API request failed", Cause.die(defect)).pipe(
        Effect.andThen(Effect.fail(internalError))
      )
    )
  )
)
