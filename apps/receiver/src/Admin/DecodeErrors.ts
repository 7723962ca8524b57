import { Effect, type Layer, type Schema, SchemaIssue } from "effect"
import { HttpApiMiddleware } from "effect/http-api"
import { DecodeErrors, HttpApiDecodeError, type Issue } from "../Api.ts"

const formatIssue = SchemaIssue.makeFormatterStandardSchemaV1()

/** The kind of a problem, in the words of the error body (`Type`, `Refinement`, ...). */
const kindOf = (issue: SchemaIssue.Issue): string => {
  switch (issue._tag) {
    case "Filter":
      return "Refinement"
    case "Encoding":
      return "Transformation"
    case "MissingKey":
      return "Missing"
    case "UnexpectedKey":
      return "Unexpected"
    case "Forbidden":
      return "Forbidden"
    default:
      return "Type"
  }
}

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
      return issue.issues.flatMap((inner) => flatten(inner, path))
    default:
      return [
        {
          _tag: kindOf(issue),
          path: path.map((key) => (typeof key === "number" ? key : String(key))),
          message: formatIssue(issue).issues[0]?.message ?? String(issue)
        }
      ]
  }
}

const decodeError = (error: Schema.SchemaError): HttpApiDecodeError =>
  new HttpApiDecodeError({ issues: flatten(error.issue, []), message: error.message })

/**
 * Requests whose path, query or headers do not decode get a 400 with an
 * {@link HttpApiDecodeError} body. A response that does not encode stays a 500.
 */
export const DecodeErrorsLive: Layer.Layer<DecodeErrors> =
  HttpApiMiddleware.layerSchemaErrorTransform(DecodeErrors, (error) =>
    Effect.fail(
      error.kind === "Body" || error.kind === "ResponseHeaders" ? error : decodeError(error.cause)
    )
  )
